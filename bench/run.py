"""`make bench`: N tenants, then the tenant home page and the framework floor under wrk load.

Everything runs on this machine: embedded PostgreSQL and Redis in a throw-away folder (or the
servers named by MOTCUA_DATABASE_URL/MOTCUA_REDIS_URL), the app under uvicorn with 2 workers,
and wrk. Prints a table and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import scale  # noqa: E402  (bench/scale.py: the N=1000 figures)

from motcua.admin.services import build_spec, onboard_tenant  # noqa: E402
from motcua.core.audit import Actor  # noqa: E402
from motcua.core.broker import setup_broker  # noqa: E402
from motcua.core.db import sync_engine  # noqa: E402
from motcua.core.embedded import EmbeddedServices  # noqa: E402
from motcua.core.settings import load_settings  # noqa: E402
from motcua.tenancy.migrate import migrate_platform  # noqa: E402
from motcua.tenancy.services import get_tenant  # noqa: E402

PROCEDURES = [
    {
        "code": f"1.00{1000 + i}",
        "name": name,
        "field": field,
        "level": "full",
        "processing_days": days,
        "fee_vnd": fee,
    }
    for i, (name, field, days, fee) in enumerate(
        [
            ("Đăng ký khai sinh", "Hộ tịch", 1, 0),
            ("Đăng ký khai tử", "Hộ tịch", 1, 0),
            ("Đăng ký kết hôn", "Hộ tịch", 0, 0),
            ("Cấp giấy xác nhận tình trạng hôn nhân", "Hộ tịch", 3, 15000),
            ("Cấp Phiếu lý lịch tư pháp", "Lý lịch tư pháp", 10, 200000),
            ("Đăng ký thành lập hộ kinh doanh", "Hộ kinh doanh", 3, 100000),
            ("Cấp giấy phép xây dựng nhà ở riêng lẻ", "Hoạt động xây dựng", 15, 75000),
            ("Chứng thực bản sao từ bản chính", "Chứng thực", 0, 2000),
        ]
    )
]


FIELDS = [
    "Hộ tịch",
    "Đất đai",
    "Xây dựng",
    "Lý lịch tư pháp",
    "Chứng thực",
    "Hộ kinh doanh",
    "Giáo dục",
    "Y tế",
]


def make_dossier(engine: Any, settings: Any, slug: str) -> str:
    """One submitted dossier through the real services, for the tracking benchmark."""
    import asyncio

    from motcua.catalog.services import get_procedure
    from motcua.core.db import Database
    from motcua.dossiers.services import Submission, open_draft, submit_dossier
    from motcua.identity.models import Citizen
    from motcua.identity.oidc import VerifiedIdentity
    from motcua.identity.services import record_tenant_login

    tenant = get_tenant(engine, slug)
    assert tenant is not None

    async def go() -> str:
        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.tenant_session(tenant) as session:
                login = await record_tenant_login(
                    session,
                    VerifiedIdentity(
                        "https://eid.bench", "bench", "001190000001", {"name": "Bench"}, "", None
                    ),
                )
                procedure = await get_procedure(session, "1.001001")
                citizen = await session.get(Citizen, login.citizen_id)
                assert procedure is not None and citizen is not None
                draft = await open_draft(session, citizen.id, procedure, {})
                outcome = await submit_dossier(
                    session,
                    tenant,
                    citizen=citizen,
                    procedure=procedure,
                    token=draft.token,
                    actor=Actor.citizen(citizen.id),
                )
                assert isinstance(outcome, Submission)
                return outcome.dossier.code
        finally:
            await db.dispose()

    return asyncio.run(go())


def make_receipt(engine: Any, settings: Any, slug: str, code: str) -> tuple[str, int]:
    """The dossier's fee recorded at the desk with its receipt, and a session of its citizen:
    for the dossier page (fees, payments, receipts) and the receipt page and PDF."""
    import asyncio

    from sqlalchemy import select, update

    from motcua.core.db import Database
    from motcua.dossiers.models import Dossier
    from motcua.dossiers.storage import LocalStorage
    from motcua.identity.sessions import SessionStore, UserSession
    from motcua.payments.models import Receipt
    from motcua.payments.receipts import file_receipt_pdf
    from motcua.payments.services import record_counter_payment

    tenant = get_tenant(engine, slug)
    assert tenant is not None

    async def go() -> tuple[str, int]:
        import redis.asyncio as aioredis

        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.tenant_session(tenant) as session:
                dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
                assert dossier is not None
                receipt = await session.scalar(select(Receipt).where(Receipt.dossier_id == dossier.id))
                if receipt is None:
                    if dossier.fee_vnd <= 0:
                        await session.execute(
                            update(Dossier).where(Dossier.id == dossier.id).values(fee_vnd=25000)
                        )
                        await session.refresh(dossier)
                    receipt = await record_counter_payment(
                        session, tenant, dossier, actor=Actor.officer("079085009999"), method="cash"
                    )
                # Filed as the job does right after the payment: downloads read the stored PDF.
                await file_receipt_pdf(session, LocalStorage.for_settings(settings), tenant, receipt)
                receipt_id, citizen_id = receipt.id, dossier.citizen_id
        finally:
            await db.dispose()
        redis = aioredis.Redis.from_url(settings.redis_url)
        store = SessionStore(redis, idle_seconds=3600, absolute_seconds=7200)
        sid = await store.create(
            UserSession(
                site=slug,
                issuer="https://eid.bench",
                subject="bench",
                personal_id="001190000001",
                name="Bench",
                roles=["citizen"],
                citizen_id=citizen_id,
            )
        )
        await redis.aclose()
        return sid, receipt_id

    return asyncio.run(go())


OFFICER_PID = "079085009999"


def make_back_office(engine: Any, settings: Any, slug: str, count: int) -> tuple[str, float, float]:
    """``count`` dossiers in one tenant (bulk SQL, statuses and due dates spread out), an officer
    session for the queue page, and the deadline scan timed over them (first and repeat)."""
    import asyncio

    from sqlalchemy import text as sql

    from motcua.backoffice.services import scan_deadlines
    from motcua.core.db import Database
    from motcua.dossiers.services import calendar_for
    from motcua.identity.schemas import RoleGrantCreate
    from motcua.identity.services import grant_role_sync
    from motcua.identity.sessions import SessionStore, UserSession

    tenant = get_tenant(engine, slug)
    assert tenant is not None
    schema = tenant.schema
    with engine.begin() as conn:
        existing = conn.execute(sql(f"SELECT count(*) FROM {schema}.dossiers")).scalar()
        if existing < count:
            citizen = conn.execute(
                sql(
                    f"INSERT INTO {schema}.citizens (issuer, subject, personal_id, full_name) "
                    "VALUES ('bench', 'bench-load', '001190000003', 'Người nộp thử tải') "
                    "ON CONFLICT (issuer, subject) DO UPDATE SET full_name = excluded.full_name RETURNING id"
                )
            ).scalar()
            procedure = conn.execute(
                sql(f"SELECT id FROM {schema}.procedures WHERE code = '1.001001'")
            ).scalar()
            conn.execute(
                sql(
                    f"""
                    INSERT INTO {schema}.dossiers (code, procedure_id, procedure_code, procedure_name,
                        form_version, citizen_id, applicant_name, applicant_personal_id, status, channel,
                        data, fee_vnd, agency_code, received_at, due_at, reception_due_at, idempotency_key,
                        assigned_to)
                    SELECT 'BENCH-' || g, :p, '1.001001', 'Đăng ký khai tử', 1, :c,
                        'Người nộp ' || g,
                        '001190000003',
                        (ARRAY['submitted','accepted','in_progress','supplement_requested','payment_requested',
                               'processed','delivered','withdrawn'])[1 + g % 8],
                        2, '{{}}'::jsonb, 0, '000.00.00.B00',
                        now() - (g % 60) * interval '1 day',
                        now() + ((g % 61) - 30) * interval '1 day',
                        now() - (g % 60) * interval '1 day' + interval '1 day',
                        'bench-' || g,
                        CASE WHEN g % 3 = 0 THEN :o END
                    FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) g
                    """
                ),
                {"p": procedure, "c": citizen, "o": OFFICER_PID, "start": existing + 1, "stop": count},
            )
    settle(engine, f"{schema}.dossiers")
    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse(OFFICER_PID, "officer"), actor=Actor.operator("bench")
    )

    async def go() -> tuple[str, float, float]:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(settings.redis_url)
        store = SessionStore(redis, idle_seconds=3600, absolute_seconds=7200)
        sid = await store.create(
            UserSession(
                site=slug,
                issuer="bench",
                subject="officer",
                personal_id=OFFICER_PID,
                name="Cán bộ",
                roles=["citizen", "officer"],
            )
        )
        await redis.aclose()
        db = Database(settings.database_url, pool_size=1)
        timings = []
        try:
            for _ in range(2):
                started = time.perf_counter()
                async with db.tenant_session(tenant) as session:
                    await scan_deadlines(session, calendar_for(tenant))
                timings.append(time.perf_counter() - started)
        finally:
            await db.dispose()
        return sid, timings[0], timings[1]

    return asyncio.run(go())


CONSOLE_ADMIN_PID = "001080000009"


def seed_dossiers(conn: Any, schema: str, start: int, stop: int, *, days: int, prefix: str) -> None:
    """Dossiers ``start``..``stop`` received over the last ``days`` days (bulk SQL): channels,
    fees, statuses spread out, with the history rows of their outcomes (processed, on time or
    late; refused; withdrawn) and a rating for some, so every indicator has something to count."""
    from sqlalchemy import text as sql

    citizen = conn.execute(
        sql(
            f"INSERT INTO {schema}.citizens (issuer, subject, personal_id, full_name) "
            "VALUES ('bench', 'bench-stats', '001190000004', 'Người nộp thử tải') "
            "ON CONFLICT (issuer, subject) DO UPDATE SET full_name = excluded.full_name RETURNING id"
        )
    ).scalar()
    conn.execute(
        sql(
            f"""
            INSERT INTO {schema}.dossiers (code, procedure_id, procedure_code, procedure_name, form_version,
                citizen_id, applicant_name, applicant_personal_id, status, channel, submitted_by_citizen,
                data, fee_vnd, agency_code, received_at, due_at, reception_due_at, idempotency_key,
                updated_at)
            SELECT :prefix || g, p.id, p.code, p.name, 1, :c, 'Người nộp ' || g, '001190000004',
                (ARRAY['submitted','accepted','in_progress','processed','processed','processed','delivered',
                       'refused','withdrawn','processed'])[1 + g % 10],
                (ARRAY[2, 2, 2, 1, 4, 3, 2])[1 + g % 7], g % 5 <> 0,
                '{{}}'::jsonb, (g % 4) * 10000, '000.00.00.B00',
                now() - (g % :days) * interval '1 day' - (g % 600) * interval '1 minute',
                now() - (g % :days) * interval '1 day' + (g % 9) * interval '1 day',
                now() - (g % :days) * interval '1 day' + interval '1 day', :prefix || g,
                now() - (g % :days) * interval '1 day'
            FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) g
            JOIN (SELECT id, code, name, row_number() OVER (ORDER BY id) - 1 AS n FROM {schema}.procedures) p
              ON p.n = g % 8
            """
        ),
        {"prefix": prefix, "c": citizen, "start": start, "stop": stop, "days": days},
    )
    conn.execute(
        sql(
            f"""
            INSERT INTO {schema}.dossier_history (dossier_id, at, actor, from_status, to_status)
            SELECT id, received_at + (id % 12) * interval '1 day', 'bench', 'in_progress',
                   CASE WHEN status = 'delivered' THEN 'processed' ELSE status END
            FROM {schema}.dossiers
            WHERE code LIKE :prefix || '%' AND status IN ('processed', 'delivered', 'refused', 'withdrawn')
              AND id > (SELECT coalesce(max(dossier_id), 0) FROM {schema}.dossier_history)
            """
        ),
        {"prefix": prefix},
    )
    conn.execute(
        sql(
            f"""
            INSERT INTO {schema}.ratings (dossier_id, citizen_id, score, created_at)
            SELECT id, citizen_id, 1 + id % 5, received_at + interval '13 days' FROM {schema}.dossiers
            WHERE code LIKE :prefix || '%' AND status = 'delivered' ON CONFLICT DO NOTHING
            """
        ),
        {"prefix": prefix},
    )


def make_statistics(engine: Any, settings: Any, slug: str, count: int) -> float:
    """A tenant with ``count`` dossiers over a year, its rollups computed from nothing (the
    seconds it took are returned): the public statistics page and API read them."""
    import asyncio

    from sqlalchemy import text as sql

    from motcua.core.db import Database
    from motcua.reporting.jobs import refresh

    if (t := get_tenant(engine, slug)) is None or t.status != "active":
        onboard_tenant(
            engine,
            settings,
            build_spec(slug=slug, name="Cổng thử tải thống kê", procedures=PROCEDURES),
            actor=Actor.operator("bench"),
        )
    tenant = get_tenant(engine, slug)
    assert tenant is not None
    with engine.begin() as conn:
        existing = conn.execute(sql(f"SELECT count(*) FROM {tenant.schema}.dossiers")).scalar()
        for start in range(existing + 1, count + 1, 250_000):
            seed_dossiers(conn, tenant.schema, start, min(count, start + 249_999), days=365, prefix="STAT-")
    settle(engine, f"{tenant.schema}.dossiers", f"{tenant.schema}.dossier_history")

    async def go() -> float:
        db = Database(settings.database_url, pool_size=2)
        try:
            started = time.perf_counter()
            await refresh(slug, db=db)
            return time.perf_counter() - started
        finally:
            await db.dispose()

    return asyncio.run(go())


def spread_ranking(engine: Any, source_slug: str) -> str:
    """Every console tenant gets the ranking row of ``source_slug`` (computed by its rollup job)
    for the previous month, with its points spread out: the console ranks them all. Returns the
    period's key."""
    from sqlalchemy import text as sql

    from motcua.reporting.periods import VIETNAM, Period

    key = Period.current_month(datetime.now(VIETNAM)).previous().key
    with engine.begin() as conn:
        conn.execute(
            sql(
                """
                INSERT INTO platform.tenant_indicators (period, tenant_id, index_total, index_version,
                    group_points, received, full_online_rate, online_dossier_rate, on_time_rate,
                    online_payment_rate, digitisation_rate, satisfied_rate, provisional, computed_at)
                SELECT i.period, t.id, round((i.index_total * (0.5 + (t.id % 50) / 100.0))::numeric, 2),
                       i.index_version, i.group_points, i.received + t.id % 7, i.full_online_rate,
                       i.online_dossier_rate, i.on_time_rate, i.online_payment_rate, i.digitisation_rate,
                       i.satisfied_rate, i.provisional, now()
                  FROM platform.tenant_indicators i
                  JOIN platform.tenants s ON s.id = i.tenant_id AND s.slug = :source
                  CROSS JOIN platform.tenants t
                 WHERE i.period = :key AND t.slug LIKE 'console%'
                ON CONFLICT DO NOTHING
                """
            ),
            {"source": source_slug, "key": key},
        )
    return key


def rollup_catch_up(engine: Any, settings: Any, slugs: list[str], per_tenant: int) -> dict[str, Any]:
    """A day of changes on every tenant (``per_tenant`` new dossiers each, with their outcomes),
    then every tenant's rollup job run as the worker would (a few at once): the seconds until
    every tenant is up to date."""
    import asyncio

    from motcua.core.db import Database
    from motcua.reporting.jobs import refresh

    tenants = [t for s in slugs if (t := get_tenant(engine, s)) is not None]
    for tenant in tenants:  # a transaction each: one over a thousand schemas runs out of locks
        with engine.begin() as conn:
            seed_dossiers(conn, tenant.schema, 1, per_tenant, days=1, prefix=f"DAY{time.time_ns()}-")

    async def go() -> float:
        db = Database(settings.database_url, pool_size=4)
        gate = asyncio.Semaphore(4)  # a worker's threads

        async def one(slug: str) -> None:
            async with gate:
                await refresh(slug, db=db)

        try:
            started = time.perf_counter()
            await asyncio.gather(*(one(t.slug) for t in tenants))
            return time.perf_counter() - started
        finally:
            await db.dispose()

    seconds = asyncio.run(go())
    return {"tenants": len(tenants), "changes": len(tenants) * per_tenant, "seconds": round(seconds, 2)}


def make_console(engine: Any, settings: Any, count: int) -> str:
    """``count`` tenant rows as the console home lists them (statuses, kinds, domains and live
    figures spread out) and a platform administrator's console session. The console home reads
    platform tables only, so the rows need no schema of their own."""
    import asyncio

    from sqlalchemy import text as sql

    from motcua.identity.services import add_platform_admin
    from motcua.identity.sessions import SessionStore, UserSession

    with engine.begin() as conn:
        conn.execute(
            sql(
                """
                INSERT INTO platform.tenants (slug, name, kind, status, schema_name, theme, branding,
                    settings, schema_version, status_reason)
                SELECT 'console' || lpad(g::text, 4, '0'), 'Cổng dịch vụ công thử số ' || g,
                    (ARRAY['province', 'ministry'])[1 + g % 2],
                    (ARRAY['active', 'active', 'active', 'suspended', 'archived', 'failed'])[1 + g % 6],
                    't_console' || lpad(g::text, 4, '0'), 'default', '{}'::jsonb, '{}'::jsonb, 't0011',
                    CASE WHEN g % 6 = 3 THEN 'Bảo trì' END
                FROM generate_series(1, :n) g
                ON CONFLICT (slug) DO NOTHING
                """
            ),
            {"n": count},
        )
        conn.execute(
            sql(
                """
                INSERT INTO platform.domains (host, tenant_id)
                SELECT 'dichvucong.' || slug || '.gov.vn', id FROM platform.tenants
                 WHERE slug LIKE 'console%' ON CONFLICT DO NOTHING
                """
            )
        )
        conn.execute(
            sql(
                """
                INSERT INTO platform.tenant_figures (tenant_id, dossiers_month, overdue_now,
                    failed_jobs_24h, last_activity_at)
                SELECT id, id % 5000, id % 17, id % 3, now() - (id % 100) * interval '1 hour'
                  FROM platform.tenants WHERE slug LIKE 'console%'
                ON CONFLICT (tenant_id) DO NOTHING
                """
            )
        )
    add_platform_admin(engine, CONSOLE_ADMIN_PID, actor=Actor.operator("bench"))

    async def go() -> str:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(settings.redis_url)
        store = SessionStore(redis, idle_seconds=3600, absolute_seconds=7200)
        sid = await store.create(
            UserSession(
                site="console",
                issuer="bench",
                subject="platform-admin",
                personal_id=CONSOLE_ADMIN_PID,
                name="Quản trị viên",
                roles=["platform_admin"],
            )
        )
        await redis.aclose()
        return sid

    return asyncio.run(go())


def make_intake_clients(settings: Any, slug: str, count: int, hook_url: str) -> list[tuple[str, str]]:
    """``count`` API clients of ``slug`` (the national portal's, as many as concurrent senders),
    each subscribed to ``hook_url``: (client id, secret) pairs."""
    import asyncio

    from motcua.core.db import Database
    from motcua.integrations.clients import ClientErrors, ClientSpec, register_client
    from motcua.integrations.webhooks import create_subscription

    tenant = get_tenant(sync_engine(settings.database_url or "", pool_size=0), slug)
    assert tenant is not None

    async def go() -> list[tuple[str, str]]:
        db = Database(settings.database_url or "", pool_size=1)
        pairs = []
        try:
            for i in range(count):
                async with db.tenant_session(tenant) as session:
                    issued = await register_client(
                        session,
                        ClientSpec(
                            name=f"Hệ thống thử tải {i}",
                            source_system=f"bench{i}",
                            scopes=("dossiers:intake", "webhooks"),
                        ),
                        actor=Actor.operator("bench"),
                    )
                    assert not isinstance(issued, ClientErrors), issued
                    await create_subscription(
                        session,
                        settings,
                        client_id=issued.client.id,
                        url=hook_url,
                        all_dossiers=False,
                        actor=Actor.operator("bench"),
                    )
                pairs.append((issued.client.client_id, issued.secret))
        finally:
            await db.dispose()
        return pairs

    return asyncio.run(go())


class HookReceiver:
    """A local webhook receiver: when each ``submitted`` event arrived, against the moment of the
    status change it reports (the delivery lag)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.lags: list[float] = []
        lock = threading.Lock()
        lags = self.lags

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                at = body["data"]["at"]
                from datetime import datetime

                happened = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
                with lock:
                    lags.append(arrived - happened)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


def run_intake(url: str, slug: str, clients: list[tuple[str, str]], total: int) -> dict[str, Any]:
    """``total`` dossiers posted by ``len(clients)`` concurrent systems (JSON intake, one token
    each): throughput and latency of ``POST /api/v1/dossiers``."""
    import asyncio

    host = {"host": f"{slug}.localhost"}
    per_client = total // len(clients)

    async def sender(index: int, client_id: str, secret: str, timings: list[float]) -> int:
        created = 0
        async with httpx.AsyncClient(base_url=url, headers=host, timeout=30) as http:
            token = await http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            token.raise_for_status()
            bearer = {"authorization": f"Bearer {token.json()['access_token']}"}
            for n in range(per_client):
                started = time.perf_counter()
                answer = await http.post(
                    "/api/v1/dossiers",
                    headers=bearer,
                    json={
                        "external_id": f"BENCH-{index}-{n}-{time.time_ns()}",
                        "procedure_code": "1.001000",
                        "applicant": {"personal_id": "001190000003", "full_name": "Người nộp thử tải"},
                        "data": {},
                    },
                )
                timings.append(time.perf_counter() - started)
                created += answer.status_code == 201
        return created

    async def go() -> dict[str, Any]:
        timings: list[float] = []
        started = time.perf_counter()
        created = await asyncio.gather(*(sender(i, c, s, timings) for i, (c, s) in enumerate(clients)))
        seconds = time.perf_counter() - started
        timings.sort()
        return {
            "dossiers": sum(created),
            "clients": len(clients),
            "seconds": round(seconds, 2),
            "requests_per_s": round(len(timings) / seconds, 1),
            "p50_ms": round(1000 * timings[len(timings) // 2], 2),
            "p99_ms": round(1000 * timings[int(len(timings) * 0.99) - 1], 2),
        }

    return asyncio.run(go())


class Server:
    """An ASGI app under uvicorn in its own process group."""

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process, self.url = process, url

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def server_command(
    target: str, port: int, workers: int, *, kind: str, factory: bool, app_dir: Path | None
) -> list[str]:
    """The product's server (uvicorn with uvloop and httptools, or granian), as ``motcua run``
    and infra/ start it, for one ASGI ``target``."""
    if kind == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop",
            *(["--factory"] if factory else []),
            *(["--working-dir", str(app_dir)] if app_dir else []),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", target,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", target, *(["--factory"] if factory else []),
        *(["--app-dir", str(app_dir)] if app_dir else []),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def start_server(
    target: list[str],
    env: dict[str, str],
    workers: int,
    *,
    kind: str = "uvicorn",
    factory: bool = False,
    app_dir: Path | None = None,
    ready: str = "/",
) -> Server:
    port = free_port()
    command = server_command(target[0], port, workers, kind=kind, factory=factory, app_dir=app_dir)
    process = subprocess.Popen(command, env=env, process_group=0)
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(server.url + ready, timeout=1).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            server.stop()
            raise RuntimeError(f"{target[0]} did not start")
        time.sleep(0.2)


# The pages that read the tenant's database, reported also against the floor at the same concurrency.
DB_PAGES = (
    "tracking_page_db",
    "officer_queue",
    "citizen_dossier_page",
    "receipt_page",
    "receipt_pdf",
    "console_home",
)


def compare_servers(
    args: argparse.Namespace,
    env: dict[str, str],
    pages: dict[str, tuple[Path, str, int, str | None]],
    measured: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The pages measured above, again under the other ASGI server (skipped, and said so, when
    it is not installed: granian is a bench-only extra)."""
    other = "granian" if args.server == "uvicorn" else "uvicorn"
    try:
        __import__(other)
    except ImportError:
        return {"skipped": f"{other} is not installed"}
    server = start_server(
        ["motcua.app:create_app_from_env"], env, args.workers, kind=other, factory=True, ready="/readyz"
    )
    figures: dict[str, Any] = {}
    try:
        for key, (hosts, path, connections, cookie) in pages.items():
            again = wrk(server.url, hosts, path, connections, args.seconds, cookie=cookie or "")
            figures[key] = {
                args.server: measured[key]["requests_per_s"],
                other: again["requests_per_s"],
                f"{other}_p99_ms": again["p99_ms"],
            }
    finally:
        server.stop()
    return figures


def worker_rss(server: Server) -> list[float]:
    """Resident memory of each web worker (MB) after every load above: the caches are bounded,
    so this stays flat however long the server runs."""
    import psutil

    children = psutil.Process(server.process.pid).children(recursive=True)
    return sorted(round(c.memory_info().rss / 2**20, 1) for c in children if c.is_running())


def floor_ratios(load: dict[str, dict[str, Any]]) -> dict[str, float]:
    ratios: dict[str, float] = {}
    for key, figures in load.items():
        name, connections = key.split("@")
        floor = load.get(f"db_floor@{connections}")
        if floor and name.startswith(DB_PAGES) and floor["requests_per_s"]:
            ratios[key] = round(figures["requests_per_s"] / floor["requests_per_s"], 3)
    return ratios


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settle(engine: Any, *tables: str) -> None:
    """Bulk-loaded tables as a live database has them once autovacuum and the checkpointer have
    been: vacuumed (the visibility map set, so index-only scans work), analysed, and written
    out. Left to the server, the vacuum of 100,000 fresh rows and the checkpoint writing them
    would start in the middle of a measurement and show as its slowest requests."""
    from sqlalchemy import text as sql

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(sql(f"VACUUM (ANALYZE) {table}"))
        conn.execute(sql("CHECKPOINT"))


def wrk(
    url: str, hosts_file: Path, path: str, connections: int, seconds: int, cookie: str = ""
) -> dict[str, Any]:
    threads = 1 if connections == 1 else 2
    env = {**os.environ, "WRK_HOSTS_FILE": str(hosts_file), "WRK_COOKIE": cookie}
    script = str(ROOT / "bench" / "wrk_report.lua")
    # Warm-up (fills per-worker caches and connection pools), then the measured run.
    subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", "-d3s", "-s", script, url, "--", path],
        env=env,
        capture_output=True,
        check=True,
    )
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            script,
            url,
            "--",
            path,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    data["requests_per_s"] = round(data["requests"] / data["seconds"], 1)
    return data


def bench_services(prefix: str) -> tuple[Path, dict[str, str], EmbeddedServices | None]:
    """A throw-away data folder, the settings of a bench run and, unless MOTCUA_DATABASE_URL and
    MOTCUA_REDIS_URL name servers, embedded PostgreSQL and Redis in that folder."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = {k: v for k, v in os.environ.items() if k.startswith("MOTCUA_")}
    embedded = None
    if not (env.get("MOTCUA_DATABASE_URL") and env.get("MOTCUA_REDIS_URL")):
        embedded = EmbeddedServices(data_dir).start()
        env.update(MOTCUA_DATABASE_URL=embedded.database_url, MOTCUA_REDIS_URL=embedded.redis_url)
    env.update(
        MOTCUA_DATA_DIR=str(data_dir),
        MOTCUA_ENV="test",
        MOTCUA_LOG_LEVEL="WARNING",
        # wrk comes from one address: measure the tracking page, not its per-client rate limit
        # (the limiter's Redis round trip still runs on every request).
        MOTCUA_TRACKING_RATE_LIMIT="10000000",
        # Likewise the per-client API budget: the intake benchmark sends far more than a system may.
        MOTCUA_RATE_LIMITS="login=20,submit=20,api=10000000",
    )
    return data_dir, env, embedded


def onboard_bench_tenants(
    engine: Any, settings: Any, slugs: list[str], *, report_every: int = 0
) -> list[float]:
    """Onboard each tenant of ``slugs`` not active yet; the seconds each onboarding took."""
    onboarding: list[float] = []
    for i, slug in enumerate(slugs, start=1):
        if (t := get_tenant(engine, slug)) is not None and t.status == "active":
            continue
        started = time.perf_counter()
        onboard_tenant(
            engine,
            settings,
            build_spec(slug=slug, name=f"Cổng thử tải {slug}", procedures=PROCEDURES),
            actor=Actor.operator("bench"),
        )
        onboarding.append(time.perf_counter() - started)
        if report_every and i % report_every == 0:
            print(f"  onboarded {i}/{len(slugs)}", flush=True)
    return onboarding


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--console-tenants", type=int, default=1000)
    parser.add_argument("--intake", type=int, default=1000, help="dossiers posted through the API")
    parser.add_argument("--intake-clients", type=int, default=8)
    parser.add_argument(
        "--stats-dossiers", type=int, default=1_000_000, help="dossiers of the statistics tenant"
    )
    parser.add_argument("--day-changes", type=int, default=100_000, help="a day's changes over every tenant")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    data_dir, env, embedded = bench_services("motcua-bench-")
    settings = load_settings(env)
    setup_broker(settings)  # onboarding enqueues its post-onboarding job after commit
    engine = sync_engine(settings.database_url or "", pool_size=2)
    server = None
    try:
        migrate_platform(engine, settings.root)
        slugs = [f"bench{i:04d}" for i in range(args.tenants)]
        onboarding = onboard_bench_tenants(engine, settings, slugs)

        # One tenant with a large catalogue (1,000 procedures) and a dossier, for the catalogue
        # search, procedure page and tracking benchmarks.
        big_slug = "benchbig"
        if (t := get_tenant(engine, big_slug)) is None or t.status != "active":
            many = PROCEDURES + [
                {
                    "code": f"2.{100000 + i:06d}",
                    "name": f"Thủ tục thử tải số {i} về {FIELDS[i % len(FIELDS)].lower()}",
                    "field": FIELDS[i % len(FIELDS)],
                    "level": ("full", "partial", "information")[i % 3],
                    "processing_days": i % 20,
                    "fee_vnd": (i % 5) * 10000,
                }
                for i in range(1000 - len(PROCEDURES))
            ]
            onboard_tenant(
                engine,
                settings,
                build_spec(slug=big_slug, name="Cổng thử tải lớn", procedures=many),
                actor=Actor.operator("bench"),
            )
        tracking_code = make_dossier(engine, settings, big_slug)
        citizen_sid, receipt_id = make_receipt(engine, settings, big_slug, tracking_code)
        officer_sid, scan_first, scan_repeat = make_back_office(engine, settings, big_slug, args.dossiers)
        console_sid = make_console(engine, settings, args.console_tenants)
        stats_slug = "benchstats"
        rollup_first = make_statistics(engine, settings, stats_slug, args.stats_dossiers)
        ranking_period = spread_ranking(engine, stats_slug)
        catch_up = rollup_catch_up(engine, settings, slugs, args.day_changes // max(1, len(slugs)))
        receiver = HookReceiver()
        intake_clients = make_intake_clients(settings, big_slug, args.intake_clients, receiver.url)

        child_env = {**os.environ, **env}
        started = time.perf_counter()
        migrate = subprocess.run(
            [sys.executable, "-m", "motcua.cli", "migrate"],
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        )
        migrate_seconds = time.perf_counter() - started

        server = start_server(
            ["motcua.app:create_app_from_env"],
            child_env,
            args.workers,
            kind=args.server,
            factory=True,
            ready="/readyz",
        )
        url = server.url
        hosts_file = data_dir / "hosts.txt"
        hosts_file.write_text("\n".join(f"{s}.localhost" for s in slugs) + "\n")
        check = httpx.get(url + "/", headers={"host": f"{slugs[0]}.localhost"})
        assert check.status_code == 200 and "Đăng ký khai sinh" in check.text, "home page is not right"

        results: dict[str, Any] = {
            "tenants": args.tenants,
            "web_workers": args.workers,
            "server": args.server,
            "cpu_count": os.cpu_count(),
            "onboarding_seconds": {
                "count": len(onboarding),
                "mean": round(statistics.mean(onboarding), 4) if onboarding else None,
                "p50": round(statistics.median(onboarding), 4) if onboarding else None,
                "max": round(max(onboarding), 4) if onboarding else None,
            },
            "migrate_at_head_seconds": round(migrate_seconds, 3),
            "migrate_output": migrate.stdout.strip(),
            "load": {},
        }
        # Home, search and procedure pages read the catalogue from a per-process cache (TTL);
        # the tracking page does one tenant-scoped read per request (BEGIN, SET LOCAL
        # search_path, SELECT, COMMIT) plus the rate limiter's Redis INCR.
        big_hosts = data_dir / "big-hosts.txt"
        big_hosts.write_text(f"{big_slug}.localhost\n")
        for label, path, hosts in (
            ("tenant_home", "/", hosts_file),
            ("procedure_page", "/procedures/1.001000", hosts_file),
            ("framework_floor", "/healthz", hosts_file),
            ("catalog_search_1000", "/procedures?q=khai+sinh", big_hosts),
            ("procedure_page_1000", "/procedures/2.100500", big_hosts),
            ("tracking_page_db", f"/tracking?code={tracking_code}", big_hosts),
        ):
            for connections in (1, 64):
                results["load"][f"{label}@{connections}"] = wrk(url, hosts, path, connections, args.seconds)
        # The database floor (bench/db_floor.py): the same read with nothing but asyncpg, served
        # by the same server and workers, at every concurrency a database page is measured at.
        floor = start_server(
            ["db_floor:app"], child_env, args.workers, kind=args.server, app_dir=ROOT / "bench"
        )
        try:
            for connections in (1, 8, 16, 64):
                results["load"][f"db_floor@{connections}"] = wrk(
                    floor.url, big_hosts, f"/floor?code={tracking_code}", connections, args.seconds
                )
        finally:
            floor.stop()
        # The public statistics page and API of a tenant with args.stats_dossiers dossiers (read
        # from its rollups; issue target: p99 under 250 ms at 16 connections).
        stats_hosts = data_dir / "stats-hosts.txt"
        stats_hosts.write_text(f"{stats_slug}.localhost\n")
        for label, path in (("statistics_page", "/thong-ke"), ("statistics_api", "/api/v1/statistics")):
            for connections in (1, 16):
                results["load"][f"{label}_{args.stats_dossiers}@{connections}"] = wrk(
                    url, stats_hosts, path, connections, args.seconds
                )
        results["rollups"] = {
            "first_run_seconds": {"dossiers": args.stats_dossiers, "seconds": round(rollup_first, 2)},
            "day_catch_up": catch_up,
        }
        # The officer's queue over args.dossiers dossiers, signed in (issue target: 16 connections).
        for connections in (1, 16):
            results["load"][f"officer_queue_{args.dossiers}@{connections}"] = wrk(
                url,
                big_hosts,
                "/officer?queue=in_progress",
                connections,
                args.seconds,
                cookie=f"motcua_session={officer_sid}",
            )
        # The citizen's own pages: the dossier (fees, payments, receipts, history) and the
        # receipt as a page and as a PDF (drawn on each request from the receipt's snapshot).
        for label, path in (
            ("citizen_dossier_page", f"/my/dossiers/{tracking_code}"),
            ("receipt_page", f"/receipts/{receipt_id}"),
            ("receipt_pdf", f"/receipts/{receipt_id}/pdf"),
        ):
            for connections in (1, 16):
                results["load"][f"{label}@{connections}"] = wrk(
                    url, big_hosts, path, connections, args.seconds, cookie=f"motcua_session={citizen_sid}"
                )
        # The central console's home over every tenant (issue target: p99 under 250 ms at 8).
        console_hosts = data_dir / "console-hosts.txt"
        console_hosts.write_text("admin.localhost\n")
        for connections in (1, 8):
            results["load"][f"console_home_{args.console_tenants}@{connections}"] = wrk(
                url, console_hosts, "/", connections, args.seconds, cookie=f"motcua_session={console_sid}"
            )
        # The console's ranking of every tenant by the Decision 766 index (issue target: p99
        # under 250 ms at 8 connections over 1,000 tenants).
        for connections in (1, 8):
            results["load"][f"console_ranking_{args.console_tenants}@{connections}"] = wrk(
                url,
                console_hosts,
                f"/ranking?ky={ranking_period}",
                connections,
                args.seconds,
                cookie=f"motcua_session={console_sid}",
            )
        # The same product pages under the other server (uvicorn or granian), same workers, one
        # after the other on the same data: which one `motcua run` and infra/ should use.
        results["servers"] = compare_servers(
            args,
            child_env,
            {
                "tenant_home@64": (hosts_file, "/", 64, None),
                "tracking_page_db@64": (big_hosts, f"/tracking?code={tracking_code}", 64, None),
                "citizen_dossier_page@16": (
                    big_hosts, f"/my/dossiers/{tracking_code}", 16, f"motcua_session={citizen_sid}"
                ),
                f"officer_queue_{args.dossiers}@16": (
                    big_hosts, "/officer?queue=in_progress", 16, f"motcua_session={officer_sid}"
                ),
            },
            results["load"],
        )  # fmt: skip
        # Intake by other systems, with every new dossier's "submitted" event pushed back to them
        # by a job worker (the webhook delivery lag: the change's time to its arrival).
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "motcua.worker",
                "--processes",
                "1",
                "--threads",
                "4",
                "--queues",
                "webhooks",
            ],
            env=child_env,
            process_group=0,
        )
        try:
            results["intake"] = run_intake(url, big_slug, intake_clients, args.intake)
            deadline = time.monotonic() + 120
            while len(receiver.lags) < results["intake"]["dossiers"] and time.monotonic() < deadline:
                time.sleep(0.5)
            lags = sorted(receiver.lags)
            results["webhook_lag_s"] = {
                "events": len(lags),
                "p50": round(lags[len(lags) // 2], 3) if lags else None,
                "p99": round(lags[int(len(lags) * 0.99) - 1], 3) if lags else None,
            }
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a job still sending: the measurement is done
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=30)
            receiver.stop()
        results["deadline_scan_seconds"] = {"first": round(scan_first, 3), "repeat": round(scan_repeat, 3)}
        if args.tenants >= scale.SCALE_TENANTS:
            results["scale"] = scale.measure(
                engine=engine,
                settings=settings,
                env=env,
                url=url,
                server_pid=server.process.pid,
                slugs=slugs,
                onboarding=onboarding,
                migrate_seconds=migrate_seconds,
                seconds=args.seconds,
                data_dir=data_dir,
                wrk=wrk,
            )
        results["web_worker_rss_mb"] = worker_rss(server)
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    results["db_floor_ratio"] = floor_ratios(results["load"])
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{args.tenants} tenants, {args.workers} web workers, {os.cpu_count()} CPUs")
    ob = results["onboarding_seconds"]
    print(f"onboarding per tenant: mean {ob['mean']}s, p50 {ob['p50']}s, max {ob['max']}s")
    print(f"`motcua migrate` with every tenant at head: {results['migrate_at_head_seconds']}s")
    scan = results["deadline_scan_seconds"]
    print(f"deadline scan over {args.dossiers} dossiers: first {scan['first']}s, repeat {scan['repeat']}s")
    first, day = results["rollups"]["first_run_seconds"], results["rollups"]["day_catch_up"]
    print(
        f"rollups: {first['dossiers']} dossiers from nothing in {first['seconds']}s; a day of "
        f"{day['changes']} changes over {day['tenants']} tenants caught up in {day['seconds']}s"
    )
    intake, lag = results["intake"], results["webhook_lag_s"]
    print(
        f"API intake: {intake['dossiers']} dossiers by {intake['clients']} clients in {intake['seconds']}s "
        f"({intake['requests_per_s']} req/s, p50 {intake['p50_ms']} ms, p99 {intake['p99_ms']} ms); "
        f"webhook lag over {lag['events']} events: p50 {lag['p50']}s, p99 {lag['p99']}s"
    )
    print(f"{'endpoint':<22}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for key, r in results["load"].items():
        name, conns = key.split("@")
        print(
            f"{name:<22}{conns:>6}{r['requests_per_s']:>10}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['errors']:>8}"
        )
    print("share of the database floor (bench/db_floor.py) at the same concurrency:")
    for key, ratio in results["db_floor_ratio"].items():
        print(f"  {key:<28}{ratio:>7.0%}")
    print(f"web worker RSS after the run (MB): {results['web_worker_rss_mb']}")
    print(f"servers compared (req/s): {json.dumps(results['servers'])}")
    if "scale" in results:
        scale.print_report(results["scale"])
    print("written to bench/results/latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
