"""The periodic scheduler against the real Redis: each slot of a job fires once in total, however
many schedulers race for it."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from sqlalchemy import Engine

from motcua.core import scheduler as scheduler_module
from motcua.core.audit import Actor
from motcua.core.scheduler import PeriodicJob, Scheduler, register, slot_key
from motcua.core.settings import Settings
from tests.conftest import MakeTenant

QUEUE = "test-scheduler"
ACTOR = "motcua_test_scheduler_job"
EVERY = 60


def _scheduled_job(tenant: str | None = None) -> None:  # never run: no worker consumes QUEUE
    pass


@pytest.fixture(scope="module")
def client(live_settings: Settings) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(live_settings.redis_url or "")
    yield c
    c.delete(f"motcua:{QUEUE}", f"motcua:{QUEUE}.msgs")
    for key in c.scan_iter("motcua:scheduler:test-*"):
        c.delete(key)
    c.close()


@pytest.fixture(scope="module")
def actor(live_settings: Settings, client: redis.Redis) -> Iterator[dramatiq.Actor[..., None]]:
    # Declared here, not at import: actors bind to the broker current when they are declared,
    # and conftest sets the real one up only in the live_settings fixture.
    broker = dramatiq.get_broker()
    declared = dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE)(_scheduled_job)
    yield declared
    broker.actors.pop(ACTOR, None)
    broker.queues.discard(QUEUE)


@pytest.fixture
def schedulers(live_settings: Settings, actor: object, client: redis.Redis) -> Iterator[list[Scheduler]]:
    made: list[Scheduler] = []
    client.delete(f"motcua:{QUEUE}", f"motcua:{QUEUE}.msgs")
    yield made
    for s in made:
        s.close()


def _job(per_tenant: bool = False) -> PeriodicJob:
    return PeriodicJob(f"test-{uuid.uuid4().hex[:8]}", EVERY, ACTOR, per_tenant)


def _new(made: list[Scheduler], settings: Settings, job: PeriodicJob) -> Scheduler:
    s = Scheduler(settings, jobs=[job])
    made.append(s)
    return s


def _queued(client: redis.Redis) -> list[dict[str, object]]:
    raw = client.hvals(f"motcua:{QUEUE}.msgs")
    return [json.loads(m) for m in raw]


def test_two_schedulers_at_the_same_moment_fire_once(
    schedulers: list[Scheduler], live_settings: Settings, client: redis.Redis
) -> None:
    job = _job()
    a, b = _new(schedulers, live_settings, job), _new(schedulers, live_settings, job)
    now = 1_000 * EVERY + 5.0
    fired = a.tick(now) + b.tick(now)
    assert fired == [(job.name, None)]
    # Later ticks in the same slot, by either, fire nothing more.
    assert a.tick(now + 30) + b.tick(now + 30) + a.tick(1_001 * EVERY - 0.01) == []
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 1
    assert client.llen(f"motcua:{QUEUE}") == 1
    (message,) = _queued(client)
    assert message["actor_name"] == ACTOR
    assert (message["args"], message["kwargs"]) == ([], {})
    assert client.get(slot_key(job, 1_000)) in (a.instance_id.encode(), b.instance_id.encode())
    assert 0 < (client.ttl(slot_key(job, 1_000)) or 0) <= 2 * EVERY

    # The next slot fires again, once.
    assert b.tick(now + EVERY) + a.tick(now + EVERY) == [(job.name, None)]
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 2


def test_racing_threads_fire_each_slot_exactly_once(
    schedulers: list[Scheduler], live_settings: Settings, client: redis.Redis
) -> None:
    job = _job()
    pair = [_new(schedulers, live_settings, job), _new(schedulers, live_settings, job)]
    rounds = 50
    barrier = threading.Barrier(2)
    results: list[list[list[tuple[str, str | None]]]] = [[], []]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait(timeout=10)
                results[i].append(pair[i].tick(2_000 * EVERY + r * EVERY + 1.5))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    per_round = [len(results[0][r]) + len(results[1][r]) for r in range(rounds)]
    assert per_round == [1] * rounds
    assert client.hlen(f"motcua:{QUEUE}.msgs") == rounds


def test_a_per_tenant_job_enqueues_one_message_per_active_tenant(
    schedulers: list[Scheduler],
    live_settings: Settings,
    client: redis.Redis,
    make_tenant: MakeTenant,
    engine: Engine,
) -> None:
    from motcua.tenancy.services import suspend_tenant

    first, second, suspended = make_tenant(), make_tenant(), make_tenant()
    suspend_tenant(engine, suspended.slug, actor=Actor.operator("test"))

    job = _job(per_tenant=True)
    a, b = _new(schedulers, live_settings, job), _new(schedulers, live_settings, job)
    now = 3_000 * EVERY + 0.5
    fired = a.tick(now) + b.tick(now)
    tenants = [tenant for name, tenant in fired if name == job.name]
    assert tenants.count(first.slug) == 1
    assert tenants.count(second.slug) == 1
    assert suspended.slug not in tenants
    assert None not in tenants
    queued = [m["kwargs"] for m in _queued(client)]
    assert queued.count({"tenant": first.slug}) == 1
    assert queued.count({"tenant": second.slug}) == 1
    assert {"tenant": suspended.slug} not in queued
    assert len(queued) == len(fired)


def test_a_restarted_scheduler_fires_the_current_slot_only(
    schedulers: list[Scheduler], live_settings: Settings, client: redis.Redis
) -> None:
    job = _job()
    before = _new(schedulers, live_settings, job)
    assert before.tick(4_000 * EVERY) == [(job.name, None)]
    before.close()

    # Down for ten periods, then back as a new process in the middle of a slot.
    after = _new(schedulers, live_settings, job)
    assert after.tick(4_010 * EVERY + 20) == [(job.name, None)]
    assert after.tick(4_010 * EVERY + 21) == []
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 2
    assert [k for k in range(4_001, 4_010) if client.exists(slot_key(job, k))] == []
    # Coming back within a slot someone already fired fires nothing.
    again = _new(schedulers, live_settings, job)
    assert again.tick(4_010 * EVERY + 40) == []
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 2


def test_an_unknown_actor_claims_no_slot(
    schedulers: list[Scheduler], live_settings: Settings, client: redis.Redis
) -> None:
    job = PeriodicJob(f"test-{uuid.uuid4().hex[:8]}", EVERY, "no_such_actor", False)
    assert _new(schedulers, live_settings, job).tick(5_000 * EVERY) == []
    assert not client.exists(slot_key(job, 5_000))
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 0


def test_register_adds_a_job_the_default_scheduler_runs(
    schedulers: list[Scheduler], live_settings: Settings, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty registry for this test, so the product's own periodic jobs do not fire here.
    monkeypatch.setattr(scheduler_module, "PERIODIC_JOBS", [])
    job = _job()
    assert register(job) is job
    assert register(PeriodicJob(job.name, EVERY, ACTOR, False)) is job  # a re-import: no-op
    with pytest.raises(ValueError, match="already named"):
        register(PeriodicJob(job.name, EVERY * 2, ACTOR, False))
    assert [job] == scheduler_module.PERIODIC_JOBS
    default = Scheduler(live_settings)
    schedulers.append(default)
    assert default.tick(6_000 * EVERY) == [(job.name, None)]
    assert client.hlen(f"motcua:{QUEUE}.msgs") == 1


def test_job_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="name"):
        PeriodicJob("has:colon", 60, ACTOR, False)
    with pytest.raises(ValueError, match="every_seconds"):
        PeriodicJob("ok", 0, ACTOR, False)
