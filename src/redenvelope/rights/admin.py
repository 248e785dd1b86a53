from django.contrib import admin

from .models import LicenseWindow


@admin.register(LicenseWindow)
class LicenseWindowAdmin(admin.ModelAdmin):
    """Read-only: windows change through rights.actions (the CLI, the API)."""

    list_display = ("title", "kind", "territories", "starts_at", "ends_at", "ceiling")
    list_filter = ("kind", "ceiling")
    search_fields = ("title__name", "territories")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
