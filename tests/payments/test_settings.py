"""A locality's payment settings: set by its administrator, validated, one tenant per account;
the platform fee is the platform's, from the tenant file."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.admin.services import build_spec
from motcua.core.audit import Actor
from motcua.core.tenant import Tenant
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from motcua.tenancy.services import TenancyError
from tests.conftest import MakeTenant
from tests.dossiers.conftest import SignIn
from tests.payments.test_webhooks import _merchant

ADMIN = "001080000777"


async def _admin(sign_in: SignIn, engine: Engine, tenant: Tenant) -> httpx.AsyncClient:
    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse(ADMIN, "tenant_admin"), actor=Actor.operator("test")
    )
    return await sign_in(tenant, name="Quản trị viên", personal_id=ADMIN)


def _payments(engine: Engine, tenant: Tenant) -> dict[str, object]:
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT settings->'payments' FROM platform.tenants WHERE id = :t"), {"t": tenant.id}
        ).scalar_one()
    return dict(value or {})


async def _save(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/manage/payments")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post("/manage/payments", data={"_csrf_token": token.group(1), **fields})


async def test_the_administrator_connects_the_locality_account(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    citizen = await sign_in(tenant)
    assert (await citizen.get("/manage/payments")).status_code == 403
    admin = await _admin(sign_in, engine, tenant)
    page = await admin.get("/manage/payments")
    assert page.status_code == 200
    assert 'data-online="no"' in page.text

    bad = await _save(admin, stripe_account="tài khoản của tỉnh", enabled="on")
    assert bad.status_code == 400
    assert "Mã tài khoản Stripe phải có dạng acct_" in bad.text
    assert 'value="tài khoản của tỉnh"' in bad.text  # what was typed is kept
    missing = await _save(admin, stripe_account="", enabled="on")
    assert missing.status_code == 400
    assert "Cần mã tài khoản Stripe để bật" in missing.text
    assert _payments(engine, tenant) == {}  # nothing was written

    saved = await _save(admin, stripe_account="acct_settings1", enabled="on")
    assert saved.status_code == 303
    assert _payments(engine, tenant) == {
        "enabled": True,
        "stripe_account": "acct_settings1",
        "platform_fee_vnd": 0,
    }
    assert 'data-online="yes"' in (await admin.get("/manage/payments?saved=1")).text
    with engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT actor FROM platform.audit_log "
                "WHERE action = 'payments.configured' AND tenant_slug = :s"
            ),
            {"s": tenant.slug},
        ).scalar_one()
    assert audit == f"tenant_admin:{ADMIN}"

    off = await _save(admin, stripe_account="acct_settings1")  # the box unticked
    assert off.status_code == 303
    assert _payments(engine, tenant)["enabled"] is False


async def test_an_account_belongs_to_one_tenant(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    first, second = make_tenant(), make_tenant()
    _merchant(engine, first, "acct_taken1")
    admin = await _admin(sign_in, engine, second)
    taken = await _save(admin, stripe_account="acct_taken1", enabled="on")
    assert taken.status_code == 400
    assert "đang được một cổng dịch vụ công khác sử dụng" in taken.text
    assert _payments(engine, second) == {}
    assert _payments(engine, first)["stripe_account"] == "acct_taken1"


async def test_the_platform_fee_is_not_the_locality_s_to_change(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE platform.tenants SET settings = settings || "
                '\'{"payments": {"enabled": true, "stripe_account": "acct_fee1", '
                '"platform_fee_vnd": 2000}}\'::jsonb WHERE id = :t'
            ),
            {"t": tenant.id},
        )
    admin = await _admin(sign_in, engine, tenant)
    page = await admin.get("/manage/payments")
    assert "2.000 ₫" in page.text
    await _save(admin, stripe_account="acct_fee2", enabled="on", platform_fee_vnd="0")
    assert _payments(engine, tenant) == {
        "enabled": True,
        "stripe_account": "acct_fee2",
        "platform_fee_vnd": 2000,
    }


def test_tenant_files_are_checked_before_anything_is_written() -> None:
    with pytest.raises(TenancyError, match="acct_"):
        build_spec(slug="t-pay", name="Tỉnh thử", settings={"payments": {"stripe_account": "stripe-1"}})
    with pytest.raises(TenancyError, match="phí nền tảng"):
        build_spec(
            slug="t-pay",
            name="Tỉnh thử",
            settings={"payments": {"stripe_account": "acct_x1", "platform_fee_vnd": "nhiều"}},
        )
    spec = build_spec(
        slug="t-pay", name="Tỉnh thử", settings={"payments": {"enabled": True, "stripe_account": "acct_x1"}}
    )
    assert spec.settings["payments"] == {"enabled": True, "stripe_account": "acct_x1", "platform_fee_vnd": 0}
