from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import QueueEntry, SavedEntry


@admin.register(QueueEntry)
class QueueEntryAdmin(RecordAdmin):
    list_display = ("member", "position", "title", "added_at")
    raw_id_fields = ("member", "title")
    search_fields = ("member__user__username",)


@admin.register(SavedEntry)
class SavedEntryAdmin(admin.ModelAdmin):
    list_display = ("member", "title", "added_at")
    raw_id_fields = ("member", "title")

    def has_change_permission(self, request, obj=None):
        return False
