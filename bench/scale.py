"""The scale mode of `make bench` (``N=1000 make bench``): what 1,000 tenant schemas cost.

Called by bench/run.py once its tenants are onboarded and its server runs (from
``SCALE_TENANTS`` tenants up), or on its own (``python bench/scale.py --tenants 1000``) for
just these figures. Reports onboarding time per tenant (p50/p99), ``motcua migrate`` with every
tenant at head, one additive migration applied to all (a throw-away revision in a scratch copy
of the migrations, never added to migrations/), the tenant home and tracking pages spread over
every host versus 100, the web workers' memory and the size of PostgreSQL's catalogue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from motcua.core.settings import Settings  # noqa: E402
from motcua.tenancy.migrate import TENANT, head_revision  # noqa: E402

SCALE_TENANTS = 1000
BASELINE_HOSTS = 100
WARM_VISITS = 4  # per host, before a measured run
TRACKING_CODE = "SCALE-1"
BENCH_REVISION = "tbench_scale"
Wrk = Callable[..., dict[str, Any]]

# The throw-away revision: one nullable column, the commonest additive change.
REVISION_FILE = '''"""bench only: an additive change applied to every tenant schema

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dossiers", sa.Column("bench_note", sa.Text))


def downgrade() -> None:
    op.drop_column("dossiers", "bench_note")
'''


def percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "mean": round(statistics.mean(ordered), 4),
        "p50": round(ordered[len(ordered) // 2], 4),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 4),
        "max": round(ordered[-1], 4),
    }


def seed_tracking(engine: Engine, schemas: list[str]) -> str:
    """One dossier with the same code in every tenant (bulk SQL), so the tracking page finds
    it on whichever host wrk picks and reads that tenant's tables."""
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(
                text(
                    f"""
                    WITH c AS (
                        INSERT INTO {schema}.citizens (issuer, subject, personal_id, full_name)
                        VALUES ('bench', 'scale', '001190000005', 'Người nộp thử tải')
                        ON CONFLICT (issuer, subject) DO UPDATE SET full_name = excluded.full_name
                        RETURNING id)
                    INSERT INTO {schema}.dossiers (code, procedure_id, procedure_code, procedure_name,
                        form_version, citizen_id, applicant_name, applicant_personal_id, status, channel,
                        data, fee_vnd, agency_code, received_at, due_at, reception_due_at, idempotency_key)
                    SELECT :code, p.id, p.code, p.name, 1, c.id, 'Người nộp thử tải', '001190000005',
                        'in_progress', 2, '{{}}'::jsonb, 0, '000.00.00.B00', now(), now() + interval '3 days',
                        now() + interval '1 day', 'scale-1'
                    FROM c, (SELECT id, code, name FROM {schema}.procedures ORDER BY id LIMIT 1) p
                    ON CONFLICT DO NOTHING
                    """
                ),
                {"code": TRACKING_CODE},
            )
    return TRACKING_CODE


def worker_rss_mb(server_pid: int) -> list[float]:
    """Resident memory of each web worker (the server's child processes), in MiB."""
    children = psutil.Process(server_pid).children(recursive=True)
    return sorted(round(p.memory_info().rss / 2**20, 1) for p in children if p.is_running())


def catalogue_size(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT (SELECT count(*) FROM pg_class),
                       (SELECT count(*) FROM pg_attribute),
                       (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'),
                       (SELECT sum(pg_total_relation_size(oid)) FROM pg_class
                         WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind IN ('r', 't', 'm')),
                       pg_database_size(current_database())
                """
            )
        ).one()
    return {
        "pg_class_rows": row[0],
        "pg_attribute_rows": row[1],
        "tenant_schemas": row[2],
        "pg_catalog_mb": round(int(row[3]) / 2**20, 1),
        "database_mb": round(int(row[4]) / 2**20, 1),
    }


def throughput(
    wrk: Wrk, url: str, slugs: list[str], data_dir: Path, tracking_code: str, seconds: int
) -> dict[str, Any]:
    """Requests per second over ``BASELINE_HOSTS`` hosts and over every host, at 64 connections:
    what spreading the load over many schemas costs (plan caches, catalogue caches, pools)."""
    out: dict[str, Any] = {}
    for label, path in (("tenant_home", "/"), ("tracking_page", f"/tracking?code={tracking_code}")):
        runs = {}
        for count in (BASELINE_HOSTS, len(slugs)):
            hosts = data_dir / f"scale-hosts-{count}.txt"
            hosts.write_text("\n".join(f"{s}.localhost" for s in slugs[:count]) + "\n")
            # wrk's own warm-up (3 s) reaches a few hundred hosts; every one is visited first,
            # so both runs measure the steady state (caches refilled only as their TTL ends).
            warm(url, slugs[:count], path)
            runs[count] = wrk(url, hosts, path, 64, seconds)
        few, many = runs[BASELINE_HOSTS]["requests_per_s"], runs[len(slugs)]["requests_per_s"]
        out[label] = {
            f"{BASELINE_HOSTS}_hosts": runs[BASELINE_HOSTS],
            f"{len(slugs)}_hosts": runs[len(slugs)],
            "loss": round(1 - many / few, 3) if few else None,
        }
    return out


def warm(url: str, slugs: list[str], path: str) -> None:
    """Each host a few times, each time on a new connection so that every web worker (which
    accepts connections in turn) fills its own caches; 16 at a time."""

    def visit(slug: str) -> None:
        headers = {"host": f"{slug}.localhost", "connection": "close"}
        for _ in range(WARM_VISITS):
            httpx.get(url + path, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(visit, slugs))


def additive_migration(engine: Engine, settings: Settings, env: dict[str, str]) -> dict[str, Any]:
    """`motcua migrate` with one new revision for every tenant, run from a scratch copy of the
    migrations (MOTCUA_ROOT), its progress lines passed through. The schemas are then put back
    at the real head, so the database stays usable by the real code."""
    head = head_revision(settings.root, TENANT)
    scratch = Path(tempfile.mkdtemp(prefix="motcua-scale-migrations-"))
    try:
        shutil.copy(settings.root / "alembic.ini", scratch / "alembic.ini")
        shutil.copytree(
            settings.root / "migrations", scratch / "migrations", ignore=shutil.ignore_patterns("__pycache__")
        )
        (scratch / "migrations" / "versions" / "tenant" / f"{BENCH_REVISION}.py").write_text(
            REVISION_FILE.format(revision=BENCH_REVISION, down=head)
        )
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "motcua.cli", "migrate"],
            env={**os.environ, **env, "MOTCUA_ROOT": str(scratch)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip())
            print(f"  migrate: {line.rstrip()}", flush=True)
        code = process.wait()
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with engine.connect() as conn:
        schemas = list(
            conn.execute(
                text("SELECT schema_name FROM platform.tenants WHERE status <> 'archived'")
            ).scalars()
        )
        applied = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'dossiers' AND column_name = 'bench_note'"
            )
        ).scalar_one()
    restore(engine, schemas, head)
    return {
        "exit_code": code,
        "seconds": round(seconds, 2),
        "schemas_with_new_column": applied,
        "summary": next((line for line in reversed(lines) if line.startswith("platform at")), ""),
    }


def restore(engine: Engine, schemas: list[str], head: str) -> None:
    for start in range(0, len(schemas), 100):
        with engine.begin() as conn:
            for schema in schemas[start : start + 100]:
                conn.execute(text(f"ALTER TABLE {schema}.dossiers DROP COLUMN IF EXISTS bench_note"))
                conn.execute(
                    text(f"UPDATE {schema}.alembic_version SET version_num = :h WHERE version_num = :b"),
                    {"h": head, "b": BENCH_REVISION},
                )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE platform.tenants SET schema_version = :h WHERE schema_version = :b"),
            {"h": head, "b": BENCH_REVISION},
        )


def measure(
    *,
    engine: Engine,
    settings: Settings,
    env: dict[str, str],
    url: str,
    server_pid: int,
    slugs: list[str],
    onboarding: list[float],
    migrate_seconds: float,
    seconds: int,
    data_dir: Path,
    wrk: Wrk,
) -> dict[str, Any]:
    """Every scale figure, with the server of bench/run.py running at ``url``."""
    schemas = ["t_" + s.replace("-", "_") for s in slugs]
    results: dict[str, Any] = {
        "tenants": len(slugs),
        "onboarding_seconds": percentiles(onboarding),
        "migrate_at_head_seconds": round(migrate_seconds, 3),
    }
    code = seed_tracking(engine, schemas)
    results["throughput_64_connections"] = throughput(wrk, url, slugs, data_dir, code, seconds)
    results["web_worker_rss_mb"] = worker_rss_mb(server_pid)
    results["catalogue"] = catalogue_size(engine)
    # Last: it changes every schema (and puts them back).
    results["additive_migration"] = additive_migration(engine, settings, env)
    return results


def print_report(scale: dict[str, Any]) -> None:
    ob = scale["onboarding_seconds"]
    print(f"\nscale: {scale['tenants']} tenants")
    if ob["count"]:
        print(f"onboarding per tenant: p50 {ob['p50']}s, p99 {ob['p99']}s, max {ob['max']}s (target < 1 s)")
    print(f"`motcua migrate` with every tenant at head: {scale['migrate_at_head_seconds']}s (target < 10 s)")
    add = scale["additive_migration"]
    print(
        f"one additive migration over every tenant: {add['seconds']}s, {add['schemas_with_new_column']} "
        f"schemas changed, exit {add['exit_code']} (target < 120 s)"
    )
    for label, runs in scale["throughput_64_connections"].items():
        few, many = (runs[k] for k in runs if k.endswith("_hosts"))
        print(
            f"{label} at 64 connections: {few['requests_per_s']} req/s over {BASELINE_HOSTS} hosts, "
            f"{many['requests_per_s']} over {scale['tenants']} (loss {runs['loss']:.1%}, target ≤ 15%); "
            f"p99 {few['p99_ms']:.1f} / {many['p99_ms']:.1f} ms"
        )
    print(f"web worker RSS after the run: {scale['web_worker_rss_mb']} MiB")
    cat = scale["catalogue"]
    print(
        f"PostgreSQL catalogue: {cat['pg_class_rows']} pg_class rows, "
        f"{cat['pg_attribute_rows']} pg_attribute rows, pg_catalog {cat['pg_catalog_mb']} MiB, "
        f"database {cat['database_mb']} MiB"
    )


def main() -> int:
    """Only the scale figures: embedded services, N tenants, the server, then measure()."""
    import run  # bench/run.py: the same onboarding data, server and wrk

    from motcua.core.broker import setup_broker
    from motcua.core.db import sync_engine
    from motcua.core.settings import load_settings
    from motcua.tenancy.migrate import migrate_platform

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=SCALE_TENANTS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    data_dir, env, embedded = run.bench_services("motcua-scale-")
    settings = load_settings(env)
    setup_broker(settings)
    engine = sync_engine(settings.database_url or "", pool_size=2)
    server = None
    try:
        migrate_platform(engine, settings.root)
        slugs = [f"bench{i:04d}" for i in range(args.tenants)]
        onboarding = run.onboard_bench_tenants(engine, settings, slugs, report_every=100)
        child_env = {**os.environ, **env}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "motcua.cli", "migrate"], env=child_env, check=True)
        migrate_seconds = time.perf_counter() - started
        server = run.start_server(
            ["motcua.app:create_app_from_env"], child_env, args.workers, factory=True, ready="/readyz"
        )
        scale = measure(
            engine=engine,
            settings=settings,
            env=env,
            url=server.url,
            server_pid=server.process.pid,
            slugs=slugs,
            onboarding=onboarding,
            migrate_seconds=migrate_seconds,
            seconds=args.seconds,
            data_dir=data_dir,
            wrk=run.wrk,
        )
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    scale["cpu_count"] = os.cpu_count()
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "scale.json").write_text(json.dumps(scale, indent=2, ensure_ascii=False) + "\n")
    print_report(scale)
    print("written to bench/results/scale.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
