"""New tenant schemas cloned from a template schema kept at the tenant head revision.

Running every tenant migration from the first for each new locality costs a few hundred
milliseconds of Alembic (loading the revision files, running each step). Instead one schema,
``t_template`` (its slug, ``template``, is reserved so no tenant can have it), is migrated with
Alembic as usual and its definition is read back from ``pg_catalog`` once per process and head
revision, as one DDL script; a new schema replays that script in one transaction and round
trip, with the template's rows (``alembic_version``, the one-row tables) and sequence positions.

The template is rebuilt from nothing when the head revision changes. Whenever cloning is not
possible (the template holds an object this module does not know how to copy, the script
cannot be built, the replay fails) the new schema is migrated with Alembic instead: cloning is
an optimisation, never a second source of truth. ``tests/tenancy/test_template.py`` proves the
clone identical to a migrated schema by comparing both catalogues.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from motcua.tenancy.migrate import TENANT, _upgrade, head_revision, migrate_tenant_schema

log = logging.getLogger(__name__)

TEMPLATE = "t_template"
_SCHEMA = re.compile(r"^t_[a-z0-9_]{1,62}$")


class TemplateUnsupportedError(Exception):
    """The template holds something the clone would not copy; migrate with Alembic instead."""


@dataclass(frozen=True)
class TemplateScript:
    revision: str
    ddl: str  # every statement, with the template's schema written as ``TEMPLATE.``
    data_tables: tuple[str, ...]  # tables with rows to copy (in creation order)
    sequences: tuple[tuple[str, int], ...]  # sequences already called, and their last value


# Per database and head revision: the script, or why the template cannot be cloned (so a
# template that cannot be is not read again at every onboarding).
_scripts: dict[tuple[str, str], TemplateScript | str] = {}
_lock = threading.Lock()


def provision_tenant_schema(engine: Engine, root: Path, schema: str) -> str:
    """Bring a new tenant schema to head: a clone of the template when it can be, Alembic
    otherwise (and always for a schema that already holds tables). Returns ``"clone"`` or
    ``"migrate"``, for the caller's log and the benchmark."""
    if not _SCHEMA.match(schema) or schema == TEMPLATE:
        raise ValueError(f"not a tenant schema: {schema!r}")
    try:
        script = template_script(engine, root)
        if _clone(engine, script, schema):
            return "clone"
    except Exception as exc:
        log.warning("cloning the template into %s failed, migrating with Alembic: %s", schema, exc)
    migrate_tenant_schema(engine, root, schema)
    return "migrate"


def template_script(engine: Engine, root: Path) -> TemplateScript:
    """The template's DDL at the current head, rebuilding the template if it is missing or
    stale. Cached per database and head revision."""
    head = head_revision(root, TENANT)
    key = (engine.url.render_as_string(hide_password=True), head)
    with _lock:
        cached = _scripts.get(key)
    if cached is not None and _template_revision(engine) == head:
        if isinstance(cached, str):
            raise TemplateUnsupportedError(cached)
        return cached
    with engine.connect() as conn, conn.begin():
        # One rebuild at a time across processes; a waiting process then finds it at head.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"migrate:{TEMPLATE}"})
        if _revision(conn) != head:
            log.info("rebuilding the tenant template schema at %s", head)
            conn.execute(text(f"DROP SCHEMA IF EXISTS {TEMPLATE} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {TEMPLATE}"))
            _upgrade(conn, root, TEMPLATE, TENANT)
    # Read in a transaction of its own, so a template that cannot be cloned stays built.
    with engine.connect() as conn, conn.begin():
        try:
            script: TemplateScript | str = read_template(conn, head)
        except TemplateUnsupportedError as exc:
            script = str(exc)
    with _lock:
        _scripts[key] = script
    if isinstance(script, str):
        raise TemplateUnsupportedError(script)
    return script


def _template_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    exists = conn.execute(text(f"SELECT to_regclass('{TEMPLATE}.alembic_version') IS NOT NULL")).scalar()
    if not exists:
        return None
    return conn.execute(text(f"SELECT version_num FROM {TEMPLATE}.alembic_version")).scalar()


def _clone(engine: Engine, script: TemplateScript, schema: str) -> bool:
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        # A schema with tables is a re-run after a crash or an older tenant: Alembic continues it.
        if conn.execute(
            text("SELECT EXISTS (SELECT FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace))"),
            {"s": schema},
        ).scalar():
            return False
        ddl = script.ddl.replace(f"{TEMPLATE}.", f"{schema}.")
        statements = [ddl]
        for table in script.data_tables:
            statements.append(
                f"INSERT INTO {schema}.{table} OVERRIDING SYSTEM VALUE SELECT * FROM {TEMPLATE}.{table};"
            )
        for sequence, value in script.sequences:
            statements.append(f"SELECT setval('{schema}.{sequence}', {value}, true);")
        # One round trip: psycopg sends a parameterless multi-statement string as one query.
        conn.exec_driver_sql("\n".join(statements))
        version = conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()
        if version != script.revision:  # the template changed under us: let Alembic do it
            raise RuntimeError(f"clone of {schema} is at {version}, not {script.revision}")
        conn.execute(
            text("UPDATE platform.tenants SET schema_version = :v WHERE schema_name = :s"),
            {"v": version, "s": schema},
        )
    return True


# Reading the template ------------------------------------------------------------------------
def read_template(conn: Connection, revision: str) -> TemplateScript:
    """The template's objects as DDL, every name qualified with the template schema."""
    # With only pg_catalog on the path, pg_get_* qualify every name of the template (and of
    # `platform`), so one textual replacement moves the script to another schema.
    conn.execute(text("SET LOCAL search_path TO pg_catalog"))
    oid = conn.execute(text("SELECT CAST(:s AS regnamespace)::oid"), {"s": TEMPLATE}).scalar_one()
    _refuse_unsupported(conn, oid)
    ddl: list[str] = []

    # Sequences that are not identity sequences (serial columns): created before the tables
    # whose defaults name them, owned by their column afterwards.
    serials = conn.execute(
        text(
            """
            SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
                   s.seqmax, s.seqcache, s.seqcycle, d.refobjid::regclass::text, a.attname
            FROM pg_class c
            JOIN pg_sequence s ON s.seqrelid = c.oid
            LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE c.relnamespace = :ns AND c.relkind = 'S' AND d.deptype IS DISTINCT FROM 'i'
            ORDER BY c.oid
            """
        ),
        {"ns": oid},
    ).all()
    owned: list[str] = []
    for name, type_, start, inc, min_, max_, cache, cycle, table, column in serials:
        ddl.append(
            f"CREATE SEQUENCE {TEMPLATE}.{_q(name)} AS {type_} INCREMENT BY {inc} MINVALUE {min_} "
            f"MAXVALUE {max_} START WITH {start} CACHE {cache} {'CYCLE' if cycle else 'NO CYCLE'};"
        )
        if table is not None:
            owned.append(f"ALTER SEQUENCE {TEMPLATE}.{_q(name)} OWNED BY {table}.{_q(column)};")

    # Each table as LIKE the template's: columns, defaults, NOT NULL and CHECK constraints,
    # identity (with a sequence of its own), storage and comments are copied from the catalogue
    # itself, so an expression is never deparsed and parsed again (which can change its form:
    # `status IN (...)` on a varchar column comes back with the casts moved). The source is
    # quoted so that the move to the new schema below leaves it pointing at the template.
    tables = conn.execute(
        text(
            """
            SELECT c.relname, c.relpersistence FROM pg_class c
            WHERE c.relnamespace = :ns AND c.relkind = 'r' ORDER BY c.oid
            """
        ),
        {"ns": oid},
    ).all()
    likes = [
        f"CREATE {'UNLOGGED ' if persistence == 'u' else ''}TABLE {TEMPLATE}.{_q(name)} "
        f'(LIKE "{TEMPLATE}".{_q(name)} INCLUDING ALL EXCLUDING INDEXES);'
        for name, persistence in tables
    ]
    # Defaults naming a serial sequence were copied naming the template's: point them home.
    for table, column, default in conn.execute(
        text(
            """
            SELECT c.oid::regclass::text, a.attname, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attrdef d
            JOIN pg_class c ON c.oid = d.adrelid
            JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE c.relnamespace = :ns AND c.relkind = 'r'
              AND EXISTS (
                SELECT FROM pg_depend p JOIN pg_class s ON s.oid = p.refobjid
                WHERE p.classid = 'pg_attrdef'::regclass AND p.objid = d.oid
                  AND p.refclassid = 'pg_class'::regclass AND s.relnamespace = :ns AND s.relkind = 'S')
            ORDER BY d.oid
            """
        ),
        {"ns": oid},
    ):
        owned.append(f"ALTER TABLE {table} ALTER COLUMN {_q(column)} SET DEFAULT {default};")
    ddl.extend(owned)

    # Keys and exclusions under their migration names, then the indexes no constraint
    # made, then foreign keys (which need the keys and unique indexes they point at).
    constraint_sql = """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
        WHERE r.relnamespace = :ns AND c.contype {}
        ORDER BY array_position(ARRAY['p', 'u', 'x']::"char"[], c.contype), c.oid
    """
    for table, name, definition in conn.execute(
        text(constraint_sql.format("IN ('p', 'u', 'x')")), {"ns": oid}
    ):
        ddl.append(f"ALTER TABLE {table} ADD CONSTRAINT {_q(name)} {definition};")
    for (definition,) in conn.execute(
        text(
            """
            SELECT pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = :ns AND NOT EXISTS (
                SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
            ORDER BY i.indexrelid
            """
        ),
        {"ns": oid},
    ):
        ddl.append(f"{definition};")
    for table, name, definition in conn.execute(text(constraint_sql.format("= 'f'")), {"ns": oid}):
        ddl.append(f"ALTER TABLE {table} ADD CONSTRAINT {_q(name)} {definition};")
    for (definition,) in conn.execute(
        text("SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = :ns ORDER BY p.oid"),
        {"ns": oid},
    ):
        ddl.append(f"{definition.rstrip()};")
    for (definition,) in conn.execute(
        text(
            """
            SELECT pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = :ns AND NOT t.tgisinternal ORDER BY t.oid
            """
        ),
        {"ns": oid},
    ):
        ddl.append(f"{definition};")

    data_tables = tuple(
        name
        for name, _p in tables
        if conn.execute(text(f"SELECT EXISTS (SELECT FROM {TEMPLATE}.{_q(name)})")).scalar()
    )
    sequences = []
    for (name,) in conn.execute(
        text("SELECT relname FROM pg_class WHERE relnamespace = :ns AND relkind = 'S' ORDER BY oid"),
        {"ns": oid},
    ):
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {TEMPLATE}.{_q(name)}")).one()
        if called:
            sequences.append((_q(name), int(last)))
    # Anything still naming the template outside a qualified name would tie the clone to it.
    if "\n".join(ddl).replace(f"{TEMPLATE}.", "").count(TEMPLATE):
        raise TemplateUnsupportedError("the template's definitions name the template schema itself")
    script = "\n".join([*ddl[: len(serials)], *likes, *ddl[len(serials) :]])
    return TemplateScript(revision, script, data_tables, tuple(sequences))


def _refuse_unsupported(conn: Connection, oid: int) -> None:
    """Objects the script above does not recreate: refuse rather than clone half a schema."""
    found = (
        conn.execute(
            text(
                """
            SELECT 'relation ' || relname || ' of kind ' || relkind::text FROM pg_class
             WHERE relnamespace = :ns AND relkind NOT IN ('r', 'i', 'S')
            UNION ALL
            SELECT 'type ' || t.typname FROM pg_type t
             WHERE t.typnamespace = :ns AND t.typrelid = 0 AND t.typelem = 0
            UNION ALL
            SELECT 'routine ' || proname FROM pg_proc WHERE pronamespace = :ns AND prokind <> 'f'
            UNION ALL
            SELECT 'policy ' || polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
             WHERE c.relnamespace = :ns
            UNION ALL
            SELECT 'comment on ' || c.relname FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
             WHERE d.classoid = 'pg_class'::regclass AND c.relnamespace = :ns
            UNION ALL
            SELECT 'inheritance of ' || c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE c.relnamespace = :ns
            UNION ALL
            SELECT 'row security on ' || relname FROM pg_class
             WHERE relnamespace = :ns AND relrowsecurity
            UNION ALL
            SELECT 'statistics ' || stxname FROM pg_statistic_ext WHERE stxnamespace = :ns
            UNION ALL
            SELECT 'column options on ' || c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = :ns AND c.relkind = 'r' AND a.attnum > 0
               AND (a.attoptions IS NOT NULL OR COALESCE(a.attstattarget, -1) <> -1 OR a.attcompression <> ''
                    OR a.attstorage <> (SELECT typstorage FROM pg_type WHERE oid = a.atttypid))
            """
            ),
            {"ns": oid},
        )
        .scalars()
        .all()
    )
    if found:
        raise TemplateUnsupportedError("; ".join(found[:5]))


def _q(name: str) -> str:
    # Names come from the catalogue of schemas our migrations built; quote only when needed.
    return name if re.match(r"^[a-z_][a-z0-9_]*$", name) else '"' + name.replace('"', '""') + '"'
