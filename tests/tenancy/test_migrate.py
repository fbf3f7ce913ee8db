from __future__ import annotations

from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.tenancy.migrate import head_revision, migrate_all
from tests.conftest import MakeTenant


def _reset_schema(engine: Engine, schema: str, *, squat: bool = False) -> None:
    """Put a tenant schema back to 'never migrated'; optionally squat a table name so the
    migration cannot succeed (a deliberately broken tenant)."""
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        if squat:
            conn.execute(text(f"CREATE TABLE {schema}.audit_log (squatter int)"))


def _version(engine: Engine, schema: str) -> str | None:
    with engine.connect() as conn:
        if not conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{schema}.alembic_version"}
        ).scalar():
            return None
        return conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()


def test_migrate_all_continues_past_a_broken_tenant_and_reports_it(
    live_settings: Settings, engine: Engine, make_tenant: MakeTenant
) -> None:
    healthy, behind, broken = make_tenant(), make_tenant(), make_tenant()
    other_behind = make_tenant()
    _reset_schema(engine, behind.schema)
    _reset_schema(engine, other_behind.schema)
    _reset_schema(engine, broken.schema, squat=True)

    report = migrate_all(live_settings)

    assert not report.ok
    assert set(report.failed) == {broken.schema}
    assert "audit_log" in report.failed[broken.schema]
    assert {behind.schema, other_behind.schema} <= set(report.migrated)
    assert healthy.schema in report.at_head
    head = head_revision(live_settings.root, "tenant")
    assert _version(engine, behind.schema) == head
    assert _version(engine, other_behind.schema) == head
    # The failed tenant's transaction rolled back entirely: no half-applied revision.
    assert _version(engine, broken.schema) is None
    with engine.connect() as conn:
        assert not conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{broken.schema}.procedures"}
        ).scalar()

    # Fix the cause and re-run: only the broken tenant is migrated now.
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {broken.schema}.audit_log"))
    second = migrate_all(live_settings)
    assert second.ok
    assert second.migrated == [broken.schema]
    assert behind.schema in second.at_head
    assert _version(engine, broken.schema) == head


def test_migrate_all_at_head_touches_nothing(live_settings: Settings, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    report = migrate_all(live_settings)
    assert report.ok
    assert report.migrated == []
    assert tenant.schema in report.at_head
