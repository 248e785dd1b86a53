from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import DispatchRun, Incident, ReturnScan, Shipment


@admin.register(Shipment)
class ShipmentAdmin(RecordAdmin):
    list_display = ("id", "member", "title", "copy", "dc", "shipped_at", "status", "closed_at")
    list_filter = ("status", "dc")
    raw_id_fields = ("member", "copy", "title")
    search_fields = ("copy__barcode", "member__user__username")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("dc", "kind", "starts_on", "ends_on", "reason", "created_by", "created_at")
    list_filter = ("kind", "dc")
    fields = ("dc", "kind", "starts_on", "ends_on", "reason")

    def has_change_permission(self, request, obj=None):
        return False  # an incident is a record billing credits against: add a new one instead

    def save_model(self, request, obj, form, change):
        from .actions import open_incident

        made = open_incident(
            obj.dc, obj.starts_on, obj.ends_on, obj.reason, kind=obj.kind, actor=request.user
        )
        obj.pk = made.pk


@admin.register(DispatchRun)
class DispatchRunAdmin(admin.ModelAdmin):
    list_display = ("run_date", "scope", "shipments", "finished_at")
    readonly_fields = (
        "run_date",
        "scope",
        "started_at",
        "finished_at",
        "actor",
        "params",
        "figures",
    )

    @admin.display(description="shipments")
    def shipments(self, obj):
        return obj.figures.get("shipments", 0)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReturnScan)
class ReturnScanAdmin(RecordAdmin):
    list_display = ("scanned_at", "dc", "raw", "outcome", "message", "source", "actor")
    list_filter = ("outcome", "dc", "source")
    search_fields = ("raw",)
    raw_id_fields = ("copy", "shipment")
