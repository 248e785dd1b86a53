"""The member website end to end through Django's test client: joining (and every way it can
be refused), signing in (throttled), adding as a visitor, rating, reordering, the account page,
the emails members get."""

import datetime as dt

import pytest
from django.urls import reverse

from redenvelope.core.mail import deliver
from redenvelope.core.models import OutboundEmail
from redenvelope.membership.models import Hold, Member
from redenvelope.queues.models import QueueEntry
from redenvelope.ratings.models import Rating

GOOD = {
    "plan": "three",
    "first_name": "Vera",
    "last_name": "Visitor",
    "email": "vera@example.com",
    "password": "a-long-unusual-passphrase-7",
    "street": "5 Elm St",
    "city": "New York",
    "state": "NY",
    "zip_code": "10003",
    "card_number": "4242 4242 4242 4242",
    "exp_month": "12",
    "exp_year": "2030",
    "gift_code": "",
}


def join(client, **changes):
    return client.post(reverse("join"), {**GOOD, **changes})


def test_join_starts_trial_logs_in_and_sends_welcome_and_verification(client, world):
    resp = join(client)
    assert resp.status_code == 302 and resp.url.startswith(reverse("catalog"))
    member = Member.objects.get(user__email="vera@example.com")
    assert member.status == "trial" and member.trial_ends_on and member.plan.code == "three"
    assert member.region == world.nyc and member.payment_methods.get().last4 == "4242"
    kinds = set(OutboundEmail.objects.filter(member_id=member.pk).values_list("kind", flat=True))
    assert kinds == {"welcome", "verify_email"}
    assert client.get(reverse("queue")).status_code == 200  # signed in


@pytest.mark.parametrize(
    "changes,says",
    [
        ({"email": "alice@example.com"}, "already exists"),
        ({"password": "password"}, "too common"),
        ({"password": "short"}, "too short"),
        ({"zip_code": "1234"}, "not a US ZIP"),
        ({"zip_code": "99999"}, "do not deliver"),
        ({"card_number": "4000 0000 0000 0002"}, "declined"),
        ({"card_number": "1234 5678"}, "not valid"),
        ({"exp_year": "2020"}, "expired"),
        ({"gift_code": "NOPE-NOPE"}, "No gift"),
        ({"plan": "gold"}, "Choose one of the plans"),
        ({"first_name": ""}, "first name"),
        ({"state": "New York"}, "two-letter"),
    ],
)
def test_join_refusals_say_why_and_change_nothing(client, world, changes, says):
    users, members = Member.objects.count(), OutboundEmail.objects.count()
    resp = join(client, **changes)
    assert resp.status_code in (400, 404, 409)
    assert says in resp.content.decode()
    assert Member.objects.count() == users and OutboundEmail.objects.count() == members
    assert "vera" not in resp.content.decode().split("password")[-1][:0]  # page renders


def test_double_clicked_join_makes_one_member(client, world):
    assert join(client).status_code == 302
    client.logout()
    resp = join(client)
    assert resp.status_code == 409 and "already exists" in resp.content.decode()
    assert Member.objects.filter(user__email="vera@example.com").count() == 1


def test_sign_in_by_email_and_throttle(client, world, settings):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "LOGIN_THROTTLE": {"account": 5, "address": 20, "minutes": 15},
    }
    login = reverse("login")
    for _ in range(5):
        resp = client.post(login, {"username": "alice@example.com", "password": "wrong"})
        assert resp.status_code == 200 and "don&#x27;t match" in resp.content.decode()
    # The sixth try, with the right password, is refused too: the account waits.
    resp = client.post(login, {"username": "alice", "password": "correct-horse-battery"})
    assert resp.status_code == 200 and "Too many wrong passwords" in resp.content.decode()
    # Another account from the same address is still allowed until the address limit.
    resp = client.post(login, {"username": "bob@example.com", "password": "correct-horse-battery"})
    assert resp.status_code == 302


def test_address_throttle(client, world, settings):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "LOGIN_THROTTLE": {"account": 50, "address": 3, "minutes": 15},
    }
    for i in range(3):
        client.post(reverse("login"), {"username": f"nobody{i}", "password": "x"})
    resp = client.post(reverse("login"), {"username": "bob", "password": "correct-horse-battery"})
    assert "from your network" in resp.content.decode()


def test_visitor_add_completes_after_joining(client, world):
    film = world.films[3]
    resp = client.post(reverse("queue_change"), {"op": "add", "title": film.pk})
    assert resp.status_code == 302 and resp.url == reverse("join_or_sign_in")
    assert film.name in client.get(resp.url).content.decode()
    resp = join(client)
    assert resp.url == reverse("complete_add")
    client.get(resp.url)
    member = Member.objects.get(user__email="vera@example.com")
    assert list(member.queue_entries.values_list("title_id", flat=True)) == [film.pk]
    client.get(reverse("complete_add"))  # a reload adds nothing more
    assert member.queue_entries.count() == 1


def test_visitor_add_completes_after_signing_in(client, world):
    film = world.films[2]
    client.post(reverse("queue_change"), {"op": "add_top", "title": film.pk})
    resp = client.post(
        reverse("login") + "?next=" + reverse("complete_add"),
        {"username": "alice", "password": "correct-horse-battery", "next": reverse("complete_add")},
    )
    client.get(resp.url)
    assert QueueEntry.objects.filter(member=world.alice, title=film).exists()


def test_public_catalog_title_and_search(client, world):
    html = client.get(reverse("catalog"), {"q": "fillm 3"}).content.decode()
    assert "Film 3" in html
    html = client.get(reverse("catalog"), {"list": "coming"}).content.decode()
    assert "Coming Soon" in html and "Film 1" not in html
    html = client.get(reverse("title_detail", args=[world.discs[1].pk])).content.decode()
    assert "every disc, in order" in html and "Season 2, disc 1" in html
    partial = client.get(
        reverse("catalog"), {"q": "film", "partial": "results"}, HTTP_HX_REQUEST="true"
    )
    assert "<h1>" not in partial.content.decode() and "Film 0" in partial.content.decode()


def test_rating_from_pages_and_bad_stars(member_client, world):
    film = world.films[0]
    resp = member_client.post(reverse("rate"), {"title": film.pk, "stars": "4", "from": "title"})
    assert resp.status_code == 302
    assert Rating.objects.get(member=world.alice, title=film).stars == 4
    resp = member_client.post(
        reverse("rate"), {"title": film.pk, "stars": "6", "from": "queue"}, HTTP_HX_REQUEST="true"
    )
    assert resp.status_code == 400 and "1 to 5" in resp.content.decode()
    assert Rating.objects.get(member=world.alice, title=film).stars == 4
    resp = member_client.post(reverse("rate"), {"title": "999999", "stars": "3"})
    assert resp.status_code == 302 and not Rating.objects.filter(title_id=999999).exists()
    assert film.name in member_client.get(reverse("my_ratings")).content.decode()
    html = member_client.get(reverse("title_detail", args=[film.pk])).content.decode()
    assert "You gave it 4" in html and "4.0" in html


def test_queue_up_down_and_position_out_of_range(member_client, world):
    from redenvelope.queues import actions as queues

    a, b, c = world.films[:3]
    for t in (a, b, c):
        queues.add_to_queue(world.alice, t)
    member_client.post(reverse("queue_change"), {"op": "down", "title": a.pk})
    member_client.post(reverse("queue_change"), {"op": "up", "title": c.pk})
    order = list(
        QueueEntry.objects.filter(member=world.alice)
        .order_by("position")
        .values_list("title_id", flat=True)
    )
    assert order == [b.pk, c.pk, a.pk]
    resp = member_client.post(
        reverse("queue_change"), {"op": "move", "title": a.pk, "position": "9"}, follow=True
    )
    assert "position" in resp.content.decode().lower()
    resp = member_client.post(
        reverse("queue_change"), {"op": "remove", "title": world.films[7].pk}, follow=True
    )
    order2 = list(
        QueueEntry.objects.filter(member=world.alice)
        .order_by("position")
        .values_list("title_id", flat=True)
    )
    assert order2 == order


def test_someone_elses_hold_cannot_be_cancelled(member_client, world):
    from redenvelope.membership import actions as membership

    hold = membership.place_hold(
        world.bob, world.today + dt.timedelta(days=3), world.today + dt.timedelta(days=9)
    )
    resp = member_client.post(reverse("account_action"), {"action": "cancel_hold", "hold": hold.pk})
    assert resp.status_code == 400
    assert Hold.objects.get(pk=hold.pk).cancelled_at is None


def test_account_hold_cancel_rejoin_address_email_preferences(member_client, world):
    act = reverse("account_action")
    today = world.today
    bad = member_client.post(
        act,
        {
            "action": "hold",
            "starts_on": str(today - dt.timedelta(days=1)),
            "ends_on": str(today + dt.timedelta(days=5)),
        },
    )
    assert bad.status_code == 400 and "past" in bad.content.decode()
    bad = member_client.post(
        act,
        {"action": "hold", "starts_on": str(today), "ends_on": str(today + dt.timedelta(days=200))},
    )
    assert bad.status_code == 400 and "at most" in bad.content.decode()
    assert not Hold.objects.filter(member=world.alice).exists()
    ok = member_client.post(
        act,
        {
            "action": "hold",
            "starts_on": str(today + dt.timedelta(days=2)),
            "ends_on": str(today + dt.timedelta(days=9)),
        },
    )
    assert ok.status_code == 302
    hold = Hold.objects.get(member=world.alice)
    member_client.post(act, {"action": "cancel_hold", "hold": hold.pk})
    assert Hold.objects.get(pk=hold.pk).cancelled_at is not None

    bad = member_client.post(
        act,
        {"action": "address", "street": "1 B St", "city": "X", "state": "CA", "zip_code": "00000"},
    )
    assert bad.status_code == 400
    member_client.post(
        act,
        {
            "action": "address",
            "street": "9 Bay St",
            "city": "San Francisco",
            "state": "CA",
            "zip_code": "94110",
        },
    )
    world.alice.refresh_from_db()
    assert world.alice.region == world.sf

    member_client.post(act, {"action": "emails", "notice": ["hold"]})
    world.alice.refresh_from_db()
    assert sorted(world.alice.muted) == ["newsletter", "received", "shipped"]

    from redenvelope.queues import actions as queues

    queues.add_to_queue(world.alice, world.films[0])
    resp = member_client.post(act, {"action": "cancel"})
    assert resp.status_code == 302
    world.alice.refresh_from_db()
    assert world.alice.status == "cancelled"
    assert "24 months" in member_client.get(reverse("account")).content.decode()
    member_client.post(act, {"action": "rejoin", "plan": "three"})
    world.alice.refresh_from_db()
    assert world.alice.status == "active"
    assert world.alice.queue_entries.count() == 1


def test_change_email_needs_verification_again(member_client, world):
    from redenvelope.membership import emails

    act = reverse("account_action")
    taken = member_client.post(act, {"action": "email", "email": "bob@example.com"})
    assert taken.status_code == 409
    member_client.post(act, {"action": "email", "email": "alice.new@example.com"})
    world.alice.refresh_from_db()
    assert (
        world.alice.user.email == "alice.new@example.com" and world.alice.email_verified_at is None
    )
    old_token = "x"
    assert member_client.get(reverse("verify_email", args=[old_token])).status_code == 400
    token = emails.verification_token(world.alice)
    member_client.get(reverse("verify_email", args=[token]))
    world.alice.refresh_from_db()
    assert world.alice.email_verified_at is not None


def test_emails_have_html_and_one_click_unsubscribe(client, world, smtp):
    from redenvelope.membership import actions as membership

    hold = membership.place_hold(
        world.alice, world.today + dt.timedelta(days=2), world.today + dt.timedelta(days=4)
    )
    membership.cancel_hold(hold)
    deliver()
    msg = next(m for m in smtp.received if "vacation hold" in str(m["Subject"]))
    assert msg.get_body(("html",)) is not None
    url = msg["List-Unsubscribe"].strip("<>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = url.split("8000", 1)[-1] if "8000" in url else url
    assert client.get(path).status_code == 200  # a page with one button; nothing changes
    world.alice.refresh_from_db()
    assert world.alice.muted == []
    assert client.post(path).status_code == 200  # the mail client's one click
    world.alice.refresh_from_db()
    assert world.alice.muted == ["hold"]
    # A muted notice is not sent; essential ones still are.
    before = len(smtp.received)
    membership.place_hold(
        world.alice, world.today + dt.timedelta(days=20), world.today + dt.timedelta(days=22)
    )
    membership.change_plan(world.alice, world.plan1)
    deliver()
    subjects = [str(m["Subject"]) for m in smtp.received[before:]]
    assert subjects == ["You are now on 1 at a time"]
    assert "List-Unsubscribe" not in smtp.received[-1]


def test_password_reset_by_email(client, world, smtp):
    resp = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert resp.status_code == 302
    deliver()
    body = smtp.messages[-1][2]
    link = next(w for w in body.split() if "/password/reset/" in w)
    path = link.split("8000", 1)[1]
    form = client.get(path, follow=True)
    assert form.status_code == 200
    resp = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-secret-42", "new_password2": "brand-new-secret-42"},
    )
    assert resp.status_code == 302
    assert client.login(username="alice", password="brand-new-secret-42")


def test_join_redeems_a_gift_code(client, world):
    from redenvelope.billing.actions import purchase_gift

    gift = purchase_gift(
        plan=world.plan3,
        months=3,
        purchaser_name="Gran",
        purchaser_email="gran@example.com",
        card_number="4242424242424242",
        exp_month=12,
        exp_year=2040,
    )
    resp = join(client, gift_code=gift.code.lower())
    assert resp.status_code == 302
    member = Member.objects.get(user__email="vera@example.com")
    gift.refresh_from_db()
    assert gift.redeemed_by == member and member.gift_months_left == 3
    # The same code again, by another visitor: refused, nothing made.
    client.logout()
    again = join(client, email="other@example.com", gift_code=gift.code)
    assert again.status_code == 409 and "already been redeemed" in again.content.decode()
    assert not Member.objects.filter(user__email="other@example.com").exists()
