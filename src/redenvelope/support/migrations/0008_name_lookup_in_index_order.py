"""The agent's name lookup reads a name's start in index order and stops after 20 rows.

0005's UPPER(name) text_pattern_ops indexes found the matches of a prefix but not in an order
the query could use, so a common prefix among a million members (a few tens of thousands of
"Nov..." rows) was sorted whole: 80 ms at p95. These indexes serve both the prefix and the
order, with the user id as the tie-break: on PostgreSQL (UPPER(name) COLLATE "C", id), whose C
collation lets LIKE 'ABC%' use a plain b-tree; on SQLite (name COLLATE NOCASE, id), which its
case-insensitive LIKE can use (support.queries._member_ids_by_name)."""

from django.db import migrations

PG = [
    ("support_user_last_c", '((UPPER(last_name) COLLATE "C"), id)'),
    ("support_user_first_c", '((UPPER(first_name) COLLATE "C"), id)'),
]
SQLITE = [
    ("support_user_last_nocase", "(last_name COLLATE NOCASE, id)"),
    ("support_user_first_nocase", "(first_name COLLATE NOCASE, id)"),
]
OLD_PG = [
    ("support_user_last_upper", "(UPPER(last_name::text) text_pattern_ops)"),
    ("support_user_first_upper", "(UPPER(first_name::text) text_pattern_ops)"),
]


def _swap(schema_editor, add, drop):
    for name, _ in drop:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name, expr in add:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON auth_user {expr}")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _swap(schema_editor, PG, OLD_PG)
    else:
        _swap(schema_editor, SQLITE, [])


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _swap(schema_editor, OLD_PG, PG)
    else:
        _swap(schema_editor, [], SQLITE)


class Migration(migrations.Migration):
    dependencies = [("support", "0007_own_discs")]
    operations = [migrations.RunPython(forward, backward)]
