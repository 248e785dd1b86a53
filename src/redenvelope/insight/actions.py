"""Insight's state changes: a question put to the planner, and answering it."""

from __future__ import annotations

import time

from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.errors import DomainError

from .models import PlanRun

MAX_DAYS = 120


@transaction.atomic
def ask_planner(question: str, *, days: int = 30, seeds=(1, 2, 3), title: int | None = None,
                target_wait: float = 2.0, add: int = 1, actor=None) -> PlanRun:  # fmt: skip
    if question not in PlanRun.Question.values:
        raise DomainError(f"question: one of {', '.join(PlanRun.Question.values)}.")
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(f"days: from 1 to {MAX_DAYS}.")
    seeds = [int(s) for s in seeds]
    if not 1 <= len(seeds) <= 8:
        raise DomainError("seeds: from one to eight.")
    if question == "release" and not title:
        raise DomainError("title: which release (its id)?")
    params = {"days": days, "seeds": seeds, "add": add, "title": title, "target_wait": target_wait}
    return PlanRun.objects.create(question=question, params=params, asked_by=actor,
                                  asked_at=clock.now())  # fmt: skip


def answer(run: PlanRun | int) -> PlanRun:
    """Load today's twin, run the what-ifs, keep the answer (or the failure's message)."""
    from redenvelope.fulfillment.dispatch import engine_params

    from . import planner
    from .twin_state import load_twin

    run = PlanRun.objects.get(pk=run.pk if isinstance(run, PlanRun) else run)
    if run.status not in (PlanRun.Status.QUEUED, PlanRun.Status.FAILED):
        return run
    PlanRun.objects.filter(pk=run.pk).update(status=PlanRun.Status.RUNNING)
    t = time.perf_counter()
    p = run.params
    common = {"days": p["days"], "seeds": p["seeds"], "params": engine_params()}
    try:
        twin = load_twin()
        q = run.question
        if q == "baseline":
            ans = planner.baseline(twin, **common)
        elif q == "sites":
            ans = planner.sites(twin, add=int(p.get("add") or 1), **common)
        elif q == "stock":
            ans = planner.stock(twin, **common)
        elif q == "rebalance":
            ans = planner.rebalance(twin, **common)
        elif q == "staffing":
            ans = planner.staffing(twin, **common)
        else:
            ans = planner.release(twin, int(p["title"]), target_wait=float(p["target_wait"]),
                                  **common)  # fmt: skip
        run.answer, run.recommended, run.status = ans.text(), _jsonable(ans.recommended), "done"
    except (ValueError, DomainError) as e:
        run.answer, run.status = str(e), PlanRun.Status.FAILED
    run.finished_at = clock.now()
    run.seconds = round(time.perf_counter() - t, 2)
    run.save(update_fields=["answer", "recommended", "status", "finished_at", "seconds"])
    return run


def record_answer(question: str, ans, *, actor=None, seconds: float = 0.0) -> PlanRun:
    """An answer worked out elsewhere (the demo's planning day), kept with the others."""
    now = clock.now()
    return PlanRun.objects.create(
        question=question, params={"days": ans.days, "seeds": ans.seeds}, status="done",
        answer=ans.text(), recommended=_jsonable(ans.recommended), asked_by=actor,
        asked_at=now, finished_at=now, seconds=seconds,
    )  # fmt: skip


def _jsonable(value):
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
