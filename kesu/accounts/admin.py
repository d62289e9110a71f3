from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "role", "email", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = UserAdmin.fieldsets + (("Kesu", {"fields": ("role",)}),)
    add_fieldsets = UserAdmin.add_fieldsets + (("Kesu", {"fields": ("role",)}),)


def _audited(admin_class):
    """Admin edits go through the audit log like every other change."""
    from ..audit.services import log_action

    def save_model(self, request, obj, form, change):
        super(admin_class, self).save_model(request, obj, form, change)
        log_action(request.user, "user.change" if change else "user.create", obj, fields=sorted(form.changed_data))

    def delete_model(self, request, obj):
        log_action(request.user, "user.delete", obj)
        super(admin_class, self).delete_model(request, obj)

    admin_class.save_model = save_model
    admin_class.delete_model = delete_model
    return admin_class


_audited(StaffAdmin)
