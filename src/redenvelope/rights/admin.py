from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import AvailsImport, Contract, LicenseWindow, Licensor


@admin.register(LicenseWindow)
class LicenseWindowAdmin(RecordAdmin):
    """Read-only: windows change through rights.actions (the CLI, the API)."""

    list_display = ("title", "kind", "territories", "starts_at", "ends_at", "ceiling")
    list_filter = ("kind", "ceiling")
    search_fields = ("title__name", "territories")


@admin.register(Licensor)
class LicensorAdmin(RecordAdmin):
    list_display = ("name", "country", "email")
    search_fields = ("name",)


@admin.register(Contract)
class ContractAdmin(RecordAdmin):
    """Read-only: contracts are signed and amended through rights.actions (history kept)."""

    list_display = ("reference", "licensor", "territories", "starts_on", "ends_on", "version")
    search_fields = ("reference", "name", "licensor__name")


@admin.register(AvailsImport)
class AvailsImportAdmin(RecordAdmin):
    list_display = ("filename", "at", "rows", "created", "unchanged", "rejected", "imported")
