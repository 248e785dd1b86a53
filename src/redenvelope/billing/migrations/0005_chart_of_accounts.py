"""The chart of accounts exists wherever the schema does (every posting needs it)."""

from django.db import migrations


def create_chart(apps, schema_editor):
    from redenvelope.ledger.chart import CHART

    Account = apps.get_model("billing", "Account")
    for code, name, kind in CHART:
        Account.objects.get_or_create(code=code, defaults={"name": name, "kind": str(kind)})


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_fee_gift_outagecompensation_payment_paymentmethod_and_more")]

    operations = [migrations.RunPython(create_chart, migrations.RunPython.noop)]
