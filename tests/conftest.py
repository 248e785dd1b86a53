"""A small world shared by the suite: roles, plans, DCs and regions, titles, members and staff."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from redenvelope.accounts.actions import create_staff_user, ensure_roles
from redenvelope.catalog import actions as catalog
from redenvelope.inventory import actions as inventory
from redenvelope.inventory.barcodes import make_barcode
from redenvelope.membership import actions as membership

PASSWORD = "correct-horse-battery"
STAFF_ROLES = [
    "warehouse", "support_agent", "support_lead", "finance", "operations", "hr", "admin",
]  # fmt: skip


class World:
    pass


@pytest.fixture
def world(db):
    ensure_roles()
    w = World()
    today = timezone.localdate()
    w.today = today
    w.plan1 = membership.create_plan(
        code="one", name="1 at a time", discs_at_once=1, monthly_price="8.99"
    )
    w.plan3 = membership.create_plan(
        code="three",
        name="3 at a time",
        discs_at_once=3,
        monthly_price="16.99",
        streaming_screens=2,
    )
    w.ewr = inventory.add_distribution_center(
        code="EWR",
        name="Newark",
        city="Newark",
        state="NJ",
        latitude=40.7,
        longitude=-74.2,
        daily_capacity=500,
    )
    w.sjc = inventory.add_distribution_center(
        code="SJC",
        name="San Jose",
        city="San Jose",
        state="CA",
        latitude=37.3,
        longitude=-121.9,
        daily_capacity=500,
    )
    w.nyc = inventory.add_region(
        zip3="100", name="Manhattan", state="NY", latitude=40.78, longitude=-73.97
    )
    w.sf = inventory.add_region(
        zip3="941", name="San Francisco", state="CA", latitude=37.77, longitude=-122.42
    )
    inventory.set_transit(w.ewr, w.nyc, 1)
    inventory.set_transit(w.sjc, w.sf, 1)
    inventory.set_transit(w.sjc, w.nyc, 5)
    past = today - dt.timedelta(days=400)
    w.films = [
        catalog.add_title(
            name=f"Film {i}",
            year=2000 + i,
            release_date=past,
            genres=["Drama"] if i % 2 else ["Comedy", "Romance"],
            runtime_minutes=100,
        )
        for i in range(8)
    ]
    w.series = catalog.add_series("The Long Show", first_year=2001)
    w.discs = [
        catalog.add_title(
            name=f"The Long Show: Season {s}, Disc {d}",
            year=2000 + s,
            release_date=past,
            series=w.series,
            season=s,
            disc_number=d,
            genres=["Drama"],
        )
        for s in (1, 2)
        for d in (1, 2)
    ]
    w.unreleased = catalog.add_title(
        name="Coming Soon",
        year=today.year,
        release_date=today + dt.timedelta(days=10),
        genres=["Action"],
    )
    w.alice = _member("alice", w.plan3, "10001")
    w.bob = _member("bob", w.plan1, "94105")
    w.staff = {role: create_staff_user(f"staff_{role}", PASSWORD, role) for role in STAFF_ROLES}
    w.serial = 1

    def new_copy(title, dc=None):
        copy = inventory.receive_copy(title=title, dc=dc or w.ewr, barcode=make_barcode(w.serial))
        w.serial += 1
        return copy

    w.new_copy = new_copy
    return w


def _member(username, plan, zip_code):
    return membership.join(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        plan=plan,
        street="1 Main St",
        city="Somewhere",
        state="NY",
        zip_code=zip_code,
        first_name=username.title(),
        last_name="Tester",
        trial=False,
    )


@pytest.fixture
def member_client(client, world):
    client.force_login(world.alice.user)
    return client


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache (cached reads of an earlier test's data)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 is slow on purpose; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def emails_at_once(monkeypatch):
    """Emails go out when the transaction commits; a test's transaction never does, so send them
    at once."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda fn, using=None, robust=False: fn())


@pytest.fixture(autouse=True)
def payment_provider(tmp_path, monkeypatch):
    """Each test gets a payment provider with empty books (its own store file)."""
    from django.conf import settings

    from redenvelope.billing.gateway import reset_gateway

    monkeypatch.setitem(
        settings.REDENVELOPE, "PAYMENT_PROVIDER_STORE", str(tmp_path / "provider.sqlite3")
    )
    monkeypatch.setitem(settings.REDENVELOPE, "PAYMENT_PROVIDER_FAULTS", "")
    reset_gateway()
    yield
    reset_gateway()


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) that Django's email sends to; `.messages` holds
    (recipients, subject, body, Message-ID) of each received."""
    from redenvelope.core.smtpsink import SmtpSink

    with SmtpSink() as sink:
        for k, v in sink.settings().items():
            setattr(settings, k, v)
        yield sink


@pytest.fixture(scope="session")
def redis_url():
    """A throw-away redis-server for the suite (streaming leases), started on a free port."""
    from redenvelope.core import services

    with services.redis_server() as url:
        yield url
