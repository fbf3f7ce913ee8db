"""Sending webhook deliveries: signed the Standard Webhooks way, in order per dossier, retried
with exponential backoff for 24 hours.

Two actors. ``record_webhook_events`` subscribes to ``DossierEvent`` (which travels through the
outbox, so a change is never lost between its commit and here) and records the deliveries of
the dossier's status changes (``integrations.webhooks.record_status_changes``), then asks for
sending. ``send_webhooks`` sends what is due for one tenant; the scheduler also runs it every few
seconds for every tenant, so retries and anything whose message was lost go out without anyone
asking.

Order and exclusivity: only the oldest pending delivery of each (subscription, dossier) is ever
due, so the next change of a dossier waits until the one before is delivered or has failed for
good. A sender claims due deliveries with ``FOR UPDATE SKIP LOCKED`` and moves their next attempt
a lease ahead before committing, so no other worker takes them while the request is in flight
(the request's own time limit is far shorter than the lease), and no database transaction stays
open during a request to someone else's server.

Where requests go: only to the URL registered, redirects never followed, short timeouts, at most
a few KB of the answer read. The host is resolved here and the request is made to the address
that was checked (the Host header and TLS name stay the registered host), so a name cannot be
re-pointed at an internal address between the check and the connection; in production an
address that is not public is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import ssl
import time
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import certifi
import dramatiq
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.actions import Job
from motcua.core.db import Database
from motcua.core.events import DossierEvent, Subscriber, subscribe
from motcua.core.jobs import job_database, load_tenant
from motcua.core.scheduler import PeriodicJob, register
from motcua.core.security import SecretBox
from motcua.core.settings import Settings, load_settings
from motcua.core.tenant import Tenant
from motcua.integrations.webhooks import (
    DeliveryStatus,
    IpAddress,
    is_public,
    record_status_changes,
    secret_key_bytes,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 10.0
# Longer than any request can take (TOTAL_TIMEOUT), so a claimed delivery is never sent twice
# at once; a worker that dies mid-request leaves it due again once the lease ends.
LEASE = timedelta(seconds=60)
RESPONSE_READ_MAX = 4096
# Delays after the 1st, 2nd… failed attempt; then every 2 hours, until 24 hours after creation.
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600)
THEN_EVERY_SECONDS = 7200
RETRY_FOR = timedelta(hours=24)
BATCH = 20
CONCURRENCY = 8
# One run sends for at most this long; the next run (the periodic scan) carries on.
RUN_SECONDS = 50.0

# What the delivery log says of a failed attempt (msgids: the page translates them).
ERRORS = {
    "status": "Máy chủ nhận không trả lời thành công (mã 2xx).",
    "redirect": "Máy chủ nhận chuyển hướng sang địa chỉ khác; chuyển hướng không được theo.",
    "timeout": "Máy chủ nhận không trả lời trong thời gian cho phép.",
    "connect": "Không kết nối được tới máy chủ nhận.",
    "resolve": "Không tìm thấy máy chủ nhận (tên miền không phân giải được).",
    "not_public": "Địa chỉ nhận trỏ tới một mạng nội bộ hoặc dành riêng; sự kiện không được gửi.",
    "secret": "Không đọc được khóa ký của đăng ký này.",
}


def next_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones, with ±20 % jitter so the
    retries of many deliveries that failed together do not arrive together."""
    base = BACKOFF_SECONDS[attempts - 1] if 1 <= attempts <= len(BACKOFF_SECONDS) else THEN_EVERY_SECONDS
    return float(base) * (rng or random).uniform(0.8, 1.2)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: v1, then base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` keyed
    with the secret's decoded bytes (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key_bytes(secret), signed, hashlib.sha256).digest()
    return f"v1,{b64encode(mac).decode()}"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# One attempt -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


class RefusedError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def resolve(host: str, port: int) -> list[IpAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise RefusedError("resolve") from None
    found: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise RefusedError("resolve")
    return found


async def pinned(url: str, *, production: bool) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request to make for ``url``: to an address checked now, the registered host kept as
    the Host header and the TLS server name."""
    target = httpx.URL(url)
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if production and not all(is_public(a) for a in addresses):
        # Every address, not only the one used: a name that also points inside is refused.
        raise RefusedError("not_public")
    headers = {"Host": target.netloc.decode("ascii")}
    extensions: dict[str, Any] = {"sni_hostname": host} if target.scheme == "https" else {}
    return target.copy_with(host=str(addresses[0])), headers, extensions


@cache
def tls_context() -> ssl.SSLContext:
    """The certificate authorities receivers are checked against, loaded once per process: building
    them is most of what a new HTTP client costs (about 20 ms of CPU), once per delivery otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


async def attempt(
    url: str, msg_id: str, payload: dict[str, Any], secret: str, *, production: bool, now: float | None = None
) -> Outcome:
    """POST one event; 2xx is delivered, anything else (a redirect too) a failure."""
    body = body_of(payload)
    timestamp = int(now if now is not None else time.time())
    try:
        target, headers, extensions = await pinned(url, production=production)
    except RefusedError as exc:
        return Outcome(False, error=ERRORS[exc.reason])
    headers.update(
        {
            "content-type": "application/json",
            "user-agent": "motcua-webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body),
        }
    )
    try:
        async with (
            asyncio.timeout(TOTAL_TIMEOUT),
            httpx.AsyncClient(
                timeout=httpx.Timeout(TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT),
                follow_redirects=False,
                verify=tls_context(),
                trust_env=False,  # an environment proxy would reach the host we did not check
            ) as client,
            client.stream("POST", target, content=body, headers=headers, extensions=extensions) as response,
        ):
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= RESPONSE_READ_MAX:
                    break
            code = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(False, error=ERRORS["timeout"])
    except httpx.HTTPError:
        return Outcome(False, error=ERRORS["connect"])
    if 200 <= code < 300:
        return Outcome(True, status_code=code)
    return Outcome(False, status_code=code, error=ERRORS["redirect" if 300 <= code < 400 else "status"])


# Claiming and recording ------------------------------------------------------------------------
_CLAIM = text(
    """
    WITH heads AS (
        SELECT d.id FROM webhook_deliveries d
          JOIN webhook_subscriptions s ON s.id = d.subscription_id
          JOIN api_clients c ON c.id = s.client_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= :now
           AND s.disabled_at IS NULL AND c.revoked_at IS NULL
           AND NOT EXISTS (
               SELECT 1 FROM webhook_deliveries e
                WHERE e.status = 'pending' AND e.subscription_id = d.subscription_id
                  AND e.dossier_id = d.dossier_id AND e.id < d.id)
         ORDER BY d.next_attempt_at, d.id
         LIMIT :limit
           FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries w SET next_attempt_at = :lease_until
      FROM heads, webhook_subscriptions s
     WHERE w.id = heads.id AND s.id = w.subscription_id
    RETURNING w.id, w.event_id, w.payload, w.attempts, w.created_at, s.url, s.secret_sealed
    """
)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    url: str
    secret_sealed: str


async def claim(session: AsyncSession, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
    rows = await session.execute(_CLAIM, {"now": now, "limit": limit, "lease_until": now + LEASE})
    claimed = [Claimed(**row._mapping) for row in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


async def record(session: AsyncSession, claimed: Claimed, outcome: Outcome, *, now: datetime) -> None:
    if outcome.ok:
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
                "delivered_at = :now, last_status_code = :code, last_error = NULL WHERE id = :id"
            ),
            {"now": now, "code": outcome.status_code, "id": claimed.id},
        )
        return
    attempts = claimed.attempts + 1
    give_up_at = claimed.created_at + RETRY_FOR
    if now >= give_up_at:
        status, next_at = DeliveryStatus.FAILED, now
    else:
        status = DeliveryStatus.PENDING
        # The last try is at the 24-hour mark itself, not a backoff step beyond it.
        next_at = min(now + timedelta(seconds=next_delay(attempts)), give_up_at)
    # Only while still pending: a subscription disabled meanwhile has failed it for good.
    await session.execute(
        text(
            "UPDATE webhook_deliveries SET status = :status, attempts = :attempts, next_attempt_at = :next, "
            "last_status_code = :code, last_error = :error WHERE id = :id AND status = 'pending'"
        ),
        {
            "status": status,
            "attempts": attempts,
            "next": next_at,
            "code": outcome.status_code,
            "error": outcome.error,
            "id": claimed.id,
        },
    )


async def send_due(
    db: Database, tenant: Tenant, settings: Settings, *, run_seconds: float = RUN_SECONDS
) -> int:
    """Send what is due for ``tenant`` until nothing is or the run's time is up; returns how many
    attempts were made."""
    box = SecretBox(settings.secret_key)
    gate = asyncio.Semaphore(CONCURRENCY)
    deadline = time.monotonic() + run_seconds
    made = 0

    async def one(claimed: Claimed) -> None:
        async with gate:
            try:
                secret = box.open(claimed.secret_sealed)
            except ValueError:
                outcome = Outcome(False, error=ERRORS["secret"])
            else:
                outcome = await attempt(
                    claimed.url, claimed.event_id, claimed.payload, secret, production=settings.is_production
                )
        async with db.tenant_session(tenant) as session:
            await record(session, claimed, outcome, now=datetime.now(UTC))

    while time.monotonic() < deadline:
        async with db.tenant_session(tenant) as session:
            batch = await claim(session, now=datetime.now(UTC))
        if not batch:
            break
        # Each claimed delivery heads its own (subscription, dossier): they may go in parallel.
        await asyncio.gather(*(one(c) for c in batch))
        made += len(batch)
    return made


# Catching up -----------------------------------------------------------------------------------------
# Status changes of the last day that a subscription should hear of and that have no delivery yet
# (the same event ids as webhooks.event_id, computed by PostgreSQL). Normally none: the
# DossierEvent of each change records its deliveries. But that message can be lost with Redis
# (stopped before it wrote the message to disk) or die with a worker in the middle of it.
_MISSED = text(
    """
    SELECT DISTINCT d.code
      FROM dossier_history h
      JOIN dossiers d ON d.id = h.dossier_id
      JOIN webhook_subscriptions s
        ON s.disabled_at IS NULL AND s.created_at <= h.at
       AND (s.all_dossiers OR s.client_id = d.intake_client_id)
     WHERE h.at > now() - interval '1 day'
       AND (h.from_status IS NULL OR h.from_status <> h.to_status)
       AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries w
              WHERE w.event_id = 'msg_' || left(encode(sha256(convert_to(
                      :tenant || ':' || s.id || ':' || h.id, 'UTF8')), 'hex'), 40))
     LIMIT 200
    """
)


async def catch_up(session: AsyncSession, tenant: str) -> int:
    """Record the deliveries of status changes whose event never reached ``record_webhook_events``
    (idempotent: ``record_status_changes`` inserts what is missing only)."""
    active = await session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE disabled_at IS NULL)")
    )
    if not active:
        return 0
    codes = list(await session.scalars(_MISSED, {"tenant": tenant}))
    recorded = 0
    for code in codes:
        recorded += await record_status_changes(session, tenant, code)
    if recorded:
        log.warning("webhooks of %s: %d status change(s) recorded late", tenant, recorded)
    return recorded


# Actors --------------------------------------------------------------------------------------------
# How long the job of one change keeps sending what is due (its own event and whatever else came
# due meanwhile) before it leaves the rest to the next job or to the periodic run.
SEND_AFTER_EVENT_SECONDS = 5.0
RECORD_EVENTS = Subscriber("record_webhook_events", "webhooks")
SEND = Job("send_webhooks", "webhooks")


@dramatiq.actor(
    actor_name=RECORD_EVENTS.actor_name,
    queue_name=RECORD_EVENTS.queue_name,
    max_retries=8,
    min_backoff=2000,
    max_backoff=600_000,
)
async def record_webhook_events(tenant: str, event: dict[str, Any]) -> None:
    """A dossier changed (a ``DossierEvent``): record what its subscribers must be sent, then
    send what is due right here. Sending in the same job rather than queueing another halves the
    work per change (the lag under load is the worker's throughput); a send that fails or never
    runs is picked up by the scheduler's periodic run, and concurrent senders never claim the
    same delivery (SKIP LOCKED)."""
    happened = DossierEvent.from_payload(event)
    db = job_database()
    record_ = await load_tenant(db, tenant)
    async with db.tenant_session(record_) as session:
        recorded = await record_status_changes(session, tenant, happened.code)
    if recorded:
        await send_due(db, record_, load_settings(), run_seconds=SEND_AFTER_EVENT_SECONDS)


@dramatiq.actor(
    actor_name=SEND.actor_name,
    queue_name=SEND.queue_name,
    max_retries=3,
    min_backoff=5000,
    time_limit=120_000,
)
async def send_webhooks(tenant: str) -> None:
    """Every few seconds (the scheduler): record any status change whose event was lost on the
    way, then send what is due (retries, and what the job of a change left)."""
    db = job_database()
    record_ = await load_tenant(db, tenant)
    async with db.tenant_session(record_) as session:
        await catch_up(session, tenant)
    await send_due(db, record_, load_settings())


subscribe(DossierEvent, RECORD_EVENTS)
register(PeriodicJob("webhook-deliveries", every_seconds=5, actor_name=SEND.actor_name, per_tenant=True))
