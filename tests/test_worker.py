"""A real Dramatiq worker process consuming from the real Redis."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from tests.conftest import MakeTenant
from tests.workers import start_worker


@pytest.fixture(scope="module")
def worker(live_settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(threads=2)
    yield proc
    proc.terminate()
    proc.wait(timeout=30)


def _wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _portal_opened_count(engine: Engine, schema: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM {schema}.audit_log WHERE action = 'portal.opened'")
            ).scalar()
            or 0
        )


def test_onboarding_enqueues_a_job_that_the_worker_runs_in_the_tenant_schema(
    worker: subprocess.Popen[bytes], make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    other = make_tenant()
    assert _wait_for(lambda: _portal_opened_count(engine, tenant.schema) == 1)
    assert _wait_for(lambda: _portal_opened_count(engine, other.schema) == 1)
    assert worker.poll() is None


def test_a_redelivered_job_is_harmless(
    worker: subprocess.Popen[bytes], make_tenant: MakeTenant, engine: Engine
) -> None:
    from motcua.tenancy.jobs import announce_tenant_ready

    tenant = make_tenant()
    assert _wait_for(lambda: _portal_opened_count(engine, tenant.schema) == 1)
    announce_tenant_ready.send(tenant=tenant.slug)
    marker = make_tenant()  # jobs are FIFO on one queue: once this one ran, the duplicate has too
    assert _wait_for(lambda: _portal_opened_count(engine, marker.schema) == 1)
    time.sleep(0.5)
    assert _portal_opened_count(engine, tenant.schema) == 1


def test_a_job_for_an_unknown_tenant_is_dropped_not_retried(
    worker: subprocess.Popen[bytes], make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    import redis

    from motcua.tenancy.jobs import announce_tenant_ready

    announce_tenant_ready.send(tenant="no-such-tenant")
    marker = make_tenant()
    assert _wait_for(lambda: _portal_opened_count(engine, marker.schema) == 1)
    assert worker.poll() is None
    with engine.connect() as conn:
        failures = conn.execute(
            text(
                "SELECT count(*) FROM platform.audit_log "
                "WHERE action = 'job.failed' AND tenant_slug = 'no-such-tenant'"
            )
        ).scalar()
    assert failures == 0
    # A retried message would sit in the delay queue; a dropped one is gone.
    client = redis.Redis.from_url(live_settings.redis_url or "")
    assert client.hlen("motcua:provisioning.DQ.msgs") == 0
    client.close()
