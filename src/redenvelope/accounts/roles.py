"""The roles people hold, and what each may touch.

A role is a Django group of the same name. Staff roles get `is_staff` (they land in the admin and
see the tables their group's model permissions allow); the admin role is a superuser.
"""

from __future__ import annotations

import enum
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


class Role(enum.StrEnum):
    MEMBER = "member"
    WAREHOUSE = "warehouse"
    SUPPORT_AGENT = "support_agent"
    SUPPORT_LEAD = "support_lead"
    FINANCE = "finance"
    OPERATIONS = "operations"
    HR = "hr"  # people: employees' pay and personal data, payroll, reviews
    ADMIN = "admin"
    PARTNER = "partner"  # an affiliate: sees their own figures only


STAFF_ROLES = frozenset(Role) - {Role.MEMBER, Role.PARTNER}

# Model permissions ("app_label.codename") each staff role gets in the admin.
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.WAREHOUSE: [
        "catalog.view_title",
        "inventory.view_distributioncenter",
        "inventory.view_region",
        "inventory.view_transit",
        "inventory.view_copy",
        "inventory.add_copy",
        "inventory.change_copy",
        "inventory.view_copyevent",
        "fulfillment.view_shipment",
        "fulfillment.view_returnscan",
        "fulfillment.view_dispatchrun",
    ],
    Role.SUPPORT_AGENT: [
        "catalog.view_title",
        "catalog.view_series",
        "membership.view_plan",
        "membership.view_member",
        "membership.view_hold",
        "membership.view_memberevent",
        "queues.view_queueentry",
        "queues.view_savedentry",
        "fulfillment.view_shipment",
        "inventory.view_copy",
        "support.view_case",
        "support.view_action",
        "support.view_approval",
        "support.view_flag",
        "support.view_call",
    ],
    Role.SUPPORT_LEAD: [],  # everything an agent has, plus the lines below
    Role.FINANCE: [
        "ledger.view_account",
        "billing.view_credit",
        "ledger.view_journalentry",
        "ledger.view_journalline",
        "membership.view_plan",
        "membership.change_plan",
        "membership.view_member",
        "membership.view_memberevent",
        "membership.view_hold",
        "growth.view_partner",
        "growth.view_commission",
        "growth.view_payoutstatement",
        "growth.view_signup",
        "rights.view_licensor",
        "rights.view_contract",
        "rights.view_licensewindow",
        "rights.view_availsimport",
        "payables.view_vendor",
        "payables.view_purchaseorder",
        "payables.view_bill",
        "payables.view_paymentrun",
        "payables.view_production",
        "payables.view_placementdeal",
    ],
    Role.OPERATIONS: [
        "catalog.view_title",
        "catalog.view_series",
        "catalog.view_genre",
        "inventory.view_distributioncenter",
        "inventory.change_distributioncenter",
        "inventory.view_region",
        "inventory.view_transit",
        "inventory.change_transit",
        "inventory.view_copy",
        "inventory.view_copyevent",
        "membership.view_plan",
        "membership.view_member",
        "fulfillment.view_shipment",
        "fulfillment.view_returnscan",
        "fulfillment.view_dispatchrun",
        "fulfillment.view_incident",
        "fulfillment.add_incident",
        "recommendations.view_modelversion",
        "recommendations.view_livechange",
        "growth.view_issue",
        "growth.view_announcement",
        "growth.view_subscriber",
        "growth.view_suppression",
    ],
    Role.HR: [
        "workforce.view_employee",
        "workforce.view_rota",
        "workforce.view_shift",
        "workforce.view_timeentry",
        "workforce.view_timecorrection",
        "workforce.view_payrollrun",
        "workforce.view_timeoff",
    ],
    Role.ADMIN: [],
    Role.PARTNER: [],  # superuser
}
ROLE_PERMISSIONS[Role.SUPPORT_LEAD] = ROLE_PERMISSIONS[Role.SUPPORT_AGENT] + [
    "membership.add_hold",
    "membership.change_hold",
]


def roles_of(user) -> frozenset[str]:
    """The role names a user holds (cached on the user object for the request)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_redenvelope_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached = cached | {Role.ADMIN.value}
        user._redenvelope_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    held = roles_of(user)
    return any(str(r) in held for r in roles)


def is_staff_user(user) -> bool:
    return bool(roles_of(user) & {r.value for r in STAFF_ROLES})


def role_required(*roles: str):
    """View decorator: anonymous users go to login; users without one of the roles get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
