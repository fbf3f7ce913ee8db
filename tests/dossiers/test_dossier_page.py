"""The citizen's dossier page tells its story in words: a stepper that marks where the dossier
stands, the result first in its own card, what the citizen must do now, the facts, and the
history as "when — what — by whom" with people's names, never codes or personal ID numbers. The
list of "my dossiers" and public tracking use the same words."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.lifecycle import Action, record_event, transition
from motcua.dossiers.models import Channel, Dossier, DossierHistory, DossierStatus
from motcua.dossiers.services import record_file, request_supplement
from motcua.dossiers.storage import StoredObject
from motcua.dossiers.uploads import validate_upload
from motcua.dossiers.words import history_in_words, stepper
from motcua.identity.models import Citizen
from motcua.payments.services import record_counter_payment
from tests.conftest import MakeTenant, procedure
from tests.dossiers.conftest import PDF, SignIn

CITIZEN_ID = "001190001234"
CITIZEN_NAME = "Nguyễn Thị Mai"
OFFICER = "079085000111"
OFFICER_NAME = "Trần Văn Bình"
# No personal ID among the answers: any 12 digits on a page is a leak.
PROCEDURE = procedure(
    "1.001193",
    "Đăng ký khai sinh",
    agency_code="000.00.01.T01",
    processing_days=1,
    fields=[{"name": "child_full_name", "label": "Họ tên của trẻ", "type": "text", "required": True}],
)


@pytest.fixture
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    yield database
    await database.dispose()


async def new_dossier(
    db: Database, tenant: Tenant, personal_id: str = CITIZEN_ID, name: str = CITIZEN_NAME
) -> str:
    """An online dossier of the citizen ``personal_id`` (signed in before, so it is theirs),
    received through the one intake function every channel uses."""
    async with db.tenant_session(tenant) as session:
        found = await get_procedure(session, "1.001193")
        citizen = await session.scalar(select(Citizen.id).where(Citizen.personal_id == personal_id))
        assert found is not None and citizen is not None
        received = await receive_dossier(
            session,
            tenant,
            procedure=found,
            applicant=Applicant(personal_id, name),
            data={"child_full_name": "Nguyễn Minh Khôi"},
            documents=[],
            channel=Channel.ONLINE,
            actor=Actor.citizen(citizen),
            submitted_by_citizen=True,
        )
        assert isinstance(received, Received)
        return received.dossier.code


async def _dossier(session: AsyncSession, code: str) -> Dossier:
    dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
    assert dossier is not None
    return dossier


async def add_result(db: Database, tenant: Tenant, code: str, name: str = "giay-khai-sinh.pdf") -> None:
    """The officer's result document (the row only: the page lists it, nobody downloads it here)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield PDF

    upload = await validate_upload(chunks(), max_bytes=1 << 20, filename=name)
    stored = StoredObject(
        key=f"test/{uuid.uuid4().hex}",
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        media_type="application/pdf",
    )
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, code)
        await record_file(
            session,
            upload,
            stored,
            citizen_id=dossier.citizen_id,
            document_code="ket-qua",
            dossier_id=dossier.id,
        )


async def advance(db: Database, tenant: Tenant, code: str, to: str) -> None:
    """Takes the dossier from submitted to ``to`` the way the office does: an officer accepts
    (and is in charge), is assigned again (an older history row that wrote the ID), starts, asks
    for the fee, the online payment records it, the result is uploaded and the work finished."""
    officer = Actor.officer(OFFICER, address="10.0.0.1")
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, code)
        if to == DossierStatus.REFUSED:
            await transition(
                session, dossier, Action.REFUSE, actor=officer, reason="Sai thẩm quyền giải quyết"
            )
            return
        await transition(session, dossier, Action.ACCEPT, actor=officer, values={"assigned_to": OFFICER})
        if to == DossierStatus.ACCEPTED:
            return
        await record_event(session, dossier, actor=officer, reason=f"Phân công cho cán bộ {OFFICER}")
        await transition(session, dossier, Action.START, actor=officer)
        if to == DossierStatus.SUPPLEMENT_REQUESTED:
            await request_supplement(
                session, dossier, actor=officer, reason="Thiếu giấy chứng sinh", items=["Giấy chứng sinh"]
            )
            return
        await transition(session, dossier, Action.REQUEST_PAYMENT, actor=officer, values={"fee_vnd": 8000})
        if to == DossierStatus.PAYMENT_REQUESTED:
            return
        await transition(
            session,
            dossier,
            Action.RECORD_PAYMENT,
            actor=Actor.system("online-payment"),
            reason="Đã nộp phí, lệ phí 8.000 ₫ (thanh toán trực tuyến); biên lai AA/26E số 0000001",
        )
        if to == DossierStatus.STOPPED:
            await transition(session, dossier, Action.STOP, actor=officer, reason="Người nộp đề nghị dừng")
            return
        if to == DossierStatus.IN_PROGRESS:
            return
    await add_result(db, tenant, code)
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, code)
        await transition(session, dossier, Action.FINISH, actor=officer)
        if to == DossierStatus.DELIVERED:
            await transition(session, dossier, Action.DELIVER, actor=officer)


def visible_text(html: str) -> str:
    """What a person reads: the text outside tags, scripts and styles, spaces collapsed."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    for entity, char in (
        ("&nbsp;", " "),
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&#34;", '"'),
        ("&#39;", "'"),
    ):
        text = text.replace(entity, char)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ([:.,;])", r"\1", text)  # punctuation sits against its word, as read


def _current_step(html: str) -> str:
    found = re.search(
        r'<li class="step[^"]*" aria-current="step">.*?<span class="step-text">(.*?)</li>', html, re.S
    )
    assert found is not None, html[:3000]
    return visible_text(found.group(1)).strip()


async def test_the_dossier_page_tells_the_story_in_words(
    sign_in: SignIn, make_tenant: MakeTenant, db: Database
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    await sign_in(
        tenant, name=OFFICER_NAME, personal_id=OFFICER
    )  # the officer has logged in: a name is known
    code = await new_dossier(db, tenant)

    fresh = await citizen.get(f"/my/dossiers/{code}")
    assert fresh.status_code == 200
    assert _current_step(fresh.text) == "Bước hiện tại: Đã nộp"
    assert 'data-testid="result"' not in fresh.text and 'data-testid="todo"' not in fresh.text
    assert "Đã nộp hồ sơ trực tuyến — Bạn" in visible_text(fresh.text)
    assert "css/dossier.css" in fresh.text

    await advance(db, tenant, code, DossierStatus.PROCESSED)
    page = await citizen.get(f"/my/dossiers/{code}")
    assert page.status_code == 200
    text = visible_text(page.text)
    # The stepper: four milestones reached, the current one marked for assistive technology.
    assert _current_step(page.text) == "Bước hiện tại: Có kết quả"
    assert page.text.count('aria-current="step"') == 1
    assert text.count("Đã qua:") == 3 and text.count("Chưa tới:") == 1
    # The result first, labelled, with its size; then what to do now.
    assert page.text.index('data-testid="result"') < page.text.index('data-testid="facts"')
    assert "Kết quả giải quyết" in text and "giay-khai-sinh.pdf" in text and f"({len(PDF)} byte)" in text
    assert 'data-testid="todo"' in page.text and "Nhận kết quả giải quyết" in text
    assert "Nhận trực tiếp tại Bộ phận Một cửa" in text
    # The facts name the officer in charge; the history says who did what, by name.
    assert f"Cán bộ phụ trách {OFFICER_NAME}" in text
    assert f"Đã tiếp nhận hồ sơ — Cán bộ {OFFICER_NAME}" in text
    assert f"Đã phân công cán bộ xử lý: {OFFICER_NAME} — Cán bộ {OFFICER_NAME}" in text
    assert "Đã xác nhận nộp phí, lệ phí — Hệ thống (thanh toán trực tuyến)" in text
    assert f"Đã có kết quả giải quyết — Cán bộ {OFFICER_NAME}" in text
    # No code, no role code, no personal ID number anywhere a person reads.
    assert OFFICER not in page.text and CITIZEN_ID not in text
    for raw in ("officer:", "citizen:", "system:", "in_progress", "processed", "payment_requested"):
        assert raw not in text, raw

    # In English: the same story, in English words around the Vietnamese legal labels.
    citizen.cookies.set("motcua_lang", "en", domain=f"{tenant.slug}.localhost")
    english = await citizen.get(f"/my/dossiers/{code}")
    words = visible_text(english.text)
    assert _current_step(english.text) == "Current step: Result ready"
    assert "Submitted online — You" in words
    assert f"— Officer {OFFICER_NAME}" in words and "— System (online payment)" in words
    assert "Đã xử lý xong (Processed)" in words  # the legal status label, glossed


async def test_side_states_on_the_stepper_and_calls_to_action(
    sign_in: SignIn, make_tenant: MakeTenant, db: Database, client: httpx.AsyncClient
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    supplement, paying, refused = [await new_dossier(db, tenant) for _ in range(3)]
    await advance(db, tenant, supplement, DossierStatus.SUPPLEMENT_REQUESTED)
    await advance(db, tenant, paying, DossierStatus.PAYMENT_REQUESTED)
    await advance(db, tenant, refused, DossierStatus.REFUSED)

    asked = await citizen.get(f"/my/dossiers/{supplement}")
    assert _current_step(asked.text) == "Bước hiện tại: Đang giải quyết Yêu cầu bổ sung"
    assert "tone-warn" in asked.text and 'id="supplement"' in asked.text
    # Nobody named: the officer never logged in here, so "Cán bộ" alone, never the number.
    assert "Đã đề nghị bổ sung giấy tờ — Cán bộ: Thiếu giấy chứng sinh" in visible_text(asked.text)
    assert OFFICER not in asked.text and "Cán bộ phụ trách" not in asked.text

    pay = await citizen.get(f"/my/dossiers/{paying}")
    assert _current_step(pay.text) == "Bước hiện tại: Đang giải quyết Chờ nộp phí, lệ phí"
    assert "Việc bạn cần làm: Phí, lệ phí: 8.000" in visible_text(pay.text)

    ended = await citizen.get(f"/my/dossiers/{refused}")
    steps = re.findall(r'<li class="step[^"]*"', ended.text)
    assert len(steps) == 2  # submitted, then refused: nothing after an end
    assert _current_step(ended.text) == "Bước hiện tại: Từ chối tiếp nhận"
    assert "tone-error" in ended.text and "Rút hồ sơ" not in ended.text
    assert "Đã từ chối tiếp nhận hồ sơ — Cán bộ: Sai thẩm quyền giải quyết" in visible_text(ended.text)

    listed = await citizen.get("/my/dossiers")
    assert listed.status_code == 200
    rows = {
        code: visible_text(row)
        for code, row in re.findall(
            r'<tr>\s*<td><a href="/my/dossiers/([^"]+)">(.*?)</tr>', listed.text, re.S
        )
    }
    assert set(rows) == {supplement, paying, refused}
    assert "Yêu cầu bổ sung" in rows[supplement] and "Gửi giấy tờ bổ sung" in rows[supplement]
    assert "Nộp phí, lệ phí" in rows[paying]
    assert "Không được tiếp nhận" in rows[refused] and "Không có" in rows[refused]
    assert 'class="tag tag-warn"' in listed.text and 'class="tag tag-error"' in listed.text

    # Public tracking: the same stepper, no personal data.
    tracked = await client.get(
        "/tracking", params={"code": refused}, headers={"host": f"{tenant.slug}.localhost"}
    )
    assert tracked.status_code == 200
    assert _current_step(tracked.text) == "Bước hiện tại: Từ chối tiếp nhận"
    assert CITIZEN_NAME not in tracked.text and OFFICER not in tracked.text

    nobody = await sign_in(tenant, name="Lê Văn Cường", personal_id="001088009999")
    empty = await nobody.get("/my/dossiers")
    assert 'data-testid="no-dossiers"' in empty.text and 'href="/procedures"' in empty.text


def test_every_status_has_one_current_step() -> None:
    for status in DossierStatus:
        steps = stepper(status)
        assert sum(s.current for s in steps) == 1, status
        current = next(i for i, s in enumerate(steps) if s.current)
        assert all(s.reached for s in steps[: current + 1]) and not any(
            s.reached for s in steps[current + 1 :]
        )
    assert [s.label for s in stepper("delivered")][-1] == "Đã trả kết quả"
    assert all(s.reached for s in stepper("delivered"))
    # An ended dossier is placed after the milestone it ended from, when the page knows it.
    assert [s.label for s in stepper("withdrawn", "in_progress")] == [
        "Đã nộp",
        "Đã tiếp nhận",
        "Đang giải quyết",
        "Đã rút",
    ]
    assert [s.label for s in stepper("stopped")][-1] == "Dừng xử lý"


def test_history_words_for_every_kind_of_row() -> None:
    def row(actor: str, before: str | None, after: str, reason: str | None = None) -> DossierHistory:
        return DossierHistory(actor=actor, from_status=before, to_status=after, reason=reason, at=None)

    rows = [
        row("officer:001178006789", None, "submitted", "Tiếp nhận trực tiếp tại Bộ phận Một cửa"),
        row("system:api-dvcqg", "submitted", "accepted"),
        row("officer:001178006789", "accepted", "accepted", "Phân công cho cán bộ 001178006789"),
        row("officer:079085000333", "accepted", "accepted", "Phân công cho cán bộ 079085000333"),
        row("citizen:7", "supplement_requested", "in_progress", "Công dân đã bổ sung hồ sơ"),
        row(
            "system:provider",
            "in_progress",
            "in_progress",
            "Cổng thanh toán ghi nhận đã hoàn tổng cộng 8.000 ₫",
        ),
        row("citizen:7", "in_progress", "withdrawn", "Nộp nhầm"),
    ]
    names = {"001178006789": "Phạm Thu Hà"}
    lines = history_in_words(rows, names, you=7)
    said = [
        (line.what, line.who.role, line.who.name, line.who.part, line.subject or line.note or line.said)
        for line in lines
    ]
    assert said == [
        ("Đã tiếp nhận trực tiếp tại Bộ phận Một cửa", "Cán bộ", "Phạm Thu Hà", None, None),
        ("Đã tiếp nhận hồ sơ", "Hệ thống", None, "kết nối liên thông", None),
        ("Đã phân công cán bộ xử lý", "Cán bộ", "Phạm Thu Hà", None, "Phạm Thu Hà"),
        ("Đã phân công cán bộ xử lý", "Cán bộ", None, None, "079******333"),  # never the full number
        ("Đã gửi giấy tờ bổ sung", "Bạn", None, None, None),
        (
            "Đã hoàn trả phí, lệ phí",
            "Hệ thống",
            None,
            "cổng thanh toán",
            "Cổng thanh toán ghi nhận đã hoàn tổng cộng 8.000 ₫",
        ),
        ("Đã rút hồ sơ", "Bạn", None, None, "Nộp nhầm"),
    ]
    # On staff pages the applicant is named instead of "Bạn".
    assert history_in_words(rows[-1:], {}, applicant="Nguyễn Thị Mai")[0].who.name == "Nguyễn Thị Mai"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, sql: str, *_: object) -> None:
        seen.append(sql)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def test_the_page_is_one_statement_and_names_one_more_only_for_ids_written_in_reasons(
    sign_in: SignIn, make_tenant: MakeTenant, db: Database, statements: list[str]
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    await sign_in(tenant, name=OFFICER_NAME, personal_id=OFFICER)
    colleague, colleague_name = "079085000222", "Lê Thị Cúc"
    await sign_in(tenant, name=colleague_name, personal_id=colleague)
    code = await new_dossier(db, tenant)

    def names_read() -> int:  # statements of their own reading names (not the page's own)
        return sum(1 for sql in statements if "citizens" in sql and "dossiers.code" not in sql)

    assert (await citizen.get(f"/my/dossiers/{code}")).status_code == 200  # the tenant is now cached
    statements.clear()
    assert (await citizen.get(f"/my/dossiers/{code}")).status_code == 200
    # The dossier with its files, history, forms, receiving unit, names, payments and receipts.
    assert len(statements) == 1 and names_read() == 0
    # Staff acted: their names come in the same statement.
    await advance(db, tenant, code, DossierStatus.ACCEPTED)
    statements.clear()
    page = await citizen.get(f"/my/dossiers/{code}")
    assert OFFICER_NAME in page.text and colleague_name not in page.text
    assert len(statements) == 1 and names_read() == 0
    # An ID only written in a reason (as rows before t0020 did): one more statement names it.
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, code)
        await record_event(
            session, dossier, actor=Actor.officer(OFFICER), reason=f"Phân công cho cán bộ {colleague}"
        )
    statements.clear()
    page = await citizen.get(f"/my/dossiers/{code}")
    assert f"Đã phân công cán bộ xử lý: {colleague_name}" in page.text and colleague not in page.text
    assert names_read() == 1 and len(statements) == 2


async def test_each_dossier_page_shows_only_its_own_files_history_and_receipts(
    sign_in: SignIn, make_tenant: MakeTenant, db: Database
) -> None:
    # The page reads its children inside the dossier's statement: each must be tied to that
    # dossier's row, or a citizen would see another dossier's receipt or result.
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    await sign_in(tenant, name=OFFICER_NAME, personal_id=OFFICER)
    done, other = await new_dossier(db, tenant), await new_dossier(db, tenant)
    for code in (done, other):  # both with a fee, so both pages show the fees panel
        await advance(db, tenant, code, DossierStatus.PAYMENT_REQUESTED)
    async with db.tenant_session(tenant) as session:
        await record_counter_payment(
            session, tenant, await _dossier(session, done), actor=Actor.officer(OFFICER), method="cash"
        )
    await add_result(db, tenant, done, name="giay-khai-sinh-ban-chinh.pdf")
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, done)
        await transition(session, dossier, Action.FINISH, actor=Actor.officer(OFFICER))

    mine = await citizen.get(f"/my/dossiers/{done}")
    assert mine.status_code == 200
    assert "giay-khai-sinh-ban-chinh.pdf" in mine.text and 'data-testid="receipt-link"' in mine.text
    second = await citizen.get(f"/my/dossiers/{other}")
    assert second.status_code == 200
    assert "giay-khai-sinh-ban-chinh.pdf" not in second.text
    assert 'id="fees"' in second.text and 'data-testid="receipt-link"' not in second.text
