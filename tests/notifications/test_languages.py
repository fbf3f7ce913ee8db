"""E-mails and SMS in the applicant's language: the UI language chosen when they logged in is
kept on the citizen, carried by the event, and the message is written in it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.header import decode_header, make_header
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.db import Database
from motcua.core.settings import PROJECT_ROOT, Settings
from motcua.core.tenant import Tenant
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.services import record_tenant_login
from motcua.notifications.jobs import sms_text
from motcua.notifications.templates import MailTemplates, NotificationEvent
from tests.backoffice.test_workspace import _act, _officer, _submit
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, SignIn
from tests.identity.conftest import use_provider
from tests.identity.rogue_provider import RogueProvider
from tests.notifications.test_delivery import Inbox, _free_port, _mentions, _wait, _worker
from tests.notifications.test_templates import FULL, PORTAL, tenant

# A word with a Vietnamese letter (ă â đ ê ô ơ ư or a tone mark).
VIETNAMESE = re.compile(r"\w*[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]\w*", re.I)


def _without(text_: str, *data: str) -> str:
    for value in data:
        text_ = text_.replace(value, "")
    return text_


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as c:
        yield c


@pytest.fixture
def rogue() -> Iterator[RogueProvider]:
    provider = RogueProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.mark.parametrize("event", list(NotificationEvent))
def test_every_email_reads_in_english(event: NotificationEvent) -> None:
    templates = MailTemplates(PROJECT_ROOT / "themes")
    english = templates.render(tenant(), event, replace(FULL, language="en"), portal_url=PORTAL)
    vietnamese = templates.render(tenant(), event, FULL, portal_url=PORTAL)
    assert english.subject != vietnamese.subject
    # What is left once the data (names, the reason, the items) and the status's legal label
    # (kept in Vietnamese, the translation beside it) are taken out is English.
    data = (
        tenant().name,
        *FULL.items,
        FULL.reason or "",
        FULL.procedure_name,
        FULL.applicant_name,
        FULL.receipt or "",
        "Đang xử lý (In progress)",
    )
    for part in (english.subject, english.text, english.html):
        assert VIETNAMESE.findall(_without(html.unescape(part), *data)) == [], part
    assert "17:00 on 25/11/2026" in english.text
    assert '<html lang="en">' in english.html


def test_the_sms_is_in_the_applicant_language() -> None:
    notice = replace(FULL, status_label="Được tiếp nhận")
    assert sms_text(tenant(), notice) == f"{tenant().name}: hồ sơ {FULL.code} — Được tiếp nhận"
    assert (
        sms_text(tenant(), replace(notice, language="en"))
        == f"{tenant().name}: dossier {FULL.code} — Được tiếp nhận (Accepted)"
    )


async def _language_of(engine: Engine, tenant_: Tenant, issuer: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(f"SELECT preferred_language FROM {tenant_.schema}.citizens WHERE issuer = :i"),
                {"i": issuer},
            ).scalars()
        )


async def _login(browser: httpx.AsyncClient, host: str) -> None:
    start = await browser.get(f"http://{host}/login")
    assert start.status_code == 302, start.text
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    assert (await browser.get(callback)).status_code == 303


async def test_login_keeps_the_language_chosen(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant_ = make_tenant()
    use_provider(engine, live_settings, tenant_, issuer=rogue.issuer)
    host = f"{tenant_.slug}.localhost"
    await _login(browser, host)
    assert await _language_of(engine, tenant_, rogue.issuer) == ["vi"]
    await browser.get(f"http://{host}/lang/en", params={"next": "/"})
    await _login(browser, host)
    assert await _language_of(engine, tenant_, rogue.issuer) == ["en"]


async def test_an_english_citizen_is_mailed_in_english(
    inbox: tuple[Inbox, int],
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    handler, port = inbox
    tenant_ = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant_, email="anna@example.vn")
    # The same person logs in again with the portal in English (as the login route records it).
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(tenant_) as session:
            await record_tenant_login(
                session,
                VerifiedIdentity(
                    issuer="https://eid.test",
                    subject="sub-001190001234",
                    personal_id="001190001234",
                    claims={"name": "Nguyễn Thị Mai", "email": "anna@example.vn"},
                    id_token="",
                    end_session_endpoint=None,
                ),
                language="en",
            )
    finally:
        await db.dispose()
    officer = await _officer(sign_in, engine, tenant_)
    worker = _worker(f"smtp://127.0.0.1:{port}")
    try:
        assert (await _act(officer, code, "accept")).status_code == 303

        def english_mail() -> bool:
            return any(_subject(m) == f"Dossier {code} has been accepted" for m in handler.messages)

        assert _wait(english_mail)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    mine = [m for m in handler.messages if code in _subject(m) and _mentions(m, tenant_.slug)]
    subjects = sorted(_subject(m) for m in mine)
    # Submitted while the citizen used Vietnamese; accepted after they chose English.
    assert subjects == sorted([f"Đã nhận hồ sơ {code}", f"Dossier {code} has been accepted"])
    accepted = next(m for m in mine if _subject(m).startswith("Dossier"))
    assert _mentions(accepted, "Dear Nguyễn Thị Mai,")
    assert _mentions(accepted, "Status: Được tiếp nhận (Accepted)")
    assert _mentions(accepted, '<html lang="en">')


def _subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"])))
