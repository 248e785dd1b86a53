from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Credit


@admin.register(Credit)
class CreditAdmin(RecordAdmin):
    list_display = ("issued_at", "member", "amount", "remaining", "reason", "issuer")
    raw_id_fields = ("member",)
    readonly_fields = (
        "member",
        "kind",
        "amount",
        "remaining",
        "reason",
        "issuer",
        "issued_at",
        "entry",
        "idempotency_key",
    )
