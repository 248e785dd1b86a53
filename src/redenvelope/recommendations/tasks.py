"""Scheduled jobs of recommendations (Huey)."""

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour=str(settings.REDENVELOPE["RECS_TRAIN_HOUR"]), minute="20"))
def recommendations_nightly_train():
    """Each night: train on every signal so far and make the new version live. Nothing to
    train on (a new business) is logged, not an error."""
    from redenvelope.core.errors import DomainError

    from .actions import train

    try:
        version = train(actor="nightly job")
    except DomainError as exc:
        log.warning("recommendations: nightly training skipped: %s", exc.message)
        return None
    return version.pk
