"""What the site's layout shows on every page (the site layer owns its banners)."""

from django.utils.functional import SimpleLazyObject

from redenvelope.accounts.roles import roles_of


def banners(request):
    """`member_past_due`: the banner asking a past-due member to fix their payment. Looked up
    only when a page's template reads it (lazily), from the member a member page already loaded
    when there is one."""
    user = getattr(request, "user", None)

    def past_due() -> bool:
        if "member" not in roles_of(user) or request.path.startswith("/account/billing"):
            return False
        member = getattr(request, "member", None)
        if member is not None:
            return member.status == "past_due"
        from redenvelope.membership.models import Member

        return Member.objects.filter(user=user, status="past_due").exists()

    return {"member_past_due": SimpleLazyObject(past_due)}


# The forms repeated on every row of a list (add to queue, reorder, rate) post to these: one
# reverse per page, not one per row.
_ROW_URLS = ("queue_change", "rate")


def row_urls(request):
    from django.urls import reverse

    return {"row_urls": SimpleLazyObject(lambda: {n: reverse(n) for n in _ROW_URLS})}
