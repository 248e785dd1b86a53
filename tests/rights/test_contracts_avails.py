"""Licensors, contracts (terms, amendments with history), disc windows that dispatch and
shipping believe, and avails files in and out (row-level errors, all-or-nothing or valid rows)."""

import datetime as dt
import io

import pytest

from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.rights import actions as rights
from redenvelope.rights import avails, queries
from redenvelope.rights.models import AvailsImport, ContractVersion, LicenseWindow


@pytest.fixture
def deal(world):
    studio = rights.add_licensor("Paragon Pictures", country="US", email="rights@paragon.test")
    today = clock.today()
    return rights.add_contract(
        studio,
        reference="PAR-2026-01",
        name="Paragon library 2026",
        territories="US,CA",
        starts_on=today - dt.timedelta(days=60),
        ends_on=today + dt.timedelta(days=300),
        per_rental_cents=35,
        per_stream_cents=12,
        minimum_guarantee_cents=50_000,
        titles=[world.films[0], world.films[1]],
    )


def test_contract_terms_and_amendment_history(world, deal, django_user_model):
    assert deal.version == 1
    assert set(deal.titles.values_list("title_id", flat=True)) == {
        world.films[0].pk,
        world.films[1].pk,
    }
    amended = rights.amend_contract(
        deal, reason="rate renegotiated", per_stream_cents=15, actor=world.staff["finance"]
    )
    assert amended.version == 2 and amended.per_stream_cents == 15
    history = list(ContractVersion.objects.filter(contract=deal).order_by("version"))
    assert [v.terms["per_stream_cents"] for v in history] == [12, 15]
    assert history[1].reason == "rate renegotiated"
    assert history[1].by == world.staff["finance"]
    with pytest.raises(DomainError, match="Say why"):
        rights.amend_contract(deal, reason=" ", per_stream_cents=1)
    with pytest.raises(DomainError, match="Not a term"):
        rights.amend_contract(deal, reason="x", colour="red")


def test_bad_contracts_are_refused(world):
    studio = rights.add_licensor("Northwind")
    today = clock.today()
    with pytest.raises(DomainError, match="ends .* before it starts"):
        rights.add_contract(
            studio, reference="NW-1", name="n", territories="US", starts_on=today,
            ends_on=today - dt.timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(DomainError, match="Unknown territory code ZZ"):
        rights.add_contract(
            studio, reference="NW-1", name="n", territories="US,ZZ", starts_on=today,
            ends_on=today + dt.timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(DomainError, match="cannot be negative"):
        rights.add_contract(
            studio, reference="NW-1", name="n", territories="US", starts_on=today,
            ends_on=today + dt.timedelta(days=9), per_rental_cents=-5,
        )  # fmt: skip
    with pytest.raises(Conflict, match="already exists"):
        rights.add_licensor("northwind")


def test_window_ends_before_it_starts_and_exclusive_overlap(world, deal):
    t0 = clock.now().replace(microsecond=0)
    film = world.films[0]
    with pytest.raises(DomainError, match="must end after it starts"):
        rights.add_window(film, territories="US", starts_at=t0, ends_at=t0 - dt.timedelta(days=1))
    w = rights.add_window(
        film, territories="US", starts_at=t0, ends_at=t0 + dt.timedelta(days=30), contract=deal
    )
    with pytest.raises(Conflict, match=f"overlaps exclusive window {w.pk}"):
        rights.add_window(
            film, territories="US", starts_at=t0 + dt.timedelta(days=5), exclusive=False
        )
    # Two non-exclusive windows may overlap.
    other = world.films[3]
    rights.add_window(other, territories="US", starts_at=t0, exclusive=False)
    rights.add_window(other, territories="US", starts_at=t0, kind="svod", exclusive=False,
                      ends_at=t0 + dt.timedelta(days=3))  # fmt: skip
    with pytest.raises(DomainError, match="does not cover GB"):
        rights.add_window(film, territories="GB", starts_at=t0, kind="tvod", contract=deal,
                          ends_at=t0 + dt.timedelta(days=3))  # fmt: skip
    with pytest.raises(DomainError, match="within contract"):
        rights.add_window(film, territories="US", starts_at=t0, kind="tvod", contract=deal)
    with pytest.raises(Conflict, match="would fall outside"):
        rights.amend_contract(deal, reason="shorter", ends_on=clock.today() + dt.timedelta(days=2))


def test_a_closed_disc_window_stops_shipping_and_dispatch(world):
    from redenvelope.fulfillment import actions as fulfillment
    from redenvelope.fulfillment.dispatch import gather
    from redenvelope.queues.actions import add_to_queue

    film = world.films[5]
    copy = world.new_copy(film)
    add_to_queue(world.alice, film)
    now = clock.now()
    assert queries.disc_allowed(film.pk)  # no disc window at all: first sale, ships
    window = rights.add_window(
        film, territories="US", kind="dvd", starts_at=now - dt.timedelta(days=10),
        ends_at=now + dt.timedelta(days=10),
    )  # fmt: skip
    assert queries.disc_allowed(film.pk)
    label = queries.disc_label(queries.disc_availability([film.pk])[film.pk])
    assert label.startswith("On disc · leaving on")
    g = gather(clock.today())
    assert film.pk in set(g.instance["stock"]["title_id"].tolist())
    rights.end_window(window, ends_at=now - dt.timedelta(hours=1), note="studio pulled it")
    assert not queries.disc_allowed(film.pk)
    g = gather(clock.today() + dt.timedelta(days=1))
    assert film.pk not in set(g.instance["stock"]["title_id"].tolist())
    with pytest.raises(DomainError, match="outside its disc-rental window"):
        fulfillment.ship_copy(world.alice, copy)


def _csv(rows: list[dict]) -> bytes:
    import csv

    out = io.StringIO()
    out.write("Avails,,\n")  # a banner row above the header, as the template has
    w = csv.DictWriter(out, fieldnames=avails.COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return out.getvalue().encode()


def _row(title, **kw):
    row = {
        "Territory": "US", "LicenseType": "SVOD", "FormatProfile": "HD", "Start": "2026-01-01",
        "End": "2027-01-01", "ContentID": f"md:cid:org:redenvelope:{title.pk}",
        "EntryType": "Full Extract", "TitleInternalAlias": title.name,
    }  # fmt: skip
    row.update(kw)
    return row


def test_avails_import_reports_bad_rows_and_is_all_or_nothing(world, deal):
    f = world.films
    data = _csv(
        [
            _row(f[0], ContractID="PAR-2026-01", Start=str(deal.starts_on), End=str(deal.ends_on)),
            _row(f[1], Territory="ZZ"),
            _row(f[2], Start="2026-05-01", End="2026-04-01"),
            _row(f[3], ContentID="", TitleInternalAlias="No Such Film"),
            _row(f[4], LicenseType="DVD"),
            _row(f[4], LicenseType="DVD", Start="2026-06-01"),  # overlaps the row above
        ]
    )
    result = avails.import_avails("avails.csv", data, actor=world.staff["finance"])
    assert not result.ok and not result.record.imported
    reasons = {e["line"]: e["reason"] for e in result.errors}
    assert "unknown territory code 'ZZ'" in reasons[4]
    assert "ends (2026-04-01) before it starts" in reasons[5]
    assert "no title 'No Such Film'" in reasons[6]
    assert "overlaps line 7 in US" in reasons[8]
    assert LicenseWindow.objects.count() == 0  # all or nothing: nothing

    result = avails.import_avails("avails.csv", data, mode="valid")
    assert result.record.imported and result.record.created == 2 and result.record.rejected == 4
    assert LicenseWindow.objects.filter(contract=deal, title=f[0]).count() == 1
    assert LicenseWindow.objects.filter(kind="dvd", title=f[4]).count() == 1

    again = avails.import_avails("avails.csv", data, mode="valid")
    assert again.record.created == 0 and again.record.unchanged == 2
    assert AvailsImport.objects.count() == 3


def test_avails_xlsx_round_trip(world):
    t0 = clock.now().replace(microsecond=0)
    rights.add_window(world.films[6], territories="US,CA", starts_at=t0, ends_at=None,
                      ceiling="uhd", exclusive=False)  # fmt: skip
    book = avails.export_xlsx()
    LicenseWindow.objects.all().delete()
    result = avails.import_avails("back.xlsx", book)
    assert result.ok, result.errors
    assert result.record.created == 2  # one row per territory
    w = LicenseWindow.objects.filter(title=world.films[6]).order_by("territories").first()
    assert w.ceiling == "uhd" and w.ends_at is None and not w.exclusive


def test_avails_without_a_header_or_garbage_is_refused(world):
    with pytest.raises(DomainError, match="No avails header"):
        avails.import_avails("x.csv", b"a,b,c\n1,2,3\n")
    with pytest.raises(DomainError, match="cannot be read"):
        avails.import_avails("x.xlsx", b"not a workbook")
    with pytest.raises(DomainError, match="not UTF-8"):
        avails.import_avails("x.csv", b"\xff\xfe\x00bad")
