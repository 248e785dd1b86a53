"""Put back the partial unique index `one_open_shipment_per_copy` on PostgreSQL.

Migration 0009 turned `Shipment.copy`'s own index off (db_index=False). On PostgreSQL Django's
AlterField drops every plain b-tree index whose only column is copy_id, and the partial unique
index behind the UniqueConstraint (copy_id WHERE status = 'open') is one of them, while the
migration state still lists the constraint. So on PostgreSQL "at most one open shipment per
disc" was no longer enforced by the database. SQLite rebuilds the table from the model state and
kept it. `tests/core/test_schema.py` now proves every model index and constraint exists."""

from django.db import migrations

from redenvelope.core.migration_ops import sql_on

SQL = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "one_open_shipment_per_copy" '
    "ON \"fulfillment_shipment\" (\"copy_id\") WHERE \"status\" = 'open'"
)


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0011_members_own_discs")]

    operations = [sql_on("postgresql", SQL)]
