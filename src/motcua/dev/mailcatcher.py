"""The development mail catcher: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every
message it receives as an ``.eml`` file under ``<data dir>/mail/`` instead of delivering it.

``motcua run`` starts it when dev services are on and no ``MOTCUA_SMTP_URL`` is configured, and
points its children at it, so development sends real SMTP too. It never runs in production.
``list_messages`` reads the caught mail back (newest first) for a developer page.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from motcua.core.settings import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class MailCatcherError(RuntimeError):
    """The catcher cannot start (production, or its port is taken)."""


def mail_dir(settings: Settings) -> Path:
    return settings.data_dir / "mail"


def _header_value(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def store_message(
    folder: Path, raw: bytes, *, envelope_from: str | None = None, envelope_to: Sequence[str] = ()
) -> Path:
    """Write one received message as ``<nanoseconds>-<random>.eml`` (names sort by arrival),
    readable by its owner only (mail carries personal data), atomically (no half files)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The envelope says who the message was really for (Bcc recipients are in no header).
    prefix = (
        f"X-Envelope-From: {_header_value(envelope_from or '')}\r\n"
        f"X-Envelope-To: {_header_value(', '.join(envelope_to))}\r\n"
    ).encode()
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.eml"
    partial = folder / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(prefix + raw)
    final = folder / name
    os.replace(partial, final)
    return final


class _StoreHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        path = await asyncio.to_thread(
            store_message,
            self.folder,
            raw,
            envelope_from=envelope.mail_from,
            envelope_to=list(envelope.rcpt_tos),
        )
        log.info("mail catcher: kept a message for %d recipient(s) as %s", len(envelope.rcpt_tos), path.name)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _check_port(port: int) -> None:
    """Fail at once with a clear line when the port is taken (aiosmtpd would wait and time out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise MailCatcherError(
                f"the development mail catcher cannot listen on {HOST}:{port} ({exc.strerror}); "
                "set MOTCUA_DEV_SMTP_PORT to a free port"
            ) from None


class MailCatcher:
    """The SMTP server in a background thread (its own event loop). ``port=0`` picks a free one."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        if settings.is_production:
            raise MailCatcherError("the development mail catcher never runs in production")
        self.folder = mail_dir(settings)
        self.port = settings.dev_smtp_port if port is None else port
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """What ``MOTCUA_SMTP_URL`` should be for processes that send through the catcher."""
        return f"smtp://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> MailCatcher:
        if self._controller is not None:
            return self
        if self.port == 0:
            self.port = _free_port()
        _check_port(self.port)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        controller = Controller(_StoreHandler(self.folder), hostname=HOST, port=self.port, ready_timeout=5.0)
        try:
            controller.start()
        except Exception as exc:
            raise MailCatcherError(
                f"the development mail catcher did not start on {HOST}:{self.port}: {exc}"
            ) from exc
        self._controller = controller
        log.info("development mail catcher on %s, messages kept in %s", self.url, self.folder)
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_mail_catcher(settings: Settings, *, port: int | None = None) -> MailCatcher:
    """Start the catcher on 127.0.0.1 (``MOTCUA_DEV_SMTP_PORT`` unless ``port`` is given);
    call ``.stop()`` on what it returns. Raises ``MailCatcherError`` in production."""
    return MailCatcher(settings, port=port).start()


@contextmanager
def dev_mail_catcher(settings: Settings) -> Iterator[str | None]:
    """For ``motcua run``: the catcher's SMTP URL while it runs, when development wants one
    (dev services on, notifications on, no SMTP configured); otherwise None and nothing runs."""
    if not settings.dev_services or not settings.notifications_enabled or settings.smtp is not None:
        yield None
        return
    with MailCatcher(settings) as catcher:
        yield catcher.url


# Reading the caught mail back -----------------------------------------------------------------
@dataclass(frozen=True)
class CaughtMessage:
    id: str  # the file name without .eml; sorts by arrival
    path: Path
    subject: str
    sender: str  # the From header, decoded
    to: str  # the To header, decoded
    envelope_to: str  # who the SMTP envelope named (includes Bcc)
    date: datetime | None
    message_id: str | None
    text: str  # the text/plain body, decoded ("" when there is none)
    html: str | None  # the text/html body, when there is one


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if not isinstance(part, EmailMessage):
        return None
    try:
        content = str(part.get_content())
    except (LookupError, UnicodeDecodeError):  # unknown or lying charset: show what we can
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        content = payload.decode("utf-8", "replace")
    return content.replace("\r\n", "\n")  # as sent, not as it travelled (SMTP lines end CRLF)


def read_message(path: Path) -> CaughtMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)  # policy.default builds EmailMessage objects
    date: datetime | None = None
    if parsed["Date"]:
        try:
            date = parsedate_to_datetime(str(parsed["Date"]))
        except (TypeError, ValueError):
            date = None
    return CaughtMessage(
        id=path.stem,
        path=path,
        subject=str(parsed.get("Subject", "")),
        sender=str(parsed.get("From", "")),
        to=str(parsed.get("To", "")),
        envelope_to=str(parsed.get("X-Envelope-To", "")),
        date=date,
        message_id=str(parsed["Message-ID"]) if parsed["Message-ID"] else None,
        text=_part_text(parsed, "plain") or "",
        html=_part_text(parsed, "html"),
    )


def list_messages(settings: Settings, *, limit: int = 200) -> list[CaughtMessage]:
    """The caught messages, newest first (at most ``limit``)."""
    folder = mail_dir(settings)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.name, reverse=True)[:limit]
    return [read_message(path) for path in paths]


def get_message(settings: Settings, message_id: str) -> CaughtMessage | None:
    """One caught message by its ``id`` (as ``list_messages`` gives it), or None."""
    if not re.fullmatch(r"\d{20}-[0-9a-f]{8}", message_id):
        return None  # also keeps a crafted id from naming a file outside the folder
    path = mail_dir(settings) / f"{message_id}.eml"
    return read_message(path) if path.is_file() else None
