from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """A back-office table of records that only the platform's actions write (histories, the
    ledger, scans, shipments): staff read them, nobody adds, edits or deletes them by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
