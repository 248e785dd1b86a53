"""A read-only PostgreSQL role for BI tools: it may connect and SELECT the reporting views, and
nothing else (no table, no member's data). Idempotent: run it again after an upgrade adds a view."""

from __future__ import annotations

import re

from django.db import connection

from redenvelope.core.errors import DomainError

from .reporting import VIEWS

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_readonly(role: str, password: str | None = None) -> list[str]:
    if connection.vendor != "postgresql":
        raise DomainError(
            "A read-only role is PostgreSQL's. On SQLite, open the file read-only instead: "
            "sqlite3 'file:var/redenvelope.sqlite3?mode=ro' (the reporting_* views are there too)."
        )
    if not _NAME.fullmatch(role or ""):
        raise DomainError("role: lower-case letters, digits and _ (a PostgreSQL name).")
    done = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {role} {'LOGIN' if password else 'NOLOGIN'}")
            done.append(f"created role {role}")
        if password:
            cursor.execute(f"ALTER ROLE {role} LOGIN PASSWORD %s", [password])
            done.append("password set")
        cursor.execute("SELECT current_database()")
        (db,) = cursor.fetchone()
        cursor.execute(f'GRANT CONNECT ON DATABASE "{db}" TO {role}')
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        for view in VIEWS:
            cursor.execute(f"GRANT SELECT ON {view} TO {role}")
        cursor.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    done.append(f"{role} may read {len(VIEWS)} reporting views (read-only transactions)")
    return done
