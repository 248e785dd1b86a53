"""Back-office tables for plans, members and holds. What only actions may change is read-only
here; the changes staff may make go through the same actions the pages use (no side doors)."""

from django.contrib import admin, messages

from redenvelope.core.admin import RecordAdmin
from redenvelope.core.errors import DomainError

from . import actions
from .models import Hold, Member, MemberEvent, Plan

# Fixed once a plan exists: members are billed and shipped by them (a new price is a new plan).
PLAN_TERMS = (
    "code",
    "discs_at_once",
    "monthly_disc_limit",
    "streaming_screens",
    "monthly_price",
    "currency",
)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", *PLAN_TERMS, "active")
    list_filter = ("active",)

    def get_readonly_fields(self, request, obj=None):
        return PLAN_TERMS if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:  # only the name and whether it is offered
            Plan.objects.filter(pk=obj.pk).update(name=obj.name, active=obj.active)
            return
        made = actions.create_plan(
            code=obj.code,
            name=obj.name,
            discs_at_once=obj.discs_at_once,
            monthly_price=obj.monthly_price,
            monthly_disc_limit=obj.monthly_disc_limit,
            streaming_screens=obj.streaming_screens,
            currency=obj.currency,
        )
        obj.pk = made.pk


class HoldInline(admin.TabularInline):
    model = Hold
    extra = 0
    can_delete = False
    readonly_fields = ("starts_on", "ends_on", "cancelled_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(RecordAdmin):
    """Read-only: plan, status, blocks, billing day, bonus rentals, gifts and cancellation each
    have their action (billing's and support's pages, the API); a change here would skip its
    checks, its proration and its audit."""

    list_display = ("__str__", "user", "plan", "status", "region", "joined_at", "bonus_rentals")
    list_filter = ("status", "plan", "blocked")
    search_fields = ("user__username", "user__email", "user__last_name", "zip_code")
    inlines = [HoldInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Member._meta.fields]


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    """Holds are placed through `place_hold` (its checks: not in the past, at most 90 days, no
    overlap) and cancelled through `cancel_hold`; their dates are never edited."""

    list_display = ("member", "starts_on", "ends_on", "cancelled_at")
    raw_id_fields = ("member",)
    actions = ["cancel_holds"]

    def get_readonly_fields(self, request, obj=None):
        return ("member", "starts_on", "ends_on", "cancelled_at") if obj else ("cancelled_at",)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            hold = actions.place_hold(obj.member, obj.starts_on, obj.ends_on, actor=request.user)
        except DomainError as exc:
            # The form was valid but the business refuses it: say why, save nothing.
            self.message_user(request, exc.message, messages.ERROR)
            obj.pk = None
            return
        obj.pk = hold.pk

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Cancel the selected holds", permissions=["change"])
    def cancel_holds(self, request, queryset):
        for hold in queryset.filter(cancelled_at=None).order_by("pk"):
            actions.cancel_hold(hold, actor=request.user)


@admin.register(MemberEvent)
class MemberEventAdmin(RecordAdmin):
    list_display = ("member", "kind", "at", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("member",)
