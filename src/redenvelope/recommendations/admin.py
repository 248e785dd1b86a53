"""Back office: model versions and live changes, read-only (the CLI's `recs` commands change
which one is live, through actions)."""

from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import LiveChange, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(RecordAdmin):
    list_display = ["id", "status", "created_at", "data_cutoff", "seconds", "trained_by"]
    list_filter = ["status"]


@admin.register(LiveChange)
class LiveChangeAdmin(RecordAdmin):
    list_display = ["at", "version", "previous", "by", "why"]
