from django.db import migrations

from redenvelope.insight.reporting import create_sql, drop_sql


class Migration(migrations.Migration):
    dependencies = [
        ("insight", "0001_initial"),
        ("inventory", "0008_copyevent_copy_events_lost_at"),
        ("fulfillment", "0013_shipment_service"),
        ("ledger", "__latest__"),
        ("membership", "__latest__"),
        ("catalog", "__latest__"),
    ]

    operations = [migrations.RunSQL(create_sql(), reverse_sql=drop_sql())]
