"""The schema stays ready for Citus schema-based sharding (docs/scale-out.md): each tenant schema
becomes one shard group, so nothing may tie a tenant's tables to another node's.

Checked against the real migrated database: tenant tables reference no platform table that
would not be a reference table; identity and serial columns are bigint (Citus puts the node in
a sequence's high bits, which does not fit a smaller type). Checked in the source: only a few
named modules build schema-qualified SQL or set ``search_path``; everything else reaches tenant
tables through a tenant transaction, which touches one tenant schema (plus ``platform``).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.tenancy.template import provision_tenant_schema

# Platform tables as they would be distributed. Reference tables are copied to every node, so a
# tenant table may point at them and a tenant transaction may join them: small, read-mostly.
# The others stay on the coordinator (Citus local tables): written often or read only by the
# platform's own code, never joined from a tenant schema.
REFERENCE_TABLES = frozenset(
    {"tenants", "domains", "identity_settings", "platform_admins", "published_rankings"}
)
COORDINATOR_TABLES = frozenset(
    {"alembic_version", "audit_log", "outbox", "tenant_figures", "tenant_indicators"}
)

# Columns fed by a sequence that may stay narrower than bigint, with the reason.
NARROW_SEQUENCES = {
    # One row, pinned by CHECK (id = 1): the sequence is never drawn from.
    ("reporting_state", "id"): "CHECK ((id = 1))",
}

SRC = Path(__file__).resolve().parents[2] / "src" / "motcua"

# Modules allowed to name a schema in SQL they build, or to set search_path, and why.
SCHEMA_SQL_MODULES = {
    "core/db.py": "the one place a tenant transaction sets its search_path",
    "tenancy/migrate.py": "migrations, one schema per transaction (operator command)",
    "tenancy/template.py": "clones the template schema into a new tenant schema",
    "tenancy/backup.py": "counts each tenant's rows, one schema at a time (operator command)",
    "tenancy/services.py": "schema_for: the schema name of a slug",
    "admin/archive.py": "exports and restores one tenant's schema (operator action)",
}


def _platform_schema_check(engine: Engine, schema: str) -> None:
    with engine.connect() as conn:
        platform = set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class "
                    "WHERE relnamespace = 'platform'::regnamespace AND relkind = 'r'"
                )
            ).scalars()
        )
        # Every platform table has a place in the plan, so a new one gets a decision.
        assert platform == REFERENCE_TABLES | COORDINATOR_TABLES, (
            "classify each platform table in REFERENCE_TABLES or COORDINATOR_TABLES "
            f"(and docs/scale-out.md): {sorted(platform ^ (REFERENCE_TABLES | COORDINATOR_TABLES))}"
        )
        foreign = conn.execute(
            text(
                """
                SELECT src.nspname, c.conrelid::regclass::text, dst.nspname, f.relname
                FROM pg_constraint c
                JOIN pg_namespace src ON src.oid = c.connamespace
                JOIN pg_class f ON f.oid = c.confrelid
                JOIN pg_namespace dst ON dst.oid = f.relnamespace
                WHERE c.contype = 'f' AND src.nspname IN (:t, 'platform') AND dst.nspname <> src.nspname
                """
            ),
            {"t": schema},
        ).all()
        wrong = [row for row in foreign if not (row[2] == "platform" and row[3] in REFERENCE_TABLES)]
        assert not wrong, f"foreign keys from a tenant schema to a non-reference table: {wrong}"
        # A reference table is on every node; what it points at must be too.
        refs = conn.execute(
            text(
                """
                SELECT r.relname, f.relname FROM pg_constraint c
                JOIN pg_class r ON r.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
                WHERE c.contype = 'f' AND c.connamespace = 'platform'::regnamespace
                """
            )
        ).all()
        assert not [(a, b) for a, b in refs if a in REFERENCE_TABLES and b not in REFERENCE_TABLES]


def test_tenant_tables_point_only_at_reference_tables(live_settings: Settings, engine: Engine) -> None:
    schema = "t_citus_ready_fk"
    provision_tenant_schema(engine, live_settings.root, schema)
    _platform_schema_check(engine, schema)


def test_sequence_fed_columns_are_bigint(live_settings: Settings, engine: Engine) -> None:
    schema = "t_citus_ready_seq"
    provision_tenant_schema(engine, live_settings.root, schema)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, NULL),
                       (SELECT string_agg(pg_get_constraintdef(k.oid), ' ') FROM pg_constraint k
                         WHERE k.conrelid = c.oid AND k.contype = 'c')
                FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE n.nspname IN (:s, 'platform') AND c.relkind = 'r' AND a.attnum > 0
                  AND NOT a.attisdropped
                  AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
                """
            ),
            {"s": schema},
        ).all()
    assert len(rows) > 10  # the query sees the identity columns
    narrow = []
    for _schema, table, column, type_, checks in rows:
        if type_ == "bigint":
            continue
        reason = NARROW_SEQUENCES.get((table, column))
        if reason is None or reason not in (checks or ""):
            narrow.append(f"{_schema}.{table}.{column} is {type_}")
    assert not narrow, f"identity/serial columns must be bigint: {narrow}"


# Source checks -------------------------------------------------------------------------------
def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


_QUALIFIED = re.compile(r"^\.[A-Za-z_\"]")
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN|INTO|TABLE|COPY|TRUNCATE|ALTER|CREATE|DROP)\b")
_SEARCH_PATH = re.compile(r"search_path|set_config\s*\(", re.IGNORECASE)
_TENANT_PREFIX = re.compile(r"^t_$")


def schema_sql_sites(tree: ast.Module) -> list[tuple[int, str]]:
    """Places that build schema-qualified SQL at run time (an f-string ``{x}.table``), set
    ``search_path`` or build a tenant schema name from ``"t_"``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            sql_like = any(isinstance(p, ast.Constant) and _SQL.search(str(p.value)) for p in parts)
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.FormattedValue)
                    and isinstance(after, ast.Constant)
                    and str(after.value).startswith(".")
                    and (
                        (sql_like and _QUALIFIED.match(str(after.value)))
                        or "schema" in ast.unparse(before.value).lower()
                    )
                ):
                    found.append((node.lineno, "schema-qualified name built at run time"))
            for part in parts:
                if isinstance(part, ast.Constant) and (
                    part.value == "t_" or str(part.value).endswith(("'t_", '"t_', " t_", ".t_"))
                ):
                    found.append((node.lineno, "tenant schema name built at run time"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SEARCH_PATH.search(node.value):
                found.append((node.lineno, "search_path set"))
            if _TENANT_PREFIX.match(node.value):
                found.append((node.lineno, "tenant schema name built at run time"))
        elif isinstance(node, ast.keyword) and node.arg == "schema_translate_map":
            found.append((node.value.lineno, "schema_translate_map"))
    return found


def _docstrings(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                lines.add(body[0].value.lineno)
    return lines


def test_only_named_modules_build_schema_qualified_sql() -> None:
    offenders = []
    allowed_and_used = set()
    for name, tree in _modules():
        docs = _docstrings(tree)
        for line, what in schema_sql_sites(tree):
            if line in docs:
                continue
            if name in SCHEMA_SQL_MODULES:
                allowed_and_used.add(name)
            else:
                offenders.append(f"src/motcua/{name}:{line}: {what}")
    assert not offenders, (
        "request and job code reaches tenant tables through one tenant transaction "
        "(Database.tenant_session / tenant_job_session); a query naming schemas breaks under "
        f"Citus (docs/scale-out.md): {offenders}"
    )
    # The allowed list names only modules that still need the exception.
    assert allowed_and_used == set(SCHEMA_SQL_MODULES), set(SCHEMA_SQL_MODULES) - allowed_and_used


def test_the_source_check_finds_what_it_looks_for() -> None:
    sample = ast.parse(
        "a = f'SELECT * FROM {schema}.dossiers'\n"
        "b = text('SET LOCAL search_path TO x')\n"
        "c = 't_' + slug\n"
        'd = f"{tenant.schema}.alembic_version"\n'
        "e = create(x, schema_translate_map={None: s})\n"
        "ok = f'{count}. item' + f'{slug}.example.vn' + f'{host}.{domain}'\n"
    )
    lines = sorted({line for line, _what in schema_sql_sites(sample)})
    assert lines == [1, 2, 3, 4, 5]


def test_cross_tenant_figures_are_read_from_platform_tables() -> None:
    """The console's ranking and figures read platform tables that per-tenant jobs fill (one
    tenant transaction each), never every tenant schema in one query."""
    for name in ("reporting/ranking.py", "admin/figures.py", "reporting/jobs.py"):
        tree = ast.parse((SRC / name).read_text(encoding="utf-8"))
        assert not schema_sql_sites(tree), name
    ranking = (SRC / "reporting" / "ranking.py").read_text(encoding="utf-8")
    assert "db.tenant_session(tenant)" in ranking  # record_indicators: one tenant at a time
