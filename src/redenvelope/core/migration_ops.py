"""Migration operations shared by the domains' migrations."""

from django.db import migrations


def sql_on(vendor: str, forward: str, backward: str | None = None) -> migrations.RunPython:
    """Run `forward` (and `backward` when unapplied) on one database vendor only ("sqlite",
    "postgresql"): for what Django's schema editor leaves out on one backend."""

    def run(sql):
        def op(apps, schema_editor):
            if sql and schema_editor.connection.vendor == vendor:
                schema_editor.execute(sql)

        return op

    return migrations.RunPython(run(forward), run(backward))
