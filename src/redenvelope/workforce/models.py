"""The people who run the distribution centers and the phones: employees (pay and personal data
seen by HR and admins only), shifts on a published weekly rota, time clocked by badge scan with
corrections audited, each DC's capacity as dispatch reads it, and payroll runs per period."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from redenvelope.inventory.models import DistributionCenter

USER = settings.AUTH_USER_MODEL


class Employee(models.Model):
    class Team(models.TextChoices):
        WAREHOUSE = "warehouse", "Distribution center"
        SUPPORT = "support", "Customer service"
        OFFICE = "office", "Office"

    class PayType(models.TextChoices):
        HOURLY = "hourly", "Hourly"
        SALARIED = "salaried", "Salaried"

    user = models.OneToOneField(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="employee"
    )
    name = models.CharField(max_length=120)
    job = models.CharField(max_length=60, help_text="Picker, inspector, agent, lead, manager …")
    team = models.CharField(max_length=10, choices=Team.choices)
    dc = models.ForeignKey(
        DistributionCenter, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    badge = models.CharField(max_length=20, unique=True)
    # Sensitive: HR and admins only (and the employee themselves).
    pay_type = models.CharField(max_length=9, choices=PayType.choices)
    rate_cents = models.PositiveIntegerField(help_text="Per hour (hourly) or per year (salaried).")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="employee_ends_after_start",
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
            ),
            models.CheckConstraint(
                name="warehouse_staff_have_a_dc",
                condition=~Q(team="warehouse") | Q(dc__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShiftTemplate(models.Model):
    """A recurring shift of a DC (or the support team): from, to, break, on which weekdays, and
    how many people. Applying the templates fills a week's rota, people taken in turn."""

    dc = models.ForeignKey(
        DistributionCenter, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.CharField(max_length=10, choices=Employee.Team.choices)
    name = models.CharField(max_length=60)
    starts = models.TimeField()
    ends = models.TimeField(help_text="Before `starts`: the shift ends the next day.")
    break_minutes = models.PositiveSmallIntegerField(default=30)
    weekdays = models.CharField(max_length=13, default="0,1,2,3,4", help_text="0 = Monday")
    headcount = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["team", "dc_id", "starts"]
        constraints = [
            models.UniqueConstraint(fields=["dc", "team", "name"], name="one_template_name"),
            models.CheckConstraint(name="template_has_people", condition=Q(headcount__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.starts:%H:%M}–{self.ends:%H:%M}"

    @property
    def days(self) -> list[int]:
        return [int(d) for d in self.weekdays.split(",") if d.strip().isdigit()]


class Rota(models.Model):
    """A week's shifts for one DC (or the support team, dc empty): drafted, then published
    (what dispatch's capacity and the staff see)."""

    dc = models.ForeignKey(
        DistributionCenter, null=True, blank=True, on_delete=models.PROTECT, related_name="rotas"
    )
    team = models.CharField(max_length=10, choices=Employee.Team.choices)
    week = models.DateField(help_text="The Monday it starts.")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-week"]
        constraints = [
            models.UniqueConstraint(fields=["dc", "team", "week"], name="one_rota_per_dc_week"),
            models.UniqueConstraint(
                fields=["team", "week"], condition=Q(dc__isnull=True), name="one_team_rota_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dc or self.team} week of {self.week}"


class Shift(models.Model):
    rota = models.ForeignKey(Rota, on_delete=models.CASCADE, related_name="shifts")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    break_minutes = models.PositiveSmallIntegerField(default=30)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["employee", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                name="shift_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee} {self.starts_at:%a %H:%M}–{self.ends_at:%H:%M}"


class ShiftRemoval(models.Model):
    """A shift taken off a rota (someone called in sick), with why: the rota's history."""

    rota = models.ForeignKey(Rota, on_delete=models.CASCADE, related_name="removals")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.employee_id} off {self.starts_at:%Y-%m-%d}"


class TimeEntry(models.Model):
    """Clocked in (a badge scan) and, later, out; minutes of break taken."""

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="time")
    dc = models.ForeignKey(
        DistributionCenter, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clock_in = models.DateTimeField()
    clock_out = models.DateTimeField(null=True, blank=True)
    break_minutes = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-clock_in"]
        constraints = [
            models.UniqueConstraint(
                fields=["employee"], condition=Q(clock_out__isnull=True), name="one_open_entry"
            ),
            models.CheckConstraint(
                name="clock_out_after_in",
                condition=Q(clock_out__isnull=True) | Q(clock_out__gt=F("clock_in")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee} in {self.clock_in:%Y-%m-%d %H:%M}"


class TimeCorrection(models.Model):
    """A change to a time entry: what it was, what it became, who and why."""

    entry = models.ForeignKey(TimeEntry, on_delete=models.PROTECT, related_name="corrections")
    before = models.JSONField()
    after = models.JSONField()
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.entry_id} corrected {self.at:%Y-%m-%d}"


class TimeOff(models.Model):
    """Time off asked for and decided by the employee's manager (or HR): paid time off is paid
    from the PTO the employee accrued."""

    class Kind(models.TextChoices):
        PTO = "pto", "Paid time off"
        SICK = "sick", "Sick"
        UNPAID = "unpaid", "Unpaid"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="time_off")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.PTO)
    starts_on = models.DateField()
    ends_on = models.DateField()
    hours = models.DecimalField(max_digits=6, decimal_places=2)
    note = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                name="time_off_ends_after_start", condition=Q(ends_on__gte=F("starts_on"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee} off {self.starts_on}–{self.ends_on}"


class Swap(models.Model):
    """One person's shift offered to another; it moves when approved."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="swaps")
    giver = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    taker = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.shift_id}: {self.giver_id} -> {self.taker_id}"


class Note(models.Model):
    """A goal or a review note on an employee: the employee and their manager (and HR) read it."""

    class Kind(models.TextChoices):
        GOAL = "goal", "Goal"
        REVIEW = "review", "Review note"

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    text = models.TextField()
    due_on = models.DateField(null=True, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.kind} for {self.employee_id}"


class CapacityOverride(models.Model):
    """An operator's number for a DC's day in place of the rota's, with why."""

    dc = models.ForeignKey(DistributionCenter, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    capacity = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dc", "day"], name="one_override_per_dc_day")
        ]

    def __str__(self) -> str:
        return f"{self.dc_id} {self.day}: {self.capacity}"


class PayrollRun(models.Model):
    """A pay period's hours × rates for everyone, exported as CSV and posted to the ledger; a
    closed period cannot be run again."""

    period_start = models.DateField(unique=True)
    period_end = models.DateField()
    employees = models.PositiveIntegerField()
    gross_cents = models.BigIntegerField()
    csv = models.TextField()
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(
                name="payroll_period_ends_after_start",
                condition=Q(period_end__gte=F("period_start")),
            )
        ]

    def __str__(self) -> str:
        return f"payroll {self.period_start}–{self.period_end}"


class PayrollLine(models.Model):
    """One person's pay in a run (what the CSV row says)."""

    run = models.ForeignKey(PayrollRun, on_delete=models.PROTECT, related_name="lines")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="pay")
    regular_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    overtime_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    night_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    weekend_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    pto_taken_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    pto_accrued_h = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    gross_cents = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "employee"], name="one_line_per_run_employee")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.employee_id}"
