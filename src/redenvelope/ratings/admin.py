from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Rating


@admin.register(Rating)
class RatingAdmin(RecordAdmin):
    list_display = ("member", "title", "stars", "source", "rated_at")
    list_filter = ("source", "stars")
    raw_id_fields = ("member", "title")
