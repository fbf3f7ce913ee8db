"""End to end: an officer's action reaches the citizen's mailbox through the real worker and a
real SMTP server; a dead SMTP server is retried, then recorded as a failed job."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.events import DossierEvent
from motcua.core.settings import Settings
from tests.backoffice.test_workspace import _act, _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.workers import start_worker


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _worker(smtp_url: str) -> subprocess.Popen[bytes]:
    return start_worker("notifications", threads=2, env={"MOTCUA_SMTP_URL": smtp_url})


def _accepted(engine: Engine, tenant: Any, code: str, key: str) -> dict[str, Any]:
    """The event an officer's acceptance emits, as the outbox hands it to the notifier."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT procedure_name, applicant_name, due_at FROM {tenant.schema}.dossiers WHERE code = :c"
            ),
            {"c": code},
        ).one()
    return DossierEvent(
        tenant=tenant.slug,
        kind="dossier_accepted",
        key=key,
        code=code,
        procedure_name=row.procedure_name,
        status_label="Được tiếp nhận",
        applicant_name=row.applicant_name,
        due_at=row.due_at,
        email="mai@example.vn",
    ).to_payload()


def _wait(predicate: Any, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _mentions(message: Message, text_: str) -> bool:
    """Whether any text part of ``message``, decoded, contains ``text_``."""
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and text_ in payload.decode(
            part.get_content_charset() or "utf-8", "replace"
        ):
            return True
    return False


async def test_the_citizen_is_told_by_email_when_the_dossier_is_accepted(
    inbox: tuple[Inbox, int], sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    handler, port = inbox
    tenant = make_tenant(procedures=[BIRTH])
    # The e-ID gives the citizen's email at login; messages go to the contact the citizen had
    # when the change happened (events carry it).
    _, code = await _submit(sign_in, tenant, email="mai@example.vn")
    officer = await _officer(sign_in, engine, tenant)
    worker = _worker(f"smtp://127.0.0.1:{port}")
    try:
        assert (await _act(officer, code, "accept")).status_code == 303

        def accepted_mail() -> bool:
            subjects = [str(make_header(decode_header(m["Subject"]))) for m in handler.messages]
            return any(f"Hồ sơ {code} đã được tiếp nhận" == s for s in subjects)

        assert _wait(accepted_mail)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # The worker also drains jobs other tests left in the shared queue: this dossier's mails
    # are the ones that name its code.
    # Codes count per tenant (other tenants' dossiers may have the same one): the mail must also
    # link to this tenant's portal.
    mine = [
        m
        for m in handler.messages
        if code in str(make_header(decode_header(m["Subject"]))) and _mentions(m, tenant.slug)
    ]
    assert "mai@example.vn" in " ".join(m["To"] for m in mine)
    subjects = sorted(str(make_header(decode_header(m["Subject"]))) for m in mine)
    # The submission notice (queued while no worker ran) and the acceptance, each once.
    assert subjects == sorted([f"Đã nhận hồ sơ {code}", f"Hồ sơ {code} đã được tiếp nhận"])


async def test_a_dead_smtp_server_is_retried_then_recorded_as_failed(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    from motcua.notifications.jobs import notify_citizen

    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    worker = _worker(f"smtp://127.0.0.1:{_free_port()}")  # nothing listens there
    try:
        notify_citizen.send_with_options(
            kwargs={"tenant": tenant.slug, "event": _accepted(engine, tenant, code, "dead-smtp")},
            max_retries=2,
            min_backoff=100,
            max_backoff=200,
        )

        def failed() -> bool:
            with engine.connect() as conn:
                rows = (
                    conn.execute(
                        text(
                            "SELECT detail->>'error' FROM platform.audit_log WHERE action = 'job.failed' "
                            "AND tenant_slug = :s AND detail->>'actor' = 'notify_citizen'"
                        ),
                        {"s": tenant.slug},
                    )
                    .scalars()
                    .all()
                )
            return bool(rows)

        assert _wait(failed, timeout=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    with engine.connect() as conn:
        error = conn.execute(
            text(
                "SELECT detail->>'error' FROM platform.audit_log "
                "WHERE action = 'job.failed' AND tenant_slug = :s"
            ),
            {"s": tenant.slug},
        ).scalar()
    assert error is not None and "DeliveryError" in error
    assert re.search(r"[a-z]", error)
    # ...and the tenant administrator sees it.
    from motcua.identity.schemas import RoleGrantCreate
    from motcua.identity.services import grant_role_sync

    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse("031075000999", "tenant_admin"), actor=Actor.operator("test")
    )
    admin = await sign_in(tenant, name="Quản trị", personal_id="031075000999")
    jobs = await admin.get("/manage/jobs")
    assert jobs.status_code == 200
    assert "Gửi thông báo cho người dân" in jobs.text  # the job in words
    assert "DeliveryError" in jobs.text


class SlowThenOk:
    """The first delivery attempt hangs (the worker is killed meanwhile) and is refused; later
    ones are accepted and kept."""

    def __init__(self) -> None:
        self.attempts = 0
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        import asyncio

        self.attempts += 1
        if self.attempts == 1:
            await asyncio.sleep(6)
            return "451 4.3.0 Try again"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


async def test_a_worker_killed_mid_job_is_replaced_and_the_mail_is_sent_once(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    import signal

    from motcua.notifications.jobs import notify_citizen

    handler = SlowThenOk()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    fast = {"MOTCUA_JOB_HEARTBEAT_TIMEOUT_MS": "2000", "MOTCUA_JOB_MAINTENANCE_CHANCE": "1000000"}
    env = {"MOTCUA_SMTP_URL": f"smtp://127.0.0.1:{port}", **fast}
    first = start_worker("notifications", env=env, new_session=True)
    second = None
    try:
        notify_citizen.send(tenant=tenant.slug, event=_accepted(engine, tenant, code, "crash-test"))
        assert _wait(lambda: handler.attempts >= 1, timeout=30)
        os.killpg(first.pid, signal.SIGKILL)  # dies mid-delivery, message not acknowledged
        first.wait(timeout=10)
        second = start_worker("notifications", env=env, new_session=True)
        accepted = f"Hồ sơ {code} đã được tiếp nhận"

        def delivered() -> int:
            return sum(str(make_header(decode_header(m["Subject"]))) == accepted for m in handler.messages)

        assert _wait(lambda: delivered() >= 1, timeout=60)
        time.sleep(2)  # a duplicate, if any, would arrive now
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()  # the main process only: it stops its own children once
                proc.wait(timeout=30)
        controller.stop()
    assert delivered() == 1
    assert handler.attempts >= 2  # the killed worker's attempt, then the redelivery
