"""What an operator sees of each request and job: its id, one access line, its metrics.

``ObservedRequests`` is the app's outermost ASGI middleware, so every answer has an id and a
line, those that the host check or the tenant middleware send themselves too. It costs a
context-variable set, a clock read and a histogram increment per request; the access line is
built only when INFO is enabled. The line names the route *template* (``/ho-so/{code}``), never
the path (which may hold a dossier code or a query), and the user only as a keyed hash.

``JobContext`` does the same for a job in the worker: the request id that queued it (carried
by the outbox as a message option) becomes the job's own, so one id follows a citizen's click
from the web process to the mail the worker sends.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from motcua.core import tracing
from motcua.core.dependencies import observed
from motcua.core.logging import ACCESS_LOGGER, LOG_CONTEXT
from motcua.core.metrics import Metrics
from motcua.core.security import derive_key

access_log = logging.getLogger(ACCESS_LOGGER)
_ACCESS_LINE = "%s %s %d %.1f ms"
job_log = logging.getLogger("motcua.jobs")

REQUEST_ID_HEADER = b"x-request-id"
# An id from a proxy or a caller is kept if it is short and plain (nginx's $request_id, a UUID,
# a trace id); anything else is replaced, so a header cannot forge or break a log line.
_WELL_FORMED = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9._:+/=-]{7,127}$")


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _WELL_FORMED.match(value) else None
    return None


def new_request_id() -> str:
    return secrets.token_hex(16)


class UserPseudonym:
    """A stable, keyed hash of a signed-in user: the same person gets the same value in every
    line (an operator can follow one user's requests) but the value reveals neither the person
    nor their personal ID, and cannot be recomputed without the platform's secret."""

    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, "log-user-pseudonym")

    def __call__(self, user: Any) -> str | None:
        if user is None:
            return None
        identity = f"{getattr(user, 'issuer', '')}\n{getattr(user, 'subject', '')}".encode()
        return hmac.new(self._key, identity, hashlib.sha256).hexdigest()[:16]


@dataclass(slots=True)
class _RequestContext:
    request_id: str
    scope: Scope

    @property
    def site(self) -> str:
        # Resolved by the tenant middleware after this context was set: read when a line is logged.
        return observed(self.scope)[0]


class ObservedRequests:
    def __init__(self, app: ASGIApp, *, secret_key: str, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics
        self.pseudonym = UserPseudonym(secret_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = incoming_request_id(scope) or new_request_id()
        header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if tracing.enabled():
                    # Now, not once answered: the server span ends with the response's last byte.
                    tracing.name_request_span(scope["method"], scope.get("path_template") or "-", request_id)
                headers = message.get("headers")
                if isinstance(headers, list):
                    headers.append(header)
                else:
                    message["headers"] = [*(headers or ()), header]
            await send(message)

        token = LOG_CONTEXT.set(_RequestContext(request_id, scope))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            # Set by Litestar's router; absent when the request was answered before routing
            # (unknown host, bad request) or matched no route.
            route = scope.get("path_template") or "-"
            method = scope["method"]
            site, user = observed(scope)
            if self.metrics is not None:
                self.metrics.observe_request(route, method, status, seconds, site)
            if access_log.isEnabledFor(logging.INFO):
                milliseconds = round(seconds * 1000, 2)
                # The record is made here rather than by access_log.info(), which would walk the
                # stack to find its caller: a line per request, the caller is always this one.
                record = logging.LogRecord(
                    ACCESS_LOGGER,
                    logging.INFO,
                    __file__,
                    0,
                    _ACCESS_LINE,
                    (method, route, status, milliseconds),
                    None,
                )
                record.__dict__.update(
                    request_id=request_id,
                    site=site,
                    route=route,
                    method=method,
                    status=status,
                    duration_ms=milliseconds,
                    user=self.pseudonym(user),
                )
                access_log.handle(record)
            LOG_CONTEXT.reset(token)


@dataclass(frozen=True, slots=True)
class _JobLogContext:
    request_id: str
    site: str


class JobContext(Middleware):
    """Puts the request id that queued a job (or the message id, for a job nobody's request
    queued: a periodic scan) and its tenant on every line the job logs, writes one line per
    run, and counts runs, failures and time per actor."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._running: dict[str, tuple[Any, float]] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        request_id = message.options.get("request_id") or message.message_id
        site = message.kwargs.get("tenant")
        context = _JobLogContext(str(request_id), site if isinstance(site, str) else "-")
        self._running[message.message_id] = (LOG_CONTEXT.set(context), time.perf_counter())

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._finish(message, "done" if exception is None else "failed")

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._finish(message, "skipped")

    def _finish(self, message: MessageProxy, outcome: str) -> None:
        running = self._running.pop(message.message_id, None)
        if running is None:
            return
        token, started = running
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.observe_job(message.actor_name, outcome, seconds)
        if job_log.isEnabledFor(logging.INFO):
            job_log.info(
                "job %s %s in %.1f ms",
                message.actor_name,
                outcome,
                seconds * 1000,
                extra={
                    "actor": message.actor_name,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                    "message_id": message.message_id,
                    "attempt": message.options.get("retries", 0) + 1,
                },
            )
        try:
            LOG_CONTEXT.reset(token)
        except ValueError:  # set in another context (a hook run on another thread): just clear
            LOG_CONTEXT.set(None)
