from django.db import migrations, models

NEW = [
    ("1150", "Placement receivables", "asset"),
    ("1400", "Prepaid royalties (minimum guarantees)", "asset"),
    ("1500", "Original content, capitalised", "asset"),
    ("2500", "Accounts payable", "liability"),
    ("2600", "Deferred placement revenue", "liability"),
    ("4200", "Product placement revenue", "revenue"),
    ("5400", "Content amortisation", "expense"),
    ("5500", "Disc purchases", "expense"),
    ("5600", "Other vendor costs", "expense"),
]


def add_accounts(apps, schema_editor):
    """The payables and content accounts on books created before they existed."""
    Account = apps.get_model("ledger", "Account")
    for code, name, kind in NEW:
        Account.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_affiliate_accounts")]

    operations = [
        migrations.AlterField(
            model_name="journalentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("statement", "Statement"),
                    ("payment", "Payment"),
                    ("refund", "Refund"),
                    ("chargeback", "Chargeback"),
                    ("credit", "Credit"),
                    ("fee", "Fee"),
                    ("write_off", "Write-off"),
                    ("recognition", "Revenue recognition"),
                    ("adjustment", "Adjustment"),
                    ("commission", "Affiliate commission"),
                    ("payout", "Affiliate payout"),
                    ("vendor_bill", "Vendor bill"),
                    ("ap_payment", "Vendor payment"),
                    ("royalty", "Revenue share"),
                    ("amortisation", "Content amortisation"),
                    ("placement", "Product placement"),
                ],
                max_length=12,
            ),
        ),
        migrations.RunPython(add_accounts, migrations.RunPython.noop),
    ]
