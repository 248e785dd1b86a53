"""The journal belongs to the ledger domain now: billing's references point there, and billing
forgets the three models (their tables stay; the ledger's migrations take them over)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_chart_of_accounts"),
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(model_name='credit', name='entry', field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='credit', to='ledger.journalentry')),
                migrations.AlterField(model_name='statement', name='entry', field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='statement', to='ledger.journalentry')),
                migrations.AlterField(model_name='fee', name='entry', field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='fee', to='ledger.journalentry')),
                migrations.AlterField(model_name='gift', name='entry', field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='gift', to='ledger.journalentry')),
                migrations.AlterField(model_name='payment', name='entry', field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payment', to='ledger.journalentry')),
                migrations.AlterField(model_name='refund', name='entry', field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='refund', to='ledger.journalentry')),
                migrations.DeleteModel(name="JournalLine"),
                migrations.DeleteModel(name="JournalEntry"),
                migrations.DeleteModel(name="Account"),
            ],
        ),
    ]
