"""Paying a dossier's fees online, the return from checkout, and the provider's webhook."""

from __future__ import annotations

from typing import Any

import stripe
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import Database
from motcua.dossiers.lifecycle import DossierError
from motcua.identity.guards import requires_login
from motcua.identity.sessions import UserSession
from motcua.payments.models import PaymentStatus
from motcua.payments.provider import PaymentProvider, PaymentProviderError
from motcua.payments.services import apply_event, payment_for, settle_payment, start_payment
from motcua.tenancy.schemas import Tenant
from motcua.web.pages import HttpRequest, page

STATUS_LABELS = {
    PaymentStatus.CREATED: "Chưa thanh toán",
    PaymentStatus.STARTED: "Đang chờ xác nhận thanh toán",
    PaymentStatus.SUCCEEDED: "Đã thanh toán",
    PaymentStatus.FAILED: "Thanh toán không thành công",
    PaymentStatus.CANCELLED: "Đã hủy thanh toán",
    PaymentStatus.EXPIRED: "Phiên thanh toán đã hết hạn",
    PaymentStatus.REFUNDED: "Đã hoàn tiền",
    PaymentStatus.REVIEW: "Đang được kiểm tra lại",
}


def _provider(request: HttpRequest) -> PaymentProvider:
    provider: PaymentProvider | None = request.app.state.payments
    if provider is None:
        raise NotFoundException()
    return provider


@post("/my/dossiers/{code:str}/pay", guards=[requires_login], include_in_schema=False)
async def pay(
    request: HttpRequest, tenant: NamedDependency[Tenant], db: NamedDependency[Database], code: FromPath[str]
) -> Response[Any]:
    user: UserSession = request.state.user
    origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    try:
        started = await start_payment(
            db, _provider(request), tenant, code[:80], citizen_id=user.citizen_id or 0, origin=origin
        )
    except (DossierError, PaymentProviderError) as exc:
        return page(
            request, "web/forbidden.html", status_code=409, title="Không thanh toán được", message=str(exc)
        )
    return Redirect(started.redirect_url, status_code=303)


@get("/payments/{payment_id:int}/return", guards=[requires_login], include_in_schema=False)
async def checkout_return(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], payment_id: FromPath[int]
) -> Response[str]:
    """The browser is back from checkout: ask the provider what really happened (the URL
    proves nothing), settle, and show it."""
    user: UserSession = request.state.user
    payment = await payment_for(db_session, payment_id, user.citizen_id or 0)
    if payment is None:
        raise NotFoundException()
    if payment.provider_ref and payment.status in (PaymentStatus.CREATED, PaymentStatus.STARTED):
        observed = _provider(request).fetch(account=payment.account, provider_ref=payment.provider_ref)
        await settle_payment(db_session, payment, observed)
        await db_session.refresh(payment)
    return page(
        request, "payments/return.html", payment=payment, label=STATUS_LABELS[PaymentStatus(payment.status)]
    )


@post("/webhooks/stripe", include_in_schema=False, opt={"exclude_from_csrf": True}, status_code=200)
async def stripe_webhook(request: HttpRequest, db: NamedDependency[Database]) -> Response[dict[str, str]]:
    """One endpoint for the platform; Connect events name the locality's account. A bad or
    stale signature, or an account no tenant owns, is refused and changes nothing."""
    provider = _provider(request)
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
    async with db.tenant_session(tenant) as session:
        fresh = await apply_event(session, event)
    return Response({"status": "applied" if fresh else "duplicate"})


router = Router(path="/", route_handlers=[pay, checkout_return, stripe_webhook])
