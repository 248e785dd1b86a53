"""Scheduled jobs of fulfillment (Huey): each DC's dispatch at its cut-off, overdue discs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from redenvelope.core import clock

from .actions import count_title_demand, mark_overdue_lost
from .dispatch import run_due_dispatches


@db_periodic_task(crontab(minute="*/15"))
def dispatch_at_cutoffs():
    """Every quarter hour: run the day's dispatch for each open DC whose cut-off has passed."""
    return [run.scope for run in run_due_dispatches(clock.now())]


@db_periodic_task(crontab(hour="2", minute="0"))
def mark_overdue_daily():
    return mark_overdue_lost()


@db_periodic_task(crontab(minute="7"))
def count_title_demand_hourly():
    """The catalog's demand near the top of queues, for the pages' availability estimates."""
    return count_title_demand()
