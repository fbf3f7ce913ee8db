"""Email over real SMTP (aiosmtplib).

A send either reaches the server or raises ``DeliveryError``: nothing is swallowed, so the job
that sends retries. The ``Message-ID`` is derived from the caller's idempotency key, so a retried
send carries the same id and a receiving system (or a person) can tell it is the same message.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from motcua.core.settings import Settings

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[A-Za-z0-9.-]+$")
# Headers the mailer sets itself; extra headers must not replace them.
_RESERVED = frozenset(
    {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version", "content-type"}
)


class DeliveryError(Exception):
    """The message did not reach the SMTP server.

    ``permanent`` is true when retrying cannot help without a change (no SMTP configured, the
    server refused the sender or every recipient with a 5xx answer); a job may stop retrying
    then. Anything else (connection refused, timeout, 4xx) is worth retrying with backoff.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def parse_mailbox(value: str) -> tuple[str, str]:
    """``"Cổng DVC Hà Nội <no-reply@hanoi.example.vn>"`` → (display name, address)."""
    if "\n" in value or "\r" in value:
        raise ValueError("a mailbox cannot span lines")
    name, address = parseaddr(value)
    if not _ADDRESS.match(address):
        raise ValueError(f"not an email address: {value!r}")
    return name.strip(), address


def message_id_for(idempotency_key: str, sender_address: str) -> str:
    """The same key always gives the same ``<…@domain>`` id (the sender's domain)."""
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = sender_address.rpartition("@")[2] or "localhost"
    return f"<{digest}.motcua@{domain}>"


@dataclass(frozen=True)
class OutgoingEmail:
    sender_address: str
    sender_name: str
    to: tuple[str, ...]
    subject: str
    text: str
    idempotency_key: str
    html: str | None = None
    # Extra headers (e.g. X-Motcua-Tenant); From, To, Subject, Message-ID, Date are set here.
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not _ADDRESS.match(self.sender_address):
            raise ValueError(f"not an email address: {self.sender_address!r}")
        if not self.to:
            raise ValueError("an email needs at least one recipient")
        for address in self.to:
            if not _ADDRESS.match(address):
                raise ValueError(f"not an email address: {address!r}")
        if not self.idempotency_key:
            raise ValueError("an idempotency key is required")
        for name, value in (("sender name", self.sender_name), ("subject", self.subject)):
            if "\n" in value or "\r" in value:
                raise ValueError(f"the {name} cannot span lines")
        for name, value in self.headers.items():
            if name.lower() in _RESERVED:
                raise ValueError(f"header {name} is set by the mailer")
            if not re.match(r"^[A-Za-z0-9-]+$", name) or "\n" in value or "\r" in value:
                raise ValueError(f"invalid header {name!r}")

    @property
    def message_id(self) -> str:
        return message_id_for(self.idempotency_key, self.sender_address)

    def to_mime(self, *, now: datetime | None = None) -> EmailMessage:
        """The MIME message: UTF-8 text (and HTML as an alternative), non-ASCII headers encoded."""
        message = EmailMessage()
        local, _, domain = self.sender_address.rpartition("@")
        message["From"] = Address(self.sender_name, local, domain)
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.subject
        message["Date"] = format_datetime(now or datetime.now(UTC))
        message["Message-ID"] = self.message_id
        # RFC 3834: an automatic message; auto-responders should not answer it.
        message["Auto-Submitted"] = "auto-generated"
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text, charset="utf-8")
        if self.html is not None:
            message.add_alternative(self.html, subtype="html", charset="utf-8")
        return message


async def send_email(settings: Settings, message: OutgoingEmail) -> None:
    """Hand the message to the configured SMTP server, or raise ``DeliveryError``."""
    server = settings.smtp
    if server is None:
        raise DeliveryError("MOTCUA_SMTP_URL is not set: there is no mail server to send to", permanent=True)
    where = f"{server.host}:{server.port}"
    try:
        refused, _ = await aiosmtplib.send(
            message.to_mime(),
            sender=message.sender_address,
            recipients=list(message.to),
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        raise DeliveryError(
            f"{where} refused every recipient of {message.message_id} ({codes})",
            permanent=all(code >= 500 for code in codes),
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"{where} answered {exc.code} {exc.message} for {message.message_id}",
            permanent=exc.code >= 500,
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        # Connection refused, DNS failure, TLS handshake, timeout: all worth a retry.
        raise DeliveryError(f"cannot deliver {message.message_id} to {where}: {exc}") from exc
    if refused:
        # Some recipients were refused, others accepted: the message is sent, and a retry would
        # duplicate it for those who got it. Say so, without the addresses (personal data).
        log.warning(
            "mail %s: %d of %d recipient(s) refused by %s (%s)",
            message.message_id,
            len(refused),
            len(message.to),
            where,
            ", ".join(sorted({str(r.code) for r in refused.values()})),
        )
    log.info("mail %s sent to %d recipient(s) via %s", message.message_id, len(message.to), where)
