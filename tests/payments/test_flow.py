"""The payment journey through the official `stripe` library and the local stand-in: checkout,
the return page asking the provider (not trusting the URL), reconciliation after a crash,
refunds — with VND amounts as whole đồng."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.payments.provider import LineItem, StripeProvider
from motcua.payments.services import reconcile
from motcua.payments.standin import StripeStandin
from motcua.tenancy.schemas import Tenant
from tests.backoffice.test_workspace import _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.payments.test_webhooks import SECRET, _merchant
from tests.workers import start_worker

API_KEY = "sk_test_standin"
FEE = {**BIRTH, "fee_vnd": 50000}


@pytest.fixture
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(API_KEY, SECRET, known_accounts={"acct_pay"}) as server:
        yield server


@pytest.fixture
def paying_app(live_settings: Settings, standin: StripeStandin) -> object:
    from motcua.app import create_app

    return create_app(
        replace(
            live_settings,
            stripe_secret_key=API_KEY,
            stripe_webhook_secret=SECRET,
            stripe_api_base=standin.api_base,
        )
    )


async def _citizen_on(app: object, browser: httpx.AsyncClient, tenant: Tenant) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=f"http://{tenant.slug}.localhost",
        follow_redirects=False,
    )
    client.cookies = browser.cookies
    return client


async def test_a_citizen_pays_and_the_return_page_asks_the_provider(
    paying_app: object, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    browser, code = await _submit(sign_in, tenant)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        page = await citizen.get(f"/my/dossiers/{code}")
        assert 'data-paid="no"' in page.text
        assert "Thanh toán trực tuyến" in page.text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        started = await citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
        assert started.status_code == 303, started.text[:500]
        checkout = started.headers["location"]
        assert checkout.startswith(standin.api_base + "/pay/cs_test_")
        hosted = httpx.get(checkout)
        assert "50.000" in hosted.text  # 50,000 ₫, not 500 and not 5,000,000
        paid = httpx.post(checkout, data={"action": "pay"}, follow_redirects=False)
        back = paid.headers["location"]
        assert back.startswith(f"http://{tenant.slug}.localhost/payments/")
        result = await citizen.get(back.removeprefix(f"http://{tenant.slug}.localhost"))
        assert 'data-payment-status="succeeded"' in result.text
        assert "50.000 ₫" in result.text
        after = await citizen.get(f"/my/dossiers/{code}")
        assert 'data-paid="yes"' in after.text
        assert "Thanh toán trực tuyến" not in after.text
        again = await citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
        assert again.status_code == 409
        assert "đã được thanh toán" in again.text
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT id, amount_vnd, status, provider_payment_ref FROM {tenant.schema}.payments")
        ).one()
        receipt_id = conn.execute(text(f"SELECT id FROM {tenant.schema}.receipts")).scalar_one()
    assert (row.amount_vnd, row.status) == (50000, "succeeded")
    assert row.provider_payment_ref.startswith("pi_test_")
    assert f'href="/receipts/{receipt_id}"' in result.text  # the return page links the receipt
    assert "Thanh toán trực tuyến" in (await browser.get(f"/receipts/{receipt_id}")).text

    # The officer sees it paid, then refunds part of it through the provider.
    officer_browser = await _officer(sign_in, engine, tenant)
    async with await _citizen_on(paying_app, officer_browser, tenant) as officer:
        workspace = await officer.get(f"/officer/dossiers/{code}")
        assert 'data-paid="yes"' in workspace.text
        assert f'data-payment-id="{row.id}" data-payment-status="succeeded"' in workspace.text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', workspace.text)
        assert token is not None
        refunded = await officer.post(
            f"/officer/dossiers/{code}/payments/{row.id}/refund",
            data={"_csrf_token": token.group(1), "amount": "20000", "reason": "Thu thừa lệ phí"},
        )
        assert refunded.status_code == 303, refunded.text[:500]
    with engine.connect() as conn:
        refund = conn.execute(
            text(f"SELECT amount_vnd, status, provider_ref FROM {tenant.schema}.refunds")
        ).one()
        payment = conn.execute(text(f"SELECT status, refunded_vnd FROM {tenant.schema}.payments")).one()
    assert (refund.amount_vnd, refund.status) == (20000, "succeeded")
    assert (payment.status, payment.refunded_vnd) == ("succeeded", 20000)
    # The provider holds the same refund, in whole đồng, on the locality's account.
    stripe_refund = StripeProvider(API_KEY, SECRET, api_base=standin.api_base).client.v1.refunds.retrieve(
        refund.provider_ref, options={"stripe_account": "acct_pay"}
    )
    assert (stripe_refund.amount, stripe_refund.currency) == (20000, "vnd")


async def test_reconciliation_repairs_a_crash_between_provider_and_database(
    standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    _, code = await _submit(sign_in, tenant)
    with engine.begin() as conn:
        payment_id = conn.execute(
            text(
                f"INSERT INTO {tenant.schema}.payments "
                "(dossier_id, provider, amount_vnd, status, account, origin) "
                f"SELECT id, 'stripe', fee_vnd, 'created', 'acct_pay', 'http://{tenant.slug}.localhost' "
                f"FROM {tenant.schema}.dossiers WHERE code = :c RETURNING id"
            ),
            {"c": code},
        ).scalar_one()
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    tenant = replace(tenant, settings={**tenant.settings, "payments": {"stripe_account": "acct_pay"}})
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        # The provider was called, then the process died before storing its answer.
        lost = provider.start_checkout(
            payment_id=payment_id,
            account="acct_pay",
            items=[
                __import__("motcua.payments.provider", fromlist=["LineItem"]).LineItem(
                    name="Phí, lệ phí: Đăng ký khai sinh", amount_vnd=50000
                )
            ],
            success_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/return",
            cancel_url=f"http://{tenant.slug}.localhost/my/dossiers/{code}",
            reference=code,
        )
        standin.complete(lost.provider_ref)  # and the citizen paid meanwhile
        assert await reconcile(db, provider, tenant) >= 1
        assert await reconcile(db, provider, tenant) == 0  # nothing left to move
    finally:
        await db.dispose()
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT provider_ref, status FROM {tenant.schema}.payments")).all()
    assert [(r.provider_ref, r.status) for r in rows] == [
        (lost.provider_ref, "succeeded")
    ]  # found, not duplicated


async def test_the_reconciliation_job_settles_a_payment_in_a_real_worker(
    standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    import time

    from motcua.payments.jobs import reconcile_payments

    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    _, code = await _submit(sign_in, tenant)
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    with engine.begin() as conn:
        payment_id = conn.execute(
            text(
                f"INSERT INTO {tenant.schema}.payments "
                "(dossier_id, provider, amount_vnd, status, account, origin) "
                f"SELECT id, 'stripe', fee_vnd, 'created', 'acct_pay', 'http://{tenant.slug}.localhost' "
                f"FROM {tenant.schema}.dossiers WHERE code = :c RETURNING id"
            ),
            {"c": code},
        ).scalar_one()
    started = provider.start_checkout(
        payment_id=payment_id,
        account="acct_pay",
        items=[LineItem(name="Phí, lệ phí: Đăng ký khai sinh", amount_vnd=50000)],
        success_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/return",
        cancel_url=f"http://{tenant.slug}.localhost/my/dossiers/{code}",
        reference=code,
    )
    standin.complete(started.provider_ref)
    env = {
        "MOTCUA_STRIPE_SECRET_KEY": API_KEY,
        "MOTCUA_STRIPE_WEBHOOK_SECRET": SECRET,
        "MOTCUA_STRIPE_API_BASE": standin.api_base,
    }
    worker = start_worker("payments", env=env)
    try:
        reconcile_payments.send(tenant=tenant.slug)

        def status() -> str:
            with engine.connect() as conn:
                return str(
                    conn.execute(
                        text(f"SELECT status FROM {tenant.schema}.payments WHERE id = :p"), {"p": payment_id}
                    ).scalar_one()
                )

        deadline = time.monotonic() + 40
        while status() != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert status() == "succeeded"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
