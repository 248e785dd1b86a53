"""Back-office tables of growth, read-only (changes go through the pages and actions)."""

from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Commission, Issue, Partner, PayoutStatement, Signup, Subscriber, Suppression


@admin.register(Partner)
class PartnerAdmin(RecordAdmin):
    list_display = ("name", "kind", "flat_cents", "share_bp", "active", "created_at")
    search_fields = ("name",)


@admin.register(Signup)
class SignupAdmin(RecordAdmin):
    list_display = ("member_id", "at", "source", "partner_id", "click_id", "note")
    list_filter = ("source",)


@admin.register(Commission)
class CommissionAdmin(RecordAdmin):
    list_display = ("member_id", "partner", "amount_cents", "status", "flags", "earned_on")
    list_filter = ("status",)


@admin.register(PayoutStatement)
class PayoutStatementAdmin(RecordAdmin):
    list_display = ("partner", "period", "amount_cents", "status", "paid_at", "paid_by")


@admin.register(Issue)
class IssueAdmin(RecordAdmin):
    list_display = ("week", "subject", "status", "recipients", "queued_at", "finished_at")


@admin.register(Subscriber)
class SubscriberAdmin(RecordAdmin):
    list_display = ("email", "status", "created_at", "confirmed_at")
    search_fields = ("email",)


@admin.register(Suppression)
class SuppressionAdmin(RecordAdmin):
    list_display = ("email", "suppressed", "soft_score", "reason", "updated_at")
    search_fields = ("email",)
