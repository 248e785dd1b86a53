from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Account, JournalEntry, JournalLine


@admin.register(Account)
class AccountAdmin(RecordAdmin):
    """The chart comes with the schema; nobody edits it by hand."""

    list_display = ("code", "name", "kind")


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    extra = 0
    can_delete = False
    readonly_fields = ("account", "member_id", "debit", "credit", "currency")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
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
