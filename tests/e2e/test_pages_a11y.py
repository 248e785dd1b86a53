"""Every public and member page, in Debian's chromium: no axe-core violations of WCAG 2.1 A and
AA, and usable on a 375-pixel phone (nothing wider than the screen), with a screenshot of each
at that width in the test artifacts (var/test-artifacts/phone/, or $TEST_ARTIFACTS/phone/)."""

import os
from pathlib import Path

import pytest

from redenvelope.fulfillment.actions import scan_return, ship_copy
from redenvelope.queues import actions as queues
from redenvelope.ratings.actions import rate_title
from tests.e2e.helpers import close_and_settle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent.parent / "fixtures" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "var/test-artifacts")) / "phone"

PUBLIC = [
    ("landing", "/"),
    ("catalog", "/catalog/"),
    ("search", "/catalog/?q=fim"),
    ("coming-soon", "/catalog/?list=coming"),
    ("title", "/catalog/{film}/"),
    ("series-disc", "/catalog/{disc}/"),
    ("join", "/join/"),
    ("sign-in", "/login/"),
    ("password-reset", "/password/reset/"),
    ("api-docs", "/api/docs"),
    ("help-center", "/help/?q=disc"),
    ("newsletter", "/newsletter/"),
]
MEMBER = [
    ("for-you", "/for-you/"),
    ("queue", "/queue/"),
    ("history", "/history/"),
    ("ratings", "/ratings/"),
    ("rate-what-you-saw", "/ratings/rate-what-you-saw/"),
    ("account", "/account/"),
    ("billing", "/account/billing/"),
    ("gifts", "/gifts/"),
    ("title-member", "/catalog/{film}/"),
    ("help-cases", "/help/cases/"),
]


def _violations(page) -> list[str]:
    page.evaluate(AXE)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:4])
        for v in result["violations"]
    ]


def _check(browser, base, pages, world, login=False, who="alice@example.com", lands="**/for-you/"):
    found, too_wide = {}, {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (375, 812)):
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if login:
            page.goto(f"{base}/login/")
            page.get_by_label("Email or username").fill(who)
            page.get_by_label("Password").fill("correct-horse-battery")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lands)
        for name, path in pages:
            url = base + path.format(
                film=world.films[0].pk,
                disc=world.discs[1].pk,
                member=world.alice.pk,
                case=getattr(world, "case_id", 0),
                issue=getattr(world, "issue_id", 0),
                partner=getattr(world, "partner_id", 0),
                **getattr(world, "ids", {}),
            )
            page.goto(url)
            page.wait_for_load_state("networkidle")
            if width == 1280:
                bad = _violations(page)
                if bad:
                    found[name] = bad
            else:
                wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if wide > 0:
                    too_wide[name] = wide
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        close_and_settle(context)
    assert not found, "axe-core violations:\n" + "\n".join(
        f"{k}: {v}" for k, vs in found.items() for v in vs
    )
    assert not too_wide, f"wider than a 375-pixel phone (pixels): {too_wide}"


def test_public_pages_accessible_and_fit_a_phone(live_server, world, browser):
    _check(browser, live_server.url, PUBLIC, world)


def test_member_pages_accessible_and_fit_a_phone(live_server, world, browser):
    alice = world.alice
    for film in world.films[:4]:
        queues.add_to_queue(alice, film)
    queues.add_to_queue(alice, world.discs[0])
    copy = world.new_copy(world.films[0])
    ship_copy(alice, copy)
    scan_return(copy.barcode, world.ewr)
    ship_copy(alice, world.new_copy(world.films[1]))
    rate_title(alice, world.films[0], 4)
    _check(browser, live_server.url, MEMBER, world, login=True)


SUPPORT = [
    ("support-console", "/support/?q=alice"),
    ("support-member", "/support/members/{member}/"),
    ("support-case", "/support/cases/{case}/"),
    ("support-approvals", "/support/approvals/"),
    ("support-flags", "/support/flags/"),
    ("support-report", "/support/reports/times/"),
]


def test_support_pages_accessible_and_fit_a_phone(live_server, world, browser):
    from redenvelope.ledger.actions import ensure_chart
    from redenvelope.support import actions as support

    ensure_chart()
    lead = world.staff["support_lead"]
    case = support.open_case(world.alice, channel="email", subject="Help", body="Hi", actor=lead)
    support.compensate(case, "credit", amount="90.00", reason="big", actor=world.staff["admin"])
    support.compensate(case, "credit", amount="5.00", reason="more", actor=lead)
    world.case_id = case.pk
    _check(
        browser,
        live_server.url,
        SUPPORT,
        world,
        login=True,
        who="staff_support_lead",
        lands="**/insight/service/",
    )


GROWTH = [
    ("growth", "/growth/"),
    ("growth-issue", "/growth/issues/{issue}/"),
    ("growth-preview", "/growth/issues/{issue}/preview/?member={member}"),
    ("growth-report-signups", "/growth/reports/signups/"),
    ("growth-report-newsletter", "/growth/reports/newsletter/"),
    ("growth-partner", "/partners/{partner}/"),
]


def test_growth_pages_accessible_and_fit_a_phone(live_server, world, browser):
    from redenvelope.growth import actions, newsletter

    partner = actions.create_partner(
        username="pat", password="correct-horse-battery", email="p@x.example", name="Pat"
    )
    actions.create_link(partner, code="pat")
    world.partner_id = partner.pk
    world.issue_id = newsletter.build_issue().pk
    _check(
        browser,
        live_server.url,
        GROWTH,
        world,
        login=True,
        who="staff_admin",
        lands="**/insight/overview/",
    )
    _check(
        browser, live_server.url, [("partner-dashboard", "/partners/")], world,
        login=True, who="pat", lands="**/partners/",
    )  # fmt: skip


PAYABLES = [
    ("rights", "/rights/"),
    ("rights-contract", "/rights/contracts/{contract}/"),
    ("rights-import", "/rights/imports/{avails}/"),
    ("payables", "/payables/"),
    ("payables-plan", "/payables/plan/"),
    ("payables-receiving", "/payables/receiving/"),
    ("payables-order", "/payables/orders/{order}/"),
    ("payables-report-aging", "/payables/reports/ap-aging/"),
    ("payables-report-cost", "/payables/reports/cost-per-title/"),
]


def test_payables_pages_accessible_and_fit_a_phone(live_server, world, browser):
    import datetime as dt

    from redenvelope.core import clock
    from redenvelope.ledger.actions import ensure_chart
    from redenvelope.payables import actions as payables
    from redenvelope.rights import actions as rights
    from redenvelope.rights.avails import import_avails

    ensure_chart()  # a transactional test starts from empty tables, accounts included
    studio = rights.add_licensor("Paragon")
    deal = rights.add_contract(
        studio, reference="P-1", name="Library", territories="US",
        starts_on=clock.today() - dt.timedelta(days=30),
        ends_on=clock.today() + dt.timedelta(days=30), per_rental_cents=30,
        minimum_guarantee_cents=10_000, titles=[world.films[0]],
    )  # fmt: skip
    payables.bill_advance(deal)
    rights.amend_contract(deal, reason="uplift", per_rental_cents=35)
    bad = import_avails("a.csv", b"Territory,LicenseType,Start,ContentID\nQQ,SVOD,2026-01-01,1\n")
    v = payables.add_vendor("Ingram", kind="distributor", account_number="1234567",
                            routing_number="011000015")  # fmt: skip
    po = payables.create_order(v, world.ewr, [(world.films[1], 3, 1299)])
    payables.send_order(po)
    prod = payables.add_production("Original", budget={"Cast": 100_000})
    deal2 = payables.add_placement(prod, brand="FizzCo", scene="Ep. 1", deliverables=[("Can", 500)])
    payables.invoice_placement(deal2, amount_cents=200)
    world.ids = {"contract": deal.pk, "avails": bad.record.pk, "order": po.pk}
    _check(
        browser, live_server.url, PAYABLES, world,
        login=True, who="staff_admin", lands="**/insight/overview/",
    )  # fmt: skip


WORKFORCE = [
    ("workforce", "/workforce/"),
    ("workforce-rota", "/workforce/rotas/{rota}/"),
    ("workforce-person", "/workforce/people/{person}/"),
    ("workforce-me", "/workforce/me/"),
    ("workforce-report", "/workforce/reports/dc-labour/"),
]


def test_workforce_pages_accessible_and_fit_a_phone(live_server, world, browser):
    import datetime as dt

    from redenvelope.core import clock
    from redenvelope.workforce import actions as wf

    me = wf.add_employee(name="Ada Admin", job="HR", team="office", badge="B-AD1",
                         pay_type="salaried", rate_cents=9_000_000, starts_on=clock.today(),
                         user=world.staff["admin"])  # fmt: skip
    pat = wf.add_employee(name="Pat", job="packer", team="warehouse", dc=world.ewr, badge="B-P1",
                          pay_type="hourly", rate_cents=2000, starts_on=clock.today(),
                          manager=me)  # fmt: skip
    day = clock.today() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(8), tzinfo=clock.now().tzinfo)
    s = wf.add_shift(pat, starts_at=start, ends_at=start + dt.timedelta(hours=8))
    world.ids = {"rota": s.rota_id, "person": pat.pk}
    _check(
        browser, live_server.url, WORKFORCE, world,
        login=True, who="staff_admin", lands="**/insight/overview/",
    )  # fmt: skip


INSIGHT = [
    ("insight-overview", "/insight/overview/"),
    ("insight-operations", "/insight/operations/?dc=EWR"),
    ("insight-members", "/insight/members/"),
    ("insight-service", "/insight/service/"),
    ("insight-money", "/insight/money/"),
    ("insight-streaming", "/insight/streaming/"),
    ("insight-workload", "/insight/workload/"),
    ("planner", "/insight/planner/"),
]


def test_insight_pages_accessible_and_fit_a_phone(live_server, world, browser):
    from redenvelope.fulfillment.dispatch import run_dispatch
    from redenvelope.insight.actions import ask_planner
    from redenvelope.insight.refresh import refresh
    from redenvelope.ledger.actions import ensure_chart

    ensure_chart()
    run_dispatch(world.today, notify=False)
    refresh()
    ask_planner("baseline", days=2, seeds=[1])
    world.ids = {}
    _check(
        browser, live_server.url, INSIGHT, world,
        login=True, who="staff_admin", lands="**/insight/overview/",
    )  # fmt: skip
