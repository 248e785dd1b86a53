"""Support's rows in the back office, read-only: cases, actions and flags change only through
`support.actions` (the console and the API)."""

from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Action, Approval, Call, Case, Flag


@admin.register(Case)
class CaseAdmin(RecordAdmin):
    list_display = (
        "id",
        "subject",
        "member",
        "contact",
        "reason",
        "status",
        "channels",
        "opened_at",
    )
    list_filter = ("status", "reason", "channel")
    raw_id_fields = ("member", "assigned_to")


@admin.register(Action)
class ActionAdmin(RecordAdmin):
    list_display = ("at", "kind", "member", "value", "actor", "approved_by", "reason")
    list_filter = ("kind",)
    raw_id_fields = ("member", "case", "credit")


@admin.register(Approval)
class ApprovalAdmin(RecordAdmin):
    list_display = ("requested_at", "kind", "member", "value", "requested_by", "status")
    list_filter = ("status",)
    raw_id_fields = ("member", "case", "action")


@admin.register(Flag)
class FlagAdmin(RecordAdmin):
    list_display = ("raised_at", "member", "rule", "status", "cleared_by")
    list_filter = ("rule", "status")
    raw_id_fields = ("member",)


@admin.register(Call)
class CallAdmin(RecordAdmin):
    list_display = ("started_at", "number", "member", "answered_at", "ended_at", "agent")
    raw_id_fields = ("member", "case")
