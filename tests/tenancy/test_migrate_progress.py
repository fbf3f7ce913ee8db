"""`motcua migrate` over many schemas: the worker pool reports each schema as it finishes."""

from __future__ import annotations

from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.tenancy.migrate import TENANT, head_revision, migrate_all, tenant_versions
from tests.conftest import MakeTenant


def test_migrate_all_reports_progress_as_schemas_finish(
    live_settings: Settings, engine: Engine, make_tenant: MakeTenant
) -> None:
    tenants = [make_tenant() for _ in range(3)]
    schemas = {t.schema for t in tenants}
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    seen: list[tuple[int, int, str]] = []

    report = migrate_all(live_settings, only=sorted(schemas), progress=lambda *a: seen.append(a))

    assert report.ok and set(report.migrated) == schemas
    assert [(done, total) for done, total, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert {schema for _, _, schema in seen} == schemas
    head = head_revision(live_settings.root, TENANT)
    with engine.connect() as conn:
        versions = tenant_versions(conn)
        recorded: dict[str, str | None] = dict(
            conn.execute(
                text("SELECT schema_name, schema_version FROM platform.tenants WHERE schema_name = ANY(:s)"),
                {"s": sorted(schemas)},
            ).all()
        )
    assert all(versions[s] == head and recorded[s] == head for s in schemas)
