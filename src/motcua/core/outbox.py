"""The transactional outbox: after-commit jobs are rows of ``platform.outbox`` written in the same
transaction as the change that asks for them, then relayed to Dramatiq.

Right after a commit the rows it wrote are relayed at once (one Redis round trip, as a direct
``send`` would cost). If Redis is unreachable then, or the process dies between the commit and
the relay, the rows stay unsent and the scheduler's relay (``relay_pending``, every second) sends
them later: work is delayed, never lost. A row may be sent twice (a crash between the send and
marking it sent), so every actor is idempotent, keyed by ids.

The id of the request (or job) that wrote a row travels with it, so the job's log lines carry
the same request id as the request's (``core.observability``): it is kept in the row's
``kwargs`` under ``@request_id`` — a key no actor parameter can have — and handed to Dramatiq
as the message option ``request_id``, never as an argument.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Message
from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from motcua.core.logging import current_request_id

log = logging.getLogger(__name__)

# Rows younger than this are left to the relay that runs right after their commit.
GRACE_SECONDS = 5
BATCH = 500

_INSERT = text(
    "INSERT INTO platform.outbox (tenant_slug, queue_name, actor_name, kwargs) "
    "VALUES (:tenant, :queue, :actor, CAST(:kwargs AS jsonb)) RETURNING id"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    queue_name: str
    actor_name: str
    kwargs: dict[str, Any]
    request_id: str | None = None


_REQUEST_ID = "@request_id"


def _params(
    tenant: str | None, queue_name: str, actor_name: str, kwargs: dict[str, Any], request_id: str | None
) -> dict[str, Any]:
    stored = kwargs if request_id is None else {**kwargs, _REQUEST_ID: request_id}
    return {"tenant": tenant, "queue": queue_name, "actor": actor_name, "kwargs": json.dumps(stored)}


async def write(
    session: AsyncSession, *, tenant: str | None, queue_name: str, actor_name: str, kwargs: dict[str, Any]
) -> OutboxRow:
    request_id = current_request_id()
    params = _params(tenant, queue_name, actor_name, kwargs, request_id)
    row_id = (await session.execute(_INSERT, params)).scalar_one()
    return OutboxRow(int(row_id), queue_name, actor_name, kwargs, request_id)


def write_sync(
    conn: Connection, *, tenant: str | None, queue_name: str, actor_name: str, kwargs: dict[str, Any]
) -> OutboxRow:
    request_id = current_request_id()
    row_id = conn.execute(_INSERT, _params(tenant, queue_name, actor_name, kwargs, request_id)).scalar_one()
    return OutboxRow(int(row_id), queue_name, actor_name, kwargs, request_id)


def _send(rows: Sequence[OutboxRow], sent: list[int]) -> None:
    """Hand rows to the broker, noting in ``sent`` the ids it accepted (before a failure too)."""
    broker = dramatiq.get_broker()
    for row in rows:
        broker.enqueue(
            Message(
                queue_name=row.queue_name,
                actor_name=row.actor_name,
                args=(),
                kwargs=row.kwargs,
                options=(
                    {"outbox_id": row.id}
                    if row.request_id is None
                    else {"outbox_id": row.id, "request_id": row.request_id}
                ),
            )
        )
        sent.append(row.id)


def _log_waiting(count: int, exc: Exception) -> None:
    log.warning("outbox: %d job(s) wait for the relay (%s: %s)", count, type(exc).__name__, exc)


_MARK = text("UPDATE platform.outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY(:ids)")


def _send_now(rows: Sequence[OutboxRow]) -> list[int]:
    """Send right after a commit; what could not be sent waits for ``relay_pending``."""
    sent: list[int] = []
    try:
        _send(rows, sent)
    except Exception as exc:
        log.warning(
            "outbox: %d job(s) wait for the relay (%s: %s)", len(rows) - len(sent), type(exc).__name__, exc
        )
    return sent


_NOT_MARKED = "outbox: sent jobs %s could not be marked (they will be sent again)"


async def relay(engine: AsyncEngine, rows: Sequence[OutboxRow]) -> int:
    """Right after a commit: send what it wrote."""
    sent = _send_now(rows)
    if sent:
        try:
            async with engine.begin() as conn:
                await conn.execute(_MARK, {"ids": sent})
        except Exception:
            log.exception(_NOT_MARKED, sent)
    return len(sent)


def relay_sync(engine: Engine, rows: Sequence[OutboxRow]) -> int:
    """``relay`` for blocking code (onboarding, the CLI)."""
    sent = _send_now(rows)
    if sent:
        try:
            with engine.begin() as conn:
                conn.execute(_MARK, {"ids": sent})
        except Exception:
            log.exception(_NOT_MARKED, sent)
    return len(sent)


def _stored_row(row_id: int, queue_name: str, actor_name: str, stored: dict[str, Any]) -> OutboxRow:
    kwargs = dict(stored)
    request_id = kwargs.pop(_REQUEST_ID, None)
    return OutboxRow(row_id, queue_name, actor_name, kwargs, request_id)


def relay_pending(engine: Engine, *, grace_seconds: float = GRACE_SECONDS, limit: int = BATCH) -> int:
    """Send unsent rows older than the grace period (several relays may run: rows are locked
    with SKIP LOCKED, so each is sent by one). Returns how many were sent."""
    with engine.begin() as conn:
        rows = [
            _stored_row(r.id, r.queue_name, r.actor_name, r.kwargs)
            for r in conn.execute(
                text(
                    "SELECT id, queue_name, actor_name, kwargs FROM platform.outbox "
                    "WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => :grace) "
                    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
                ),
                {"grace": grace_seconds, "limit": limit},
            )
        ]
        if not rows:
            return 0
        sent: list[int] = []
        try:
            _send(rows, sent)
        except Exception as exc:
            failed = [r.id for r in rows if r.id not in sent]
            conn.execute(
                text(
                    "UPDATE platform.outbox SET attempts = attempts + 1, last_error = :e WHERE id = ANY(:ids)"
                ),
                {"e": f"{type(exc).__name__}: {exc}"[:500], "ids": failed},
            )
            log.warning("outbox relay: %d job(s) still wait (%s)", len(failed), type(exc).__name__)
        if sent:
            conn.execute(_MARK, {"ids": sent})
        return len(sent)
