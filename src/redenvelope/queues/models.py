from __future__ import annotations

from django.db import models
from django.utils import timezone

from redenvelope.catalog.models import Title
from redenvelope.membership.models import Member


class QueueEntry(models.Model):
    """One title in a member's queue. Positions only order a queue (unique per member, gaps
    allowed, decision 0005); the member sees ranks 1..n. A member's own change rewrites their
    queue 1..n; dispatch deletes shipped titles and moves nothing; saved titles released on
    their day go above the top."""

    # Served by the (member, position) and (member, title) indexes: no index of its own.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="queue_entries", db_index=False
    )
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="queue_entries")
    position = models.IntegerField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member_id", "position"]
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(fields=["member", "title"], name="title_once_per_queue"),
            # Deferred on PostgreSQL, so a whole queue can be renumbered in one statement
            # (SQLite checks it at once; the code there parks positions first).
            models.UniqueConstraint(
                fields=["member", "position"],
                name="one_entry_per_position",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}#{self.position}: {self.title_id}"


class SavedEntry(models.Model):
    """An unreleased title a member wants; it moves to the top of the queue on release day."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="saved_entries")
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="saved_entries")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member_id", "added_at", "id"]
        verbose_name_plural = "saved entries"
        constraints = [
            models.UniqueConstraint(fields=["member", "title"], name="title_once_per_saved_list")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} saved {self.title_id}"


class QueueSnapshot(models.Model):
    """The order of a member's queue (title ids, top first) after each change the member (or
    an agent, or a release day) made, append-only: with the shipments since, it gives the
    queue as it was at any moment, so support can restore it. Dispatch's removals of shipped
    titles are not written here: they are the shipments themselves."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()
    titles = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        return f"{self.member_id} at {self.at}: {len(self.titles)} titles"
