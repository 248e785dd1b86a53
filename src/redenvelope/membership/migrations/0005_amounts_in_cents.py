
import redenvelope.ledger.fields
from django.db import migrations

from redenvelope.ledger.migration_ops import AmountsToCents


class Migration(migrations.Migration):

    dependencies = [
        ('membership', '0004_member_with_bonus_rentals'),
    ]

    operations = [
        AmountsToCents(
            'member',
            {
                'gift_month_value': redenvelope.ledger.fields.MoneyField(default=0),
            },
        ),
        AmountsToCents(
            'plan',
            {
                'monthly_price': redenvelope.ledger.fields.MoneyField(),
            },
        ),
    ]
