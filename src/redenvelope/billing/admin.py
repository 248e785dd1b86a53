from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Account, Credit, JournalEntry, JournalLine


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


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind")


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    extra = 0
    can_delete = False
    readonly_fields = ("account", "member_id", "debit", "credit", "currency")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(RecordAdmin):
    list_display = ("effective_date", "kind", "memo", "member_id", "actor", "posted_at")
    list_filter = ("kind",)
    search_fields = ("memo", "member_id")
    readonly_fields = (
        "kind",
        "effective_date",
        "posted_at",
        "memo",
        "member_id",
        "actor",
        "idempotency_key",
    )
    inlines = [JournalLineInline]
