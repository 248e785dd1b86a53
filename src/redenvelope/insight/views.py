"""Insight pages: each staff role's home dashboard, every dashboard it may see (charts drawn as
SVG on the server, each with its numbers as a table), each chart's data as CSV or Parquet, and
the planner. Thin: the data comes from dashboards.py (reporting tables only)."""

from __future__ import annotations

import datetime as dt
import io

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from redenvelope.accounts.roles import STAFF_ROLES, Role, has_role, role_required
from redenvelope.core import clock, parse
from redenvelope.core.errors import DomainError
from redenvelope.inventory.models import DistributionCenter
from redenvelope.membership.models import Plan

from . import charts
from .dashboards import CHARTS, DASHBOARDS, ROLE_HOME, Filters, Table
from .models import Watermark

MAX_DAYS = 731


def home_dashboard(user) -> str | None:
    for roles, slug in ROLE_HOME:
        if has_role(user, *roles):
            return slug
    return None


def _visible(user):
    return [d for d in DASHBOARDS.values() if has_role(user, *d.roles)]


def filters_from(request: HttpRequest) -> Filters:
    today = clock.today()
    end = parse.optional_day(request.GET.get("to"), "to") or today
    start = parse.optional_day(request.GET.get("from"), "from") or end - dt.timedelta(days=29)
    if start > end:
        raise DomainError("from: the first day comes on or before the last.")
    if (end - start).days >= MAX_DAYS:
        raise DomainError(f"from: at most {MAX_DAYS} days at once.")
    dc_codes = [c for c in request.GET.getlist("dc") if c]
    dcs = list(DistributionCenter.objects.filter(code__in=dc_codes).values_list("code", "pk"))
    if len(dcs) != len(set(dc_codes)):
        unknown = sorted(set(dc_codes) - {c for c, _ in dcs})
        raise DomainError(f"dc: no distribution center {', '.join(unknown)[:60]}.")
    plan_codes = [c for c in request.GET.getlist("plan") if c]
    plans = list(Plan.objects.filter(code__in=plan_codes).values_list("code", "pk"))
    if len(plans) != len(set(plan_codes)):
        unknown = sorted(set(plan_codes) - {c for c, _ in plans})
        raise DomainError(f"plan: no plan {', '.join(unknown)[:60]}.")
    return Filters(start, end, tuple(sorted(p for _, p in dcs)), tuple(sorted(p for _, p in plans)))


@role_required(*STAFF_ROLES)
def home(request: HttpRequest) -> HttpResponse:
    slug = home_dashboard(request.user)
    if slug is None:
        raise PermissionDenied
    return redirect("insight_dashboard", slug=slug)


def _check(request, slug: str):
    board = DASHBOARDS.get(slug)
    if board is None:
        raise Http404("No such dashboard.")
    if not has_role(request.user, *board.roles):
        raise PermissionDenied
    return board


@role_required(*STAFF_ROLES)
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    board = _check(request, slug)
    f = filters_from(request)
    shown = []
    for i, name in enumerate(board.charts):
        c = CHARTS[name]
        t = c.data(f)
        x = [r[0] for r in t.rows]
        series = [(col, [r[k + 1] for r in t.rows]) for k, col in enumerate(t.columns[1:])]
        shown.append(
            {
                "chart": c,
                "table": t,
                "svg": charts.chart(
                    x, series, title=c.title, kind=t.kind, style=t.style, ident=f"c{i}"
                ),  # fmt: skip
                "rows": [(r[0], [charts.fmt_value(v, t.kind) for v in r[1:]]) for r in t.rows],
            }
        )
    query = request.GET.urlencode()
    return render(
        request,
        "insight/dashboard.html",
        {
            "board": board,
            "boards": _visible(request.user),
            "shown": shown,
            "f": f,
            "query": query,
            "dcs": DistributionCenter.objects.order_by("code"),
            "plans": Plan.objects.order_by("discs_at_once", "monthly_price"),
            "dc_codes": set(request.GET.getlist("dc")),
            "plan_codes": set(request.GET.getlist("plan")),
            "marks": Watermark.objects.order_by("name"),
        },
    )


def table_csv(t: Table) -> str:
    from redenvelope.billing.reports import Report

    return Report("chart", "", t.columns, [list(r) for r in t.rows]).csv()


def table_parquet(t: Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {}
    for k, name in enumerate(t.columns):
        values = [r[k] for r in t.rows]
        cols[name] = pa.array(values) if values else pa.array([], pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return buf.getvalue()


@role_required(*STAFF_ROLES)
def export(request: HttpRequest, slug: str, chart: str, fmt: str) -> HttpResponse:
    board = _check(request, slug)
    if chart not in board.charts:
        raise Http404("No such chart on this dashboard.")
    t = CHARTS[chart].data(filters_from(request))
    name = f"{chart}-{clock.today()}"
    if fmt == "csv":
        response = HttpResponse(table_csv(t), content_type="text/csv")
    else:
        response = HttpResponse(table_parquet(t), content_type="application/vnd.apache.parquet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


PLANNERS = (Role.ADMIN, Role.OPERATIONS)


@role_required(*PLANNERS)
def planner(request: HttpRequest) -> HttpResponse:
    """Ask the planner (answered by the job worker) and read its answers."""
    from django.contrib import messages
    from django.urls import reverse

    from .actions import ask_planner
    from .models import PlanRun
    from .tasks import answer_planner

    if request.method == "POST":
        seeds = [
            parse.integer(s, "seeds", lo=0, hi=10_000)
            for s in (request.POST.get("seeds") or "1,2,3").split(",") if s.strip()
        ]  # fmt: skip
        run = ask_planner(
            request.POST.get("question", ""),
            days=parse.integer(request.POST.get("days") or "30", "days", lo=1, hi=120),
            seeds=seeds,
            title=parse.optional_integer(request.POST.get("title"), "title", lo=1),
            target_wait=float(
                parse.integer(request.POST.get("target_wait") or "2", "target wait", lo=0, hi=365)
            ),
            add=parse.integer(request.POST.get("add") or "1", "DCs to add", lo=1, hi=60),
            actor=request.user,
        )
        transaction.on_commit(lambda: answer_planner(run.pk))
        messages.success(request, "Asked: the answer appears below when the twin has run.")
        return redirect(reverse("planner"))
    runs = list(PlanRun.objects.select_related("asked_by")[:30])
    waiting = any(r.status in ("queued", "running") for r in runs)
    return render(
        request,
        "insight/planner.html",
        {
            "runs": runs,
            "questions": PlanRun.Question.choices,
            "waiting": waiting,
            "boards": _visible(request.user),
        },  # fmt: skip
    )
