"""The one mechanism an action uses for what must happen after its commit.

An action (``submit_dossier``, ``settle_payment``, ``suspend_tenant``…) validates, writes and
appends its history or audit row in one transaction, and registers its effects here:

* ``emit(session, event)`` — a typed domain event for its subscribers (notifications, filing…),
* ``enqueue(session, job, **kwargs)`` — one job,
* ``after_commit(session, fn)`` — in-process work such as dropping a cache entry.

Events and jobs are outbox rows written in the same transaction (``core.outbox``), so they exist
exactly when the change does; ``Database`` relays them right after the commit, and the
scheduler's relay sends whatever that could not. In-process callbacks run after the commit and
never when it rolls back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core import outbox
from motcua.core.events import Event, Subscriber, subscribers_of

log = logging.getLogger(__name__)

_CALLBACKS = "motcua_after_commit"
_OUTBOX = "motcua_outbox"

# A job is named like a subscriber: actor name and queue, no import of the actor's module.
Job = Subscriber


def after_commit(session: AsyncSession, fn: Callable[[], object]) -> None:
    """Run ``fn`` once ``session``'s transaction has committed (never if it rolls back); a
    coroutine function is awaited."""
    session.info.setdefault(_CALLBACKS, []).append(fn)


async def enqueue(session: AsyncSession, job: Job, *, tenant: str | None, **kwargs: Any) -> None:
    if tenant is not None:
        kwargs = {"tenant": tenant, **kwargs}
    row = await outbox.write(
        session, tenant=tenant, queue_name=job.queue_name, actor_name=job.actor_name, kwargs=kwargs
    )
    session.info.setdefault(_OUTBOX, []).append(row)


async def emit(session: AsyncSession, event: Event) -> None:
    """Deliver ``event`` to each of its subscribers once the transaction commits."""
    subscribers = subscribers_of(type(event))
    if not subscribers:
        log.warning("event %s has no subscriber in this process", type(event).__name__)
    for subscriber in subscribers:
        await enqueue(session, subscriber, tenant=event.tenant, event=event.to_payload())


def emit_sync(conn: Connection, event: Event) -> list[outbox.OutboxRow]:
    """``emit`` for blocking code on a plain connection (onboarding, the CLI): the caller relays
    the rows with ``outbox.relay_sync`` once its transaction has committed (a pooled connection
    outlives the transaction, so nothing is kept on it)."""
    rows = []
    for subscriber in subscribers_of(type(event)):
        row = outbox.write_sync(
            conn,
            tenant=event.tenant,
            queue_name=subscriber.queue_name,
            actor_name=subscriber.actor_name,
            kwargs={"event": event.to_payload(), **({"tenant": event.tenant} if event.tenant else {})},
        )
        rows.append(row)
    return rows


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """``session.begin_nested()`` for actions: when it rolls back, the events, jobs and callbacks
    registered inside it are dropped with the rows (else they would go out at the outer commit)."""
    callbacks = list(session.info.get(_CALLBACKS, []))
    rows = list(session.info.get(_OUTBOX, []))
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        session.info[_CALLBACKS] = callbacks
        session.info[_OUTBOX] = rows
        raise


def committed(session: AsyncSession) -> tuple[list[Callable[[], object]], list[outbox.OutboxRow]]:
    """What a transaction registered, taken off it: called once, right after its COMMIT."""
    return session.info.pop(_CALLBACKS, []), session.info.pop(_OUTBOX, [])


async def run_callbacks(callbacks: list[Callable[[], object]]) -> None:
    for fn in callbacks:
        try:
            result = fn()
            if inspect.isawaitable(result):
                await result
        except Exception:
            # The change is committed and the person has their answer; in-process work (a
            # cache) failing must not turn that into an error.
            log.exception("could not run work queued after commit")
