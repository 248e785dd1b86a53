"""Scheduled jobs of customer service (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .actions import scan_flags


@db_periodic_task(crontab(hour="3", minute="30"))
def support_flags_daily():
    """Run the abuse rules over every member; flags are for people to look at."""
    return scan_flags()


@db_periodic_task(crontab(minute="*/10"))
def support_match_own_discs():
    """Match members' own discs scanned in at the return desks to the cases waiting for them."""
    from .actions import match_own_discs

    return match_own_discs()
