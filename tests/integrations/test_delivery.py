"""Deliveries against a real HTTP receiver: Standard Webhooks signatures verified with the
reference library, order per dossier, retries with backoff, no redirects followed, the 24-hour
limit, deliveries to the right subscriptions only, and the DossierEvent → worker → receiver path."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import WebhookVerificationError

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.dossiers.lifecycle import Action
from motcua.integrations.delivery import ERRORS, LEASE, attempt, claim, next_delay, send_due
from motcua.integrations.webhooks import EVENT_TYPE, event_id
from tests.conftest import MakeTenant
from tests.integrations.hooks_support import (
    SIMPLE,
    Receiver,
    act,
    db,
    deliveries,
    fan_out,
    make_due,
    new_client,
    receiver,
    statuses,
    submit,
    subscribe,
)
from tests.workers import start_worker

__all__ = ["db", "receiver"]

JOURNEY = ["submitted", "accepted", "in_progress", "supplement_requested"]


async def test_each_status_change_arrives_signed_and_in_order(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    assert created.secret.startswith("whsec_")
    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    await act(db, tenant, code, Action.START)
    await act(db, tenant, code, Action.REQUEST_SUPPLEMENT, reason="Thiếu bản sao", items="Bản sao CCCD")

    assert await fan_out(db, tenant, code) == 4
    # A redelivered DossierEvent (at-least-once) records nothing twice.
    assert await fan_out(db, tenant, code) == 0
    assert await send_due(db, tenant, live_settings) == 4

    calls = receiver.on("/hook")
    assert statuses(calls, created.secret) == JOURNEY  # each signature verified, in order
    first = calls[0].verified(created.secret)
    assert first["type"] == EVENT_TYPE
    assert first["data"]["code"] == code
    assert first["data"]["external_id"].startswith("ext-")
    assert first["data"]["previous_status"] is None
    assert calls[1].verified(created.secret)["data"]["previous_status"] == "submitted"
    assert calls[1].verified(created.secret)["data"]["status_label"] == "Được tiếp nhận"
    assert calls[0].headers["webhook-signature"].startswith("v1,")
    assert len({c.event_id for c in calls}) == 4
    rows = deliveries(engine, tenant, created.subscription.id)
    assert [(r.status, r.attempts, r.last_status_code) for r in rows] == [("delivered", 1, 204)] * 4

    # The next change goes out after the ones before; nothing already delivered is sent again.
    await act(db, tenant, code, Action.STOP, reason="Người nộp đề nghị dừng")
    assert await fan_out(db, tenant, code) == 1
    await send_due(db, tenant, live_settings)
    assert statuses(receiver.on("/hook"), created.secret) == [*JOURNEY, "stopped"]


async def test_a_failing_receiver_gets_the_event_after_retries_and_later_ones_wait(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    sub = created.subscription.id
    receiver.script["/hook"] = [500, 503]
    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    await fan_out(db, tenant, code)

    await send_due(db, tenant, live_settings)
    # One try of the first event; the second waits behind it, however due it is.
    assert statuses(receiver.on("/hook"), created.secret) == ["submitted"]
    first, second = deliveries(engine, tenant, sub)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.last_error == ERRORS["status"]
    assert (second.status, second.attempts) == ("pending", 0)
    # Nothing is due until the backoff has passed.
    assert await send_due(db, tenant, live_settings) == 0

    make_due(engine, tenant, sub)
    await send_due(db, tenant, live_settings)
    assert deliveries(engine, tenant, sub)[0].attempts == 2
    make_due(engine, tenant, sub)
    await send_due(db, tenant, live_settings)

    calls = receiver.on("/hook")
    assert statuses(calls, created.secret) == ["submitted", "submitted", "submitted", "accepted"]
    assert len({c.event_id for c in calls[:3]}) == 1  # the same event id on every retry
    rows = deliveries(engine, tenant, sub)
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 3), ("delivered", 1)]


async def test_after_24_hours_an_event_fails_and_the_next_one_of_the_dossier_goes(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    sub = created.subscription.id
    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    await fan_out(db, tenant, code)
    first = deliveries(engine, tenant, sub)[0]
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {tenant.schema}.webhook_deliveries SET created_at = now() - interval '25 hours' "
                "WHERE id = :id"
            ),
            {"id": first.id},
        )
    receiver.script["/hook"] = [500]
    await send_due(db, tenant, live_settings)
    rows = deliveries(engine, tenant, sub)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("delivered", 1)]
    assert statuses(receiver.on("/hook"), created.secret) == ["submitted", "accepted"]


async def test_redirects_are_not_followed(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    receiver.script["/hook"] = [307, 302]
    code = await submit(db, tenant, client)
    await fan_out(db, tenant, code)
    await send_due(db, tenant, live_settings)
    make_due(engine, tenant, created.subscription.id)
    await send_due(db, tenant, live_settings)
    assert len(receiver.on("/hook")) == 2
    assert receiver.on("/elsewhere") == []
    (row,) = deliveries(engine, tenant, created.subscription.id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        "pending",
        2,
        302,
        ERRORS["redirect"],
    )


async def test_only_the_dossiers_a_subscription_hears_of_are_sent_to_it(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    mine = (await new_client(db, tenant, source="mine")).client
    other = (await new_client(db, tenant, source="other")).client
    watcher = (await new_client(db, tenant, scopes=("webhooks", "dossiers:read"), source="watch")).client
    own = await subscribe(db, tenant, live_settings, mine, receiver.url("/mine"))
    every = await subscribe(db, tenant, live_settings, watcher, receiver.url("/all"), all_dossiers=True)
    theirs = await submit(db, tenant, other)
    at_desk = await submit(db, tenant, None)
    ours = await submit(db, tenant, mine)
    for code in (theirs, at_desk, ours):
        await fan_out(db, tenant, code)
    await send_due(db, tenant, live_settings)

    assert [c.verified(own.secret)["data"]["code"] for c in receiver.on("/mine")] == [ours]
    assert sorted(c.verified(every.secret)["data"]["code"] for c in receiver.on("/all")) == sorted(
        [theirs, at_desk, ours]
    )
    # A signature made with another subscription's secret does not verify.
    with pytest.raises(WebhookVerificationError):
        receiver.on("/mine")[0].verified(every.secret)


async def test_a_disabled_subscription_or_revoked_client_is_sent_nothing(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    from motcua.core.audit import Actor
    from motcua.integrations.clients import revoke_client
    from motcua.integrations.models import ApiClientRow
    from motcua.integrations.webhooks import disable_subscription

    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    stopped = await subscribe(db, tenant, live_settings, client, receiver.url("/stopped"))
    code = await submit(db, tenant, client)
    await fan_out(db, tenant, code)
    async with db.tenant_session(tenant) as session:
        assert await disable_subscription(session, stopped.subscription.id, actor=Actor.operator("test"))
    (row,) = deliveries(engine, tenant, stopped.subscription.id)
    assert row.status == "failed"

    gone = (await new_client(db, tenant, source="gone")).client
    revoked = await subscribe(db, tenant, live_settings, gone, receiver.url("/revoked"))
    later = await submit(db, tenant, gone)
    async with db.tenant_session(tenant) as session:
        fresh = await session.get(ApiClientRow, gone.id)
        assert fresh is not None
        await revoke_client(session, fresh, actor=Actor.operator("test"))
    assert await fan_out(db, tenant, later) == 0
    await send_due(db, tenant, live_settings)
    assert receiver.calls == []
    assert deliveries(engine, tenant, revoked.subscription.id) == []


async def test_a_claimed_delivery_is_not_claimed_again_while_it_is_in_flight(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    from datetime import UTC, datetime

    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    await fan_out(db, tenant, code)
    now = datetime.now(UTC)
    async with db.tenant_session(tenant) as first, db.tenant_session(tenant) as second:
        mine = await claim(first, now=now)
        # Another worker at the same moment: the head is locked, the next one is not a head.
        assert await claim(second, now=now) == []
    assert [c.event_id for c in mine] == [deliveries(engine, tenant, created.subscription.id)[0].event_id]
    async with db.tenant_session(tenant) as third:
        # Once the claim is committed, its lease keeps it from everyone until it ends.
        assert await claim(third, now=now) == []
        assert [c.id for c in await claim(third, now=now + LEASE + LEASE)] == [mine[0].id]


def test_backoff_grows_with_jitter_and_then_every_two_hours() -> None:
    import random

    rng = random.Random(7)
    delays = [next_delay(n, rng) for n in range(1, 10)]
    bases = [5, 30, 120, 600, 1800, 3600, 7200, 7200, 7200]
    assert all(0.8 * b <= d <= 1.2 * b for d, b in zip(delays, bases, strict=True))
    assert event_id("hanoi", 1, 2) == event_id("hanoi", 1, 2) != event_id("danang", 1, 2)


async def test_in_production_an_internal_address_is_refused_at_delivery(receiver: Receiver) -> None:
    payload: dict[str, Any] = {"type": EVENT_TYPE, "timestamp": "2026-01-01T00:00:00Z", "data": {}}
    secret = "whsec_" + "A" * 43 + "="
    for url in (receiver.url(), f"http://localhost:{receiver.port}/hook"):
        outcome = await attempt(url, "msg_x", payload, secret, production=True)
        assert (outcome.ok, outcome.error) == (False, ERRORS["not_public"])
    assert receiver.calls == []
    unknown = await attempt("https://no-such-host.invalid/hook", "msg_x", payload, secret, production=True)
    assert (unknown.ok, unknown.error) == (False, ERRORS["resolve"])
    # Outside production the same receiver is reached (the name pinned to its address).
    local = await attempt(
        f"http://localhost:{receiver.port}/hook", "msg_x", payload, secret, production=False
    )
    assert local.ok and receiver.calls[0].headers["host"] == f"localhost:{receiver.port}"


async def test_the_worker_sends_what_an_officer_action_emits(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    """End to end: the DossierEvent goes through the outbox to the real worker, which records the
    deliveries and sends them."""
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    worker = start_worker("webhooks", threads=2)
    try:
        code = await submit(db, tenant, client)
        await act(db, tenant, code, Action.ACCEPT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(receiver.on("/hook")) < 2:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert statuses(receiver.on("/hook"), created.secret) == ["submitted", "accepted"]


async def test_status_changes_whose_event_was_lost_are_recorded_by_the_periodic_catch_up(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, receiver: Receiver
) -> None:
    from motcua.integrations.delivery import catch_up

    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    # No fan-out: as if both DossierEvents had been lost with Redis or a killed worker.
    assert deliveries(engine, tenant, created.subscription.id) == []
    async with db.tenant_session(tenant) as session:
        assert await catch_up(session, tenant.slug) == 2
    async with db.tenant_session(tenant) as session:
        assert await catch_up(session, tenant.slug) == 0  # nothing twice
    assert await send_due(db, tenant, live_settings) == 2
    assert statuses(receiver.on("/hook"), created.secret) == ["submitted", "accepted"]
