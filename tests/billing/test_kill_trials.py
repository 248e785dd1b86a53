"""The billing run killed (`kill -9`) at random moments: after a rerun and `billing reconcile`,
every member is charged exactly once for the period, every charge the provider made is on
record, the books balance and `check` is clean, and the outcome is the uninterrupted run's."""

import random
import time

import pytest

from tests.trials import TRIALS, business

DAY = "2026-11-21"
# Slow provider calls spread the run out, so a kill lands before, during and after them.
SLOW = "latency_ms=2"

PROBE = """
from redenvelope.billing.gateway import get_gateway
from redenvelope.billing.models import Payment, PaymentIntent, Statement
from redenvelope.checks import run_checks
from redenvelope.ledger.queries import trial_balance
from redenvelope.ledger.money import to_cents

charged = get_gateway().charged()
keys = [k for k, *_ in charged]
payments = set(Payment.objects.filter(status="succeeded").values_list("idempotency_key", flat=True))
statements = sorted(
    (s.member_id, str(s.period_start), s.kind, to_cents(s.total_due), to_cents(s.amount_paid),
     s.status)
    for s in Statement.objects.all()
)
per_statement = {}
for k in keys:
    if k.startswith(("charge:", "manual:")):
        sid = int(k.split(":")[1])
        per_statement[sid] = per_statement.get(sid, 0) + 1
result = {
    "statements": statements,
    "charged_cents": sum(c for _, _, c, _ in charged),
    "charges": len(keys),
    "unrecorded": sorted(set(keys) - payments),
    "charged_twice": sorted(s for s, n in per_statement.items() if n > 1),
    "open": PaymentIntent.objects.filter(status__in=PaymentIntent.OPEN).count(),
    "balanced": trial_balance().balanced,
    "failed_checks": [r.name for r in run_checks() if not r.ok],
}
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    b = business(tmp_path_factory, "billing-trials", members=3000, seed=5, today="2026-11-20")
    yield b
    b.drop()


def test_billing_run_killed_anywhere_charges_once(shop):
    control = shop.copy()
    started = time.perf_counter()
    control.run("billing", "run", "--date", DAY, faults=SLOW)
    whole = time.perf_counter() - started
    expected = control.probe(PROBE)
    control.drop()
    assert expected["charges"] > 50 and expected["open"] == 0
    rng = random.Random(11)
    outcomes = []
    for k in range(TRIALS):
        trial = shop.copy()
        # Kill moments spread over the whole command (start-up, statements, provider calls,
        # recording the answers, recognition): one at random in each slice of its time.
        exit_status = trial.kill_during(
            "billing",
            "run",
            "--date",
            DAY,
            after_s=whole * (k + rng.random()) / TRIALS,
            faults=SLOW,
        )
        after_kill = trial.probe(PROBE)
        outcomes.append((exit_status, after_kill["open"], after_kill["charges"]))
        assert after_kill["balanced"], "the killed run left the books out of balance"
        trial.run("billing", "run", "--date", DAY)
        trial.run("billing", "reconcile")
        got = trial.probe(PROBE)
        trial.drop()
        assert got["open"] == 0
        assert got["charged_twice"] == [] and got["unrecorded"] == []
        assert got["balanced"] and got["failed_checks"] == []
        assert got["statements"] == expected["statements"]
        assert (got["charges"], got["charged_cents"]) == (
            expected["charges"],
            expected["charged_cents"],
        )
    print("trials (exit status, intents open after the kill, charges made):", outcomes)
    assert any(status is None for status, _, _ in outcomes), "no trial was killed mid-run"


def test_lost_answers_and_timeouts_reconcile_to_the_same_books(shop):
    control = shop.copy()
    control.run("billing", "run", "--date", DAY)
    expected = control.probe(PROBE)
    control.drop()
    trial = shop.copy()
    done = trial.run("billing", "run", "--date", DAY, faults="timeout=0.2,lost_answer=0.2,seed=3")
    assert "no answer from the provider" in done.stdout
    assert trial.run("billing", "reconcile", check=False).returncode == 0
    # The rerun (the next scheduled pass) polls disputes for the charges settled just now.
    trial.run("billing", "run", "--date", DAY)
    got = trial.probe(PROBE)
    trial.drop()
    assert got["open"] == 0 and got["unrecorded"] == [] and got["charged_twice"] == []
    assert got["statements"] == expected["statements"]
    assert got["charged_cents"] == expected["charged_cents"]
    assert got["balanced"] and got["failed_checks"] == []
