"""Back-office tables for workforce: read-only (changes go through workforce.actions, from the
workforce pages, the desk's scanner and the CLI)."""

from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Employee, PayrollRun, Rota, TimeCorrection, TimeEntry


@admin.register(Employee)
class EmployeeAdmin(RecordAdmin):
    list_display = ("name", "job", "team", "dc", "starts_on", "ends_on")
    list_filter = ("team", "dc")
    search_fields = ("name", "badge")


@admin.register(Rota)
class RotaAdmin(RecordAdmin):
    list_display = ("week", "team", "dc", "published_at")


@admin.register(TimeEntry)
class TimeEntryAdmin(RecordAdmin):
    list_display = ("employee", "dc", "clock_in", "clock_out", "break_minutes")


@admin.register(TimeCorrection)
class TimeCorrectionAdmin(RecordAdmin):
    list_display = ("entry", "at", "by", "reason")


@admin.register(PayrollRun)
class PayrollRunAdmin(RecordAdmin):
    list_display = ("period_start", "period_end", "employees", "gross_cents")
    exclude = ("csv",)
