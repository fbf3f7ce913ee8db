"""Results signed where they become final, and slips signed as they are issued (issue 19).

A province with two communes, each with one officer holding every role there (the desk, the
specialist and the leader, as in a small commune). A result is uploaded at the specialist's step
and signed at the leader's approval with the commune's key: pyHanko's validator finds it intact,
trusted and signed by the commune; its QR code opens its verification page, which says valid; a
copy with one byte changed is refused, and another tenant's verification calls it foreign. A
result that is not a PDF is refused at upload; a revoked key refuses the approval, nothing
changed. A dossier outside the workflow has its result signed when processing finishes.

The slip is signed and filed when the dossier is received; when the signer fails, the dossier
stands and a job signs the slip later (a real worker here)."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import anyio
import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import zxingcpp
from fpdf import FPDF
from litestar import Litestar
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import Engine, func, select, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier, DossierFile
from motcua.dossiers.slip import filed_slip, issue_signed_slip
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing
from motcua.signing.signers import to_asn1
from tests.admin.conftest import Browser, csrf_of, new_personal_id
from tests.conftest import asgi_transport, procedure, unique_slug
from tests.workers import running_worker

ADMIN = Actor.tenant_admin("001080000009")
BIRTH = procedure("2.000001", "Đăng ký khai sinh", processing_days=10)


def a_pdf(text: str = "Quyet dinh so 12/QD-UBND", pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"{text} - trang {n + 1}")
    return bytes(pdf.output())


def qr_codes(pdf: bytes, page: int = -1) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    image = document[len(document) + page if page < 0 else page].render(scale=3).to_pil()
    return [found.text for found in zxingcpp.read_barcodes(image)]


@dataclass(frozen=True)
class Commune:
    unit_id: int
    name: str
    officer: str  # personal ID: reception, specialist and leader there


@dataclass(frozen=True)
class Province:
    tenant: Tenant
    a: Commune
    b: Commune
    db: Database
    signing: Signing


@pytest.fixture(scope="module")
async def province(engine: Engine, live_settings: Settings) -> AsyncIterator[Province]:
    tenant = onboard_tenant(
        engine,
        live_settings,
        build_spec(slug=unique_slug("sr"), name="Tỉnh Thử Ký Số", procedures=[BIRTH]),
        actor=Actor.operator("test"),
    )
    db = Database(live_settings.database_url or "", pool_size=2)
    communes = []
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        for name, agency in (("Xã Ký Số A", "000.00.61.H97"), ("Xã Ký Số B", "000.00.62.H97")):
            unit = await add_unit(
                session, parent_id=root.id, kind="commune", name=name, agency_code=agency, actor=ADMIN
            )
            officer = new_personal_id()
            for role in ("reception", "specialist", "leader"):
                await add_staff(
                    session, unit, personal_id=officer, full_name=f"Cán bộ {name}", role=role, actor=ADMIN
                )
            communes.append(Commune(unit.id, name, officer))
    signing = Signing.for_settings(live_settings, storage_for_settings(live_settings))
    yield Province(tenant, communes[0], communes[1], db, signing)
    await db.dispose()


async def received(province: Province, commune: Commune, n: int) -> tuple[str, int]:
    """A walk-in dossier received and decided at ``commune`` (routing stands in)."""
    async with province.db.tenant_session(province.tenant) as session:
        proc = await get_procedure(session, BIRTH["code"])
        assert proc is not None
        outcome = await receive_dossier(
            session,
            province.tenant,
            procedure=proc,
            applicant=Applicant(personal_id=f"0011940{n:05d}", full_name=f"Lý Thị Nhận {n}"),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.operator("test"),
        )
        assert isinstance(outcome, Received), outcome
        outcome.dossier.receiving_unit_id = outcome.dossier.deciding_unit_id = commune.unit_id
        return outcome.dossier.code, outcome.dossier.id


def _fields(page: str) -> dict[str, str]:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert token is not None, page[:300]
    fields = {"_csrf_token": token.group(1)}
    for name, pattern in (("version", r'name="version" value="(\d+)"'), ("step", r'data-step-id="(\d+)"')):
        found = re.search(pattern, page)
        if found:
            fields[name] = found.group(1)
    return fields


class Workspace:
    def __init__(self, browser: httpx.AsyncClient, code: str) -> None:
        self.browser, self.url = browser, f"/officer/dossiers/{code}"

    async def post(self, path: str, **fields: str) -> httpx.Response:
        page = (await self.browser.get(self.url)).text
        return await self.browser.post(f"{self.url}/{path}", data={**_fields(page), **fields})

    async def upload(self, name: str, data: bytes, media_type: str) -> httpx.Response:
        page = (await self.browser.get(self.url)).text
        return await self.browser.post(
            f"{self.url}/results", data=_fields(page), files={"file": (name, data, media_type)}
        )

    async def to_the_leader(self) -> None:
        """Accepted at the desk, the specialist picked up by the leader's step, processing started."""
        assert (await self.post("actions/accept")).status_code == 303
        assert (await self.post("steps/advance")).status_code == 303  # the department's step
        assert (await self.post("actions/start")).status_code == 303


def step_kind(page: str) -> str | None:
    found = re.search(r'data-step-kind="(\w+)"', page)
    return found.group(1) if found else None


async def validated(data: bytes, signing: Signing) -> str:
    """pyHanko's own verdict, trusting only the development root: the signer's name."""
    assert signing.ca is not None
    (signature,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    status = await async_validate_pdf_signature(
        signature, ValidationContext(trust_roots=[to_asn1(signing.ca.root())], crls=[signing.ca.crl()])
    )
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signer_reported_dt is not None
    return str(status.signing_cert.subject.native["common_name"])


async def verdict(client: httpx.AsyncClient, data: bytes) -> str:
    token = await csrf_of(client, "/xac-thuc")
    page = await client.post(
        "/xac-thuc", data={"_csrf_token": token}, files={"file": ("ban-sao.pdf", data, "application/pdf")}
    )
    found = re.search(r'data-verdict="(\w+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


async def test_the_leaders_approval_signs_the_result_with_the_communes_key(
    province: Province, signed_in: Browser, app: Litestar, engine: Engine, live_settings: Settings
) -> None:
    code, dossier_id = await received(province, province.a, 1)
    officer = await signed_in(
        province.tenant, role="officer", personal_id=province.a.officer, name="Cán bộ Xã Ký Số A"
    )
    desk = Workspace(officer, code)
    await desk.to_the_leader()

    # Not a PDF: refused at upload, in words, nothing filed.
    docx = await desk.upload("quyet-dinh.docx", b"PK\x03\x04" + b"\x00" * 64, "application/octet-stream")
    assert docx.status_code == 400
    # A PDF the upload check lets through, with no page to sign.
    pageless = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    broken = await desk.upload("trong.pdf", pageless, "application/pdf")
    assert broken.status_code == 400 and "Không đọc được tệp PDF này" in broken.text
    original = a_pdf(pages=2)
    assert (await desk.upload("quyet-dinh-khai-sinh.pdf", original, "application/pdf")).status_code == 303
    assert (await desk.post("steps/advance")).status_code == 303  # the specialist's step: to the leader
    page = (await officer.get(desk.url)).text
    assert step_kind(page) == "leader" and "Ký số và phê duyệt" in page

    approved = await desk.post("steps/advance")
    assert approved.status_code == 303, approved.text[:500]
    assert step_kind((await officer.get(desk.url)).text) == "return"

    async with province.db.tenant_session(province.tenant) as session:
        (row,) = (
            await session.scalars(select(SignedDocument).where(SignedDocument.dossier_id == dossier_id))
        ).all()
        (file,) = (
            await session.scalars(
                select(DossierFile).where(
                    DossierFile.dossier_id == dossier_id, DossierFile.document_code == "ket-qua"
                )
            )
        ).all()
    assert row.kind == DocumentKind.RESULT and row.unit_id == province.a.unit_id
    assert row.issuer_name == province.a.name and row.signer_name == "Cán bộ Xã Ký Số A"
    # The dossier's file (the citizen's document store) is the signed copy, registered by its hash.
    assert (file.sha256, file.storage_key, file.size) == (row.sha256, row.storage_key, row.size)
    signed = b"".join(
        [c async for c in await province.signing.storage.open(province.tenant.schema, row.storage_key)]
    )
    assert await validated(signed, province.signing) == province.a.name
    assert len(PdfFileReader(io.BytesIO(signed)).root["/Pages"]["/Kids"]) == 2

    url = f"http://{province.tenant.slug}.localhost/xac-thuc/{row.id}"
    assert qr_codes(signed) == [url]  # on the last page, beside the signature
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=url.split("/xac-thuc")[0]) as anyone:
        shown = await anyone.get(url)
        assert shown.status_code == 200 and 'data-verdict="valid"' in shown.text
        assert province.a.name in shown.text and "Trùng khớp với bản đã lưu" in shown.text
        assert await verdict(anyone, signed) == "valid"
        edited = bytearray(signed)
        edited[signed.index(b"stream") + 10] ^= 0x01
        assert await verdict(anyone, bytes(edited)) == "modified"
    # Another authority's site: trusted root, but not one of its keys.
    other = onboard_tenant(
        engine,
        live_settings,
        build_spec(slug=unique_slug("so"), name="Tỉnh Khác", procedures=[BIRTH]),
        actor=Actor.operator("test"),
    )
    async with httpx.AsyncClient(
        transport=asgi_transport(app), base_url=f"http://{other.slug}.localhost"
    ) as elsewhere:
        assert await verdict(elsewhere, signed) == "unknown_signer"

    # Signed means approved: no more results on this dossier (the form is gone, a forged post refused).
    assert 'data-testid="results-signed"' in (await officer.get(desk.url)).text
    late = await desk.upload("bo-sung-ket-qua.pdf", a_pdf("Them"), "application/pdf")
    assert late.status_code == 409 and "đã được lãnh đạo phê duyệt và ký số" in late.text


async def test_a_revoked_key_refuses_the_approval_and_nothing_changes(
    province: Province, signed_in: Browser
) -> None:
    code, dossier_id = await received(province, province.b, 2)
    officer = await signed_in(
        province.tenant, role="officer", personal_id=province.b.officer, name="Cán bộ Xã Ký Số B"
    )
    desk = Workspace(officer, code)
    await desk.to_the_leader()
    assert (await desk.upload("quyet-dinh.pdf", a_pdf(), "application/pdf")).status_code == 303
    assert (await desk.post("steps/advance")).status_code == 303

    ca = province.signing.ca
    assert ca is not None
    key = ca.key_for(
        province.tenant.slug, province.tenant.name, unit_id=province.b.unit_id, unit_name=province.b.name
    )
    ca.revoke(key.certificate.serial_number)
    refused = await desk.post("steps/advance")
    assert refused.status_code == 409 and "đã bị thu hồi" in refused.text
    page = (await officer.get(desk.url)).text
    assert step_kind(page) == "leader"  # still with the leader
    async with province.db.tenant_session(province.tenant) as session:
        signed = await session.scalar(
            select(func.count()).select_from(SignedDocument).where(SignedDocument.dossier_id == dossier_id)
        )
    assert signed == 0


async def test_outside_the_workflow_the_result_is_signed_when_processing_finishes(
    province: Province, signed_in: Browser
) -> None:
    # Received before the tenant had units: no workflow, so finishing is where the result is final.
    code, dossier_id = await received(province, province.a, 3)
    async with province.db.tenant_session(province.tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        dossier.receiving_unit_id = dossier.deciding_unit_id = None
    officer = await signed_in(province.tenant, role="officer", name="Cán bộ Một cửa")
    desk = Workspace(officer, code)
    for action in ("accept", "start"):
        assert (await desk.post(f"actions/{action}")).status_code == 303
    assert step_kind((await officer.get(desk.url)).text) is None
    assert (
        await desk.upload("giay-khai-sinh.pdf", a_pdf("Giay khai sinh"), "application/pdf")
    ).status_code == 303
    assert (await desk.post("actions/finish")).status_code == 303
    async with province.db.tenant_session(province.tenant) as session:
        row = await session.scalar(
            select(SignedDocument).where(
                SignedDocument.dossier_id == dossier_id, SignedDocument.kind == DocumentKind.RESULT.value
            )
        )
    assert row is not None and row.unit_id is None and row.issuer_name == province.tenant.name
    data = b"".join(
        [c async for c in await province.signing.storage.open(province.tenant.schema, row.storage_key)]
    )
    assert await validated(data, province.signing) == province.tenant.name


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def slip_signed_by_a_worker(db: Database, tenant: Tenant, dossier_id: int) -> SignedDocument:
    """The slip the job queued for ``dossier_id``, once the product's worker (queue ``signing``)
    has signed and filed it."""
    filed = None
    with running_worker("signing"), anyio.fail_after(90):
        while filed is None:
            await anyio.sleep(0.5)
            async with db.tenant_session(tenant) as session:
                filed = await filed_slip(session, dossier_id)
    return filed


async def test_the_slip_is_signed_as_issued_and_later_when_the_signer_is_down(
    province: Province, live_settings: Settings, engine: Engine
) -> None:
    origin = f"http://{province.tenant.slug}.localhost"
    code, dossier_id = await received(province, province.a, 4)
    async with province.db.tenant_session(province.tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        row = await issue_signed_slip(
            session, province.tenant, dossier, signing=province.signing, origin=origin
        )
    assert row is not None and row.kind == DocumentKind.SLIP and row.unit_id == province.a.unit_id
    data = b"".join(
        [c async for c in await province.signing.storage.open(province.tenant.schema, row.storage_key)]
    )
    assert await validated(data, province.signing) == province.a.name
    assert f"{origin}/xac-thuc/{row.id}" in qr_codes(data, 0)

    # The timestamp authority unreachable: the dossier stands, the slip is queued for signing.
    down = Signing.for_settings(
        replace(live_settings, signing_tsa_url=f"http://127.0.0.1:{_closed_port()}/tsa"),
        province.signing.storage,
    )
    code, dossier_id = await received(province, province.a, 5)
    async with province.db.tenant_session(province.tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        assert await issue_signed_slip(session, province.tenant, dossier, signing=down, origin=origin) is None
    with engine.connect() as conn:
        queued = conn.execute(
            text(
                "SELECT count(*) FROM platform.outbox WHERE actor_name = 'sign_slip' "
                "AND tenant_slug = :t AND (kwargs->>'dossier_id')::bigint = :d"
            ),
            {"t": province.tenant.slug, "d": dossier_id},
        ).scalar_one()
    assert queued == 1
    async with province.db.tenant_session(province.tenant) as session:
        assert await session.get(Dossier, dossier_id) is not None
        assert await filed_slip(session, dossier_id) is None

    # A worker (the product's, with the working signer) signs it.
    filed = await slip_signed_by_a_worker(province.db, province.tenant, dossier_id)
    data = b"".join(
        [c async for c in await province.signing.storage.open(province.tenant.schema, filed.storage_key)]
    )
    assert await validated(data, province.signing) == province.a.name
    assert filed.title.endswith(code) and filed.unit_id == province.a.unit_id
