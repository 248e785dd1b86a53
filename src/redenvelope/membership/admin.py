from django.contrib import admin

from redenvelope.core.admin import RecordAdmin

from .models import Hold, Member, MemberEvent, Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "discs_at_once",
        "monthly_disc_limit",
        "streaming_screens",
        "monthly_price",
        "currency",
        "active",
    )
    list_filter = ("active",)


class HoldInline(admin.TabularInline):
    model = Hold
    extra = 0


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "plan", "status", "region", "joined_at", "bonus_rentals")
    list_filter = ("status", "plan", "blocked")
    search_fields = ("user__username", "user__email", "user__last_name", "zip_code")
    raw_id_fields = ("user", "region")
    readonly_fields = ("joined_at", "cancelled_at")
    inlines = [HoldInline]


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ("member", "starts_on", "ends_on", "cancelled_at")
    raw_id_fields = ("member",)


@admin.register(MemberEvent)
class MemberEventAdmin(RecordAdmin):
    list_display = ("member", "kind", "at", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("member",)
