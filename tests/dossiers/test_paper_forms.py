"""The Circular 01/2018 forms drawn from a real dossier: the supplement request (mẫu 02), the
refusal (03), the apology with its new date (04) and the control sheet of the whole process
(05), each with the dossier's data and what the officer wrote, in Vietnamese and in English."""

from __future__ import annotations

import asyncio
import hashlib
import io
import unicodedata
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import zxingcpp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.backoffice.services import issue_apology
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.messages import Message
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.lifecycle import Action, transition
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.paper_forms import (
    FormHeading,
    HandOver,
    apology_of,
    control_sheet_of,
    form_heading,
    issue_apology_form,
    issue_control_sheet,
    issue_for_action,
    paper_forms_of,
    refusal_of,
    render_paper_form,
    supplement_request_of,
)
from motcua.dossiers.services import history_of, request_supplement
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.services import record_tenant_login
from motcua.organisation.models import Unit
from motcua.signing.services import Signing
from tests.conftest import MakeTenant, procedure, unique_slug
from tests.dossiers.conftest import SignIn

COPY = procedure("2.000001", "Cấp bản sao trích lục hộ tịch", agency="Ủy ban nhân dân phường Kinh Bắc")
OFFICER_ID = "001085004321"
OFFICER_NAME = "Lê Thị Hồng Nhung"
APPLICANT = "Trần Văn Bình"
APPLICANT_ID = "001190005678"
URL = "https://pf.example.vn/xac-thuc/d0c1d"


def _validated(data: bytes, context: ValidationContext) -> PdfSignatureStatus:
    """pyHanko's validator on the one signature (it runs an event loop of its own: a thread)."""
    (signature,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    return validate_pdf_signature(signature, context)


def _text(pdf: bytes) -> str:
    """The PDF's text, whitespace folded (table cells wrap their words onto several lines)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(unicodedata.normalize("NFC", " ".join(p.extract_text() for p in pages)).split())


@pytest.fixture(scope="module")
def tenant(engine: Engine, live_settings: Settings) -> Tenant:
    from motcua.admin.services import build_spec, onboard_tenant

    slug = unique_slug("pf")
    spec = build_spec(slug=slug, name="Tỉnh Bắc Ninh", kind="province", domains=[], procedures=[COPY])
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


@pytest.fixture(scope="module")
async def db(live_settings: Settings, tenant: Tenant) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    # The officer has signed in once: the forms name them, never by their personal ID.
    async with database.tenant_session(tenant) as session:
        await record_tenant_login(
            session,
            VerifiedIdentity(
                issuer="https://eid.test",
                subject=f"sub-{OFFICER_ID}",
                personal_id=OFFICER_ID,
                claims={"name": OFFICER_NAME},
                id_token="",
                end_session_endpoint=None,
            ),
        )
    yield database
    await database.dispose()


async def _received(db: Database, tenant: Tenant) -> str:
    async with db.tenant_session(tenant) as session:
        copy = await get_procedure(session, COPY["code"])
        assert copy is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=copy,
            applicant=Applicant(personal_id=APPLICANT_ID, full_name=APPLICANT),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.officer(OFFICER_ID),
        )
        assert isinstance(outcome, Received), outcome
        return outcome.dossier.code


async def _agency(session: AsyncSession, dossier: Dossier) -> str:
    """The issuing body: the unit whose desk received the dossier, else the procedure's agency."""
    unit = await session.get(Unit, dossier.receiving_unit_id) if dossier.receiving_unit_id else None
    return unit.name if unit is not None else str(COPY["agency"])


async def _heading(session: AsyncSession, tenant: Tenant, dossier: Dossier) -> FormHeading:
    return await form_heading(
        session,
        tenant,
        dossier,
        document_id="d0c1d",
        verification_url=URL,
        issued_at=datetime.now(VIETNAM),
        signer_name=OFFICER_NAME,
    )


def _about_the_dossier(text: str, code: str, agency: str) -> None:
    assert code in text
    assert APPLICANT in text
    assert COPY["name"] in text
    assert agency.upper() in text  # the issuing body in the heading
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text or "SOCIALIST REPUBLIC OF VIETNAM" in text
    assert URL in text  # under the QR code
    assert APPLICANT_ID not in text and OFFICER_ID not in text  # never a whole personal ID


async def test_the_forms_carry_the_dossier_and_what_the_officer_wrote(db: Database, tenant: Tenant) -> None:
    officer = Actor.officer(OFFICER_ID)
    code = await _received(db, tenant)
    late_reason = "Cần xác minh thông tin hộ tịch tại nơi đăng ký trước đây"
    async with db.tenant_session(tenant) as session:
        dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert dossier is not None
        await transition(session, dossier, Action.ACCEPT, actor=officer)
        new_due = dossier.due_at + timedelta(days=3)
        slip = await issue_apology(
            session,
            tenant,
            dossier,
            actor=officer,
            new_due=new_due,
            reason=late_reason,
            version=dossier.version,
        )
        heading = await _heading(session, tenant, dossier)
        apology = apology_of(slip, heading)
        await request_supplement(
            session,
            dossier,
            actor=officer,
            reason="Bản sao giấy khai sinh bị mờ, không đọc được",
            items=["Bản sao giấy khai sinh rõ nét", "Giấy ủy quyền có chứng thực"],
        )
        supplement = supplement_request_of(dossier, await _heading(session, tenant, dossier))
        step = HandOver(
            at=datetime.now(VIETNAM) + timedelta(minutes=1),
            giver=Message("Bộ phận Một cửa"),
            receiver="Phòng Tư pháp",
            result="Thẩm định hồ sơ",
            remark="Bước của quy trình nội bộ",
        )
        agency = await _agency(session, dossier)
        sheet = await control_sheet_of(
            session, dossier, await _heading(session, tenant, dossier), steps=[step]
        )

    # Mẫu 04: the reason for the delay and the new date, after the one first promised.
    text = _text(render_paper_form(apology))
    _about_the_dossier(text, code, agency)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert late_reason in text
    local_due = new_due.astimezone(VIETNAM)
    assert f"{local_due:%H} giờ {local_due:%M} phút, ngày {local_due:%d/%m/%Y}" in text
    assert OFFICER_NAME in text  # who signs it

    # Mẫu 02: every document asked for, and why.
    text = _text(render_paper_form(supplement))
    _about_the_dossier(text, code, agency)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert "1. Bản sao giấy khai sinh rõ nét" in text and "2. Giấy ủy quyền có chứng thực" in text
    assert "Bản sao giấy khai sinh bị mờ, không đọc được" in text

    # Mẫu 05: each hand-over in order, the officer by name, the workflow's step among them.
    text = _text(render_paper_form(sheet))
    _about_the_dossier(text, code, agency)
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert [h.at for h in sheet.handovers] == sorted(h.at for h in sheet.handovers)
    assert len(sheet.handovers) == 5  # received, accepted, apology, supplement asked, the step
    assert OFFICER_NAME in text
    assert "Phòng Tư pháp" in text and "Thẩm định hồ sơ" in text
    assert "Đã đề nghị bổ sung giấy tờ" in text and "Trước hạn" in text

    # English: the labels change, what people wrote does not.
    english = _text(render_paper_form(supplement, "en"))
    _about_the_dossier(english, code, agency)
    assert "REQUEST TO SUPPLEMENT AND COMPLETE THE DOSSIER" in english
    assert "Bản sao giấy khai sinh bị mờ, không đọc được" in english
    assert "PHIẾU YÊU CẦU" not in english
    english = _text(render_paper_form(apology, "en"))
    assert f"{local_due:%H:%M} on {local_due:%d/%m/%Y}" in english and late_reason in english
    english = _text(render_paper_form(sheet, "en"))
    assert "Additional documents requested, Before the due date" in english  # the history's words
    assert "Handed over by" in english and OFFICER_NAME in english
    assert "Bộ phận Một cửa" not in english  # the step's giver is a message, translated
    # The same form and language give the same bytes (the date is the form's, not the clock).
    assert render_paper_form(sheet, "en") == render_paper_form(sheet, "en")


async def test_the_refusal_gives_the_officer_s_reason(db: Database, tenant: Tenant) -> None:
    code = await _received(db, tenant)
    reason = "Thủ tục không thuộc thẩm quyền giải quyết của phường"
    async with db.tenant_session(tenant) as session:
        dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert dossier is not None
        await transition(session, dossier, Action.REFUSE, actor=Actor.officer(OFFICER_ID), reason=reason)
        agency = await _agency(session, dossier)
        refusal = refusal_of(await history_of(session, dossier.id), await _heading(session, tenant, dossier))
    text = _text(render_paper_form(refusal))
    _about_the_dossier(text, code, agency)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert reason in text
    english = _text(render_paper_form(refusal, "en"))
    _about_the_dossier(english, code, agency)
    assert "REFUSAL" in english and reason in english


async def test_each_form_is_signed_filed_and_given_to_its_applicant_only(
    db: Database,
    tenant: Tenant,
    live_settings: Settings,
    sign_in: SignIn,
    make_tenant: MakeTenant,
    client: httpx.AsyncClient,
) -> None:
    signing = Signing.for_settings(live_settings, storage_for_settings(live_settings))
    officer = Actor.officer(OFFICER_ID)
    origin = f"http://{tenant.slug}.localhost"
    refused_code, code = await _received(db, tenant), await _received(db, tenant)
    async with db.tenant_session(tenant) as session:
        refused = await session.scalar(select(Dossier).where(Dossier.code == refused_code))
        dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert refused is not None and dossier is not None
        await transition(session, refused, Action.REFUSE, actor=officer, reason="Không đúng thẩm quyền")
        # The forms the workspace's actions issue, as its route calls them.
        refusal = await issue_for_action(
            session, tenant, refused, Action.REFUSE, signing=signing, origin=origin, signer_name=OFFICER_NAME
        )
        await transition(session, dossier, Action.ACCEPT, actor=officer)
        accepted = await issue_for_action(
            session, tenant, dossier, Action.ACCEPT, signing=signing, origin=origin, signer_name=OFFICER_NAME
        )
        assert accepted is None  # accepting issues no form (the slip is mẫu 01's)
        slip = await issue_apology(
            session,
            tenant,
            dossier,
            actor=officer,
            new_due=dossier.due_at + timedelta(days=2),
            reason="Chờ ý kiến của cơ quan phối hợp",
            version=dossier.version,
        )
        apology = await issue_apology_form(
            session, tenant, dossier, slip, signing=signing, origin=origin, signer_name=OFFICER_NAME
        )
        await request_supplement(session, dossier, actor=officer, reason="Thiếu ảnh", items=["Ảnh 4x6"])
        supplement = await issue_for_action(
            session,
            tenant,
            dossier,
            Action.REQUEST_SUPPLEMENT,
            signing=signing,
            origin=origin,
            signer_name=OFFICER_NAME,
        )
        # The control sheet, on demand.
        sheet = await issue_control_sheet(
            session, tenant, dossier, signing=signing, origin=origin, signer_name=OFFICER_NAME
        )
        assert refusal is not None and supplement is not None
        issued = [refusal, apology, supplement, sheet]
        filed = await paper_forms_of(session, dossier.id)
        stored = {
            row.id: b"".join([c async for c in await signing.storage.open(tenant.schema, row.storage_key)])
            for row in issued
        }

    assert [row.kind for row in issued] == ["refusal", "apology", "supplement_request", "control_sheet"]
    assert [row.id for row in filed] == [row.id for row in issued[1:]]  # with their own dossier only
    context = ValidationContext(trust_roots=signing.trust_roots(), crls=signing.crls())
    for row in issued:
        assert row.signer_name == OFFICER_NAME and (refused_code in row.title or code in row.title)
        data = stored[row.id]
        assert hashlib.sha256(data).hexdigest() == row.sha256
        # pyHanko's own validator: intact, covering the whole file, by a trusted key.
        status = await asyncio.to_thread(_validated, data, context)
        assert status.intact and status.valid and status.trusted, status.summary()
        assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        assert status.signer_reported_dt is not None
        # The QR code on the paper opens this document's own verification page.
        page = pdfium.PdfDocument(data)[0].render(scale=3).to_pil()
        assert [r.text for r in zxingcpp.read_barcodes(page)] == [f"{origin}/xac-thuc/{row.id}"]
        assert f"{origin}/xac-thuc/{row.id}" in _text(data)
    # One changed byte inside what was signed: the validator no longer vouches for it.
    edited = bytearray(stored[issued[0].id])
    edited[edited.index(b"/Producer") + 1] ^= 0x20
    assert not (await asyncio.to_thread(_validated, bytes(edited), context)).intact

    # The applicant downloads each form of their dossier: the signed file as filed.
    citizen = await sign_in(tenant, name=APPLICANT, personal_id=APPLICANT_ID)
    for row, dossier_code in zip(issued, [refused_code, code, code, code], strict=True):
        got = await citizen.get(f"/my/dossiers/{dossier_code}/forms/{row.id}")
        assert got.status_code == 200 and got.content == stored[row.id]
        assert got.headers["content-type"] == "application/pdf"
        assert f"-{dossier_code}.pdf" in got.headers["content-disposition"]
        assert got.headers["x-frame-options"]  # the app's security headers
    path = f"/my/dossiers/{code}/forms/{issued[1].id}"
    # Another dossier's form under this code, an unknown or oversized id: not found.
    for wrong in (
        f"/my/dossiers/{code}/forms/{issued[0].id}",
        f"/my/dossiers/{code}/forms/{'x' * 5000}",
        f"/my/dossiers/{'9' * 500}/forms/{issued[1].id}",
    ):
        assert (await citizen.get(wrong)).status_code in (404, 414)
    # Nobody else: not signed in, another citizen, an officer or administrator of this tenant
    # (their own dossiers only, as citizens), the same person on another tenant's portal.
    anonymous = await client.get(path, headers={"host": f"{tenant.slug}.localhost"})
    assert anonymous.status_code in (302, 303, 401) and b"%PDF" not in anonymous.content
    other = await sign_in(tenant, name="Phạm Thị Lan", personal_id="001190009999")
    assert (await other.get(path)).status_code == 404
    staff = await sign_in(tenant, name=OFFICER_NAME, personal_id=OFFICER_ID)
    assert (await staff.get(path)).status_code == 404
    elsewhere = await sign_in(make_tenant(), name=APPLICANT, personal_id=APPLICANT_ID)
    assert (await elsewhere.get(path)).status_code == 404
