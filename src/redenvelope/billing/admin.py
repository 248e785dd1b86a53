from django.contrib import admin

from .models import Account, Credit, JournalEntry, JournalLine


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False  # credits are given through billing.actions.issue_credit (limits, ledger)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
class JournalEntryAdmin(admin.ModelAdmin):
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

    # The ledger is append-only: corrections are new, reversing entries.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
