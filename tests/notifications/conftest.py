"""A real SMTP server (aiosmtpd) in the test's event loop, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from motcua.core.settings import Settings, SmtpServer

USER, PASSWORD = "mailer", "p@ss: wörd"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def raw_headers(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0]


@dataclass
class Collector:
    """Keeps what arrives; refuses nobody@… for good (550) and busy@… for now (451)."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        assert envelope.mail_from is not None and envelope.original_content is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


def smtp_settings(data_dir: Path, port: int, **smtp: Any) -> Settings:
    return Settings(env="test", data_dir=data_dir, smtp=SmtpServer(host="127.0.0.1", port=port, **smtp))


@dataclass
class SmtpFixture:
    collector: Collector
    port: int

    def settings(self, data_dir: Path, **smtp: Any) -> Settings:
        return smtp_settings(data_dir, self.port, **smtp)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(collector: Collector, **smtp_options: Any) -> AsyncIterator[SmtpFixture]:
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what the auth fixture means to test (certificates aside).
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            return SMTP(collector, loop=loop, **smtp_options)

    server = await loop.create_server(protocol, host="127.0.0.1", port=0)
    try:
        yield SmtpFixture(collector, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpFixture]:
    async for running in _serve(Collector()):
        yield running


@pytest.fixture
async def smtp_auth_server() -> AsyncIterator[SmtpFixture]:
    """Requires AUTH (over plain SMTP: TLS would need certificates)."""
    collector = Collector()
    async for running in _serve(
        collector, auth_required=True, auth_require_tls=False, authenticator=collector.authenticate
    ):
        yield running


# The signed-in browser fixture of the citizen journey, for the end-to-end delivery tests.
from tests.dossiers.conftest import sign_in  # noqa: E402

__all__ = ["sign_in"]
