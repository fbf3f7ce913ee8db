"""Prometheus metrics, served at ``/metrics`` on the console host only.

Several processes share one host (``motcua run`` starts several web workers and a job worker;
uvicorn's workers answer on one port, so a scrape reaches any one of them). Each process
therefore writes its figures to memory-mapped files in one directory per machine
(prometheus_client's multiprocess mode): ``PROMETHEUS_MULTIPROC_DIR`` if the operator sets it,
else ``<data dir>/metrics/<hostname>`` — per host name, so containers that share a data volume
never write each other's files (two containers' processes may have the same pid). Whichever
process answers a scrape sums every file. Counters and histograms of processes that died are
kept (they are cumulative); the pool gauges of a dead process are removed when the next process
of the machine starts.

Figures that cost a round trip (queue depth, outbox lag) are read only when scraped, never on
a request's path. Tenant sites are counted under their slug for the first ``MAX_SITE_LABELS``
sites a process sees, then under ``other``, so a thousand tenants cannot become an unbounded
number of series.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from motcua.core.db import Database
from motcua.core.settings import Settings, load_settings

log = logging.getLogger(__name__)

MAX_SITE_LABELS = 100
# Seconds; a page is expected well under 100 ms, the slow tail (exports, slips) up to seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
# Any other method a client invents counts as OTHER: a label value per invented method would
# let anyone grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_dir(settings: Settings) -> Path:
    explicit = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(explicit) if explicit else settings.data_dir / "metrics" / socket.gethostname()


class Metrics:
    """This process's metrics; ``setup`` makes the one instance."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # registry=None: the figures live in the directory's files, gathered at each scrape.
        self.request_seconds = Histogram(
            "motcua_request_duration_seconds",
            "Time to answer a request, by route template, method and status class",
            ["route", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=None,
        )
        self.site_requests = Counter(
            "motcua_site_requests",
            f"Requests per site (tenant slug, console, platform; 'other' past {MAX_SITE_LABELS} sites)",
            ["site"],
            registry=None,
        )
        self.pool_in_use = Gauge(
            "motcua_db_pool_in_use",
            "Database connections checked out of the web processes' pools",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.pool_size = Gauge(
            "motcua_db_pool_size",
            "Connections the web processes' pools keep (each may open as many again in overflow)",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.job_runs = Counter(
            "motcua_job_runs", "Jobs run, by actor and outcome", ["actor", "outcome"], registry=None
        )
        self.job_seconds = Histogram(
            "motcua_job_duration_seconds",
            "Time to run a job, by actor",
            ["actor"],
            buckets=JOB_BUCKETS,
            registry=None,
        )
        # Children by label values: labels() takes a lock and builds a key on every call.
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._site_children: dict[str, Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float, site: str) -> None:
        key = (route, method, status // 100)
        child = self._request_children.get(key)
        if child is None:
            known = method if method in _METHODS else "OTHER"
            child = self.request_seconds.labels(route, known, _STATUS_CLASSES.get(status // 100, "other"))
            if known == method:
                self._request_children[key] = child
        child.observe(seconds)
        counter = self._site_children.get(site)
        if counter is None:
            label = site if len(self._site_children) < MAX_SITE_LABELS else "other"
            counter = self._site_children[site] = self.site_requests.labels(label)
        counter.inc()

    def observe_job(self, actor: str, outcome: str, seconds: float) -> None:
        self.job_runs.labels(actor, outcome).inc()
        self.job_seconds.labels(actor).observe(seconds)

    def instrument_pool(self, engine: AsyncEngine) -> None:
        """Counts the pool's connections as they are checked out and in (a pool event per
        checkout: no work at scrape time, nothing on the request's path but an increment)."""
        pool: Any = engine.sync_engine.pool
        self.pool_size.inc(pool.size())
        event.listen(pool, "checkout", lambda *_: self.pool_in_use.inc())
        event.listen(pool, "checkin", lambda *_: self.pool_in_use.dec())


_METRICS: Metrics | None = None


def setup(settings: Settings) -> Metrics:
    """This process's metrics, writing to the machine's directory (made once per process)."""
    global _METRICS
    if _METRICS is not None:
        return _METRICS
    directory = metrics_dir(settings)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # Metrics must never stop the app from starting (a read-only data volume).
        fallback = Path(tempfile.gettempdir()) / f"motcua-metrics-{os.getuid()}"
        log.warning("metrics: cannot write %s (%s); using %s", directory, exc, fallback)
        directory = fallback
        directory.mkdir(parents=True, exist_ok=True)
    # prometheus_client picks its value store when it is imported, from this variable; it is
    # set here for child processes, and the store is switched in case the import came first.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _sweep_dead_processes(directory)
    _METRICS = Metrics(directory)
    return _METRICS


def _sweep_dead_processes(directory: Path) -> None:
    # Only the "live" gauges are dropped; counters and histograms of a dead process still count.
    for path in directory.glob("gauge_live*_*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, someone else's


class _ScrapeTime(Collector):
    def __init__(self, found: Iterable[Metric]) -> None:
        self.found = list(found)

    def collect(self) -> Iterator[Metric]:
        yield from self.found


async def _queue_depths(redis: Any) -> Metric:
    depth = GaugeMetricFamily("motcua_queue_depth", "Messages waiting in each job queue", labels=["queue"])
    queues = sorted(dramatiq.get_broker().get_declared_queues())
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(f"motcua:{queue}")
        lengths = await pipe.execute()
    for queue, length in zip(queues, lengths, strict=True):
        depth.add_metric([queue], float(length))
    return depth


_OLDEST_UNSENT = text(
    "SELECT extract(epoch FROM now() - created_at) FROM platform.outbox "
    "WHERE sent_at IS NULL ORDER BY id LIMIT 1"
)


async def _outbox_lag(db: Database) -> Metric:
    # The partial index of unsent rows (ix_outbox_unsent) makes this one index probe.
    async with db.engine.connect() as conn:
        age = (await conn.execute(_OLDEST_UNSENT)).scalar_one_or_none()
    return GaugeMetricFamily(
        "motcua_outbox_lag_seconds",
        "Age of the oldest job not yet relayed to the queue (0: none)",
        value=float(age or 0.0),
    )


def exposition(directory: Path, found: Iterable[Metric] = ()) -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(_ScrapeTime(found))
    return generate_latest(registry)


def serve_worker_metrics() -> int:
    """Run by Dramatiq in a process of its own beside the workers (``WorkerExposition``): the
    job metrics of this machine, for Prometheus, on ``MOTCUA_WORKER_METRICS_PORT``."""
    from prometheus_client import start_http_server

    settings = load_settings()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir(settings)))  # type: ignore[no-untyped-call]
    _, thread = start_http_server(settings.worker_metrics_port, addr="0.0.0.0", registry=registry)  # noqa: S104
    thread.join()
    return 0


class WorkerExposition(Middleware):
    """Where web and workers run in separate containers, a scrape of the console's /metrics
    never reaches the workers' files: the worker serves them on a port of its own, which no
    Service or Ingress exposes."""

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve_worker_metrics]


def _authorised(request: Request[Any, Any, Any], token: str) -> bool:
    if not token:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


# The tenant middleware moves the console host's paths under /console and answers 404 for that
# prefix on every other host: this is admin.<platform domain>/metrics and nowhere else.
@get("/console/metrics", include_in_schema=False)
async def metrics_page(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db: NamedDependency[Database],
    redis: NamedDependency[Any],
) -> Response[bytes]:
    if not _authorised(request, settings.metrics_token):
        return Response(b"", status_code=401, headers={"www-authenticate": "Bearer"}, media_type="text/plain")
    found: list[Metric] = []
    started = time.perf_counter()
    for read in (_queue_depths(redis), _outbox_lag(db)):
        try:
            found.append(await read)
        except Exception:
            # A scrape still shows the rest; the missing series says what is down.
            log.exception("metrics: a figure read at scrape time failed")
    found.append(
        GaugeMetricFamily(
            "motcua_scrape_read_seconds",
            "Time spent reading queue depth and outbox lag",
            value=time.perf_counter() - started,
        )
    )
    body = exposition(setup(settings).directory, found)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})
