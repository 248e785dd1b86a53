
import redenvelope.ledger.fields
from django.db import migrations

from redenvelope.ledger.migration_ops import AmountsToCents


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0006_journal_moves_to_ledger'),
        ('ledger', '0002_journal_in_ledger_tables_amounts_in_cents'),
    ]

    operations = [
        AmountsToCents(
            'credit',
            {
                'amount': redenvelope.ledger.fields.MoneyField(blank=True, null=True),
                'remaining': redenvelope.ledger.fields.MoneyField(blank=True, null=True),
            },
        ),
        AmountsToCents(
            'fee',
            {
                'amount': redenvelope.ledger.fields.MoneyField(),
            },
        ),
        AmountsToCents(
            'gift',
            {
                'amount_paid': redenvelope.ledger.fields.MoneyField(),
                'month_value': redenvelope.ledger.fields.MoneyField(),
            },
        ),
        AmountsToCents(
            'payment',
            {
                'amount': redenvelope.ledger.fields.MoneyField(),
                'refunded': redenvelope.ledger.fields.MoneyField(default=0),
            },
        ),
        AmountsToCents(
            'refund',
            {
                'amount': redenvelope.ledger.fields.MoneyField(),
            },
        ),
        AmountsToCents(
            'statement',
            {
                'adjustment': redenvelope.ledger.fields.MoneyField(default=0),
                'amount_paid': redenvelope.ledger.fields.MoneyField(default=0),
                'credit_applied': redenvelope.ledger.fields.MoneyField(),
                'discount': redenvelope.ledger.fields.MoneyField(default=0),
                'fees': redenvelope.ledger.fields.MoneyField(default=0),
                'gift_applied': redenvelope.ledger.fields.MoneyField(default=0),
                'plan_price': redenvelope.ledger.fields.MoneyField(default=0),
                'subtotal': redenvelope.ledger.fields.MoneyField(),
                'tax': redenvelope.ledger.fields.MoneyField(),
                'total_due': redenvelope.ledger.fields.MoneyField(),
            },
        ),
    ]
