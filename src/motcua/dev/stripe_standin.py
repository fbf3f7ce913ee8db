"""A local stand-in for the few Stripe endpoints the product uses, for development and tests.

The official `stripe` library talks to it unchanged (``base_addresses={"api": standin.api_base}``):
real HTTP on 127.0.0.1, form-encoded requests, JSON answers shaped like Stripe's, Stripe's error
types and status codes (so the library raises the same exception classes), ``Idempotency-Key``
and ``Stripe-Account`` (direct charges on connected accounts) honoured. A tiny hosted checkout
page at ``/pay/{id}`` completes a session and delivers a signed ``checkout.session.completed``
webhook exactly as Stripe signs it. No card data exists here; the API key is never logged.

Deliberately small: one currency (VND, zero-decimal), ``mode=payment`` with ``price_data`` line
items, refunds against succeeded payment intents. Everything else answers as an unknown route.
It refuses to start in production.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import stripe

from motcua.core.digits import only_digits

log = logging.getLogger(__name__)

JSON = dict[str, Any]

_SESSION_PARAMS = frozenset(
    {
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "metadata",
        "payment_intent_data",
        "locale",
        "customer_email",
        "expires_at",
        "payment_method_types",
        "expand",
    }
)
_REFUND_PARAMS = frozenset({"payment_intent", "amount", "reason", "metadata", "expand"})
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
MAX_AMOUNT = 99_999_999  # Stripe's limit: eight digits of the smallest unit (for VND, đồng)
_KEY_PART = re.compile(r"\[([^\]]*)\]")


class StripeError(Exception):
    """An API error answered as Stripe does: ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def _nest(pairs: list[tuple[str, str]]) -> JSON:
    """``a[b][0][c]=v`` pairs into nested dicts (list indexes stay string keys, e.g. "0")."""
    root: JSON = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid value for {key}", param=key)
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise StripeError(400, f"Invalid value for {key}", param=key)
        node[parts[-1]] = value
    return root


def _indexed(value: Any, param: str) -> list[Any]:
    if not isinstance(value, dict) or not all(only_digits(k) for k in value):
        raise StripeError(400, f"Invalid array: {param}", param=param)
    return [value[k] for k in sorted(value, key=int)]


def _integer(value: Any, param: str, *, minimum: int) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value.strip()):
        raise StripeError(
            400, f"Invalid integer: {value!r} ({param})", code="parameter_invalid_integer", param=param
        )
    number = int(value)
    if number < minimum:
        raise StripeError(
            400, f"{param}: this value must be greater than or equal to {minimum}.", param=param
        )
    return number


def _string(value: Any, param: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)
        return None
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {param}", param=param)
    return value


def _metadata(value: Any, param: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StripeError(400, f"Invalid hash: {param}", param=param)
    return dict(value)


def _unknown(params: JSON, known: frozenset[str]) -> None:
    for name in params:
        if name not in known:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


@dataclass
class _Session:
    account: str
    data: JSON
    application_fee_amount: int | None
    payment_intent_metadata: dict[str, str]
    line_items: list[JSON]


@dataclass
class _Stored:
    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    body: JSON


@dataclass
class _State:
    sessions: dict[str, _Session] = field(default_factory=dict)
    intents: dict[str, tuple[str, JSON]] = field(default_factory=dict)  # id -> (account, intent)
    refunds: dict[str, tuple[str, JSON]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], _Stored] = field(default_factory=dict)


class StripeStandin:
    """In-memory fake of Stripe Checkout + payment intents + refunds over real local HTTP."""

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        known_accounts: set[str] | Callable[[str], bool],
        webhook_url: str | None = None,
        port: int = 0,
    ) -> None:
        self._api_key = api_key
        self._webhook_secret = webhook_secret
        # The accounts connected to the platform: a fixed set (tests) or a lookup (``make run``
        # asks the tenant records, so an account set in /manage/payments works at once).
        self.known_accounts = known_accounts if callable(known_accounts) else set(known_accounts)
        self._port = port
        self.webhook_url = webhook_url
        self._state = _State()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._created = itertools.count()
        #: Every webhook delivery attempt: (event id, HTTP status or None when unreachable).
        self.deliveries: list[tuple[str, int | None]] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StripeStandin:
        if os.environ.get("MOTCUA_ENV", "development") == "production":
            raise RuntimeError("the Stripe stand-in never runs in production")
        if self._server is not None:
            return self
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="stripe-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StripeStandin:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        if self._server is None:
            raise RuntimeError("the Stripe stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- webhooks --------------------------------------------------------------------------------

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header value for ``payload``, made as Stripe makes it."""
        t = int(time.time()) if timestamp is None else timestamp
        signed = f"{t}.".encode() + payload
        digest = hmac.new(self._webhook_secret.encode(), signed, hashlib.sha256).hexdigest()
        return f"t={t},v1={digest}"

    def event(self, type: str, obj: Mapping[str, Any], account: str) -> bytes:
        """A JSON event body like Stripe's (Connect: ``account`` names the connected account)."""
        body = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": stripe.api_version,
            "account": account,
            "created": int(time.time()),
            "data": {"object": dict(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        return json.dumps(body).encode()

    def deliver(self, payload: bytes) -> int | None:
        """POST a signed event to ``webhook_url``; returns the receiver's status (None: unreachable)."""
        if self.webhook_url is None:
            return None
        event_id = str(json.loads(payload)["id"])
        try:
            response = httpx.post(
                self.webhook_url,
                content=payload,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": self.sign(payload),
                },
                timeout=10,
            )
            status: int | None = response.status_code
        except httpx.HTTPError as exc:
            log.warning("stand-in webhook %s not delivered: %s", event_id, type(exc).__name__)
            status = None
        self.deliveries.append((event_id, status))
        return status

    # -- test controls ---------------------------------------------------------------------------

    def complete(self, session_id: str) -> JSON:
        """Pay an open session as the hosted page does, then deliver ``checkout.session.completed``."""
        with self._lock:
            session = self._open_session(session_id)
            amount = int(session.data["amount_total"])
            intent = session.data["payment_intent"]
            if intent is None:
                intent = _new_id("pi")
            self._state.intents[intent] = (
                session.account,
                {
                    "id": intent,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_received": amount,
                    "amount_capturable": 0,
                    "application_fee_amount": session.application_fee_amount,
                    "created": int(time.time()),
                    "currency": "vnd",
                    "livemode": False,
                    "metadata": dict(session.payment_intent_metadata),
                    "status": "succeeded",
                },
            )
            session.data.update(status="complete", payment_status="paid", payment_intent=intent)
            snapshot = json.loads(json.dumps(session.data))
            account = session.account
        self.deliver(self.event("checkout.session.completed", snapshot, account))
        return snapshot  # type: ignore[no-any-return]

    def expire(self, session_id: str) -> JSON:
        """Expire an open session (as Stripe does after ``expires_at``) and deliver the event."""
        with self._lock:
            session = self._open_session(session_id)
            session.data["status"] = "expired"
            snapshot = json.loads(json.dumps(session.data))
            account = session.account
        self.deliver(self.event("checkout.session.expired", snapshot, account))
        return snapshot  # type: ignore[no-any-return]

    def _open_session(self, session_id: str) -> _Session:
        session = self._state.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        if session.data["status"] != "open":
            raise ValueError(f"session {session_id} is {session.data['status']}, not open")
        return session

    # -- API -------------------------------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        authorization = headers.get("authorization", "")
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            raise StripeError(401, "Invalid API Key provided.")
        account = headers.get("stripe-account")
        if not account:
            raise StripeError(
                400,
                "This stand-in serves direct charges only: send the Stripe-Account header.",
                param="Stripe-Account",
            )
        known = self.known_accounts
        if not (known(account) if callable(known) else account in known):
            raise StripeError(
                403,
                f"The provided key does not have access to account '{account}' (or that account "
                "does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return account

    def api(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, JSON]:
        """One /v1 call; ``headers`` keys are lower-case."""
        try:
            account = self._authenticate(headers)
            with self._lock:
                if method == "POST":
                    return 200, self._post(account, path, headers.get("idempotency-key"), body)
                return 200, self._get(account, path)
        except StripeError as exc:
            return exc.status, exc.body

    def _post(self, account: str, path: str, idempotency_key: str | None, body: bytes) -> JSON:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        fingerprint = (path, "POST", tuple(sorted(pairs)))
        if idempotency_key:
            stored = self._state.idempotency.get((account, idempotency_key))
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        "first used with. Try using a key other than "
                        f"'{idempotency_key}' if you meant to execute a different request.",
                        type_="idempotency_error",
                    )
                return stored.body
        params = _nest(pairs)
        expire = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", path)
        if path == "/v1/checkout/sessions":
            result = self._create_session(account, params)
        elif expire is not None:
            result = self._expire_session(account, expire.group(1), params)
        elif path == "/v1/refunds":
            result = self._create_refund(account, params)
        else:
            raise StripeError(404, f"Unrecognized request URL (POST: {path}).")
        if idempotency_key:  # Stripe saves a result only once the endpoint began executing.
            self._state.idempotency[(account, idempotency_key)] = _Stored(fingerprint, result)
        return result

    def _get(self, account: str, path: str) -> JSON:
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:3] == ["v1", "checkout", "sessions"]:
            session = self._state.sessions.get(parts[3])
            if session is None or session.account != account:
                raise StripeError(
                    404, f"No such checkout.session: '{parts[3]}'", code="resource_missing", param="session"
                )
            return session.data
        if len(parts) == 3 and parts[:2] == ["v1", "payment_intents"]:
            found = self._state.intents.get(parts[2])
            if found is None or found[0] != account:
                raise StripeError(
                    404, f"No such payment_intent: '{parts[2]}'", code="resource_missing", param="intent"
                )
            return found[1]
        if len(parts) == 3 and parts[:2] == ["v1", "refunds"]:
            refund = self._state.refunds.get(parts[2])
            if refund is None or refund[0] != account:
                raise StripeError(404, f"No such refund: '{parts[2]}'", code="resource_missing", param="id")
            return refund[1]
        raise StripeError(404, f"Unrecognized request URL (GET: {path}).")

    def _create_session(self, account: str, params: JSON) -> JSON:
        _unknown(params, _SESSION_PARAMS)
        mode = _string(params.get("mode"), "mode", required=True)
        if mode != "payment":
            raise StripeError(400, "This stand-in supports only mode=payment.", param="mode")
        success_url = _string(params.get("success_url"), "success_url", required=True)
        cancel_url = _string(params.get("cancel_url"), "cancel_url")
        items: list[JSON] = []
        total = 0
        for i, item in enumerate(_indexed(params.get("line_items"), "line_items")):
            p = f"line_items[{i}]"
            if not isinstance(item, dict):
                raise StripeError(400, f"Invalid object: {p}", param=p)
            _unknown(item, frozenset({"price_data", "quantity"}))
            price = item.get("price_data")
            if not isinstance(price, dict):
                raise StripeError(400, f"Missing required param: {p}[price_data].", param=f"{p}[price_data]")
            currency = _string(price.get("currency"), f"{p}[price_data][currency]", required=True)
            if currency != "vnd":
                raise StripeError(
                    400, "This stand-in supports only currency=vnd.", param=f"{p}[price_data][currency]"
                )
            unit_amount = _integer(price.get("unit_amount"), f"{p}[price_data][unit_amount]", minimum=1)
            product = price.get("product_data")
            name = _string(
                product.get("name") if isinstance(product, dict) else None,
                f"{p}[price_data][product_data][name]",
                required=True,
            )
            quantity = _integer(item.get("quantity"), f"{p}[quantity]", minimum=1)
            total += unit_amount * quantity
            items.append({"name": name, "unit_amount": unit_amount, "quantity": quantity})
        if not items:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        if total > MAX_AMOUNT:
            # Stripe takes at most eight digits in the currency's smallest unit.
            raise StripeError(
                400,
                f"Amount must be no more than {_vnd(MAX_AMOUNT)}",
                code="amount_too_large",
                param="amount",
            )
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise StripeError(400, "Invalid hash: payment_intent_data", param="payment_intent_data")
        _unknown(intent_data, frozenset({"application_fee_amount", "metadata", "description"}))
        fee = None
        if intent_data.get("application_fee_amount") not in (None, ""):
            param = "payment_intent_data[application_fee_amount]"
            fee = _integer(intent_data["application_fee_amount"], param, minimum=0)
            if fee > total:
                raise StripeError(400, "The application fee cannot exceed the amount total.", param=param)
        session_id = _new_id("cs")
        now = int(time.time())
        data: JSON = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": cancel_url,
            "client_reference_id": _string(params.get("client_reference_id"), "client_reference_id"),
            "created": now,
            "currency": "vnd",
            "customer_email": _string(params.get("customer_email"), "customer_email"),
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "locale": _string(params.get("locale"), "locale"),
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": success_url,
            "url": f"{self.api_base}/pay/{session_id}",
        }
        self._state.sessions[session_id] = _Session(
            account=account,
            data=data,
            application_fee_amount=fee,
            payment_intent_metadata=_metadata(intent_data.get("metadata"), "payment_intent_data[metadata]"),
            line_items=items,
        )
        return data

    def _expire_session(self, account: str, session_id: str, params: JSON) -> JSON:
        _unknown(params, frozenset({"expand"}))
        session = self._state.sessions.get(session_id)
        if session is None or session.account != account:
            raise StripeError(
                404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session"
            )
        if session.data["status"] != "open":
            raise StripeError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.')
        session.data["status"] = "expired"
        snapshot = json.loads(json.dumps(session.data))
        # Delivered after the answer, as Stripe does; a thread keeps the lock-holding call short.
        payload = self.event("checkout.session.expired", snapshot, account)
        threading.Thread(target=self.deliver, args=(payload,), daemon=True).start()
        return snapshot  # type: ignore[no-any-return]

    def _create_refund(self, account: str, params: JSON) -> JSON:
        _unknown(params, _REFUND_PARAMS)
        intent_id = _string(params.get("payment_intent"), "payment_intent", required=True)
        assert intent_id is not None
        found = self._state.intents.get(intent_id)
        if found is None or found[0] != account:
            raise StripeError(
                404, f"No such payment_intent: '{intent_id}'", code="resource_missing", param="payment_intent"
            )
        intent = found[1]
        if intent["status"] != "succeeded":
            raise StripeError(400, "This PaymentIntent has not succeeded.", param="payment_intent")
        refunded = sum(
            r["amount"] for _, r in self._state.refunds.values() if r["payment_intent"] == intent_id
        )
        remaining = int(intent["amount_received"]) - refunded
        if remaining <= 0:
            raise StripeError(
                400, f"Charge for {intent_id} has already been refunded.", code="charge_already_refunded"
            )
        amount = remaining
        if params.get("amount") not in (None, ""):
            amount = _integer(params["amount"], "amount", minimum=1)
            if amount > remaining:
                raise StripeError(
                    400,
                    f"Refund amount ({_vnd(amount)}) is greater than unrefunded amount on charge "
                    f"({_vnd(remaining)})",
                    code="amount_too_large",
                    param="amount",
                )
        reason = _string(params.get("reason"), "reason")
        if reason is not None and reason not in _REFUND_REASONS:
            raise StripeError(400, f"Invalid reason: {reason}", param="reason")
        refund: JSON = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "created": int(time.time()),
            "currency": "vnd",
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "payment_intent": intent_id,
            "reason": reason,
            "status": "succeeded",
        }
        self._state.refunds[refund["id"]] = (account, refund)
        # Stripe tells the platform about every refund, however it was made (API or dashboard).
        charge = {
            "id": "ch_" + intent_id.removeprefix("pi_"),
            "object": "charge",
            "amount": int(intent["amount_received"]),
            "amount_refunded": refunded + amount,
            "currency": "vnd",
            "payment_intent": intent_id,
            "refunded": refunded + amount >= int(intent["amount_received"]),
        }
        payload = self.event("charge.refunded", charge, account)
        threading.Thread(target=self.deliver, args=(payload,), daemon=True).start()
        return refund

    # -- hosted checkout -------------------------------------------------------------------------

    def page(self, session_id: str) -> tuple[int, str]:
        with self._lock:
            session = self._state.sessions.get(session_id)
            if session is None:
                return 404, _html("Không tìm thấy phiên thanh toán", "<p>Phiên thanh toán không tồn tại.</p>")
            data = dict(session.data)
            items = list(session.line_items)
        rows = "".join(
            f"<li>{html.escape(str(i['name']))} × {i['quantity']}: {_vnd(i['unit_amount'] * i['quantity'])}"
            "</li>"
            for i in items
        )
        action = f"/pay/{html.escape(session_id)}"
        if data["status"] != "open":
            return 200, _html("Thanh toán thử", f"<p>Phiên này đã {html.escape(str(data['status']))}.</p>")
        body = (
            "<p><strong>Thanh toán thử — không dùng thẻ thật</strong></p>"
            f"<ul>{rows}</ul><p>Tổng cộng: <strong>{_vnd(int(data['amount_total']))}</strong></p>"
            f'<form method="post" action="{action}"><input type="hidden" name="action" value="pay">'
            '<button type="submit">Pay / Thanh toán</button></form>'
            f'<form method="post" action="{action}"><input type="hidden" name="action" value="cancel">'
            '<button type="submit">Cancel / Huỷ</button></form>'
        )
        return 200, _html("Thanh toán thử — không dùng thẻ thật", body)

    def act(self, session_id: str, body: bytes) -> tuple[int, str | None]:
        """POST /pay/{id}: returns (status, redirect location)."""
        action = dict(parse_qsl(body.decode("utf-8"))).get("action")
        with self._lock:
            session = self._state.sessions.get(session_id)
            if session is None:
                return 404, None
            if session.data["status"] != "open":
                return 409, None
            success_url = str(session.data["success_url"])
            cancel_url = session.data["cancel_url"]
        if action == "pay":
            self.complete(session_id)
            return 303, success_url.replace("{CHECKOUT_SESSION_ID}", session_id)
        if action == "cancel":
            return 303, str(cancel_url or success_url).replace("{CHECKOUT_SESSION_ID}", session_id)
        return 400, None


def _html(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    owner: StripeStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: never headers (the API key travels in Authorization).
        log.debug("stripe stand-in: %s", format % args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, content: bytes, content_type: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        body = self._body() if method == "POST" else b""
        if path.startswith("/v1/"):
            status, payload = self.owner.api(
                method, path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            request_id = "req_" + secrets.token_hex(8)
            self._send(
                status, json.dumps(payload).encode(), "application/json", (("Request-Id", request_id),)
            )
            return
        if path.startswith("/pay/") and path.count("/") == 2:
            session_id = path.removeprefix("/pay/")
            if method == "GET":
                status, page = self.owner.page(session_id)
                self._send(status, page.encode(), "text/html; charset=utf-8")
                return
            status, location = self.owner.act(session_id, body)
            if location is not None:
                self._send(status, b"", "text/plain", (("Location", location),))
            else:
                self._send(
                    status,
                    _html("Thanh toán thử", "<p>Không thực hiện được.</p>").encode(),
                    "text/html; charset=utf-8",
                )
            return
        self._send(404, b"not found", "text/plain")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")


@contextmanager
def dev_payments(database_url: str, webhook_url: str) -> Iterator[dict[str, str]]:
    """For ``motcua run`` in development: a stand-in with fresh test keys, the accounts of the
    tenant records as its connected accounts, and webhooks sent to the local portal. Yields the
    ``MOTCUA_STRIPE_*`` variables the app and the workers need."""
    from sqlalchemy import text

    from motcua.core.db import sync_engine

    engine = sync_engine(database_url, pool_size=1)

    def connected(account: str) -> bool:
        with engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT 1 FROM platform.tenants WHERE settings->'payments'->>'stripe_account' = :a"),
                    {"a": account},
                ).first()
                is not None
            )

    api_key = "sk_test_" + secrets.token_hex(12)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    try:
        with StripeStandin(
            api_key, webhook_secret, known_accounts=connected, webhook_url=webhook_url
        ) as standin:
            yield {
                "MOTCUA_STRIPE_SECRET_KEY": api_key,
                "MOTCUA_STRIPE_WEBHOOK_SECRET": webhook_secret,
                "MOTCUA_STRIPE_API_BASE": standin.api_base,
            }
    finally:
        engine.dispose()
