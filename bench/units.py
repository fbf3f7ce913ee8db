"""`.venv/bin/python bench/units.py`: a unit's queue page and the late-risk forecast at scale.

One tenant, 100 units under its desk, 100,000 dossiers each with one open step spread over the
units (and two finished steps each, the forecast's history), all by bulk SQL. Then wrk on one
unit's queue page (/officer/units/{id}/queue) with a signed-in officer of that unit, at 1 and
16 connections, and the time of ``workflow.risk.late_risks`` over all 100,000 open steps.
Prints one JSON object, with each target of issue 18 met or not (the queue's p99 under 100 ms
at 16 connections, the forecast under 10 s). Part of `make bench` (after bench/run.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from datetime import datetime
from typing import Any

import httpx
import run  # bench/run.py: services, onboarding, server and wrk helpers; it puts src/ on the path
from sqlalchemy import text as sql

from motcua.core.audit import Actor
from motcua.core.broker import setup_broker
from motcua.core.db import Database, sync_engine
from motcua.core.settings import load_settings
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.services import calendar_for
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from motcua.identity.sessions import SessionStore, UserSession
from motcua.tenancy.migrate import migrate_platform
from motcua.tenancy.services import get_tenant
from motcua.workflow.risk import late_risks

SLUG = "benchunits"
OFFICER_PID = "001080000077"
KINDS = ("reception", "department", "specialist", "leader", "return", "delivery")


def seed(engine: Any, schema: str, units: int, dossiers: int) -> int:
    """Units, staff, dossiers and steps; returns the id of the unit whose queue is measured."""
    with engine.begin() as conn:
        conn.execute(sql(f"SET LOCAL search_path TO {schema}, platform"))
        root = conn.execute(sql("SELECT id FROM units WHERE parent_id IS NULL")).scalar_one()
        have = conn.execute(sql("SELECT count(*) FROM units WHERE parent_id = :r"), {"r": root}).scalar_one()
        if have < units:
            conn.execute(
                sql(
                    "INSERT INTO units (parent_id, kind, tier, name, agency_code)"
                    " SELECT :r, 'department', 'province', 'Sở thử tải ' || g,"
                    " '000.' || lpad((g / 100)::text, 2, '0') || '.'"
                    " || lpad((g % 100)::text, 2, '0') || '.B99'"
                    " FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g"
                ),
                {"r": root, "a": have + 1, "b": units},
            )
        unit_ids = (
            conn.execute(sql("SELECT id FROM units WHERE parent_id = :r ORDER BY id"), {"r": root})
            .scalars()
            .all()
        )
        measured = unit_ids[0]
        conn.execute(
            sql(
                "INSERT INTO unit_staff (unit_id, personal_id, full_name, role, granted_by)"
                " VALUES (:u, :p, 'Cán bộ thử tải', 'specialist', 'bench'),"
                " (:u, :p, 'Cán bộ thử tải', 'leader', 'bench')"
                " ON CONFLICT DO NOTHING"
            ),
            {"u": measured, "p": OFFICER_PID},
        )
        existing = conn.execute(sql("SELECT count(*) FROM dossiers")).scalar_one()
        if existing < dossiers:
            citizen = conn.execute(
                sql(
                    "INSERT INTO citizens (issuer, subject, personal_id, full_name)"
                    " VALUES ('bench', 'bench-units', '001190000005', 'Người nộp thử tải')"
                    " ON CONFLICT (issuer, subject) DO UPDATE SET full_name = excluded.full_name RETURNING id"
                )
            ).scalar_one()
            procedure = conn.execute(sql("SELECT id FROM procedures WHERE code = '1.001001'")).scalar_one()
            conn.execute(
                sql(
                    """
                    INSERT INTO dossiers (code, procedure_id, procedure_code, procedure_name, form_version,
                        citizen_id, applicant_name, applicant_personal_id, status, channel, data, fee_vnd,
                        agency_code,
                        received_at, due_at, reception_due_at, idempotency_key, receiving_unit_id,
                        deciding_unit_id)
                    SELECT 'UNITS-' || g, :p, '1.001001', 'Đăng ký khai tử', 1, :c, 'Người nộp ' || g,
                        '001190000005', 'in_progress', 2, '{}'::jsonb, 0, '000.00.00.B00',
                        now() - (g % 30) * interval '1 day',
                        now() + ((g % 41) - 10) * interval '1 day',
                        now() - (g % 30) * interval '1 day' + interval '1 day',
                        'units-' || g, :root,
                        (CAST(:units AS bigint[]))[1 + g % cardinality(CAST(:units AS bigint[]))]
                    FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g
                    """
                ),
                {
                    "p": procedure,
                    "c": citizen,
                    "root": root,
                    "units": list(unit_ids),
                    "a": existing + 1,
                    "b": dossiers,
                },
            )
            # Two finished steps each (reception at the desk, then the department), and the open
            # one at the deciding unit, at a step spread over the kinds.
            conn.execute(
                sql(
                    """
                    INSERT INTO dossier_steps (dossier_id, position, kind, unit_id, assignee, budget_hours,
                        started_at, due_at, finished_at, worked_hours, outcome, actor)
                    SELECT d.id, s.position, s.kind,
                        CASE WHEN s.position = 0 THEN :root ELSE d.deciding_unit_id END,
                        NULL, 8, d.received_at, d.received_at + interval '1 day',
                        d.received_at + interval '1 hour', 2 + (d.id % 9), 'done', 'bench'
                    FROM dossiers d
                    CROSS JOIN (VALUES (0, 'reception'), (1, 'department')) AS s(position, kind)
                    WHERE d.code LIKE 'UNITS-%'
                      AND NOT EXISTS (SELECT 1 FROM dossier_steps s WHERE s.dossier_id = d.id)
                    """
                ),
                {"root": root},
            )
            conn.execute(
                sql(
                    """
                    INSERT INTO dossier_steps (dossier_id, position, kind, unit_id, assignee, budget_hours,
                        started_at, due_at)
                    SELECT d.id, 2 + d.id % 4, (CAST(:kinds AS text[]))[3 + d.id % 4], d.deciding_unit_id,
                        CASE WHEN d.id % 3 = 0 THEN :o END, 40,
                        d.received_at + interval '1 hour',
                        d.received_at + ((d.id % 12) - 2) * interval '1 day'
                    FROM dossiers d
                    WHERE d.code LIKE 'UNITS-%'
                      AND NOT EXISTS (
                        SELECT 1 FROM dossier_steps s WHERE s.dossier_id = d.id AND s.finished_at IS NULL
                      )
                    """
                ),
                {"kinds": list(KINDS), "o": OFFICER_PID},
            )
    run.settle(engine, f"{schema}.dossiers", f"{schema}.dossier_steps")
    return int(measured)


async def session_and_risks(settings: Any, tenant: Any) -> tuple[str, list[float], int]:
    import redis.asyncio as aioredis

    redis = aioredis.Redis.from_url(settings.redis_url)
    store = SessionStore(redis, idle_seconds=3600, absolute_seconds=7200)
    sid = await store.create(
        UserSession(
            site=SLUG,
            issuer="bench",
            subject="unit-officer",
            personal_id=OFFICER_PID,
            name="Cán bộ thử tải",
            roles=["citizen", "officer"],
        )
    )
    await redis.aclose()
    db = Database(settings.database_url, pool_size=1)
    timings: list[float] = []
    count = 0
    try:
        for _ in range(2):
            started = time.perf_counter()
            async with db.tenant_session(tenant, read_only=True) as session:
                count = len(
                    await late_risks(session, now=datetime.now(VIETNAM), calendar=calendar_for(tenant))
                )
            timings.append(time.perf_counter() - started)
    finally:
        await db.dispose()
    return sid, timings, count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    data_dir, env, embedded = run.bench_services("motcua-units-")
    settings = load_settings(env)
    setup_broker(settings)
    engine = sync_engine(settings.database_url or "", pool_size=2)
    server = None
    try:
        migrate_platform(engine, settings.root)
        run.onboard_bench_tenants(engine, settings, [SLUG])
        tenant = get_tenant(engine, SLUG)
        assert tenant is not None
        started = time.perf_counter()
        unit_id = seed(engine, tenant.schema, args.units, args.dossiers)
        seed_seconds = time.perf_counter() - started
        grant_role_sync(
            engine, tenant, RoleGrantCreate.parse(OFFICER_PID, "officer"), actor=Actor.operator("bench")
        )
        sid, risk_timings, risk_count = asyncio.run(session_and_risks(settings, tenant))

        server = run.start_server(
            ["motcua.app:create_app_from_env"],
            {**os.environ, **env},
            args.workers,
            factory=True,
            ready="/readyz",
        )
        hosts = data_dir / "units-hosts.txt"
        hosts.write_text(f"{SLUG}.localhost\n")
        path = f"/officer/units/{unit_id}/queue"
        cookie = f"motcua_session={sid}"
        check = httpx.get(server.url + path, headers={"host": f"{SLUG}.localhost", "cookie": cookie})
        assert check.status_code == 200 and "<tr data-code=" in check.text, check.status_code
        results: dict[str, Any] = {
            "units": args.units,
            "dossiers": args.dossiers,
            "web_workers": args.workers,
            "cpu_count": os.cpu_count(),
            "seed_seconds": round(seed_seconds, 1),
            "late_risks": {
                "open_steps": risk_count,
                "first_seconds": round(risk_timings[0], 3),
                "repeat_seconds": round(risk_timings[1], 3),
            },
            "load": {},
        }
        for connections in (1, 16):
            results["load"][f"unit_queue@{connections}"] = run.wrk(
                server.url, hosts, path, connections, args.seconds, cookie=cookie
            )
        at_16 = results["load"]["unit_queue@16"]
        results["targets"] = {
            "unit_queue_p99_under_100_ms_at_16": at_16["p99_ms"] < 100 and not at_16["errors"],
            "late_risks_under_10_s": max(risk_timings) < 10,
        }
        print(json.dumps(results, indent=2, ensure_ascii=False))
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
