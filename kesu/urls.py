from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("kesu.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("kesu.evidence.urls")),
    path("", include("kesu.sites.urls")),
    path("", include("kesu.notices.urls")),
    path("", include("kesu.patrol.urls")),
    path("", include("kesu.review.urls")),
    path("", include("kesu.reports.urls")),
    path("", include("kesu.exchange.urls")),
    path("", include("kesu.hashing.urls")),
    path("", include("kesu.cases.urls")),
]
