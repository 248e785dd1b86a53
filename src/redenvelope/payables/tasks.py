"""Scheduled jobs of payables (Huey): the month's licensor statements and amortisation, and
placement instalments invoiced when due."""

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(day="2", hour="6", minute="40"))
def payables_monthly_close():
    """On the 2nd at 06:40: last month's revenue-share statements (computed, approved by the
    job, posted) and originals' amortisation. Either done already by hand: nothing new."""
    from redenvelope.core import clock
    from redenvelope.core.errors import DomainError

    from .actions import amortise, run_statements

    last = (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    out = {}
    for name, job in (("statements", run_statements), ("amortised", amortise)):
        try:
            out[name] = len(job(last, actor=None))
        except DomainError as exc:
            log.warning("payables %s for %s: %s", name, last, exc.message)
    return out


@db_periodic_task(crontab(hour="6", minute="45"))
def payables_daily_placement_invoices():
    """Each morning: placement instalments due by today are invoiced to their brands."""
    from .actions import invoice_due_instalments

    return len(invoice_due_instalments())
