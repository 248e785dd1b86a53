"""Scheduled jobs of streaming (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"))
def streaming_sync_sessions():
    """Each minute: where each screen is reaches the database, and sessions whose lease ran
    out without a stop are closed."""
    from .actions import sync_sessions

    return sync_sessions()
