"""Insight: reporting tables kept by refresh (and equal to a recount), dashboards by role,
exports, the twin and the planner, recommendations applied through the actions."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.fulfillment.models import Shipment
from redenvelope.insight import charts, planner
from redenvelope.insight import twin as tw
from redenvelope.insight.actions import answer, ask_planner
from redenvelope.insight.dashboards import CHARTS, DASHBOARDS, Filters
from redenvelope.insight.models import LedgerFact, MemberFact, ShipFact, Watermark
from redenvelope.insight.refresh import refresh
from redenvelope.insight.twin_state import load_twin
from redenvelope.inventory.models import Copy, CopyEvent, DistributionCenter, Transit
from redenvelope.ledger.models import JournalLine
from redenvelope.queues.actions import add_to_queue


def _busy(world, n=3):
    for f in world.films[:n]:
        add_to_queue(world.alice, f)
        add_to_queue(world.bob, f)
        world.new_copy(f)
    return run_dispatch(world.today, notify=False)


def test_shipments_record_queue_position_and_transit(world):
    _busy(world)
    rows = list(Shipment.objects.values_list("member_id", "queue_position", "transit_days"))
    assert rows
    assert all(p is not None and 1 <= p <= 3 for _, p, _ in rows)
    assert {d for _, _, d in rows} <= {1, 5}


def test_refresh_counts_what_the_records_say_and_again_changes_nothing(world):
    run = _busy(world)
    out = refresh()
    assert set(out) >= {"ship", "returns", "members", "support", "streams", "ledger", "cohorts"}
    ships = ShipFact.objects.filter(day=world.today)
    assert sum(f.shipments for f in ships) == run.figures["shipments"]
    assert sum(f.next_day for f in ships) == round(
        run.figures["next_day_share"] * run.figures["shipments"]
    )
    members = MemberFact.objects.filter(day=world.today)
    assert sum(m.active for m in members) == 2
    assert sum(m.mrr_cents for m in members) == 899 + 1699
    before = list(ShipFact.objects.values_list("day", "dc_id", "plan_id", "shipments"))
    refresh()
    assert list(ShipFact.objects.values_list("day", "dc_id", "plan_id", "shipments")) == before
    # the ledger table adds each entry once, and equals the journal
    totals = {}
    for code, debit, credit in JournalLine.objects.values_list("account__code", "debit", "credit"):
        d, c = totals.get(code, (0, 0))
        totals[code] = (d + int(debit * 100), c + int(credit * 100))
    facts = {}
    for f in LedgerFact.objects.all():
        d, c = facts.get(f.account, (0, 0))
        facts[f.account] = (d + f.debit_cents, c + f.credit_cents)
    assert facts == {k: v for k, v in totals.items() if v != (0, 0)}
    assert Watermark.objects.get(name="ship").through_day == world.today


def test_refresh_picks_up_only_what_changed_since(world):
    _busy(world, 1)
    refresh()
    mark = Watermark.objects.get(name="ledger").through_id
    add_to_queue(world.alice, world.films[5])
    world.new_copy(world.films[5])
    tomorrow = world.today + dt.timedelta(days=1)
    with clock.frozen(timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(17)))):
        run_dispatch(tomorrow, notify=False)
    refresh(tomorrow)
    assert ShipFact.objects.filter(day=world.today + dt.timedelta(days=1)).exists()
    assert Watermark.objects.get(name="ledger").through_id >= mark


def test_every_chart_reads_and_draws(world):
    _busy(world)
    refresh()
    f = Filters(world.today - dt.timedelta(days=6), world.today)
    for slug, chart in CHARTS.items():
        t = chart.data(f)
        assert t.columns and all(len(r) == len(t.columns) for r in t.rows), slug
        svg = charts.chart(
            [r[0] for r in t.rows],
            [(c, [r[k + 1] for r in t.rows]) for k, c in enumerate(t.columns[1:])],
            title=chart.title, kind=t.kind, style=t.style,
        )  # fmt: skip
        assert svg.startswith("<svg") and 'role="img"' in svg and "<title" in svg
    ship = CHARTS["shipments"].data(f)
    assert ship.rows[-1][1] == sum(s.shipments for s in ShipFact.objects.filter(day=world.today))


def test_chart_svg_states_the_latest_figure_and_escapes():
    svg = charts.chart(
        [dt.date(2026, 1, 1), dt.date(2026, 1, 2)], [("a<b", [0.5, None])], title="T&U",
        kind="percent",
    )  # fmt: skip
    assert "T&amp;U" in svg and "a&lt;b 50.0%" in svg


@pytest.mark.parametrize(
    "role,allowed,refused",
    [
        ("finance", "money", "operations"),
        ("warehouse", "operations", "money"),
        ("support_agent", "service", "members"),
        ("hr", "workload", "money"),
        ("admin", "overview", None),
    ],
)
def test_dashboards_check_the_role(client, world, role, allowed, refused):
    _busy(world)
    refresh()
    client.force_login(world.staff[role])
    assert client.get(reverse("insight")).url == reverse("insight_dashboard", args=[allowed])
    page = client.get(reverse("insight_dashboard", args=[allowed]))
    assert page.status_code == 200 and b"<svg" in page.content
    if refused:
        assert client.get(reverse("insight_dashboard", args=[refused])).status_code == 403
        url = reverse("insight_export", args=[refused, DASHBOARDS[refused].charts[0], "csv"])
        assert client.get(url).status_code == 403


def test_members_and_strangers_see_no_dashboard(client, world):
    assert client.get(reverse("insight_dashboard", args=["overview"])).status_code == 302
    client.force_login(world.alice.user)
    assert client.get(reverse("insight_dashboard", args=["operations"])).status_code == 403
    assert client.get(reverse("planner")).status_code == 403


def test_exports_csv_and_parquet_with_filters(client, world):
    _busy(world)
    refresh()
    client.force_login(world.staff["operations"])
    q = f"?from={world.today}&to={world.today}&dc=EWR"
    csv = client.get(reverse("insight_export", args=["operations", "shipments", "csv"]) + q)
    assert csv.status_code == 200 and csv.content.decode().splitlines()[0] == "day,shipped,returned"
    ewr = sum(s.shipments for s in ShipFact.objects.filter(dc_id=world.ewr.pk))
    assert csv.content.decode().splitlines()[1].split(",")[1] == str(ewr)
    pq_resp = client.get(reverse("insight_export", args=["operations", "shipments", "parquet"]) + q)
    table = pq.read_table(io.BytesIO(pq_resp.content))
    assert table.column_names == ["day", "shipped", "returned"] and table.num_rows == 1


@pytest.mark.parametrize(
    "query,message",
    [
        ("?dc=XXX", "no distribution center XXX"),
        ("?plan=nope", "no plan nope"),
        ("?from=2026-02-30", "from"),
        ("?from=2026-05-02&to=2026-05-01", "first day comes on or before"),
        ("?from=2020-01-01&to=2026-01-01", "at most"),
    ],
)
def test_bad_filters_are_refused_clearly(client, world, query, message):
    client.force_login(world.staff["admin"])
    resp = client.get(reverse("insight_dashboard", args=["overview"]) + query)
    assert resp.status_code == 400
    assert message in resp.content.decode()


def test_unknown_dashboard_and_chart(client, world):
    client.force_login(world.staff["admin"])
    assert client.get("/insight/nothing/").status_code == 404
    assert client.get("/insight/overview/cohorts.csv").status_code == 404  # not on this board


def test_twin_reads_today_and_its_run_ships_what_dispatch_would(world):
    for f in world.films[:4]:
        add_to_queue(world.alice, f)
        world.new_copy(f)
    twin = load_twin(world.today)
    assert twin.n_members == 2 and int(twin.shelf.sum()) == 4
    out = tw.run(twin, 3, seed=1)
    assert out.shipped.sum() == 3  # alice's three slots, from EWR next day
    assert out.next_day.sum() == 3 and out.top3.sum() == 3
    assert int(twin.shelf.sum()) == 4  # the twin given is left as it was


def _toy_twin(members=300, titles=40, dcs=2, seed=0):
    rng = np.random.default_rng(seed)
    regions = 4
    transit = np.array([[1, 2, 4, 5], [5, 4, 2, 1]][:dcs], np.int16)
    q_title, q_ptr = [], [0]
    for _ in range(members):
        q = rng.choice(
            titles,
            size=12,
            replace=False,
            p=np.linspace(2, 1, titles) / np.linspace(2, 1, titles).sum(),
        )
        q_title += list(q)
        q_ptr.append(len(q_title))
    shelf = np.zeros((dcs, titles), np.int64)
    shelf[0] = 4
    return tw.Twin(
        start=dt.date(2026, 1, 1), dc_codes=["AAA", "BBB"][:dcs],
        dc_capacity=np.array([500] * dcs), dc_open=np.ones(dcs, bool), transit=transit,
        region_lat=np.array([40.0, 40.0, 40.0, 40.0]),
        region_lon=np.array([-74.0, -80.0, -95.0, -120.0]),
        region_names=["r0", "r1", "r2", "r3"], member_ids=np.arange(members),
        region=rng.integers(0, regions, members), slots=np.full(members, 2),
        out=np.zeros(members, np.int64),
        q_ptr=np.array(q_ptr), q_title=np.array(q_title), q_added=np.zeros(len(q_title), np.int64),
        title_ids=np.arange(1000, 1000 + titles), release=np.zeros(titles, np.int64), shelf=shelf,
    )  # fmt: skip


def test_a_what_if_is_measured_against_the_same_seeds():
    twin = _toy_twin()
    moved = tw.move_copies(twin.copy(), planner.rebalance_moves(twin))
    assert int(moved.shelf.sum()) == int(twin.shelf.sum())  # moved, not made
    assert moved.shelf[1].sum() > 0
    a = tw.run(twin, 10, seed=3)
    b = tw.run(twin, 10, seed=3)
    assert (a.shipped == b.shipped).all()  # same seed, same days
    outs = planner.run_many({"base": twin, "moved": moved}, 10, [1, 2], workers=1)
    assert outs["moved"][0].next_day_share > outs["base"][0].next_day_share


def test_stock_and_sites_answers_on_a_toy_business():
    twin = _toy_twin()
    ans = planner.stock(twin, depths=(2, 6), days=8, seeds=(1, 2), next_day=0.5, top3=0.5)
    assert ans.table and "depth" in ans.text()
    rows = ans.table
    assert rows[-1]["next_day"][0] >= rows[0]["next_day"][0]
    one = _toy_twin(dcs=1)
    one.region_lat = np.array([40.7, 41.9, 33.7, 34.0])
    one.region_lon = np.array([-74.2, -87.6, -84.4, -118.2])
    ans = planner.sites(one, add=1, days=5, seeds=(1,), each=1)
    assert ans.recommended["open"] and "open a DC at" in ans.text()
    mid, lo, hi = planner.band([0.1, 0.2, 0.3])
    assert lo < mid < hi or (lo == mid == hi)


def test_planner_question_through_the_page_and_refusals(client, world):
    for f in world.films[:2]:
        add_to_queue(world.alice, f)
        world.new_copy(f)
    client.force_login(world.staff["operations"])
    resp = client.post(reverse("planner"), {"question": "baseline", "days": "3", "seeds": "1"})
    assert resp.status_code == 302
    from redenvelope.insight.models import PlanRun

    run = PlanRun.objects.get()
    answer(run)  # the job worker's part
    run.refresh_from_db()
    assert run.status == "done" and "next day" in run.answer
    page = client.get(reverse("planner"))
    assert b"next day" in page.content
    bad = client.post(reverse("planner"), {"question": "baseline", "days": "999"})
    assert bad.status_code == 400
    with pytest.raises(DomainError):
        ask_planner("release", days=3)
    client.force_login(world.staff["finance"])
    assert client.get(reverse("planner")).status_code == 403


def test_applying_a_plan_goes_through_the_actions(world):
    from redenvelope.insight import actions as applying
    from redenvelope.payables import actions as payables

    sites = [{"lat": 41.88, "lon": -87.63, "capacity": 120, "name": "Chicago"}]
    (dc,) = applying.open_sites(sites, actor=world.staff["operations"])
    assert dc.daily_capacity == 120 and Transit.objects.filter(dc=dc).exists()
    copies = [world.new_copy(world.films[0]) for _ in range(3)]
    moved = applying.move_copies(
        [("EWR", dc.code, world.films[0].pk, 2)], actor=world.staff["operations"]
    )
    assert moved == 2
    assert Copy.objects.filter(pk__in=[c.pk for c in copies], dc=dc, status="on_shelf").count() == 2
    kinds = set(CopyEvent.objects.filter(copy_id=copies[0].pk).values_list("kind", flat=True))
    assert {"transfer_out", "transfer_in"} <= kinds
    with pytest.raises(DomainError):
        applying.move_copies([("EWR", "ZZZ", world.films[0].pk, 1)])
    vendor = payables.add_vendor("Ingram", kind="distributor", account_number="1234567",
                                 routing_number="011000015")  # fmt: skip
    orders = applying.buy_copies([(dc.code, world.films[1].pk, 5)], vendor=vendor,
                                 unit_cents=1299, receive=True)  # fmt: skip
    assert len(orders) == 1 and orders[0].status == "received"
    assert Copy.objects.filter(dc=dc, title=world.films[1], status="on_shelf").count() == 5
    assert DistributionCenter.objects.filter(code=dc.code).exists()


def test_release_recommends_copies_spread_where_its_queues_are():
    twin = _toy_twin(members=200, titles=30)
    title = int(twin.title_ids[0])
    ans = planner.release(twin, title, target_wait=30, days=6, seeds=(1, 2))
    assert "members queue it" in ans.text()
    served = [row["served"] for row in ans.table]
    assert len(served) > 1 and served[-1] > served[0]  # more copies, more members served
    if ans.recommended:
        assert sum(ans.recommended["per_dc"].values()) == ans.recommended["copies"]
    with pytest.raises(ValueError):
        planner.release(twin, 1, days=2, seeds=(1,))
