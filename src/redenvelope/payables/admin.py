"""Back-office tables for payables: read-only (every change goes through payables.actions, from
the payables pages and the CLI)."""

from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Bill, PaymentRun, PlacementDeal, Production, PurchaseOrder, Vendor


@admin.register(Vendor)
class VendorAdmin(RecordAdmin):
    list_display = ("name", "kind", "country", "terms_days")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(RecordAdmin):
    list_display = ("number", "vendor", "dc", "status", "created_at")
    list_filter = ("status",)


@admin.register(Bill)
class BillAdmin(RecordAdmin):
    list_display = ("vendor", "number", "kind", "status", "total_cents", "due_on")
    list_filter = ("kind", "status")
    search_fields = ("number", "vendor__name")


@admin.register(PaymentRun)
class PaymentRunAdmin(RecordAdmin):
    list_display = ("number", "pay_on", "bills_count", "total_cents")
    exclude = ("file",)


@admin.register(Production)
class ProductionAdmin(RecordAdmin):
    list_display = ("name", "status", "released_on", "schedule", "amortised_cents")


@admin.register(PlacementDeal)
class PlacementDealAdmin(RecordAdmin):
    list_display = ("brand", "production", "scene", "fee_cents", "recognised_cents")
