"""The staff admin for users. Its forms only check input: every save goes through the same services as
``kesu user`` (which audit), so no page or bulk action here changes an account unaudited."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from . import services
from .forms import StaffCreationForm, StaffPasswordForm
from .models import User


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "role", "email", "is_active", "last_login")
    list_filter = ("role", "is_active")
    # Django's own "personal info" and "dates"; no groups, permissions or superuser flag: the role decides.
    fieldsets = (UserAdmin.fieldsets[0], UserAdmin.fieldsets[1], ("Kesu", {"fields": ("role", "is_active")}),
                 UserAdmin.fieldsets[3])  # fmt: skip
    add_fieldsets = ((None, {"fields": ("username", "email", "role", "password1", "password2")}),)
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()
    add_form = StaffCreationForm
    actions = ("reset_second_factor", "deactivate")
    change_user_password_template = "admin/accounts/user/change_password.html"

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are deactivated, never deleted: the audit log keeps naming them

    def save_model(self, request, obj, form, change):
        if not change:
            services.add_user(request.user, obj, form.cleaned_data["password1"])
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.change_user(request.user, obj, changes)

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404
        form = StaffPasswordForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.set_password(request.user, user, form.cleaned_data["password1"])
            if user.pk == request.user.pk:
                update_session_auth_hash(request, user)
            messages.success(request, _("Password changed successfully."))
            return HttpResponseRedirect(reverse("admin:accounts_user_change", args=(user.pk,)))
        context = {**self.admin_site.each_context(request), "form": form, "original": user, "opts": self.opts,
                   "title": _("Change password: %s") % user.get_username()}  # fmt: skip
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.change_user_password_template, context)

    @admin.action(description=gettext_lazy("Reset second factor (the user enrols again and is told)"))
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            services.reset_totp(request.user, user)
        messages.success(request, _("Second factor reset for %(n)s user(s).") % {"n": queryset.count()})

    @admin.action(description=gettext_lazy("Deactivate"))
    def deactivate(self, request, queryset):
        for user in queryset.filter(is_active=True):
            services.set_active(request.user, user, False)
