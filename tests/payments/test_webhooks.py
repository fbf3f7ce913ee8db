"""Stripe webhooks: verified exactly as Stripe signs them, applied once, never backwards, and
only to the tenant that owns the connected account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.tenancy import events
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, SignIn

SECRET = "whsec_test_0123456789"
FEE = {**BIRTH, "fee_vnd": 50000}


def signed(payload: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_id: str, kind: str, session: dict[str, Any], account: str) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "account": account, "data": {"object": session}}
    ).encode()


@pytest.fixture
async def platform(live_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from motcua.app import create_app

    app = create_app(replace(live_settings, stripe_secret_key="sk_test_x", stripe_webhook_secret=SECRET))
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://localhost") as c:
        yield c


def _merchant(engine: Engine, tenant: Tenant, account: str) -> None:
    """Connect ``account`` to ``tenant`` (taking it from an earlier test's tenant: an account
    belongs to one tenant at a time)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE platform.tenants SET settings = settings #- '{payments,stripe_account}' "
                "WHERE settings->'payments'->>'stripe_account' = :a"
            ),
            {"a": account},
        )
        conn.execute(
            text(
                "UPDATE platform.tenants SET settings = settings || jsonb_build_object('payments', "
                "jsonb_build_object('stripe_account', CAST(:a AS text))) WHERE id = :t"
            ),
            {"a": account, "t": tenant.id},
        )
    events.tenants_changed()


def _payment(
    engine: Engine,
    tenant: Tenant,
    code: str,
    account: str,
    ref: str | None,
    *,
    status: str = "started",
    origin: str = "",
) -> int:
    """A payment row of the dossier's fee, as the product leaves it at ``status``."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    f"INSERT INTO {tenant.schema}.payments "
                    "(dossier_id, provider, amount_vnd, status, provider_ref, account, origin) "
                    "SELECT id, 'stripe', fee_vnd, :s, :ref, :a, :o "
                    f"FROM {tenant.schema}.dossiers WHERE code = :c RETURNING id"
                ),
                {"ref": ref, "a": account, "c": code, "s": status, "o": origin},
            ).scalar_one()
        )


def _status(engine: Engine, tenant: Tenant, payment_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT status, review_reason FROM {tenant.schema}.payments WHERE id = :p"),
            {"p": payment_id},
        ).one()
    return row.status, row.review_reason


async def test_webhooks_are_verified_deduplicated_ordered_and_checked(
    platform: httpx.AsyncClient, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, other = make_tenant(procedures=[FEE]), make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_a")
    _merchant(engine, other, "acct_b")
    _, code = await _submit(sign_in, tenant)
    payment_id = _payment(engine, tenant, code, "acct_a", "cs_test_1")
    paid = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 50000,
        "currency": "vnd",
        "payment_intent": "pi_test_1",
    }

    async def post(body: bytes, signature: str) -> httpx.Response:
        return await platform.post("/webhooks/stripe", content=body, headers={"stripe-signature": signature})

    body = event("evt_1", "checkout.session.completed", paid, "acct_a")
    assert (await post(body, signed(body, secret="whsec_wrong"))).status_code == 400  # bad signature
    assert (await post(body, signed(body, at=int(time.time()) - 3600))).status_code == 400  # stale
    assert (await post(body.replace(b"50000", b"50001"), signed(body))).status_code == 400  # tampered body
    foreign = event("evt_2", "checkout.session.completed", paid, "acct_unknown")
    assert (await post(foreign, signed(foreign))).status_code == 400  # no tenant owns this account
    assert _status(engine, tenant, payment_id) == ("started", None)

    applied = await post(body, signed(body))
    assert applied.json() == {"status": "applied"}
    assert _status(engine, tenant, payment_id)[0] == "succeeded"
    replay = await post(body, signed(body))
    assert replay.json() == {"status": "duplicate"}

    # A late "expired" for the same session must not move a paid payment backwards.
    expired = event(
        "evt_3",
        "checkout.session.expired",
        {**paid, "status": "expired", "payment_status": "unpaid"},
        "acct_a",
    )
    assert (await post(expired, signed(expired))).status_code == 200
    assert _status(engine, tenant, payment_id)[0] == "succeeded"

    # Tenant B's account never touches tenant A's payment, even with A's session id.
    stray = event("evt_4", "checkout.session.completed", paid, "acct_b")
    assert (await post(stray, signed(stray))).json() == {"status": "applied"}
    assert _status(engine, tenant, payment_id)[0] == "succeeded"
    with engine.connect() as conn:
        assert (
            conn.execute(
                text(f"SELECT count(*) FROM {other.schema}.payment_events WHERE payment_id IS NOT NULL")
            ).scalar()
            == 0
        )
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.payment_events")).scalar() == 2


async def test_an_amount_mismatch_is_flagged_for_review(
    platform: httpx.AsyncClient, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_c")
    _, code = await _submit(sign_in, tenant)
    payment_id = _payment(engine, tenant, code, "acct_c", "cs_test_2")
    # 500 = what a ×100 mistake on either side would look like for 5 ₫ — VND has no minor unit.
    odd = {
        "id": "cs_test_2",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 5000000,
        "currency": "vnd",
        "payment_intent": "pi_test_2",
    }
    body = event("evt_9", "checkout.session.completed", odd, "acct_c")
    response = await platform.post(
        "/webhooks/stripe", content=body, headers={"stripe-signature": signed(body)}
    )
    assert response.status_code == 200
    status, reason = _status(engine, tenant, payment_id)
    assert status == "review"
    assert reason is not None and "5000000" in reason and "50000" in reason
