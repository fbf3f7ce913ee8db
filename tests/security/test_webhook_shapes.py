"""Signed but malformed provider events: refused or ignored (as Stripe expects), never a 500,
and nothing changes."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.conftest import MakeTenant
from tests.payments.test_webhooks import _merchant, platform, signed

__all__ = ["platform"]

ACCOUNT = "acct_shapes"

SHAPES: list[object] = [
    [],
    "evt",
    {"id": 5},
    {"id": "evt_s1", "type": "checkout.session.completed", "account": ACCOUNT},
    {"id": "evt_s2", "type": "checkout.session.completed", "account": ACCOUNT, "data": "x"},
    {"id": "evt_s3", "type": "checkout.session.completed", "account": ACCOUNT, "data": {"object": "x"}},
    {"id": "evt_s4", "type": "checkout.session.completed", "account": ACCOUNT, "data": {"object": {}}},
    {
        "id": "evt_s5",
        "type": "checkout.session.completed",
        "account": ACCOUNT,
        "data": {"object": {"id": 7, "amount_total": "many", "currency": None, "payment_status": []}},
    },
    {
        "id": "evt_s6",
        "type": "charge.refunded",
        "account": ACCOUNT,
        "data": {"object": {"amount_refunded": "x"}},
    },
    {"id": "evt_s7", "type": None, "account": ACCOUNT, "data": {"object": {}}},
    {"id": "evt_s8", "type": "checkout.session.completed", "account": ["acct"], "data": {"object": {}}},
]


@pytest.fixture
def merchant(make_tenant: MakeTenant, engine: Engine) -> str:
    tenant = make_tenant()
    _merchant(engine, tenant, ACCOUNT)
    return tenant.schema


@pytest.mark.parametrize("shape", SHAPES, ids=[f"shape{i}" for i in range(len(SHAPES))])
async def test_a_signed_malformed_event_is_never_a_server_error(
    platform: httpx.AsyncClient, merchant: str, engine: Engine, shape: object
) -> None:
    body = json.dumps(shape).encode()
    response = await platform.post(
        "/webhooks/stripe",
        content=body,
        headers={"stripe-signature": signed(body), "content-type": "application/json"},
    )
    assert response.status_code < 500
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {merchant}.payments")).scalar_one() == 0
