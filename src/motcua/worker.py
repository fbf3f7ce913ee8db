"""Entry point for ``dramatiq motcua.worker``: the broker, its middleware and every actor module."""

from __future__ import annotations

import importlib

import dramatiq
from dramatiq.middleware import Middleware

from motcua.core import invalidation, metrics, startgate, tracing
from motcua.core.broker import ACTOR_MODULES, TenantJobs, setup_broker
from motcua.core.logging import configure_logging
from motcua.core.settings import load_settings


class CacheInvalidation(Middleware):
    """Keeps the worker's tenant caches in step with changes made in any process.

    The worker's one cache of tenant data is ``TenantJobs``' status per tenant (jobs for an
    archived tenant are dropped); actors read tenants and settings afresh per job
    (``core.jobs.load_tenant``). The listener starts after the worker process boots, in that
    process: Dramatiq forks its worker processes, and a thread started before the fork would
    not survive it."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.listener: invalidation.ThreadedListener | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for middleware in broker.middleware:
            if isinstance(middleware, TenantJobs):
                invalidation.PROCESS.subscribe(middleware)
        self.listener = invalidation.ThreadedListener(self.redis_url).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.listener is not None:
            self.listener.stop()


settings = load_settings()
# Dramatiq has installed its handler (a pipe to its main process) before importing this module:
# it takes our format too, so job lines are JSON in production and carry the request id.
configure_logging(settings, take_over_handlers=True)
tracing.setup(settings)
broker = setup_broker(settings)
assert settings.redis_url is not None
broker.add_middleware(CacheInvalidation(settings.redis_url))
tracing.instrument_broker(broker)
if settings.worker_metrics_port:
    broker.add_middleware(metrics.WorkerExposition())
for module in ACTOR_MODULES:
    importlib.import_module(module)
# Under `motcua run`, the worker starts while the schemas are migrated: no job before that ends.
startgate.wait_blocking()
