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

# Kesu's own error pages (kesu/lib/errorpages.py); the CSRF failure is CSRF_FAILURE_VIEW in settings.
handler400 = "kesu.lib.errorpages.bad_request"
handler403 = "kesu.lib.errorpages.permission_denied"
handler404 = "kesu.lib.errorpages.page_not_found"
handler500 = "kesu.lib.errorpages.server_error"
