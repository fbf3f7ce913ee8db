"""Paying a dossier's fees online, the return from checkout, the provider's webhook, receipts,
and the tenant administrator's payment settings and daily reports."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import stripe
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, SkipValidation
from litestar.response import Redirect, Response
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.dependencies import NO_TRANSACTION, READ_ONLY
from motcua.core.pages import FormData, HttpRequest, client_address, language, page, public_origin
from motcua.core.ratelimit import limited
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.lifecycle import DossierError
from motcua.dossiers.slip import VIETNAM_TZ, MissingGlyphError
from motcua.dossiers.storage import Storage
from motcua.identity.guards import requires_login, requires_tenant_admin
from motcua.identity.models import Role
from motcua.identity.sessions import UserSession
from motcua.payments.models import Payment, PaymentMethod, PaymentStatus, Receipt
from motcua.payments.provider import PaymentProvider, PaymentProviderError
from motcua.payments.receipts import amount_in_words, receipt_file, render_receipt_pdf
from motcua.payments.reports import (
    compute_day,
    needing_attention,
    online_payment_rate,
    recent_reports,
    vietnam_today,
)
from motcua.payments.services import (
    apply_event,
    cancel_checkout,
    payment_for,
    return_from_checkout,
    start_payment,
    update_payment_settings,
)
from motcua.payments.settings import PaymentSettingsError, parse_payment_settings, payment_settings_of

PROVIDER_UNAVAILABLE = (
    "Cổng thanh toán chưa nhận giao dịch này. Vui lòng thử lại sau ít phút, hoặc nộp phí tại Bộ phận Một cửa."
)
log = logging.getLogger(__name__)

# The platform's payment provider, None where online payment is off. Injected unvalidated:
# PaymentProvider is a Protocol, which the signature model cannot check with isinstance.
Payments = NamedDependency[SkipValidation[PaymentProvider | None]]


def _provider(payments: PaymentProvider | None) -> PaymentProvider:
    if payments is None:
        raise NotFoundException()
    return payments


@post("/my/dossiers/{code:str}/pay", guards=[requires_login, limited("submit")], include_in_schema=False)
async def pay(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    payments: Payments,
    code: FromPath[str],
) -> Response[Any]:
    origin = public_origin(request)
    try:
        started = await start_payment(
            db, _provider(payments), tenant, code[:80], citizen_id=user.citizen_id or 0, origin=origin
        )
    except DossierError as exc:
        message = str(exc)
    except PaymentProviderError as exc:
        log.warning("checkout for dossier %s of %s not started: %s", code[:80], tenant.slug, exc)
        message = PROVIDER_UNAVAILABLE
    else:
        return Redirect(started.redirect_url, status_code=303)
    return page(
        request, "web/forbidden.html", status_code=409, title="Không thanh toán được", message=message
    )


async def _payment_page(request: HttpRequest, session: AsyncSession, payment: Payment) -> Response[str]:
    """Where the citizen lands back from the checkout: the payment's real state, its receipt."""
    receipt = await session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    return page(
        request,
        "payments/return.html",
        payment=payment,
        receipt=receipt,
        label=PaymentStatus(payment.status).label,
    )


@get("/payments/{payment_id:int}/return", guards=[requires_login], include_in_schema=False)
async def checkout_return(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    payments: Payments,
    payment_id: FromPath[int],
) -> Response[str]:
    """The browser is back from checkout: settle with what the provider says, and show it. The
    page reads the database in its own transaction, after the provider was asked."""
    citizen_id = user.citizen_id or 0
    if not await return_from_checkout(db, _provider(payments), tenant, payment_id, citizen_id=citizen_id):
        raise NotFoundException()
    return await _show_payment(request, db, tenant, payment_id, citizen_id)


@get("/payments/{payment_id:int}/cancel", guards=[requires_login], include_in_schema=False)
async def checkout_cancelled(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    payments: Payments,
    payment_id: FromPath[int],
) -> Response[str]:
    """The citizen pressed "cancel" on the checkout page (a GET: it is where the provider sends
    the browser). Only the payer's own payment, only while it is still waiting."""
    citizen_id = user.citizen_id or 0
    try:
        found = await cancel_checkout(db, _provider(payments), tenant, payment_id, citizen_id=citizen_id)
    except PaymentProviderError:
        # On a provider outage it stays "waiting": the session expires by itself and
        # reconciliation records that.
        found = True
    if not found:
        raise NotFoundException()
    return await _show_payment(request, db, tenant, payment_id, citizen_id)


async def _show_payment(
    request: HttpRequest, db: Database, tenant: Tenant, payment_id: int, citizen_id: int
) -> Response[str]:
    async with db.tenant_session(tenant) as session:
        payment = await payment_for(session, payment_id, citizen_id)
        if payment is None:
            raise NotFoundException()
        return await _payment_page(request, session, payment)


@post("/webhooks/stripe", include_in_schema=False, opt={"exclude_from_csrf": True}, status_code=200)
async def stripe_webhook(
    request: HttpRequest, db: NamedDependency[Database], payments: Payments
) -> Response[dict[str, str]]:
    """One endpoint for the platform; Connect events name the locality's account. A bad or
    stale signature, or an account no tenant owns, is refused and changes nothing."""
    provider = _provider(payments)
    payload = await request.body()
    try:
        event = provider.verify_webhook(payload, request.headers.get("stripe-signature", ""))
    except (ValueError, stripe.SignatureVerificationError):
        return Response({"error": "invalid signature or payload"}, status_code=400)
    account = event.get("account")
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    f"SELECT {Tenant.COLUMNS} FROM platform.tenants "
                    "WHERE settings->'payments'->>'stripe_account' = :a AND status IN ('active', 'suspended')"
                ),
                {"a": str(account or "")},
            )
        ).one_or_none()
    if row is None:
        return Response({"error": "unknown account"}, status_code=400)
    tenant = Tenant.from_row(row)
    try:
        async with db.tenant_session(tenant) as session:
            fresh = await apply_event(session, tenant, event)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Signed, but with values of the wrong kind: nothing was kept (the transaction rolled
        # back), and the provider is told so rather than shown a server error.
        log.warning("event %s of %s refused: %s", str(event.get("id"))[:80], tenant.slug, type(exc).__name__)
        return Response({"error": "malformed event"}, status_code=400)
    return Response({"status": "applied" if fresh else "duplicate"})


# Whether an officer's units hold a dossier (the officer unit rule of workflow.scope, which sits
# beside payments): the app hands in the back office's implementation as ``staff_sees_dossier``.
StaffSeesDossier = Callable[[AsyncSession, UserSession, int], Awaitable[bool]]


async def _receipt(
    user: UserSession, session: AsyncSession, receipt_id: int, staff_sees_dossier: StaffSeesDossier
) -> Receipt:
    """A receipt for its payer, or for an officer of this tenant (roles are per site) whose
    units hold its dossier; 404 for anyone else, as for a receipt that does not exist."""
    receipt = await session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFoundException()
    if receipt.citizen_id == user.citizen_id:
        return receipt
    if user.has(Role.OFFICER) and await staff_sees_dossier(session, user, receipt.dossier_id):
        return receipt
    raise NotFoundException()


@get(
    "/receipts/{receipt_id:int}", guards=[requires_login], include_in_schema=False, opt={NO_TRANSACTION: True}
)
async def receipt_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    staff_sees_dossier: NamedDependency[StaffSeesDossier],
    receipt_id: FromPath[int],
) -> Response[str]:
    receipt = await _receipt(user, db_session, receipt_id, staff_sees_dossier)
    return page(
        request,
        "payments/receipt.html",
        receipt=receipt,
        in_words=amount_in_words(receipt.amount_vnd),
        method_label=PaymentMethod(receipt.method).label,
        vietnam=VIETNAM_TZ,
    )


@get(
    "/receipts/{receipt_id:int}/pdf", guards=[requires_login], include_in_schema=False, opt={READ_ONLY: True}
)
async def receipt_pdf(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    staff_sees_dossier: NamedDependency[StaffSeesDossier],
    receipt_id: FromPath[int],
) -> Response[bytes]:
    receipt = await _receipt(user, db_session, receipt_id, staff_sees_dossier)
    lang = language(request)
    # The filed PDF is the Vietnamese original; another language is a translation drawn now.
    filed = await receipt_file(db_session, receipt.id) if lang == DEFAULT_LANGUAGE else None
    if filed is not None:
        chunks = await storage.open(tenant.schema, filed.storage_key)
        pdf = b"".join([chunk async for chunk in chunks])
    else:  # not filed yet (the job runs right after the payment), or a translation: drawn now
        try:
            # ~40 ms of pure-Python drawing: off the event loop, so other requests keep flowing.
            pdf = await anyio.to_thread.run_sync(render_receipt_pdf, receipt, lang)
        except MissingGlyphError:
            # A name the embedded font cannot draw: the HTML receipt still shows it correctly.
            return Response(b"", status_code=303, headers={"Location": f"/receipts/{receipt.id}"})
    filename = f"bien-lai-{receipt.series}-{receipt.display_number}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=3600",
            # The language cookie chooses the original or its translation.
            "Vary": "Cookie",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _settings_page(
    request: HttpRequest,
    tenant: Tenant,
    payments: PaymentProvider | None,
    session: AsyncSession,
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
    typed: dict[str, Any] | None = None,
) -> Response[str]:
    settings = payment_settings_of(tenant)
    # A refused form shows what was typed, so nothing has to be typed again.
    shown = typed or {"stripe_account": settings.stripe_account or "", "enabled": settings.online}
    return page(
        request,
        "payments/manage.html",
        status_code=status_code,
        settings=settings,
        shown=shown,
        provider_ready=payments is not None,
        today=await compute_day(session, vietnam_today()),
        reports=await recent_reports(session),
        attention=await needing_attention(session),
        rate=await online_payment_rate(session, vietnam_today()),
        errors=errors or {},
        saved=saved,
    )


@get("/manage/payments", guards=[requires_tenant_admin], include_in_schema=False)
async def manage_payments(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    payments: Payments,
) -> Response[str]:
    return await _settings_page(
        request, tenant, payments, db_session, saved=request.query_params.get("saved") == "1"
    )


@post("/manage/payments", guards=[requires_tenant_admin], include_in_schema=False)
async def save_payment_settings(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    payments: Payments,
    data: FormData,
) -> Response[Any]:
    current = payment_settings_of(tenant)
    typed = {
        "enabled": data.get("enabled") == "on",
        "stripe_account": str(data.get("stripe_account") or "")[:100],
    }
    try:
        wanted = parse_payment_settings(
            {
                **typed,
                # The platform fee is the platform's to set (tenant file, console), not the locality's.
                "platform_fee_vnd": current.platform_fee_vnd,
            },
            where="Thanh toán",
        )
        await update_payment_settings(
            db, tenant, wanted, actor=Actor.tenant_admin(user.personal_id, address=client_address(request))
        )
    except PaymentSettingsError as exc:
        return await _settings_page(
            request,
            tenant,
            payments,
            db_session,
            errors={exc.field: exc.message},
            status_code=400,
            typed=typed,
        )
    return Redirect("/manage/payments?saved=1", status_code=303)


router = Router(
    path="/",
    route_handlers=[
        pay,
        checkout_return,
        checkout_cancelled,
        stripe_webhook,
        receipt_page,
        receipt_pdf,
        manage_payments,
        save_payment_settings,
    ],
)
