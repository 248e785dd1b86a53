"""Scheduled jobs of fulfillment (Huey): each DC's dispatch at its cut-off, overdue discs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from redenvelope.core import clock
from redenvelope.inventory.models import DistributionCenter

from .actions import mark_overdue_lost
from .dispatch import run_dispatch
from .models import DispatchRun


@db_periodic_task(crontab(minute="*/15"))
def dispatch_at_cutoffs():
    """Every quarter hour: run the day's dispatch for each open DC whose cut-off has passed."""
    now = clock.now()
    local = now.astimezone()
    today = clock.today()
    done = set(DispatchRun.objects.filter(run_date=today).values_list("scope", flat=True))
    ran = []
    for dc in DistributionCenter.objects.filter(status=DistributionCenter.Status.OPEN):
        if dc.code in done or "ALL" in done or local.time() < dc.cutoff:
            continue
        run_dispatch(today, dc, documents=True)
        ran.append(dc.code)
    return ran


@db_periodic_task(crontab(hour="2", minute="0"))
def mark_overdue_daily():
    return mark_overdue_lost()
