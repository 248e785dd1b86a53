"""Reporting tables: one row per business day and what a dashboard filters by (DC, plan,
channel, account). Written only by `refresh.py` (days replaced set-wise, ledger lines added
by entry id), read by the dashboards, the exports and the reporting views (migration 0002).
Ids without foreign keys: a fact outlives nothing and is rebuilt from the records."""

from __future__ import annotations

from django.db import models


class _Fact(models.Model):
    class Meta:
        abstract = True

    def __str__(self) -> str:
        key = getattr(self, "day", None) or getattr(self, "cohort", None)
        return f"{type(self).__name__} {key}"


class ShipFact(_Fact):
    """Discs shipped on a day from a DC to members of a plan, and how they felt it."""

    day = models.DateField()
    dc_id = models.BigIntegerField()
    plan_id = models.BigIntegerField()
    shipments = models.IntegerField(default=0)
    next_day = models.IntegerField(default=0)  # transit 1 day
    top3 = models.IntegerField(default=0)  # from the top 3 of the member's queue
    first_choice = models.IntegerField(default=0)
    new_release = models.IntegerField(default=0)  # titles in their first 90 days
    new_release_wait_days = models.BigIntegerField(default=0)  # summed days since release

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "dc_id", "plan_id"], name="shipfact_key")
        ]


class ReturnFact(_Fact):
    """Discs back at a DC on a day, those that came back broken, and those written off lost."""

    day = models.DateField()
    dc_id = models.BigIntegerField()
    returns = models.IntegerField(default=0)
    damaged = models.IntegerField(default=0)
    lost = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "dc_id"], name="returnfact_key")]


class MemberFact(_Fact):
    """Members of a plan at the end of a day (paying or not yet cancelled), joins and cancels."""

    day = models.DateField()
    plan_id = models.BigIntegerField()
    active = models.IntegerField(default=0)
    joined = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)
    mrr_cents = models.BigIntegerField(default=0)  # active × the plan's monthly price

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "plan_id"], name="memberfact_key")]


class CohortFact(_Fact):
    """Members who joined in a month on a plan, and how many were still members N months on."""

    cohort = models.DateField()  # first of the month they joined
    plan_id = models.BigIntegerField()
    age_months = models.PositiveSmallIntegerField()
    members = models.IntegerField(default=0)  # joined in the cohort
    retained = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cohort", "plan_id", "age_months"], name="cohortfact_key"
            )
        ]


class SupportFact(_Fact):
    """Cases opened on a day by channel, first responses, resolutions and surveys."""

    day = models.DateField()
    channel = models.CharField(max_length=16)
    opened = models.IntegerField(default=0)
    responded = models.IntegerField(default=0)
    response_seconds = models.BigIntegerField(default=0)  # summed over those responded
    resolved = models.IntegerField(default=0)
    surveys = models.IntegerField(default=0)
    score_sum = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel"], name="supportfact_key")]


class StreamFact(_Fact):
    """Streams started on a day by members of a plan, and the hours watched in them."""

    day = models.DateField()
    plan_id = models.BigIntegerField()
    streams = models.IntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "plan_id"], name="streamfact_key")]


class LedgerFact(_Fact):
    """Debits and credits posted to an account for a day (entries' effective dates)."""

    day = models.DateField()
    account = models.CharField(max_length=8)
    debit_cents = models.BigIntegerField(default=0)
    credit_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "account"], name="ledgerfact_key")]


class Watermark(models.Model):
    """How far each reporting table has been brought: the last day refreshed (days are redone
    from a few days before it, for late scans and answers), or the last ledger entry added."""

    name = models.CharField(max_length=32, unique=True)
    through_day = models.DateField(null=True, blank=True)
    through_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.name} through {self.through_day or self.through_id}"


class PlanRun(models.Model):
    """A question put to the planner, and its answer (what-ifs on the simulation twin)."""

    class Question(models.TextChoices):
        BASELINE = "baseline", "The business as it is"
        SITES = "sites", "Where one more DC (or one fewer) changes next-day most"
        STOCK = "stock", "Copies for the next-day and top-3 targets"
        REBALANCE = "rebalance", "Copies between DCs for next week's demand"
        STAFFING = "staffing", "People each DC needs for the forecast"
        RELEASE = "release", "A new release: how many copies, and where"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    question = models.CharField(max_length=12, choices=Question.choices)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    answer = models.TextField(blank=True, default="")
    recommended = models.JSONField(default=dict)
    asked_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asked_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-asked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_question_display()} ({self.status})"
