
import redenvelope.ledger.fields
from django.db import migrations

from redenvelope.ledger.migration_ops import AmountsToCents


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
        ('billing', '0006_journal_moves_to_ledger'),
    ]

    operations = [
        AmountsToCents(
            'journalline',
            {
                'credit': redenvelope.ledger.fields.MoneyField(default=0),
                'debit': redenvelope.ledger.fields.MoneyField(default=0),
            },
        ),
        migrations.RenameIndex(
            model_name='journalline',
            new_name='ledger_jour_account_a9c677_idx',
            old_name='billing_jou_account_70c8d9_idx',
        ),
        migrations.RenameIndex(
            model_name='journalline',
            new_name='ledger_jour_member__9ada04_idx',
            old_name='billing_jou_member__0b7704_idx',
        ),
        migrations.AlterModelTable(
            name='account',
            table=None,
        ),
        migrations.AlterModelTable(
            name='journalentry',
            table=None,
        ),
        migrations.AlterModelTable(
            name='journalline',
            table=None,
        ),
    ]
