"""The payment journey through the official `stripe` library and the local stand-in: checkout,
the return page asking the provider (not trusting the URL), reconciliation after a crash,
refunds — with VND amounts as whole đồng."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.db import Database
from motcua.core.messages import message_from_json
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dev.stripe_standin import StripeStandin
from motcua.dossiers.words import PAID, PROVIDER_REFUNDED
from motcua.payments.provider import LineItem, StripeProvider, checkout_key, refund_key
from motcua.payments.services import reconcile
from tests.backoffice.test_workspace import _act, _officer, _submit
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, SignIn
from tests.payments.test_settings import _admin
from tests.payments.test_webhooks import SECRET, _merchant, _payment
from tests.workers import start_worker

API_KEY = "sk_test_standin"
FEE = {**BIRTH, "fee_vnd": 50000}


@pytest.fixture
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(API_KEY, SECRET, known_accounts={"acct_pay"}) as server:
        yield server


@pytest.fixture
def paying_app(live_settings: Settings, standin: StripeStandin) -> Litestar:
    from motcua.app import create_app

    return create_app(
        replace(
            live_settings,
            stripe_secret_key=API_KEY,
            stripe_webhook_secret=SECRET,
            stripe_api_base=standin.api_base,
        )
    )


async def _citizen_on(app: Litestar, browser: httpx.AsyncClient, tenant: Tenant) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=asgi_transport(app),
        base_url=f"http://{tenant.slug}.localhost",
        follow_redirects=False,
    )
    client.cookies = browser.cookies
    return client


async def _merchant_dossier(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> tuple[Tenant, httpx.AsyncClient, str]:
    """A tenant taking online payments on ``acct_pay``, and a dossier with a 50.000 ₫ fee that a
    citizen (the returned browser) submitted there."""
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    browser, code = await _submit(sign_in, tenant)
    return tenant, browser, code


async def _pay_online(paying_app: Litestar, browser: httpx.AsyncClient, tenant: Tenant, code: str) -> None:
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        await _pay(citizen, await _checkout(citizen, code), tenant)


async def _refund_as_officer(
    paying_app: Litestar,
    sign_in: SignIn,
    engine: Engine,
    tenant: Tenant,
    code: str,
    payment_id: int,
    *,
    amount: str,
    reason: str,
    seen: tuple[str, ...] = (),
) -> httpx.Response:
    """An officer of ``tenant`` opens the dossier's workspace (checking it shows ``seen``) and
    refunds ``amount`` of the payment with ``reason``."""
    officer_browser = await _officer(sign_in, engine, tenant)
    async with await _citizen_on(paying_app, officer_browser, tenant) as officer:
        workspace = await officer.get(f"/officer/dossiers/{code}")
        for text_seen in seen:
            assert text_seen in workspace.text, text_seen
        token = re.search(r'name="_csrf_token" value="([^"]+)"', workspace.text)
        assert token is not None
        return await officer.post(
            f"/officer/dossiers/{code}/payments/{payment_id}/refund",
            data={"_csrf_token": token.group(1), "confirm": "yes", "amount": amount, "reason": reason},
        )


async def test_a_citizen_pays_and_the_return_page_asks_the_provider(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
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
        assert "Phí, lệ phí: " in hosted.text  # no fee in the catalogue matches: a generic line
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
    refunded = await _refund_as_officer(
        paying_app,
        sign_in,
        engine,
        tenant,
        code,
        row.id,
        amount="20000",
        reason="Thu thừa lệ phí",
        seen=('data-paid="yes"', f'data-payment-id="{row.id}" data-payment-status="succeeded"'),
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
    payment_id = _payment(
        engine, tenant, code, "acct_pay", None, status="created", origin=f"http://{tenant.slug}.localhost"
    )
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    tenant = replace(tenant, settings={**tenant.settings, "payments": {"stripe_account": "acct_pay"}})
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        # The provider was called, then the process died before storing its answer.
        lost = provider.start_checkout(
            payment_id=payment_id,
            account="acct_pay",
            items=[LineItem(name="Phí, lệ phí: Đăng ký khai sinh", amount_vnd=50000)],
            success_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/return",
            cancel_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/cancel",
            reference=code,
            idempotency_key=checkout_key(tenant.slug, payment_id),
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
    payment_id = _payment(
        engine, tenant, code, "acct_pay", None, status="created", origin=f"http://{tenant.slug}.localhost"
    )
    started = provider.start_checkout(
        payment_id=payment_id,
        account="acct_pay",
        items=[LineItem(name="Phí, lệ phí: Đăng ký khai sinh", amount_vnd=50000)],
        success_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/return",
        cancel_url=f"http://{tenant.slug}.localhost/payments/{payment_id}/cancel",
        reference=code,
        idempotency_key=checkout_key(tenant.slug, payment_id),
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


async def _checkout(citizen: httpx.AsyncClient, code: str) -> str:
    """Press "Thanh toán trực tuyến" on the dossier page; returns the hosted checkout URL."""
    page = await citizen.get(f"/my/dossiers/{code}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None and "Thanh toán trực tuyến" in page.text, page.text[:500]
    started = await citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
    assert started.status_code == 303, started.text[:500]
    return str(started.headers["location"])


async def _pay(citizen: httpx.AsyncClient, checkout: str, tenant: Tenant) -> httpx.Response:
    """Pay on the hosted page and follow the browser back to the portal's return page."""
    paid = httpx.post(checkout, data={"action": "pay"}, follow_redirects=False)
    assert paid.status_code == 303, paid.text
    return await citizen.get(paid.headers["location"].removeprefix(f"http://{tenant.slug}.localhost"))


async def test_paying_online_resumes_a_dossier_waiting_for_its_fees(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    officer = await _officer(sign_in, engine, tenant)
    assert (await _act(officer, code, "accept")).status_code == 303
    assert (await _act(officer, code, "request_payment")).status_code == 303
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        back = await _pay(citizen, await _checkout(citizen, code), tenant)
        assert 'data-payment-status="succeeded"' in back.text
    with engine.connect() as conn:
        status = conn.execute(
            text(f"SELECT status FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        )
        said = conn.execute(
            text(f"SELECT message FROM {tenant.schema}.dossier_history ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert status.scalar_one() == "in_progress"
    reason = message_from_json(said)  # the product's words, read in either language
    assert "thanh toán trực tuyến" in reason.lower() and "biên lai" in reason


async def test_the_platform_fee_is_taken_from_the_locality_s_charge(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE platform.tenants SET settings = jsonb_set(settings, '{payments,platform_fee_vnd}', "
                "'2000') WHERE id = :t"
            ),
            {"t": tenant.id},
        )
    from motcua.tenancy import events

    events.tenants_changed()
    browser, code = await _submit(sign_in, tenant)
    await _pay_online(paying_app, browser, tenant, code)
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT platform_fee_vnd, provider_payment_ref, status FROM {tenant.schema}.payments")
        ).one()
    assert (row.platform_fee_vnd, row.status) == (2000, "succeeded")
    intent = StripeProvider(API_KEY, SECRET, api_base=standin.api_base).client.v1.payment_intents.retrieve(
        row.provider_payment_ref, options={"stripe_account": "acct_pay"}
    )
    assert (intent.amount, intent.application_fee_amount) == (50000, 2000)  # whole đồng both


async def test_parallel_clicks_on_pay_open_one_checkout(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        page = await citizen.get(f"/my/dossiers/{code}")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        clicks = await asyncio.gather(
            *(
                citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
                for _ in range(5)
            )
        )
    assert [c.status_code for c in clicks] == [303] * 5
    assert len({c.headers["location"] for c in clicks}) == 1  # one checkout, whoever clicked first
    with engine.connect() as conn:
        payments = conn.execute(text(f"SELECT status FROM {tenant.schema}.payments")).scalars().all()
    assert payments == ["started"]


async def test_paying_twice_sends_the_second_payment_to_review_and_refund(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        first = await _checkout(citizen, code)
        assert await _checkout(citizen, code) == first  # a second click: the same open checkout
        # A checkout opened long ago (yesterday's tab, another device) is not reused.
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {tenant.schema}.payments SET created_at = now() - interval '2 hours'"))
        second = await _checkout(citizen, code)
        assert second != first
        assert 'data-payment-status="succeeded"' in (await _pay(citizen, first, tenant)).text
        assert 'data-payment-status="review"' in (await _pay(citizen, second, tenant)).text
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT id, status, review_reason FROM {tenant.schema}.payments ORDER BY id")
        ).all()
        receipts = conn.execute(text(f"SELECT payment_id FROM {tenant.schema}.receipts")).scalars().all()
    assert [r.status for r in rows] == ["succeeded", "review"]
    assert "refund this one" in rows[1].review_reason
    assert receipts == [rows[0].id]  # counted once
    admin = await _admin(sign_in, engine, tenant)
    attention = (await admin.get("/manage/payments")).text.split('data-testid="attention"', 1)
    assert len(attention) == 2 and code in attention[1]  # the administrator is told
    assert "1/1 hồ sơ có phí, lệ phí được thanh toán trực tuyến (100%)" in attention[0]

    done = await _refund_as_officer(
        paying_app,
        sign_in,
        engine,
        tenant,
        code,
        rows[1].id,
        amount="",
        reason="Thanh toán trùng",
        seen=(f'action="/officer/dossiers/{code}/payments/{rows[1].id}/refund"',),
    )
    assert done.status_code == 303, done.text[:500]
    with engine.connect() as conn:
        statuses = (
            conn.execute(text(f"SELECT status FROM {tenant.schema}.payments ORDER BY id")).scalars().all()
        )
    assert statuses == ["succeeded", "refunded"]
    assert 'data-testid="attention"' not in (await admin.get("/manage/payments")).text


async def test_a_refund_lost_in_a_crash_is_finished_once_and_a_refused_one_says_why(
    paying_app: Litestar,
    standin: StripeStandin,
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    from motcua.payments.refunds import retry_pending_refunds

    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    await _pay_online(paying_app, browser, tenant, code)
    with engine.begin() as conn:
        payment = conn.execute(text(f"SELECT id, provider_payment_ref FROM {tenant.schema}.payments")).one()
        refund_id = conn.execute(
            text(
                f"INSERT INTO {tenant.schema}.refunds (payment_id, amount_vnd, reason, officer, status) "
                "VALUES (:p, 30000, 'Thu thừa', '001178006789', 'pending') RETURNING id"
            ),
            {"p": payment.id},
        ).scalar_one()
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    # The provider refunded, then the process died before recording it.
    lost = provider.refund(
        account="acct_pay",
        provider_payment_ref=payment.provider_payment_ref,
        amount_vnd=30000,
        reason="Thu thừa",
        idempotency_key=refund_key(tenant.slug, refund_id),
    )
    tenant = replace(tenant, settings={**tenant.settings, "payments": {"stripe_account": "acct_pay"}})
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        assert await retry_pending_refunds(db, provider, tenant) == 1
        assert await retry_pending_refunds(db, provider, tenant) == 0
    finally:
        await db.dispose()
    with engine.connect() as conn:
        refund = conn.execute(text(f"SELECT status, provider_ref FROM {tenant.schema}.refunds")).one()
        row = conn.execute(text(f"SELECT status, refunded_vnd FROM {tenant.schema}.payments")).one()
    assert (refund.status, refund.provider_ref) == ("succeeded", lost)  # the same refund, not a second
    assert (row.status, row.refunded_vnd) == ("succeeded", 30000)

    # The provider refuses more than is left on the charge: the refund fails and says why.
    with engine.begin() as conn:  # as if 10,000 ₫ more had been refunded outside the portal
        conn.execute(text(f"UPDATE {tenant.schema}.payments SET refunded_vnd = 0"))
    provider.refund(
        account="acct_pay",
        provider_payment_ref=payment.provider_payment_ref,
        amount_vnd=10000,
        reason="Ngoài hệ thống",
        idempotency_key="dashboard-1",
    )
    refused = await _refund_as_officer(
        paying_app, sign_in, engine, tenant, code, payment.id, amount="15000", reason="Hoàn thêm"
    )
    assert refused.status_code == 409
    assert "Cổng thanh toán từ chối hoàn tiền" in refused.text
    with engine.connect() as conn:
        last = conn.execute(
            text(f"SELECT status, error FROM {tenant.schema}.refunds ORDER BY id DESC LIMIT 1")
        ).one()
        row = conn.execute(text(f"SELECT refunded_vnd FROM {tenant.schema}.payments")).one()
    assert last.status == "failed" and "greater than unrefunded amount" in last.error
    assert row.refunded_vnd == 0  # nothing counted for a refused refund


async def test_cancelling_on_the_checkout_page_closes_the_session_and_allows_a_new_payment(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        checkout = await _checkout(citizen, code)
        cancelled = httpx.post(checkout, data={"action": "cancel"}, follow_redirects=False)
        assert cancelled.status_code == 303
        back = cancelled.headers["location"]
        assert re.fullmatch(rf"http://{tenant.slug}\.localhost/payments/\d+/cancel", back)
        shown = await citizen.get(back.removeprefix(f"http://{tenant.slug}.localhost"))
        assert 'data-payment-status="cancelled"' in shown.text
        assert "Đã hủy thanh toán" in shown.text
        # The provider's session is closed: it can no longer be paid by surprise.
        assert httpx.post(checkout, data={"action": "pay"}, follow_redirects=False).status_code == 409
        # Someone else cannot cancel (or even see) this payment.
        stranger = await sign_in(tenant, name="Lê Văn Khác", personal_id="001190009999")
        async with await _citizen_on(paying_app, stranger, tenant) as other:
            assert (await other.get(back.removeprefix(f"http://{tenant.slug}.localhost"))).status_code == 404
        # A new attempt works and is paid.
        again = await _checkout(citizen, code)
        assert again != checkout
        assert 'data-payment-status="succeeded"' in (await _pay(citizen, again, tenant)).text
    with engine.connect() as conn:
        statuses = (
            conn.execute(text(f"SELECT status FROM {tenant.schema}.payments ORDER BY id")).scalars().all()
        )
    assert statuses == ["cancelled", "succeeded"]


async def test_the_webhook_and_the_return_page_settling_at_once_count_the_payment_once(
    standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    import asyncio

    from motcua.payments.models import Payment
    from motcua.payments.provider import ProviderStatus
    from motcua.payments.services import settle_payment

    tenant = make_tenant(procedures=[FEE])
    _, code = await _submit(sign_in, tenant)
    payment_id = _payment(engine, tenant, code, "acct_pay", "cs_test_race")
    paid = ProviderStatus("succeeded", 50000, "vnd", "pi_test_race")
    db = Database(live_settings.database_url or "", pool_size=4)
    loaded = asyncio.Event()
    ready = 0

    async def settle() -> None:
        nonlocal ready
        async with db.tenant_session(tenant) as session:
            payment = await session.get(Payment, payment_id)
            assert payment is not None and payment.status == "started"
            ready += 1
            if ready == 2:
                loaded.set()
            await loaded.wait()  # both saw "started" before either settles
            await settle_payment(session, tenant, payment, paid)

    try:
        await asyncio.gather(settle(), settle())
    finally:
        await db.dispose()
    with engine.connect() as conn:
        receipts = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.receipts")).scalar_one()
        notes = conn.execute(
            text(f"SELECT count(*) FROM {tenant.schema}.dossier_history WHERE message ->> 'msgid' = :m"),
            {"m": PAID},
        ).scalar_one()
    assert (receipts, notes) == (1, 1)


async def test_a_checkout_the_provider_refuses_fails_the_payment_and_says_so(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_revoked")  # not (or no longer) connected to the platform
    browser, code = await _submit(sign_in, tenant)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        page = await citizen.get(f"/my/dossiers/{code}")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = await citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
    assert refused.status_code == 409
    assert "Không thanh toán được" in refused.text
    assert "Cổng thanh toán chưa nhận giao dịch này" in refused.text  # not Stripe's English
    assert "Stripe" not in refused.text
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT status, review_reason FROM {tenant.schema}.payments")).one()
    assert row.status == "failed" and "Stripe refused the checkout" in row.review_reason


async def test_a_fee_over_the_online_limit_is_paid_at_the_desk(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[{**BIRTH, "fee_vnd": 100_000_000}])
    _merchant(engine, tenant, "acct_pay")
    browser, code = await _submit(sign_in, tenant)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        page = await citizen.get(f"/my/dossiers/{code}")
        assert "vượt hạn mức thanh toán trực tuyến" in page.text
        assert f'action="/my/dossiers/{code}/pay"' not in page.text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = await citizen.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": token.group(1)})
    assert refused.status_code == 409
    assert "vượt hạn mức thanh toán trực tuyến" in refused.text
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.payments")).scalar_one() == 0


async def test_a_checkout_the_provider_does_not_know_goes_to_review(
    standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _merchant(engine, tenant, "acct_pay")
    _, code = await _submit(sign_in, tenant)
    payment_id = _payment(engine, tenant, code, "acct_pay", "cs_test_forgotten")
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    tenant = replace(tenant, settings={**tenant.settings, "payments": {"stripe_account": "acct_pay"}})
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        assert await reconcile(db, provider, tenant) == 1
        assert await reconcile(db, provider, tenant) == 0  # not asked about again
    finally:
        await db.dispose()
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT status, review_reason FROM {tenant.schema}.payments WHERE id = :p"),
            {"p": payment_id},
        ).one()
    assert row.status == "review" and "No such checkout.session" in row.review_reason


async def test_nobody_pays_or_sees_another_citizen_s_payment(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    async with await _citizen_on(paying_app, browser, tenant) as citizen:
        checkout = await _checkout(citizen, code)
    stranger_browser = await sign_in(tenant, name="Lê Văn Khác", personal_id="001190009999")
    async with await _citizen_on(paying_app, stranger_browser, tenant) as stranger:
        page = await stranger.get("/my/dossiers")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        csrf = token.group(1) if token else stranger_browser.cookies.get("motcua_csrf", "")
        refused = await stranger.post(f"/my/dossiers/{code}/pay", data={"_csrf_token": csrf})
        assert refused.status_code == 409
        assert "Không tìm thấy hồ sơ" in refused.text
        with engine.connect() as conn:
            payment_id = conn.execute(text(f"SELECT id FROM {tenant.schema}.payments")).scalar_one()
        assert (await stranger.get(f"/payments/{payment_id}/return")).status_code == 404
        assert (await stranger.get(f"/payments/{payment_id}/cancel")).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.payments")).scalar_one() == 1
    assert httpx.get(checkout).status_code == 200  # the owner's checkout is still open


async def test_refunds_made_outside_the_portal_show_once_and_never_backwards(
    paying_app: Litestar, standin: StripeStandin, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, browser, code = await _merchant_dossier(sign_in, make_tenant, engine)
    await _pay_online(paying_app, browser, tenant, code)
    with engine.connect() as conn:
        payment = conn.execute(text(f"SELECT id, provider_payment_ref FROM {tenant.schema}.payments")).one()
    provider = StripeProvider(API_KEY, SECRET, api_base=standin.api_base)
    intent = payment.provider_payment_ref

    async def deliver(amount_refunded: int, account: str = "acct_pay") -> httpx.Response:
        charge = {
            "id": "ch_x",
            "amount": 50000,
            "amount_refunded": amount_refunded,
            "currency": "vnd",
            # What a real charge carries and the portal must not keep.
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_year": 2030}},
            "billing_details": {"email": "an@example.com", "name": "Nguyễn Văn An"},
        }
        payload = standin.event("charge.refunded", {**charge, "payment_intent": intent}, account)
        async with httpx.AsyncClient(
            transport=asgi_transport(paying_app),
            base_url="http://localhost",
        ) as stripe_side:
            return await stripe_side.post(
                "/webhooks/stripe",
                content=payload,
                headers={"stripe-signature": standin.sign(payload), "content-type": "application/json"},
            )

    def state() -> tuple[str, int, int]:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT status, refunded_vnd FROM {tenant.schema}.payments")).one()
            notes = conn.execute(
                text(f"SELECT count(*) FROM {tenant.schema}.dossier_history WHERE message ->> 'msgid' = :m"),
                {"m": PROVIDER_REFUNDED},
            ).scalar_one()
        return row.status, row.refunded_vnd, notes

    # Another tenant's account naming this payment's intent reaches that tenant only: here, nothing.
    other = make_tenant(procedures=[FEE])
    _merchant(engine, other, "acct_other")
    assert (await deliver(50000, account="acct_other")).json() == {"status": "applied"}
    assert state() == ("succeeded", 0, 0)
    # 10,000 ₫ refunded from the provider's dashboard: the event brings it into the portal.
    provider.refund(
        account="acct_pay",
        provider_payment_ref=intent,
        amount_vnd=10000,
        reason="x",
        idempotency_key="dash-1",
    )
    assert (await deliver(10000)).json() == {"status": "applied"}
    assert state() == ("succeeded", 10000, 1)
    # The officer refunds what is left through the portal. Until the provider's event for it
    # arrives the portal knows only its own refunds (40,000 ₫) and the dashboard's (10,000 ₫)
    # separately, and shows the larger; the event brings the provider's total, counted once.
    done = await _refund_as_officer(
        paying_app, sign_in, engine, tenant, code, payment.id, amount="", reason="Hủy hồ sơ"
    )
    assert done.status_code == 303, done.text[:300]
    assert state() == ("succeeded", 40000, 1)
    assert (await deliver(50000)).json() == {"status": "applied"}
    assert state() == ("refunded", 50000, 2)
    # A late event with an older total never lowers it.
    assert (await deliver(10000)).json() == {"status": "applied"}
    assert state() == ("refunded", 50000, 2)
    # Only ids, amounts and states of the provider's events are kept: no card, no contact.
    with engine.connect() as conn:
        kept = conn.execute(text(f"SELECT payload::text FROM {tenant.schema}.payment_events")).scalars().all()
    assert kept and all("4242" not in p and "card" not in p and "an@example.com" not in p for p in kept)
    assert any('"amount_refunded": 50000' in p for p in kept)
