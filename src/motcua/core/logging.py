"""Logging setup: one line per record, as JSON (production) or text (development), each carrying
the request id and the site of the request or job it belongs to, with secrets redacted.

The request id and the site travel in a context variable (``LOG_CONTEXT``), set once per request
by ``core.observability.ObservedRequests`` and once per job by ``core.observability.JobContext``,
so any line logged while serving them carries both without being passed anything.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar
from typing import Any, Protocol

from motcua.core.settings import Settings

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


class LogContext(Protocol):
    @property
    def request_id(self) -> str: ...

    @property
    def site(self) -> str: ...


# The request or job being served, read by ``ContextFilter`` when a line is logged. A request's
# site is only known once its host is resolved, so it is read then, not when the context is set.
LOG_CONTEXT: ContextVar[LogContext | None] = ContextVar("motcua_log_context", default=None)


def current_request_id() -> str | None:
    context = LOG_CONTEXT.get()
    return None if context is None else context.request_id


ACCESS_LOGGER = "motcua.access"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str | None]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER:
            return True  # method, route template, status and time: nothing that can be a secret
        message = record.getMessage()
        redacted = _URL_PASSWORD.sub(r"\1***\3", message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``site`` on every record (``-`` outside a request or job); a
    record that already names them (the access line) keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = LOG_CONTEXT.get()
            record.request_id = "-" if context is None else context.request_id
            record.site = "-" if context is None else context.site
        return True


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context and
    whatever the call passed as ``extra``."""

    def __init__(self) -> None:
        super().__init__()
        # json.dumps builds a new encoder per call when given options; one is kept instead.
        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
        self._date: tuple[int, str] = (-1, "")  # one tuple: threads swap it whole

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        date = self._date
        if date[0] != second:  # lines come many to a second: the date is formatted once
            date = self._date = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        fields: dict[str, Any] = {
            "ts": f"{date[1]}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exc"] = record.exc_text
        return self._encode(fields)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(site)s]: %(message)s"


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, *, take_over_handlers: bool = False) -> None:
    """Sets the root logger up once per process. ``take_over_handlers`` gives handlers that
    someone else installed (Dramatiq's pipe to its main process) this format too; without it,
    a process whose root logger already writes somewhere (a test run) keeps that."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        # Written from the thread that logs: handing lines to a writer thread (a QueueHandler)
        # was measured to cost several times more CPU per line, in switches between threads,
        # than the write itself.
        handler = logging.StreamHandler()
        handler.set_name("motcua")
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    # fontTools narrates every table it prunes when the PDF fonts are cut at start-up.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    for existing in root.handlers:
        if existing.get_name() == "motcua" or take_over_handlers:
            existing.setFormatter(formatter_for(settings))
        if not any(isinstance(f, ContextFilter) for f in existing.filters):
            existing.addFilter(ContextFilter())
        if not any(isinstance(f, RedactSecrets) for f in existing.filters):
            existing.addFilter(
                RedactSecrets(
                    [
                        settings.secret_key,
                        settings.stripe_secret_key,
                        settings.stripe_webhook_secret,
                        settings.metrics_token,
                        settings.s3.secret_access_key if settings.s3 else "",
                    ]
                )
            )
