from django.contrib import admin

from .models import Shipment


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("id", "member", "title", "copy", "dc", "shipped_at", "status", "closed_at")
    list_filter = ("status", "dc")
    raw_id_fields = ("member", "copy", "title")
    search_fields = ("copy__barcode", "member__user__username")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
