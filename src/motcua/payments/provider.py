"""Payment providers behind one interface; Stripe (Checkout, Connect direct charges) first.
A domestic gateway (signed redirects) implements the same four calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import stripe


@dataclass(frozen=True)
class LineItem:
    name: str
    amount_vnd: int  # whole đồng: VND is zero-decimal, never multiplied by 100


@dataclass(frozen=True)
class CheckoutStarted:
    provider_ref: str
    redirect_url: str


@dataclass(frozen=True)
class ProviderStatus:
    """What the provider says now, mapped to our vocabulary."""

    status: str  # PaymentStatus value
    amount_vnd: int | None
    currency: str | None
    provider_payment_ref: str | None


class PaymentProviderError(Exception):
    """The provider refused or could not be reached. ``retryable``: the request may or may not
    have been applied (network trouble, provider outage), so it must be asked again with the
    same idempotency key rather than given up."""

    def __init__(self, message: str, *, retryable: bool = False, missing: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.missing = missing  # the provider does not know the object asked about


def _retryable(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.APIConnectionError) or (exc.http_status or 0) >= 500


class PaymentProvider(Protocol):
    name: str
    max_amount_vnd: int  # the most one payment can be; above it, the fee is paid at the desk

    def start_checkout(
        self,
        *,
        payment_id: int,
        account: str,
        items: list[LineItem],
        success_url: str,
        cancel_url: str,
        reference: str,
        idempotency_key: str,
        application_fee_vnd: int = 0,
    ) -> CheckoutStarted: ...

    def fetch(self, *, account: str, provider_ref: str) -> ProviderStatus: ...

    def cancel(self, *, account: str, provider_ref: str) -> ProviderStatus: ...

    def refund(
        self,
        *,
        account: str,
        provider_payment_ref: str,
        amount_vnd: int | None,
        reason: str,
        idempotency_key: str,
    ) -> str: ...

    def verify_webhook(self, payload: bytes, signature: str) -> dict[str, Any]: ...


class StripeProvider:
    name = "stripe"
    max_amount_vnd = 99_999_999  # amounts have at most eight digits of the smallest unit

    def __init__(self, api_key: str, webhook_secret: str, *, api_base: str | None = None) -> None:
        base = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(api_key, base_addresses=base, max_network_retries=2)  # type: ignore[arg-type]
        self.webhook_secret = webhook_secret

    def start_checkout(
        self,
        *,
        payment_id: int,
        account: str,
        items: list[LineItem],
        success_url: str,
        cancel_url: str,
        reference: str,
        idempotency_key: str,
        application_fee_vnd: int = 0,
    ) -> CheckoutStarted:
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "vnd",
                        "unit_amount": item.amount_vnd,
                        "product_data": {"name": item.name},
                    },
                    "quantity": 1,
                }
                for item in items
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "metadata": {"payment_id": str(payment_id)},
        }
        if application_fee_vnd:
            # Direct charge: the locality is the merchant, the platform takes its fee from it.
            params["payment_intent_data"] = {"application_fee_amount": application_fee_vnd}
        try:
            # The key is derived from our payment (checkout_key): a retry after a crash gets the
            # same session.
            session = self.client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key, "stripe_account": account},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(
                f"Stripe refused the checkout: {exc.user_message or type(exc).__name__}",
                retryable=_retryable(exc),
            ) from None
        assert session.url is not None
        return CheckoutStarted(provider_ref=session.id, redirect_url=session.url)

    def fetch(self, *, account: str, provider_ref: str) -> ProviderStatus:
        try:
            session = self.client.v1.checkout.sessions.retrieve(
                provider_ref, options={"stripe_account": account}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(
                f"Stripe: {exc.user_message or type(exc).__name__}",
                retryable=_retryable(exc),
                missing=exc.code == "resource_missing",
            ) from None
        return status_of_session(session.to_dict())

    def cancel(self, *, account: str, provider_ref: str) -> ProviderStatus:
        """The citizen gave up on the checkout page: close the session so it can no longer be
        paid. A session that was paid or closed meanwhile is reported as it is."""
        try:
            session = self.client.v1.checkout.sessions.expire(
                provider_ref, options={"stripe_account": account}
            )
        except stripe.InvalidRequestError:
            return self.fetch(account=account, provider_ref=provider_ref)  # no longer open
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe: {type(exc).__name__}", retryable=_retryable(exc)) from None
        return status_of_session(session.to_dict())

    def refund(
        self,
        *,
        account: str,
        provider_payment_ref: str,
        amount_vnd: int | None,
        reason: str,
        idempotency_key: str,
    ) -> str:
        params: dict[str, Any] = {
            "payment_intent": provider_payment_ref,
            "metadata": {"reason": reason[:400]},
        }
        if amount_vnd is not None:
            params["amount"] = amount_vnd
        try:
            refund = self.client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"stripe_account": account, "idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(
                f"Stripe refused the refund: {exc.user_message or type(exc).__name__}",
                retryable=_retryable(exc),
            ) from None
        return str(refund.id)

    def verify_webhook(self, payload: bytes, signature: str) -> dict[str, Any]:
        """Raises ValueError on a bad payload or stripe.SignatureVerificationError on a bad or
        stale signature (Stripe's own check: HMAC of "t.payload", 5-minute tolerance)."""
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
            data = dict(event.to_dict())
        except (AttributeError, TypeError) as exc:  # signed, but not an event object at all
            raise ValueError(f"not an event: {type(exc).__name__}") from None
        check_event_shape(data)
        return data


def checkout_key(tenant: str, payment_id: int) -> str:
    """The idempotency key of a payment's checkout. Payment ids count per tenant, and an account
    may pass from one tenant to another (a merger, a re-onboarding): the tenant is in the key so
    that one tenant's payment 1 can never be answered with another's."""
    return f"motcua-{tenant}-payment-{payment_id}"


def refund_key(tenant: str, refund_id: int) -> str:
    return f"motcua-{tenant}-refund-{refund_id}"


def check_event_shape(event: dict[str, Any]) -> None:
    """What every event we read has: a string id and type, and ``data.object`` a mapping. A signed
    body without them is refused (ValueError) before anything reads it."""
    data = event.get("data")
    if not (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and isinstance(event.get("account") or "", str)
    ):
        raise ValueError("malformed event")
    # The references we look payments up by are strings in every Stripe object.
    obj = data["object"]
    if any(not isinstance(obj.get(k) or "", str) for k in ("id", "payment_intent", "currency", "status")):
        raise ValueError("malformed event object")


def status_of_session(session: Any) -> ProviderStatus:
    if session.get("payment_status") == "paid":
        status = "succeeded"
    elif session.get("status") == "expired":
        status = "expired"
    else:
        status = "started"
    intent = session.get("payment_intent")
    return ProviderStatus(
        status=status,
        amount_vnd=session.get("amount_total"),
        currency=session.get("currency"),
        provider_payment_ref=intent if isinstance(intent, str) else (intent or {}).get("id"),
    )
