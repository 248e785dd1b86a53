from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import LicenseWindow


@admin.register(LicenseWindow)
class LicenseWindowAdmin(RecordAdmin):
    """Read-only: windows change through rights.actions (the CLI, the API)."""

    list_display = ("title", "kind", "territories", "starts_at", "ends_at", "ceiling")
    list_filter = ("kind", "ceiling")
    search_fields = ("title__name", "territories")
