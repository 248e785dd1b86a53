from django.contrib import admin

from .models import QueueEntry, SavedEntry


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ("member", "position", "title", "added_at")
    raw_id_fields = ("member", "title")
    search_fields = ("member__user__username",)

    # Positions must stay contiguous: the queue changes through queues.actions only.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SavedEntry)
class SavedEntryAdmin(admin.ModelAdmin):
    list_display = ("member", "title", "added_at")
    raw_id_fields = ("member", "title")

    def has_change_permission(self, request, obj=None):
        return False
