import pytest
from django.urls import reverse

from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry

MEMBER_PAGES = ["for_you", "queue", "history", "my_ratings", "rate_seen", "account"]
PUBLIC_PAGES = ["landing", "catalog", "join", "login", "password_reset"]


def test_landing_shows_plans(client, world):
    html = client.get("/").content.decode()
    assert "3 at a time" in html and "$16.99" in html


@pytest.mark.parametrize("page", MEMBER_PAGES)
def test_anonymous_is_sent_to_login(client, world, page):
    resp = client.get(reverse(page))
    assert resp.status_code == 302 and resp.url.startswith("/login/")


@pytest.mark.parametrize(
    "role,page",
    [
        ("warehouse", "operations"),
        ("support_agent", "service"),
        ("support_lead", "service"),
        ("finance", "money"),
        ("operations", "operations"),
        ("admin", "overview"),
    ],
)
def test_staff_land_on_their_own_page_not_member_pages(client, world, role, page):
    client.force_login(world.staff[role])
    landing = client.get(reverse("home")).url
    assert landing == reverse("insight_dashboard", kwargs={"slug": page})
    assert client.get(landing).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200
    for page in MEMBER_PAGES:
        resp = client.get(reverse(page))
        assert resp.status_code == 403
        assert "You are signed in as staff" in resp.content.decode()


def test_staff_see_only_their_tables(client, world):
    client.force_login(world.staff["warehouse"])
    assert client.get("/admin/inventory/copy/").status_code == 200
    assert client.get("/admin/membership/member/").status_code == 403
    client.force_login(world.staff["finance"])
    assert client.get("/admin/membership/plan/").status_code == 200
    assert client.get("/admin/inventory/copy/").status_code == 403
    client.force_login(world.staff["support_agent"])
    assert client.get(f"/admin/membership/member/{world.alice.pk}/change/").status_code == 200
    resp = client.post(f"/admin/membership/member/{world.alice.pk}/change/", {"status": "active"})
    assert resp.status_code == 403  # members are read-only in the admin (actions change them)
    client.force_login(world.staff["admin"])
    for url in (
        "/admin/queues/queueentry/",
        "/admin/inventory/copyevent/",
        "/admin/fulfillment/shipment/",
        "/admin/auth/user/",
    ):
        assert client.get(url).status_code == 200


def test_member_cannot_open_admin(member_client):
    resp = member_client.get("/admin/")
    assert resp.status_code == 302 and "/admin/login/" in resp.url


def test_login_lands_member_on_their_picks(client, world):
    resp = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-battery"})
    assert resp.status_code == 302
    assert client.get(resp.url).url == reverse("for_you")
    assert client.get(reverse("for_you")).status_code == 200  # no model yet: popular titles


def test_catalog_browse_search_and_genre(member_client, world):
    html = member_client.get(reverse("catalog"), {"q": "Film 3"}).content.decode()
    assert "Film 3" in html and "Film 4" not in html
    html = member_client.get(reverse("catalog"), {"genre": "comedy"}).content.decode()
    assert "Film 0" in html and "Film 1<" not in html


def test_queue_changes_from_pages(member_client, world):
    a, b, c = world.films[:3]
    for t in (a, b, c):
        resp = member_client.post(
            reverse("queue_change"), {"op": "add", "title": t.pk, "next": "catalog"}
        )
        assert resp.status_code == 302
    member_client.post(reverse("queue_change"), {"op": "top", "title": c.pk})
    member_client.post(reverse("queue_change"), {"op": "move", "title": a.pk, "position": 3})
    member_client.post(reverse("queue_change"), {"op": "remove", "title": b.pk})
    order = list(
        QueueEntry.objects.filter(member=world.alice)
        .order_by("position")
        .values_list("title_id", flat=True)
    )
    assert order == [c.pk, a.pk]


def test_htmx_queue_change_returns_partial_with_error(member_client, world):
    queues.add_to_queue(world.alice, world.films[0])
    resp = member_client.post(
        reverse("queue_change"),
        {"op": "move", "title": world.films[0].pk, "position": 9},
        HTTP_HX_REQUEST="true",
    )
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "out of range" in html and "<html" not in html
    resp = member_client.post(
        reverse("queue_change"),
        {"op": "add", "title": world.films[0].pk, "next": "catalog"},
        HTTP_HX_REQUEST="true",
    )
    assert "already in the queue" in resp.content.decode()


def test_queue_change_refuses_get_and_unknown_op(member_client, world):
    assert member_client.get(reverse("queue_change")).status_code == 405
    resp = member_client.post(reverse("queue_change"), {"op": "explode", "title": 1})
    assert resp.status_code == 302  # back to the queue with a message
    assert "Unknown queue operation" in member_client.get(reverse("queue")).content.decode()


def test_member_only_sees_own_queue(client, world):
    queues.add_to_queue(world.bob, world.films[5])
    client.force_login(world.alice.user)
    html = client.get(reverse("queue")).content.decode()
    assert "Film 5" not in html
    # Alice cannot act on Bob's queue: the page only ever acts on the signed-in member.
    client.post(reverse("queue_change"), {"op": "remove", "title": world.films[5].pk})
    assert QueueEntry.objects.filter(member=world.bob).count() == 1


def test_csrf_is_enforced(world):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(world.alice.user)
    assert (
        c.post(reverse("queue_change"), {"op": "add", "title": world.films[0].pk}).status_code
        == 403
    )


def test_admin_has_no_side_doors_around_the_actions(client, world):
    """Fields only actions change are read-only in the admin, for leads and admins alike; what
    staff may do there goes through the actions (place_hold's checks, create_plan's)."""
    import datetime as dt

    from redenvelope.membership.models import Hold, Member, Plan

    for role in ("support_lead", "admin"):
        client.force_login(world.staff[role])
        url = f"/admin/membership/member/{world.alice.pk}/change/"
        assert client.get(url).status_code == 200
        resp = client.post(url, {"bonus_rentals": "50", "status": "cancelled", "blocked": "on"})
        assert resp.status_code == 403
        alice = Member.objects.get(pk=world.alice.pk)
        assert alice.bonus_rentals == 0 and alice.status == "active" and not alice.blocked
    # A plan's terms are fixed once it exists; its name and offer may change.
    client.force_login(world.staff["admin"])
    url = f"/admin/membership/plan/{world.plan1.pk}/change/"
    client.post(
        url,
        {
            "name": "One disc",
            "monthly_price": "0.01",
            "discs_at_once": "8",
            "active": "on",
            "code": "one",
            "currency": "USD",
            "streaming_screens": "1",
        },
    )
    plan = Plan.objects.get(pk=world.plan1.pk)
    assert plan.name == "One disc" and plan.monthly_price == world.plan1.monthly_price
    assert plan.discs_at_once == 1
    # A hold placed in the admin passes place_hold's checks: one in the past is refused.
    client.force_login(world.staff["support_lead"])
    past = world.today - dt.timedelta(days=3)
    resp = client.post(
        "/admin/membership/hold/add/",
        {"member": world.alice.pk, "starts_on": past, "ends_on": past + dt.timedelta(days=5)},
        follow=True,
    )
    assert "cannot start in the past" in resp.content.decode()
    assert not Hold.objects.exists()
    start = world.today + dt.timedelta(days=2)
    client.post(
        "/admin/membership/hold/add/",
        {"member": world.alice.pk, "starts_on": start, "ends_on": start + dt.timedelta(days=7)},
    )
    hold = Hold.objects.get()
    assert hold.member_id == world.alice.pk
    assert world.alice.events.filter(kind="hold_placed", actor=world.staff["support_lead"]).exists()


@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_public_pages_open_to_visitors(client, world, page):
    assert client.get(reverse(page)).status_code == 200
