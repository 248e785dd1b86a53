from django.contrib import admin

from .models import Genre, Series, Title


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("name", "first_year")
    search_fields = ("name",)


@admin.register(Title)
class TitleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "year",
        "mpaa_rating",
        "release_date",
        "series",
        "season",
        "disc_number",
    )
    list_filter = ("mpaa_rating", "on_dvd", "on_bluray", "genres")
    search_fields = ("name", "series__name")
    autocomplete_fields = ("series",)
    filter_horizontal = ("genres",)
