"""State changes for users, roles and API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from redenvelope.core.errors import DomainError

from .models import ApiToken, hash_token
from .roles import ROLE_PERMISSIONS, STAFF_ROLES, Role


@transaction.atomic
def ensure_roles() -> dict[str, Group]:
    """Create one group per role with its permissions. Safe to run any number of times."""
    groups = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for perm in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        groups[role.value] = group
    return groups


@transaction.atomic
def create_staff_user(username: str, password: str, role: str, *, email: str = "", **names):
    """A staff account holding one role. The admin role is a superuser."""
    try:
        role = Role(role)
    except ValueError:
        raise DomainError(
            f"Unknown role {role!r}; one of {', '.join(r.value for r in Role)}"
        ) from None
    if role not in STAFF_ROLES:
        raise DomainError("Members are created through membership.actions.join, not as staff.")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise DomainError(f"A user named {username!r} already exists.")
    user = User.objects.create_user(username=username, password=password, email=email, **names)
    user.is_staff = True
    user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    user.groups.add(ensure_roles()[role.value])
    return user


def issue_api_token(user, name: str = "api") -> str:
    """Create a token for user and return it; only its hash is kept."""
    raw = "re_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:8])
    return raw


def revoke_api_token(token_id: int, user) -> None:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise DomainError("No such active token.")
