"""New tenant schemas are clones of the migrated template: the clone must be indistinguishable
from a schema Alembic migrated, object by object, and onboarding must fall back to Alembic
whenever the template cannot be trusted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from motcua.admin.services import build_spec
from motcua.core.settings import Settings
from motcua.tenancy import template
from motcua.tenancy.migrate import TENANT, head_revision, migrate_tenant_schema
from motcua.tenancy.services import TenancyError
from motcua.tenancy.template import TEMPLATE, provision_tenant_schema
from tests.conftest import MakeTenant

# Each query returns rows describing one kind of object in schema :s. They are written
# independently of motcua.tenancy.template (which reads the catalogue to build its script), so
# a blind spot there is not repeated here. Names are qualified (search_path is pg_catalog) and
# the schema name is then replaced by "S".
CATALOGUE: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text, c.reloptions::text, c.relhasindex,
               c.relhastriggers, c.relrowsecurity
        FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    "tables": """
        SELECT table_name, table_type, is_insertable_into FROM information_schema.tables
        WHERE table_schema = :s""",
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, character_maximum_length,
               numeric_precision, numeric_scale, datetime_precision, is_nullable, column_default,
               is_identity, identity_generation, identity_start, identity_increment, identity_maximum,
               identity_minimum, identity_cycle, is_generated, generation_expression, collation_name,
               rank() OVER (PARTITION BY table_name ORDER BY ordinal_position)
        FROM information_schema.columns WHERE table_schema = :s""",
    "attributes": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity::text, a.attgenerated::text, a.attstorage::text, a.attcompression::text,
               a.attstattarget, a.attoptions::text, a.attcollation, a.atthasdef,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT r.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid), k.condeferrable,
               k.condeferred, k.convalidated, k.confupdtype::text, k.confdeltype::text,
               f.relname AS references_table, i.relname AS index_name
        FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid
        LEFT JOIN pg_class f ON f.oid = k.confrelid
        LEFT JOIN pg_class i ON i.oid = k.conindid
        WHERE r.relnamespace = CAST(:s AS regnamespace)""",
    "information_schema_constraints": """
        -- NOT NULL constraints are named <namespace oid>_<table oid>_<column>_not_null here.
        SELECT tc.table_name, regexp_replace(tc.constraint_name, '^[0-9]+_[0-9]+_', ''),
               tc.constraint_type, tc.is_deferrable,
               kcu.column_name, kcu.ordinal_position
        FROM information_schema.table_constraints tc
        LEFT JOIN information_schema.key_column_usage kcu
          ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
        WHERE tc.table_schema = :s""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s""",
    "index_flags": """
        SELECT c.relname, i.indisunique, i.indisprimary, i.indisexclusion, i.indimmediate,
               i.indisvalid, i.indnullsnotdistinct, i.indnatts, i.indnkeyatts
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    "sequences": """
        SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment,
               cycle_option
        FROM information_schema.sequences WHERE sequence_schema = :s""",
    "sequence_owners": """
        SELECT c.relname, s.seqcache, d.deptype::text, r.relname, a.attname
        FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
             AND d.refclassid = 'pg_class'::regclass
        LEFT JOIN pg_class r ON r.oid = d.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid), p.provolatile::text, p.prosecdef, p.proconfig::text
        FROM pg_proc p WHERE p.pronamespace = CAST(:s AS regnamespace)""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND NOT t.tgisinternal""",
    "internal_triggers": """
        SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND t.tgisinternal GROUP BY c.relname""",
    "types": """
        SELECT t.typname, t.typtype::text FROM pg_type t WHERE t.typnamespace = CAST(:s AS regnamespace)""",
    "dependencies_on_other_schemas": """
        SELECT DISTINCT n.nspname FROM pg_depend d
        JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
        JOIN pg_class r ON r.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND r.relnamespace <> c.relnamespace""",
}


def catalogue(conn: Connection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    conn.execute(text("SET LOCAL search_path TO pg_catalog"))
    dump: dict[str, list[tuple[Any, ...]]] = {}
    for kind, query in CATALOGUE.items():
        rows = conn.execute(text(query), {"s": schema}).all()
        dump[kind] = sorted(
            (tuple(str(v).replace(f"{schema}.", "S.").replace(schema, "S") for v in row) for row in rows),
        )
    # Rows of every table and the position of every sequence: the migrations write some.
    tables = conn.execute(
        text("SELECT relname FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'r'"),
        {"s": schema},
    ).scalars()
    dump["rows"] = sorted(
        (
            t,
            str(
                conn.execute(
                    text(f"SELECT coalesce(json_agg(x ORDER BY x::text), '[]')::text FROM {schema}.{t} x")
                ).scalar()
            ),
        )
        for t in tables
    )
    sequences = conn.execute(
        text("SELECT relname FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'S'"),
        {"s": schema},
    ).scalars()
    dump["sequence_positions"] = sorted(
        (s, *conn.execute(text(f"SELECT last_value, is_called FROM {schema}.{s}")).one()) for s in sequences
    )
    return dump


def _dump(engine: Engine, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn, conn.begin():
        return catalogue(conn, schema)


def _fresh_schema() -> str:
    return f"t_tpl_{uuid.uuid4().hex[:10]}"


def test_a_cloned_schema_is_identical_to_a_migrated_one(live_settings: Settings, engine: Engine) -> None:
    migrated, cloned = _fresh_schema(), _fresh_schema()
    migrate_tenant_schema(engine, live_settings.root, migrated)

    assert provision_tenant_schema(engine, live_settings.root, cloned) == "clone"

    expected, actual = _dump(engine, migrated), _dump(engine, cloned)
    # The dump is not vacuous: it sees what the tenant migrations make.
    assert len(expected["tables"]) > 20 and expected["functions"] and expected["triggers"]
    assert any(row[2] == "f" for row in expected["constraints"])
    assert ("alembic_version", f'[{{"version_num":"{head_revision(live_settings.root, TENANT)}"}}]') in [
        (t, rows.replace(" ", "")) for t, rows in expected["rows"]
    ]
    for kind in expected:
        assert actual[kind] == expected[kind], kind
    # The clone is its own: nothing in it points back at the template.
    assert actual["dependencies_on_other_schemas"] == []

    # And it works like one: identity columns count from 1, triggers guard their tables.
    with engine.begin() as conn:
        first = conn.execute(
            text(
                f"INSERT INTO {cloned}.citizens (issuer, subject, personal_id) "
                "VALUES ('i', 's', '0') RETURNING id"
            )
        ).scalar()
    assert first == 1


def test_onboarding_clones_and_falls_back_to_alembic(
    live_settings: Settings, engine: Engine, make_tenant: MakeTenant
) -> None:
    head = head_revision(live_settings.root, TENANT)
    tenant = make_tenant()
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {TEMPLATE}.alembic_version")).scalar() == head
        assert (
            conn.execute(
                text("SELECT schema_version FROM platform.tenants WHERE slug = :s"), {"s": tenant.slug}
            ).scalar()
            == head
        )

    # A stale template (an older head) is rebuilt before it is cloned.
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {TEMPLATE}.alembic_version SET version_num = 't0001'"))
        conn.execute(text(f"CREATE TABLE {TEMPLATE}.leftover (id int)"))
    rebuilt = _fresh_schema()
    assert provision_tenant_schema(engine, live_settings.root, rebuilt) == "clone"
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {rebuilt}.alembic_version")).scalar() == head
        assert conn.execute(text(f"SELECT to_regclass('{rebuilt}.leftover')")).scalar() is None

    # Something the clone cannot copy (here a view), seen by a process reading the template
    # afresh: Alembic migrates the schema instead.
    with engine.begin() as conn:
        conn.execute(text(f"CREATE VIEW {TEMPLATE}.unexpected AS SELECT 1 AS one"))
    template._scripts.clear()
    try:
        fallback = _fresh_schema()
        assert provision_tenant_schema(engine, live_settings.root, fallback) == "migrate"
        assert _dump(engine, fallback) == _dump(engine, rebuilt)
        # The verdict is kept for this head: the template stays built and is not read again.
        assert isinstance(template._scripts[(engine.url.render_as_string(hide_password=True), head)], str)
        assert provision_tenant_schema(engine, live_settings.root, _fresh_schema()) == "migrate"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {TEMPLATE} CASCADE"))

    # A missing template is built again; a schema that already holds tables (a re-run) is left
    # to Alembic, which finds it at head.
    again = make_tenant()
    assert provision_tenant_schema(engine, live_settings.root, again.schema) == "migrate"
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {TEMPLATE}.alembic_version")).scalar() == head


def test_the_template_slug_is_reserved() -> None:
    with pytest.raises(TenancyError, match="reserved"):
        build_spec(slug="template", name="Cổng mẫu")
