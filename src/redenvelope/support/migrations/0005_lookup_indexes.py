"""Indexes the agent's lookup and the mail intake need (auth's table has none): an email in any
case, as LOWER(email) (support compares Lower(email) with the lower-cased address), on both
databases; on PostgreSQL also a name's start (istartswith is UPPER(name) LIKE UPPER('abc%'))."""

from django.db import migrations

BOTH = [("support_user_email_lower", "(LOWER(email))")]
INDEXES = [
    ("support_user_last_upper", "(UPPER(last_name::text) text_pattern_ops)"),
    ("support_user_first_upper", "(UPPER(first_name::text) text_pattern_ops)"),
]


def create(apps, schema_editor):
    for name, expr in BOTH:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON auth_user {expr}")
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expr in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON auth_user {expr}")


def drop(apps, schema_editor):
    for name, _ in BOTH:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("support", "0004_surveys"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create, drop)]
