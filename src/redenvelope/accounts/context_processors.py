from .roles import is_staff_user, roles_of


def roles(request):
    user = getattr(request, "user", None)
    held = roles_of(user)
    past_due = False
    if "member" in held and not request.path.startswith("/account/billing"):
        from redenvelope.membership.models import Member

        past_due = Member.objects.filter(user=user, status="past_due").exists()
    return {
        "user_roles": held,
        "is_staff_user": is_staff_user(user),
        "member_past_due": past_due,
    }
