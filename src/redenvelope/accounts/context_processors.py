from .roles import is_staff_user, roles_of


def roles(request):
    user = getattr(request, "user", None)
    return {"user_roles": roles_of(user), "is_staff_user": is_staff_user(user)}
