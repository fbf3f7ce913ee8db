"""The periodic scheduler (``motcua scheduler``): deadline scans, reconciliation, reports.

Jobs are registered as ``PeriodicJob``s — one line, either in ``PERIODIC_JOBS`` below or with
``register(...)`` at import time in a module listed in ``broker.ACTOR_MODULES`` (the scheduler
imports those before its first tick)::

    register(PeriodicJob("deadline-scan", every_seconds=300, actor_name="scan_deadlines", per_tenant=True))

Time is cut into *slots* aligned on the epoch: slot = floor(now / every_seconds). Every tick, for
each job whose current slot this process has not handled yet, the scheduler tries

    SET motcua:scheduler:<name>:<slot> <instance id> NX EX <2 * every_seconds>

and only the process that wins the key enqueues the slot's messages: one message without
arguments, or with ``per_tenant`` one message per active tenant with ``tenant=<slug>``.

Why this fires each slot exactly once without a leader lock:

* ``SET NX`` is atomic in Redis, so of any number of schedulers racing for one slot exactly one
  wins; the others see the key and skip. No lease has to be renewed, so a scheduler that stalls
  (GC pause, lost network) cannot fire in a slot someone else already owns, and a dead scheduler
  does not block the others — the next slot is simply won by whoever is alive.
* The key lives two periods, so a peer whose clock is up to one period behind still finds it and
  does not fire that slot again.
* Only the current slot is ever attempted: a scheduler that was down for a while fires the slot
  it wakes up in, never a backlog of missed ones (periodic jobs are scans that catch up by
  themselves).
* The rest is at-least-once anyway: Dramatiq may redeliver a message, and a slot whose winner
  died between winning and enqueueing is skipped. Actors are therefore idempotent and scan
  state rather than trust the number of calls — which is also why a leader lock would buy
  nothing the per-slot key does not.

A scheduler that cannot run a job (its actor is unknown, e.g. an old version during a rolling
deploy) does not claim that job's slots, so a peer that can is not starved. If nothing could be
enqueued after winning (database or Redis error), the key is released so the slot is retried.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import dramatiq
import redis
from sqlalchemy import Engine, text

from motcua.core import outbox
from motcua.core.broker import ACTOR_MODULES, setup_broker
from motcua.core.db import sync_engine
from motcua.core.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "motcua:scheduler"
_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

# Deletes the slot key only if this instance still holds it.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    actor_name: str
    per_tenant: bool

    def __post_init__(self) -> None:
        if not _JOB_NAME.match(self.name):
            raise ValueError(f"periodic job name must match {_JOB_NAME.pattern}: {self.name!r}")
        if self.every_seconds < 1:
            raise ValueError(f"periodic job {self.name}: every_seconds must be at least 1")


# Add periodic jobs here (one line each) or with register() next to their actor.
PERIODIC_JOBS: list[PeriodicJob] = []


def register(job: PeriodicJob) -> PeriodicJob:
    """Add a job to ``PERIODIC_JOBS``; registering the same job again (a re-import) is a no-op,
    a different job under a taken name is an error."""
    for existing in PERIODIC_JOBS:
        if existing.name == job.name:
            if existing != job:
                raise ValueError(f"another periodic job is already named {job.name!r}")
            return existing
    PERIODIC_JOBS.append(job)
    return job


def slot_key(job: PeriodicJob, slot: int) -> str:
    return f"{KEY_PREFIX}:{job.name}:{slot}"


Fired = tuple[str, str | None]


class Scheduler:
    """Fires each periodic job once per slot across every scheduler sharing one Redis."""

    def __init__(
        self,
        settings: Settings,
        *,
        jobs: Sequence[PeriodicJob] | None = None,
        broker: dramatiq.Broker | None = None,
        instance_id: str | None = None,
    ) -> None:
        assert settings.redis_url is not None and settings.database_url is not None
        self.settings = settings
        self._jobs = jobs  # None: PERIODIC_JOBS as it is at each tick
        self.broker = broker
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._engine: Engine | None = None
        self._handled: dict[str, int] = {}  # job name → last slot won or lost by this instance

    @property
    def jobs(self) -> Sequence[PeriodicJob]:
        return PERIODIC_JOBS if self._jobs is None else self._jobs

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = sync_engine(self.settings.database_url or "", pool_size=1)
        return self._engine

    def active_tenants(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT slug FROM platform.tenants WHERE status = 'active' ORDER BY slug")
            ).scalars()
            return [str(slug) for slug in rows]

    def tick(self, now: float) -> list[Fired]:
        """Fire every job whose current slot nobody has fired yet; returns (job, tenant) pairs
        this instance enqueued. A failing job is logged and retried next tick; it does not stop
        the others."""
        fired: list[Fired] = []
        for job in list(self.jobs):
            slot = int(now // job.every_seconds)
            if self._handled.get(job.name) == slot:
                continue
            try:
                fired.extend(self._fire(job, slot))
            except dramatiq.errors.ActorNotFound:
                log.error(
                    "periodic job %s: no actor named %r; skipping slot %d", job.name, job.actor_name, slot
                )
            except Exception:
                log.exception("periodic job %s (slot %d) failed; retrying next tick", job.name, slot)
                continue
            self._handled[job.name] = slot
        return fired

    def _fire(self, job: PeriodicJob, slot: int) -> list[Fired]:
        broker = self.broker or dramatiq.get_broker()
        actor = broker.get_actor(job.actor_name)  # before claiming: an unknown actor claims nothing
        key = slot_key(job, slot)
        if not self.redis.set(key, self.instance_id, nx=True, ex=2 * job.every_seconds):
            return []
        fired: list[Fired] = []
        try:
            tenants: list[str | None] = list(self.active_tenants()) if job.per_tenant else [None]
            for tenant in tenants:
                actor.send_with_options(kwargs={} if tenant is None else {"tenant": tenant})
                fired.append((job.name, tenant))
        except Exception:
            if fired:
                log.error(
                    "periodic job %s (slot %d): only %d message(s) enqueued", job.name, slot, len(fired)
                )
            else:
                self._release(key)
            raise
        log.info("periodic job %s fired (slot %d, %d message(s))", job.name, slot, len(fired))
        return fired

    def _release(self, key: str) -> None:
        try:
            self.redis.eval(_RELEASE, 1, key, self.instance_id)
        except redis.RedisError:
            log.warning("could not release %s; the slot is skipped", key)

    def relay_outbox(self) -> int:
        """Send the after-commit jobs that were not relayed right after their commit (Redis was
        down then, or the process died): every second, so such work is late, never lost."""
        try:
            return outbox.relay_pending(self.engine)
        except Exception:
            log.exception("outbox relay failed; retrying next tick")
            return 0

    def run_forever(self, stop_event: threading.Event) -> None:
        """Tick at every whole second until ``stop_event`` is set."""
        log.info("scheduler %s started with %d periodic job(s)", self.instance_id, len(self.jobs))
        while not stop_event.is_set():
            try:
                self.tick(time.time())
            except Exception:  # tick isolates jobs; this is a last resort
                log.exception("scheduler tick failed")
            self.relay_outbox()
            stop_event.wait(max(0.05, 1.0 - time.time() % 1.0))
        log.info("scheduler %s stopped", self.instance_id)

    def close(self) -> None:
        self.redis.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def serve(settings: Settings) -> int:
    """The scheduler process: broker, every actor module, then ticks until SIGTERM or SIGINT."""
    broker = setup_broker(settings)
    for module in ACTOR_MODULES:
        importlib.import_module(module)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = Scheduler(settings, broker=broker)
    try:
        scheduler.run_forever(stop)
    finally:
        scheduler.close()
        broker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
