"""The reporting views a business points its own BI tool at (Metabase, Superset): the
reporting tables with readable names, and the few dimensions they need. No personal data: no
member, address or employee appears in any of them. Created by migration 0002; documented in
docs/reporting.md; `redenvelope insight grant-readonly` gives a PostgreSQL role SELECT on
these views and nothing else.

Every `migrate` drops them first and creates them again at its end (apps.py: pre_migrate and
post_migrate): SQLite changes a table by building a new one and renaming it, which fails while
a view names the old one, so a later migration of any table here would otherwise break."""

import re

BASE_TABLE = re.compile(r"(?:FROM|JOIN) (\w+)")

VIEWS = {
    "reporting_dcs": "SELECT id AS dc_id, code, name, city, state, status, daily_capacity "
    "FROM inventory_distributioncenter",
    "reporting_plans": "SELECT id AS plan_id, code, name, discs_at_once, streaming_screens, "
    "monthly_price AS monthly_price_cents FROM membership_plan",
    "reporting_titles": "SELECT id AS title_id, name, year, release_date, popularity "
    "FROM catalog_title",
    "reporting_shipments_daily": "SELECT f.day, d.code AS dc, p.code AS plan, f.shipments, "
    "f.next_day, f.top3, f.first_choice, f.new_release, f.new_release_wait_days "
    "FROM insight_shipfact f LEFT JOIN inventory_distributioncenter d ON d.id = f.dc_id "
    "LEFT JOIN membership_plan p ON p.id = f.plan_id",
    "reporting_returns_daily": "SELECT f.day, d.code AS dc, f.returns, f.damaged, f.lost "
    "FROM insight_returnfact f LEFT JOIN inventory_distributioncenter d ON d.id = f.dc_id",
    "reporting_members_daily": "SELECT f.day, p.code AS plan, f.active, f.joined, f.cancelled, "
    "f.mrr_cents FROM insight_memberfact f LEFT JOIN membership_plan p ON p.id = f.plan_id",
    "reporting_cohorts": "SELECT f.cohort, p.code AS plan, f.age_months, f.members, f.retained "
    "FROM insight_cohortfact f LEFT JOIN membership_plan p ON p.id = f.plan_id",
    "reporting_support_daily": "SELECT day, channel, opened, responded, response_seconds, "
    "resolved, surveys, score_sum FROM insight_supportfact",
    "reporting_streams_daily": "SELECT f.day, p.code AS plan, f.streams, f.seconds "
    "FROM insight_streamfact f LEFT JOIN membership_plan p ON p.id = f.plan_id",
    "reporting_ledger_daily": "SELECT f.day, f.account, a.name AS account_name, a.kind, "
    "f.debit_cents, f.credit_cents FROM insight_ledgerfact f "
    "LEFT JOIN ledger_account a ON a.code = f.account",
}


def create_sql() -> list[str]:
    return [f"CREATE VIEW {name} AS {sql}" for name, sql in VIEWS.items()]


def drop_sql() -> list[str]:
    return [f"DROP VIEW IF EXISTS {name}" for name in VIEWS]


def base_tables() -> set[str]:
    return {t for sql in VIEWS.values() for t in BASE_TABLE.findall(sql)}


_GRANTEES: set[str] = set()  # roles that could read the views when a migrate set them aside


def drop_views(connection) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT grantee FROM information_schema.role_table_grants "
                "WHERE table_name = ANY(%s) AND privilege_type = 'SELECT' "
                "AND grantee <> current_user",
                [list(VIEWS)],
            )
            _GRANTEES.update(r[0] for r in cursor.fetchall())
    with connection.cursor() as cursor:
        for sql in drop_sql():
            cursor.execute(sql)


def create_views(connection) -> bool:
    """Create the views that are missing, where every table they read exists (False where some
    do not yet); roles that could read them before a migrate set them aside can again."""
    tables = set(connection.introspection.table_names(include_views=True))
    if not base_tables() <= tables:
        return False
    with connection.cursor() as cursor:
        for name, sql in VIEWS.items():
            if name not in tables:
                cursor.execute(f"CREATE VIEW {name} AS {sql}")
        for role in sorted(_GRANTEES) if connection.vendor == "postgresql" else ():
            for name in VIEWS:
                cursor.execute(f'GRANT SELECT ON {name} TO "{role}"')
    _GRANTEES.clear()
    return True
