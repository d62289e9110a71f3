from django.contrib import admin

from ..audit.services import log_action
from .models import Contact, Lookup, Organisation, Site, TakedownRequest
from .services import tell_supervisors


class AuditedAdmin(admin.ModelAdmin):
    """Admin edits of the knowledge base are audited like edits on the site pages."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        label = obj._meta.model_name
        log_action(
            request.user,
            f"sites.admin_{'change' if change else 'create'}",
            obj,
            model=label,
            fields=sorted(form.changed_data),
        )

    def delete_model(self, request, obj):
        log_action(request.user, "sites.admin_delete", obj, model=obj._meta.model_name)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        """The list's bulk delete: one audit entry per row, as a delete from the row's own page."""
        for obj in queryset:
            log_action(request.user, "sites.admin_delete", obj, model=obj._meta.model_name)
        super().delete_queryset(request, queryset)


class ContactInline(admin.TabularInline):
    """Shown, never edited here: contacts are proposed and confirmed on the site pages (or with
    ``kesu site contact``), so where notices go changes only with a second person."""

    model = Contact
    extra = 0
    fields = ("channel", "address", "priority", "status", "source", "created_by", "decided_by", "bounced_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ("name", "role", "key", "country", "asn", "source")
    list_filter = ("role", "source")
    search_fields = ("name", "key")
    inlines = [ContactInline]


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    list_display = ("domain", "status", "relation", "operator", "host", "cdn", "server_country")
    list_filter = ("status", "relation", "server_country")
    search_fields = ("domain", "operator__name", "host__name")
    raw_id_fields = ("operator", "host", "cdn", "registrar")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:  # a new operator or host sends the site's next notices elsewhere
            tell_supervisors(request.user, "sites.admin_change", site=obj)


@admin.register(TakedownRequest)
class TakedownRequestAdmin(AuditedAdmin):
    list_display = ("site", "role", "recipient", "case_type", "sent_at", "outcome", "resolved_at", "source")
    list_filter = ("outcome", "case_type", "role", "source")
    search_fields = ("site__domain", "reference")
    raw_id_fields = ("site", "recipient")
    date_hierarchy = "sent_at"


@admin.register(Lookup)
class LookupAdmin(admin.ModelAdmin):
    list_display = ("kind", "key", "ok", "error", "fetched_at", "expires_at")
    list_filter = ("kind", "ok")
    search_fields = ("key",)
