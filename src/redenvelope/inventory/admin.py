from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Copy, CopyEvent, DistributionCenter, Region, Transit


@admin.register(DistributionCenter)
class DistributionCenterAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "state", "daily_capacity", "status")
    list_filter = ("status", "state")
    search_fields = ("code", "name", "city")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("zip3", "name", "state", "population")
    search_fields = ("zip3", "name")


@admin.register(Transit)
class TransitAdmin(admin.ModelAdmin):
    list_display = ("dc", "region", "days")
    list_filter = ("dc", "days")
    search_fields = ("region__zip3", "region__name")


class CopyEventInline(admin.TabularInline):
    model = CopyEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "from_status", "to_status", "dc", "actor", "ref", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Copy)
class CopyAdmin(admin.ModelAdmin):
    list_display = ("barcode", "title", "format", "condition", "status", "dc")
    list_filter = ("status", "format", "condition", "dc")
    search_fields = ("barcode", "title__name")
    raw_id_fields = ("title",)
    # Status and DC move only through inventory actions (copy events), never by editing the row.
    readonly_fields = ("status", "dc", "barcode", "title")
    inlines = [CopyEventInline]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("barcode", "title", "format", "condition", "dc")
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["condition", "format"])
            return
        # A new copy is received through the one door, so its history starts with an event.
        from .actions import receive_copy

        copy = receive_copy(
            title=obj.title,
            dc=obj.dc,
            barcode=obj.barcode,
            format=obj.format,
            condition=obj.condition,
            actor=request.user,
        )
        obj.pk = copy.pk
        obj.status = copy.status
        obj.acquired_on = copy.acquired_on


@admin.register(CopyEvent)
class CopyEventAdmin(RecordAdmin):
    list_display = ("copy", "kind", "from_status", "to_status", "dc", "at", "actor", "ref")
    list_filter = ("kind", "dc")
    search_fields = ("copy__barcode", "ref")
    raw_id_fields = ("copy",)
