"""Enforce one entry per (member, position) on SQLite too.

The model's UniqueConstraint is DEFERRABLE so PostgreSQL can renumber a whole queue in one
statement; SQLite has no deferrable unique constraints and Django silently leaves such a
constraint out there (its warning models.W038 is silenced in settings), so on SQLite nothing
enforced it. A plain unique index does, at once, which the queue code allows for: it parks the
positions above 1,000,000 before it writes the new order (queues/actions._write_order).
`tests/core/test_schema.py` now proves every declared index and constraint exists."""

from django.db import migrations

from redenvelope.core.migration_ops import sql_on

SQL = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "one_entry_per_position" '
    'ON "queues_queueentry" ("member_id", "position")'
)


class Migration(migrations.Migration):
    dependencies = [("queues", "0005_queue_snapshot")]

    operations = [sql_on("sqlite", SQL, 'DROP INDEX IF EXISTS "one_entry_per_position"')]
