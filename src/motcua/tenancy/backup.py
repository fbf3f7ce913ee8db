"""Whole-platform backups that are known to restore (``motcua backup create|verify``).

``create`` runs ``pg_dump -Fc`` of the whole database and writes a manifest beside the dump
(``<dump>.manifest.json``): the dump's SHA-256 and the row count of every table of ``platform``
and of every tenant schema. The counts and the dump read the same snapshot (the counting
transaction exports it and pg_dump imports it with ``--snapshot``), so they agree even while
the platform keeps serving.

``verify`` restores a dump into a scratch database it creates and drops, then checks that every
tenant in the restored ``platform.tenants`` that should have a schema has one, and that each
table's row count equals the manifest's — or, for a dump without a manifest, the live
database's at the time of the check (which only matches when nothing has been written since).

The PostgreSQL tools must be at least the server's major version (pg_dump refuses a newer
server). Production uses those on ``PATH`` (the image's PostgreSQL client), development the
same-version ones the pgserver wheel ships beside its embedded server.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import DBAPIError

from motcua.core.db import sync_engine

MANIFEST_FORMAT = 1
PLATFORM_SCHEMA = "platform"
# Tenants past these steps of onboarding must have their schema; one still provisioning or
# failed may have stopped before creating it.
_SCHEMA_REQUIRED = ("active", "suspended", "archived")
# A restore or a dump of a large platform takes minutes; a stuck one should still end.
_TOOL_TIMEOUT = 6 * 3600


class BackupError(Exception):
    """A backup could not be made or checked at all (a tool, the server, the file)."""


# Counting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaCounts:
    schema: str
    status: str | None  # the tenant's status; None for the platform schema
    tables: dict[str, int]


@dataclass(frozen=True)
class PlatformCounts:
    platform: SchemaCounts
    tenants: dict[str, SchemaCounts]  # by slug; a tenant whose schema is missing has no tables

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": {"tables": self.platform.tables},
            "tenants": {
                slug: {"schema": t.schema, "status": t.status, "tables": t.tables}
                for slug, t in sorted(self.tenants.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlatformCounts:
        try:
            platform = SchemaCounts(PLATFORM_SCHEMA, None, dict(data["platform"]["tables"]))
            tenants = {
                slug: SchemaCounts(t["schema"], t.get("status"), dict(t["tables"]))
                for slug, t in data["tenants"].items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the manifest is not a backup manifest (missing {exc})") from None
        return cls(platform, tenants)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_tables(conn: Connection, schema: str) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') ORDER BY c.relname"
            ),
            {"s": schema},
        ).scalars()
    )


def _count_schema(conn: Connection, schema: str) -> dict[str, int]:
    """Exact row counts of a schema's tables, in one round trip (statistics are estimates)."""
    tables = _schema_tables(conn, schema)
    if not tables:
        return {}
    union = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM {_quote(schema)}.{_quote(t)}" for i, t in enumerate(tables)
    )
    return {tables[i]: int(n) for i, n in conn.execute(text(union)).all()}


def count_rows(conn: Connection) -> PlatformCounts:
    """Every table's row count in ``platform`` and in each tenant schema listed in it."""
    present = _schemas(conn)
    tenants: dict[str, SchemaCounts] = {}
    for slug, schema, status in conn.execute(
        text("SELECT slug, schema_name, status FROM platform.tenants ORDER BY slug")
    ).all():
        tables = _count_schema(conn, schema) if schema in present else {}
        tenants[slug] = SchemaCounts(schema, status, tables)
    return PlatformCounts(SchemaCounts(PLATFORM_SCHEMA, None, _count_schema(conn, PLATFORM_SCHEMA)), tenants)


def _schemas(conn: Connection) -> set[str]:
    return set(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())


# PostgreSQL tools ----------------------------------------------------------------------------
def _bundled_bin() -> Path | None:
    """The pgserver wheel's PostgreSQL binaries (found without importing pgserver)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    # "pg_dump (PostgreSQL) 16.2" or "pg_dump (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)"
    match = re.search(r"\)\s*(\d+)", out.stdout)
    return int(match.group(1)) if match else None


def pg_tool(name: str, server_major: int, *, prefer_path: bool) -> str:
    """The ``name`` binary to use against a server of ``server_major``: the same major version
    if there is one, else a newer one (both tools read older servers and archives)."""
    bundled = _bundled_bin()
    candidates = [shutil.which(name), str(bundled / name) if bundled else None]
    if not prefer_path:
        candidates.reverse()
    found = [(c, _tool_major(c)) for c in dict.fromkeys(c for c in candidates if c and Path(c).is_file())]
    for path, major in found:
        if major == server_major:
            return path
    for path, major in found:
        if major is not None and major > server_major:
            return path
    seen = ", ".join(f"{p} ({m or '?'})" for p, m in found) or "none"
    raise BackupError(f"{name} {server_major} or newer is needed for this server (found: {seen})")


@dataclass(frozen=True)
class _Target:
    """A database as the PostgreSQL tools take it: a libpq URL without the password, which goes
    in PGPASSWORD so it never shows in a process list."""

    url: str
    password: str | None

    @classmethod
    def of(cls, database_url: str, database: str | None = None) -> _Target:
        parsed = make_url(database_url).set(drivername="postgresql")
        if database is not None:
            parsed = parsed.set(database=database)
        return cls(parsed.set(password=None).render_as_string(hide_password=False), parsed.password)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def _run_tool(argv: list[str], target: _Target, what: str) -> None:
    try:
        proc = subprocess.run(
            argv, env=target.env(), capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} failed: {exc}") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise BackupError(f"{what} failed: {detail}")


def _server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


# Create --------------------------------------------------------------------------------------
def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".manifest.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_database(database_url: str, dump: Path, *, prefer_path: bool, snapshot: str | None = None) -> None:
    """``pg_dump -Fc`` of the whole database into ``dump`` (at ``snapshot`` when given)."""
    engine = sync_engine(database_url, pool_size=0)
    try:
        with engine.connect() as conn:
            major = _server_major(conn)
    finally:
        engine.dispose()
    _pg_dump(database_url, dump, major, prefer_path=prefer_path, snapshot=snapshot)


def _pg_dump(database_url: str, dump: Path, major: int, *, prefer_path: bool, snapshot: str | None) -> None:
    target = _Target.of(database_url)
    argv = [pg_tool("pg_dump", major, prefer_path=prefer_path), "-Fc", "-f", str(dump), "-d", target.url]
    if snapshot:
        argv[1:1] = ["--snapshot", snapshot]
    _run_tool(argv, target, "pg_dump")


@dataclass(frozen=True)
class BackupMade:
    dump: Path
    manifest: Path
    counts: PlatformCounts


def create_backup(database_url: str, dump: Path, *, prefer_path: bool) -> BackupMade:
    """Dump the whole database and write its manifest; counts and dump see one snapshot."""
    engine = sync_engine(database_url, pool_size=0)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                # The snapshot lives as long as this transaction: pg_dump imports it at its start.
                snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                counts = count_rows(conn)
                major = _server_major(conn)
                _pg_dump(database_url, dump, major, prefer_path=prefer_path, snapshot=snapshot)
                server_version = str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()
    manifest = manifest_path(dump)
    manifest.write_text(
        json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "dump": dump.name,
                "sha256": file_sha256(dump),
                "server_version": server_version,
                **counts.as_json(),
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return BackupMade(dump, manifest, counts)


# Verify --------------------------------------------------------------------------------------
@dataclass
class Verification:
    expected_from: str  # "manifest <path>" or "the live database"
    problems: list[str] = field(default_factory=list)
    tenants: int = 0
    tables: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@contextmanager
def scratch_database(database_url: str) -> Iterator[str]:
    """A new empty database on the same server, dropped afterwards whatever happens."""
    name = f"motcua_verify_{secrets.token_hex(6)}"
    admin = sync_engine(database_url, pool_size=0).execution_options(isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise BackupError(
                f"cannot create a scratch database to restore into (the role needs CREATEDB): {reason}"
            ) from None
        try:
            yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def _compare_schema(
    label: str, expected: Mapping[str, int], found: Mapping[str, int], problems: list[str]
) -> None:
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if got is None:
            problems.append(f"{label}: table {table} is missing from the dump ({want} rows expected)")
        elif want is None:
            problems.append(f"{label}: table {table} is in the dump but not expected ({got} rows)")
        elif want != got:
            problems.append(f"{label}: table {table} has {got} rows in the dump, {want} expected")


def compare(expected: PlatformCounts, restored: PlatformCounts, schemas: set[str]) -> list[str]:
    """What differs between the counts expected and the restored dump's (empty when they agree)."""
    problems: list[str] = []
    _compare_schema("platform", expected.platform.tables, restored.platform.tables, problems)
    for slug in sorted(set(expected.tenants) | set(restored.tenants)):
        want, got = expected.tenants.get(slug), restored.tenants.get(slug)
        if got is None:
            problems.append(f"tenant {slug}: missing from platform.tenants in the dump")
            continue
        label = f"tenant {slug} ({got.schema})"
        if got.schema not in schemas:
            if got.status in _SCHEMA_REQUIRED or (want is not None and want.tables):
                problems.append(f"{label}: schema missing from the dump (tenant is {got.status})")
            continue
        if want is None:
            problems.append(f"{label}: in the dump but not expected")
            continue
        _compare_schema(label, want.tables, got.tables, problems)
    return problems


def verify_backup(
    database_url: str, dump: Path, *, prefer_path: bool, manifest: Path | None = None
) -> Verification:
    """Restore ``dump`` into a scratch database on the server of ``database_url`` and compare
    its row counts with the manifest (``<dump>.manifest.json`` by default) or, without one,
    with the live database."""
    if not dump.is_file():
        raise BackupError(f"{dump}: no such file")
    manifest = manifest or manifest_path(dump)
    problems: list[str] = []
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackupError(f"{manifest}: not readable as JSON ({exc})") from None
        expected = PlatformCounts.from_json(data)
        expected_from = f"manifest {manifest}"
        if data.get("sha256") and data["sha256"] != file_sha256(dump):
            problems.append(
                f"{dump.name}: its SHA-256 differs from the manifest's (not the dump it describes)"
            )
    else:
        live = sync_engine(database_url, pool_size=0)
        try:
            with live.connect() as conn:
                expected = count_rows(conn)
        finally:
            live.dispose()
        expected_from = "the live database"
    with scratch_database(database_url) as scratch_url:
        scratch = sync_engine(scratch_url, pool_size=0)
        try:
            with scratch.connect() as conn:
                major = _server_major(conn)
            target = _Target.of(scratch_url)
            restore = pg_tool("pg_restore", major, prefer_path=prefer_path)
            _run_tool(
                [restore, "--no-owner", "--no-privileges", "--exit-on-error", "-d", target.url, str(dump)],
                target,
                "pg_restore",
            )
            with scratch.connect() as conn:
                schemas = _schemas(conn)
                if PLATFORM_SCHEMA not in schemas:
                    raise BackupError(f"{dump.name}: the dump has no platform schema (not a motcua database)")
                restored = count_rows(conn)
        finally:
            scratch.dispose()
    problems += compare(expected, restored, schemas)
    every = [restored.platform, *restored.tenants.values()]
    return Verification(
        expected_from=expected_from,
        problems=problems,
        tenants=len(restored.tenants),
        tables=sum(len(s.tables) for s in every),
        rows=sum(sum(s.tables.values()) for s in every),
    )
