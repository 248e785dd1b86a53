"""Ground-floor records every domain may write: the outbound email outbox."""

from django.db import models


class OutboundEmail(models.Model):
    """An email to send, written in the transaction of the change it tells about (so a crash
    after the commit loses none, and a rollback sends none), delivered after the commit in
    batches through one SMTP connection (`core.mail.deliver`). `key` makes queueing idempotent:
    a rerun that queues the same email again adds nothing."""

    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=40)
    member_id = models.BigIntegerField(null=True, blank=True)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField()
    # A deliverer claims a batch before sending it; a claim older than CLAIM_TIMEOUT is stale
    # (its deliverer died) and the batch is sent again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # Extra headers as JSON text ("" for none): a support reply's In-Reply-To and References.
    headers = models.TextField(blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(sent_at__isnull=True), name="core_mail_pending"
            ),
        ]
        # No index by member: no query reads a member's emails yet, and a national dispatch
        # day writes a few hundred thousand rows, each paying for every index.
        # (a constraint, not unique=True: keys are looked up by equality only, and PostgreSQL
        # would keep a second, LIKE index on them for every email)
        constraints = [models.UniqueConstraint(fields=["key"], name="core_mail_key")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}"
