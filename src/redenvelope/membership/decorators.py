"""The page decorator for member pages: every domain's member pages use it (billing's, the
site's), so it lives with the members it looks up, not in the site layer above them."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from redenvelope.accounts.roles import Role, has_role

from .models import Member


def member_of(request: HttpRequest) -> Member | None:
    """The signed-in member, or None for a visitor or staff (public pages use it)."""
    if not request.user.is_authenticated or not has_role(request.user, Role.MEMBER):
        return None
    member = getattr(request, "member", None)
    if member is None:
        member = Member.objects.select_related("plan").filter(user=request.user).first()
        request.member = member
    return member


def member_required(view):
    """Only a signed-in member with a membership; staff get 403 (they work in the admin)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_role(request.user, Role.MEMBER):
            raise PermissionDenied(
                "You are signed in as staff. Member pages are for members: sign out and sign "
                "in as a member to see them, or go back to your own pages."
            )
        member = Member.objects.select_related("plan").filter(user=request.user).first()
        if member is None:
            raise PermissionDenied("This account has no membership.")
        request.member = member
        return view(request, *args, **kwargs)

    return wrapped
