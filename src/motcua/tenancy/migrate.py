"""Schema migrations for ``platform`` and every tenant schema (``motcua migrate``).

Each schema is upgraded in one transaction holding an advisory lock on that schema, so two
``migrate`` runs never race and a crash leaves the schema at its previous revision. Tenants
already at head are found with one query and skipped without loading Alembic per schema.
The others are migrated by a pool of worker processes, each with one database connection and
one Alembic script directory (revision files read once per process, not once per schema),
reporting progress as schemas finish.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from motcua.core.db import sync_engine
from motcua.core.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "platform"
TENANT = "tenant"


@dataclass
class MigrateReport:
    platform_revision: str | None = None
    at_head: list[str] = field(default_factory=list)
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


@cache
def _alembic_config(root: Path) -> Config:
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    return cfg


@cache
def _script_directory(root: Path) -> ScriptDirectory:
    # Its revision map (every revision file imported) is built once and kept by the instance.
    return ScriptDirectory.from_config(_alembic_config(root))


@cache
def head_revision(root: Path, branch: str) -> str:
    script = _script_directory(root)
    rev = script.as_revision_number(f"{branch}@head")
    assert isinstance(rev, str)
    return rev


def _upgrade(connection: Connection, root: Path, schema: str, branch: str) -> None:
    # Serialise migrations of one schema across processes; released at commit.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
    cfg = _alembic_config(root)
    script = _script_directory(root)
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    target = f"{branch}@head"
    try:
        # What `alembic.command.upgrade` does, minus building a new ScriptDirectory (and
        # importing every revision file again) for each schema.
        with EnvironmentContext(
            cfg, script, fn=lambda rev, _context: script._upgrade_revs(target, rev), destination_rev=target
        ):
            script.run_env()
    finally:
        cfg.attributes.clear()


def migrate_platform(engine: Engine, root: Path) -> str:
    with engine.connect() as conn, conn.begin():
        _upgrade(conn, root, PLATFORM, PLATFORM)
    return head_revision(root, PLATFORM)


def migrate_tenant_schema(engine: Engine, root: Path, schema: str) -> None:
    with engine.connect() as conn, conn.begin():
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        _upgrade(conn, root, schema, TENANT)
        # Kept on the tenant row too, so the console lists versions without opening each schema.
        conn.execute(
            text(
                "UPDATE platform.tenants SET schema_version = "
                f'(SELECT version_num FROM "{schema}".alembic_version) WHERE schema_name = :s'
            ),
            {"s": schema},
        )


def tenant_versions(conn: Connection) -> dict[str, str | None]:
    """Current tenant revision of every tenant schema that exists (one round trip)."""
    rows = conn.execute(
        text(
            """
            SELECT t.schema_name, to_regclass(quote_ident(t.schema_name) || '.alembic_version') IS NOT NULL
            FROM platform.tenants t
            JOIN pg_namespace n ON n.nspname = t.schema_name
            WHERE t.status <> 'archived'
            ORDER BY t.schema_name
            """
        )
    ).all()
    with_table = [r[0] for r in rows if r[1]]
    versions: dict[str, str | None] = {r[0]: None for r in rows}
    if with_table:
        union = " UNION ALL ".join(
            f"SELECT '{s}' AS s, version_num FROM {s}.alembic_version" for s in with_table
        )
        for schema, version in conn.execute(text(union)).all():
            versions[schema] = version
    return versions


# One connection per worker process, opened by the pool's initializer and reused for every
# schema that worker migrates (the process is the pool's, not shared with request code).
_worker_engine: Engine | None = None


def _start_worker(database_url: str, root: str) -> None:
    global _worker_engine
    _worker_engine = sync_engine(database_url, pool_size=1)
    head_revision(Path(root), TENANT)  # read the revision files now, once


def _migrate_in_worker(root: str, schema: str) -> None:
    assert _worker_engine is not None
    migrate_tenant_schema(_worker_engine, Path(root), schema)


Progress = Callable[[int, int, str], None]


def migrate_all(
    settings: Settings, *, only: list[str] | None = None, progress: Progress | None = None
) -> MigrateReport:
    """``progress(done, total, schema)`` is called as each pending schema finishes."""
    assert settings.database_url is not None
    started = time.perf_counter()
    report = MigrateReport()
    engine = sync_engine(settings.database_url, pool_size=1)
    try:
        report.platform_revision = migrate_platform(engine, settings.root)
        head = head_revision(settings.root, TENANT)
        with engine.connect() as conn:
            versions = tenant_versions(conn)
        pending = []
        for schema, version in versions.items():
            if only is not None and schema not in only:
                continue
            if version == head:
                report.at_head.append(schema)
            else:
                pending.append(schema)
        if len(pending) == 1:
            schema = pending[0]
            try:
                migrate_tenant_schema(engine, settings.root, schema)
                report.migrated.append(schema)
            except Exception as exc:
                log.warning("migration of %s failed: %s", schema, exc)
                report.failed[schema] = _one_line(exc)
            if progress is not None:
                progress(1, 1, schema)
        elif pending:
            # Processes, not threads: Alembic's `op` and `context` are module-level proxies.
            # "spawn" so no child inherits (and later closes) the parent's pooled sockets.
            workers = min(settings.migrate_parallelism, len(pending))
            ctx = multiprocessing.get_context("spawn")
            root = str(settings.root)
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=_start_worker,
                initargs=(settings.database_url, root),
            ) as pool:
                futures = {pool.submit(_migrate_in_worker, root, s): s for s in pending}
                for done, future in enumerate(as_completed(futures), start=1):
                    schema = futures[future]
                    try:
                        future.result()
                        report.migrated.append(schema)
                    except Exception as exc:
                        log.warning("migration of %s failed: %s", schema, exc)
                        report.failed[schema] = _one_line(exc)
                    if progress is not None:
                        progress(done, len(pending), schema)
    finally:
        engine.dispose()
    report.migrated.sort()
    report.seconds = time.perf_counter() - started
    return report


def _one_line(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()
    return (text_[0] if text_ else type(exc).__name__)[:500]
