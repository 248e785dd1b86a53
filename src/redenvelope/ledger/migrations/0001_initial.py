"""The general ledger leaves billing for a domain of its own (every domain that moves money
posts here). The tables already exist (billing made them); this only tells Django's state."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("billing", "0005_chart_of_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
        migrations.CreateModel(
            name='Account',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=10, unique=True)),
                ('name', models.CharField(max_length=100)),
                ('kind', models.CharField(choices=[('asset', 'Asset'), ('liability', 'Liability'), ('equity', 'Equity'), ('revenue', 'Revenue'), ('contra_revenue', 'Contra-revenue'), ('expense', 'Expense')], max_length=16)),
            ],
            options={
                'ordering': ['code'], 'db_table': 'billing_account',
            },
        ),
        migrations.CreateModel(
            name='JournalEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('statement', 'Statement'), ('payment', 'Payment'), ('refund', 'Refund'), ('chargeback', 'Chargeback'), ('credit', 'Credit'), ('fee', 'Fee'), ('write_off', 'Write-off'), ('recognition', 'Revenue recognition'), ('adjustment', 'Adjustment')], max_length=12)),
                ('effective_date', models.DateField()),
                ('posted_at', models.DateTimeField()),
                ('memo', models.CharField(max_length=300)),
                ('member_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                ('idempotency_key', models.CharField(blank=True, max_length=100, null=True, unique=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'journal entries', 'db_table': 'billing_journalentry',
                'ordering': ['-effective_date', '-id'],
            },
        ),
        migrations.CreateModel(
            name='JournalLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('member_id', models.BigIntegerField(blank=True, null=True)),
                ('debit', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ('credit', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ('currency', models.CharField(default='USD', max_length=3)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='ledger.account')),
                ('entry', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='ledger.journalentry')),
            ],
            options={
                'db_table': 'billing_journalline',
                'indexes': [models.Index(fields=['account', 'entry'], name='billing_jou_account_70c8d9_idx'), models.Index(fields=['member_id'], name='billing_jou_member__0b7704_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('credit', 0), ('debit__gt', 0)), models.Q(('credit__gt', 0), ('debit', 0)), _connector='OR'), name='line_one_sided_positive')],
            },
        ),
    ]),
    ]
