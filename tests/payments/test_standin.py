"""The Stripe stand-in, driven by the official `stripe` library unchanged (no DB)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest
import stripe
from stripe.params.checkout import SessionCreateParams

from motcua.dev.stripe_standin import StripeStandin

API_KEY = "sk_test_x"
WEBHOOK_SECRET = "whsec_test_standin"


class Receiver:
    """A tiny local webhook endpoint that records what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers["Stripe-Signature"]))
                receiver.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def standin(receiver: Receiver) -> Iterator[StripeStandin]:
    with StripeStandin(
        API_KEY, WEBHOOK_SECRET, known_accounts={"acct_hanoi", "acct_hue"}, webhook_url=receiver.url
    ) as s:
        yield s


def client_for(
    standin: StripeStandin, key: str = API_KEY, account: str = "acct_hanoi"
) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, base_addresses={"api": standin.api_base}, stripe_account=account, max_network_retries=0
    )


@pytest.fixture
def client(standin: StripeStandin) -> stripe.StripeClient:
    return client_for(standin)


def session_params(amount: Any = 50000, **extra: Any) -> SessionCreateParams:
    """Valid checkout parameters; ``amount`` and ``extra`` may deliberately break them, which
    is why the dict is built untyped and cast once here."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "vnd",
                    "unit_amount": amount,
                    "product_data": {"name": "Lệ phí cấp giấy phép xây dựng"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://hanoi.example/pay/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://hanoi.example/pay/cancelled",
        "client_reference_id": "dossier-42",
        "metadata": {"dossier": "42", "tenant": "hanoi"},
        "payment_intent_data": {"application_fee_amount": 1000},
    }
    params.update(extra)
    return cast(SessionCreateParams, params)


def test_create_and_retrieve_a_vnd_checkout_session(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{standin.api_base}/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency, session.livemode) == (50000, "vnd", False)
    assert session.client_reference_id == "dossier-42"
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"dossier": "42", "tenant": "hanoi"}
    assert session.payment_intent is None  # created on completion, as current Stripe API versions do

    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.id == session.id and again.amount_total == 50000


def test_quantity_multiplies_the_total(client: stripe.StripeClient) -> None:
    params = session_params(amount=20000)
    params["line_items"][0]["quantity"] = 3
    assert client.v1.checkout.sessions.create(params=params).amount_total == 60000


def test_idempotency_key_replays_and_rejects_changed_params(client: stripe.StripeClient) -> None:
    first = client.v1.checkout.sessions.create(
        params=session_params(),
        options={"idempotency_key": "dossier-42-attempt-1"},
    )
    second = client.v1.checkout.sessions.create(
        params=session_params(),
        options={"idempotency_key": "dossier-42-attempt-1"},
    )
    assert second.id == first.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(
            params=session_params(amount=60000),
            options={"idempotency_key": "dossier-42-attempt-1"},
        )
    # Without a key the library generates a fresh one per call: a new session each time.
    assert client.v1.checkout.sessions.create(params=session_params()).id != first.id


def test_unknown_connected_account_is_refused(standin: StripeStandin) -> None:
    with pytest.raises(stripe.PermissionError) as caught:
        client_for(standin, account="acct_nowhere").v1.checkout.sessions.create(params=session_params())
    assert caught.value.http_status == 403
    assert "acct_nowhere" in str(caught.value)


def test_per_request_stripe_account_option(standin: StripeStandin) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": standin.api_base}, max_network_retries=0)
    session = client.v1.checkout.sessions.create(
        params=session_params(),
        options={"stripe_account": "acct_hue"},
    )
    assert (
        client.v1.checkout.sessions.retrieve(session.id, options={"stripe_account": "acct_hue"}).id
        == session.id
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:  # another account's session: 404
        client.v1.checkout.sessions.retrieve(session.id, options={"stripe_account": "acct_hanoi"})
    assert caught.value.http_status == 404 and caught.value.code == "resource_missing"


def test_bad_api_key(standin: StripeStandin) -> None:
    with pytest.raises(stripe.AuthenticationError) as caught:
        client_for(standin, key="sk_test_wrong").v1.checkout.sessions.create(params=session_params())
    assert "sk_test_wrong" not in str(caught.value)


@pytest.mark.parametrize("amount", [500.5, 0, -1, "50k"])
def test_vnd_amount_must_be_a_positive_integer(client: stripe.StripeClient, amount: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(amount=amount))
    assert caught.value.param == "line_items[0][price_data][unit_amount]"
    assert "line_items[0][price_data][unit_amount]" in str(caught.value)


def test_other_currency_and_unknown_params_are_refused(client: stripe.StripeClient) -> None:
    params = session_params()
    params["line_items"][0]["price_data"]["currency"] = "usd"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.param == "line_items[0][price_data][currency]"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(surprise="x"))
    assert caught.value.param == "surprise"


def test_hosted_page_pays_delivers_a_signed_webhook_and_redirects(
    client: stripe.StripeClient, standin: StripeStandin, receiver: Receiver
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "Thanh toán thử — không dùng thẻ thật" in page.text and "50.000 ₫" in page.text

    response = httpx.post(session.url, data={"action": "pay"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"https://hanoi.example/pay/done?session={session.id}"

    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert isinstance(paid.payment_intent, str) and paid.payment_intent.startswith("pi_test_")
    intent = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert (intent.status, intent.amount, intent.amount_received) == ("succeeded", 50000, 50000)
    assert intent.application_fee_amount == 1000

    assert receiver.arrived.wait(5)
    payload, header = receiver.received[0]
    event = stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)
    assert event.id.startswith("evt_test_")
    assert event.type == "checkout.session.completed"
    assert event.account == "acct_hanoi"
    assert event.data.object["id"] == session.id
    assert event.data.object["payment_status"] == "paid"
    assert standin.deliveries == [(event.id, 200)]

    # A paid session cannot be paid twice.
    assert httpx.post(session.url, data={"action": "pay"}).status_code == 409


def test_hosted_page_cancel_keeps_the_session_open(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    response = httpx.post(session.url, data={"action": "cancel"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "https://hanoi.example/pay/cancelled",
    )
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_expire_delivers_the_expired_event(
    client: stripe.StripeClient, standin: StripeStandin, receiver: Receiver
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    standin.expire(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    event = stripe.Webhook.construct_event(*receiver.received[0], WEBHOOK_SECRET)
    assert event.type == "checkout.session.expired"
    with pytest.raises(ValueError, match="expired"):
        standin.complete(session.id)


def test_crafted_events_sign_like_stripe(standin: StripeStandin) -> None:
    payload = standin.event(
        "checkout.session.completed", {"id": "cs_test_1", "object": "checkout.session"}, "acct_hue"
    )
    event = stripe.Webhook.construct_event(payload, standin.sign(payload), WEBHOOK_SECRET)
    assert (event.type, event.account, event.data.object["id"]) == (
        "checkout.session.completed",
        "acct_hue",
        "cs_test_1",
    )
    with pytest.raises(stripe.SignatureVerificationError):  # stale: beyond the 300 s tolerance
        stripe.Webhook.construct_event(
            payload, standin.sign(payload, timestamp=int(time.time()) - 301), WEBHOOK_SECRET
        )
    with pytest.raises(stripe.SignatureVerificationError):  # tampered body
        stripe.Webhook.construct_event(payload + b" ", standin.sign(payload), WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):  # another secret
        stripe.Webhook.construct_event(payload, standin.sign(payload), "whsec_other")
    assert json.loads(payload)["id"] != json.loads(standin.event("x", {}, "acct_hue"))["id"]


def test_refunds_partial_then_over_refund(client: stripe.StripeClient, standin: StripeStandin) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    intent = standin.complete(session.id)["payment_intent"]

    refund = client.v1.refunds.create(
        params={
            "payment_intent": intent,
            "amount": 20000,
            "reason": "requested_by_customer",
            "metadata": {"k": "v"},
        }
    )
    assert refund.id.startswith("re_test_")
    assert (refund.object, refund.status, refund.amount, refund.currency) == (
        "refund",
        "succeeded",
        20000,
        "vnd",
    )
    assert refund.payment_intent == intent

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 30001})
    assert caught.value.param == "amount" and caught.value.code == "amount_too_large"

    rest = client.v1.refunds.create(params={"payment_intent": intent})  # the remainder by default
    assert rest.amount == 30000
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 1})


def test_refund_of_an_unpaid_or_foreign_intent_is_refused(standin: StripeStandin) -> None:
    hanoi, hue = client_for(standin), client_for(standin, account="acct_hue")
    session = hanoi.v1.checkout.sessions.create(params=session_params())
    intent = standin.complete(session.id)["payment_intent"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        hue.v1.refunds.create(params={"payment_intent": intent})
    assert caught.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError):
        hue.v1.payment_intents.retrieve(intent)


def test_refuses_to_start_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_ENV", "production")
    with pytest.raises(RuntimeError, match="production"):
        StripeStandin(API_KEY, WEBHOOK_SECRET, known_accounts=set()).start()


def test_only_an_open_session_can_be_expired() -> None:
    with StripeStandin("sk_test_x", "whsec_x", known_accounts={"acct_a", "acct_b"}) as server:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.api_base})
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "success_url": "http://t.localhost/ok",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "vnd",
                            "unit_amount": 15000,
                            "product_data": {"name": "Phí"},
                        },
                        "quantity": 1,
                    }
                ],
            },
            options={"stripe_account": "acct_a"},
        )
        expired = client.v1.checkout.sessions.expire(session.id, options={"stripe_account": "acct_a"})
        assert expired.status == "expired"
        with pytest.raises(stripe.InvalidRequestError, match="can be expired"):
            client.v1.checkout.sessions.expire(session.id, options={"stripe_account": "acct_a"})
        with pytest.raises(stripe.InvalidRequestError, match=r"No such checkout\.session"):
            client.v1.checkout.sessions.expire(session.id, options={"stripe_account": "acct_b"})


def test_an_amount_over_eight_digits_is_refused() -> None:
    with StripeStandin("sk_test_x", "whsec_x", known_accounts={"acct_a"}) as server:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.api_base})

        def create(amount: int) -> Any:
            return client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "success_url": "http://t.localhost/ok",
                    "line_items": [
                        {
                            "price_data": {
                                "currency": "vnd",
                                "unit_amount": amount,
                                "product_data": {"name": "Phí"},
                            },
                            "quantity": 1,
                        }
                    ],
                },
                options={"stripe_account": "acct_a"},
            )

        assert create(99_999_999).amount_total == 99_999_999
        with pytest.raises(stripe.InvalidRequestError, match="no more than") as refused:
            create(100_000_000)
        assert refused.value.code == "amount_too_large"
