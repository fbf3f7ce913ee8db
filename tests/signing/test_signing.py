"""Signed documents: every output validated with pyHanko's own validator, the register, and the
public verification page and API on the tenant's host (issue 19)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from io import BytesIO

import anyio.to_thread
import httpx
import pytest
from fpdf import FPDF
from litestar import Litestar
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import Engine, func, select, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.pades import LocalKeySigner
from motcua.signing.services import (
    NotSignableError,
    Signing,
    SigningRefusedError,
    new_document_id,
    sign_and_file,
    sign_result,
    verification_url,
)
from motcua.signing.signers import Appearance, to_asn1
from motcua.signing.verification import Verdict
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import asgi_transport, unique_slug


def a_pdf(lines: str = "Quyet dinh so 12/QD-UBND", pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page in range(pages):
        pdf.add_page()
        pdf.cell(text=f"{lines} - page {page + 1}")
    return bytes(pdf.output())


def ministry(engine: Engine, settings: Settings, name: str) -> Tenant:
    # A ministry starts with two units (its desk and its office): two keys to sign with.
    spec = build_spec(
        slug=unique_slug("sg"), name=name, kind="ministry", settings={"agency_code": "000.00.00.G12"}
    )
    return onboard_tenant(engine, settings, spec, actor=Actor.operator("test"))


@dataclass
class World:
    a: Tenant
    b: Tenant
    units: list[tuple[int, str]]  # tenant A's units
    signing: Signing
    db: Database


@pytest.fixture(scope="module")
async def world(engine: Engine, live_settings: Settings) -> AsyncIterator[World]:
    a = ministry(engine, live_settings, "Bộ Thử nghiệm Chữ ký")
    b = ministry(engine, live_settings, "Bộ Khác")
    with engine.connect() as conn:
        units = [
            (r.id, r.name) for r in conn.execute(text(f"SELECT id, name FROM {a.schema}.units ORDER BY id"))
        ]
    db = Database(live_settings.database_url or "", pool_size=2)
    # The same keys and files as the app's: one CA folder and one storage per data directory.
    yield World(a, b, units, Signing.for_settings(live_settings, storage_for_settings(live_settings)), db)
    await db.dispose()


async def file_one(
    world: World, tenant: Tenant, pdf: bytes, *, unit_id: int | None, title: str
) -> SignedDocument:
    async with world.db.tenant_session(tenant) as session:
        return await sign_and_file(
            session,
            tenant,
            signing=world.signing,
            document_id=new_document_id(),
            pdf=pdf,
            title=title,
            kind=DocumentKind.RESULT,
            dossier_id=None,
            unit_id=unit_id,
            signer_name="Nguyễn Văn Lãnh Đạo",
        )


async def stored_bytes(world: World, tenant: Tenant, row: SignedDocument) -> bytes:
    return b"".join([c async for c in await world.signing.storage.open(tenant.schema, row.storage_key)])


def host(app: Litestar, tenant: Tenant) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost")


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "van-ban.pdf") -> httpx.Response:
    token = await csrf_of(client, "/xac-thuc")
    return await client.post(
        "/xac-thuc", data={"_csrf_token": token}, files={"file": (name, data, "application/pdf")}
    )


def verdict_of(page: httpx.Response) -> str:
    match = re.search(r'data-verdict="(\w+)"', page.text)
    assert match is not None, page.text[:800]
    return match.group(1)


async def test_a_signed_document_passes_pyhankos_validator_and_its_page_says_valid(
    world: World, app: Litestar, signed_in: Browser
) -> None:
    unit_id, unit_name = world.units[1]
    original = a_pdf()
    row = await file_one(world, world.a, original, unit_id=unit_id, title="Quyết định cấp phép số 12")
    signed = await stored_bytes(world, world.a, row)
    assert row.issuer_name == unit_name and row.size == len(signed) and len(row.id) >= 20
    assert signed.startswith(original[:8]) and len(signed) > len(original)

    # pyHanko's own validator, trusting only the development root.
    assert world.signing.ca is not None
    status = await async_validate_pdf_signature(
        PdfFileReader(BytesIO(signed)).embedded_signatures[0],
        ValidationContext(trust_roots=[to_asn1(world.signing.ca.root())], crls=[world.signing.ca.crl()]),
    )
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.subject.native["common_name"] == unit_name
    assert "KHÔNG CÓ GIÁ TRỊ PHÁP LÝ" in status.signing_cert.subject.native["organizational_unit_name"]
    assert status.signer_reported_dt is not None and status.signer_reported_dt <= datetime.now(UTC)

    async with host(app, world.a) as client:
        page = await client.get(f"/xac-thuc/{row.id}")
        assert page.status_code == 200 and verdict_of(page) == "valid"
        assert "Quyết định cấp phép số 12" in page.text and unit_name in page.text
        assert "Nguyễn Văn Lãnh Đạo" in page.text and "Trùng khớp với bản đã lưu" in page.text
        assert "content-security-policy" in page.headers
        api = (await client.get(f"/api/v1/verifications/{row.id}")).json()
        assert api["valid"] is True and api["unmodified"] is True and api["matches_filed_copy"] is True
        assert api["issuer"] == unit_name and api["signer"] == "Nguyễn Văn Lãnh Đạo"
        # In English, the verdict in words of the reader's language; the data stays as written.
        english = await client.get(f"/xac-thuc/{row.id}", cookies={"motcua_lang": "en"})
        assert verdict_of(english) == "valid" and "The digital signature is valid" in english.text
        assert "Matches the filed copy" in english.text and unit_name in english.text
        assert "/xac-thuc/" + row.id in verification_url("http://x.localhost", row.id)
        spec = (await client.get("/schema/openapi.json")).json()
        assert "/api/v1/verifications/{document_id}" in spec["paths"]

    # Another tenant's host knows nothing of it, signed in or not, and the console has no such page.
    officer_b = await signed_in(world.b, role="officer")
    admin_b = await signed_in(world.b, role="tenant_admin")
    console = await signed_in(None, role="platform_admin")
    async with host(app, world.b) as stranger:
        for client in (stranger, officer_b, admin_b, console):
            assert (await client.get(f"/xac-thuc/{row.id}")).status_code == 404
            assert (await client.get(f"/api/v1/verifications/{row.id}")).status_code == 404


async def test_uploaded_copies_get_the_verdict_they_deserve(
    world: World, app: Litestar, signed_in: Browser
) -> None:
    original = a_pdf("Giay phep", pages=2)
    row = await file_one(world, world.a, original, unit_id=None, title="Giấy phép kinh doanh")
    signed = await stored_bytes(world, world.a, row)
    tampered = bytearray(signed)
    tampered[signed.index(b"stream") + 12] ^= 0x01
    theirs = await file_one(world, world.b, a_pdf("Cua bo khac"), unit_id=None, title="Văn bản bộ khác")
    foreign = await stored_bytes(world, world.b, theirs)
    async with world.db.tenant_session(world.a) as session:
        before = await session.scalar(select(func.count()).select_from(SignedDocument))

    citizen = await signed_in(world.a, role="citizen")
    async with host(app, world.a) as anonymous:
        for client in (anonymous, citizen):
            page = await upload(client, signed)
            assert page.status_code == 200 and verdict_of(page) == "valid"
            assert "Giấy phép kinh doanh" in page.text and "Trùng khớp với bản đã lưu" in page.text
        assert verdict_of(await upload(anonymous, bytes(tampered))) == "modified"
        assert verdict_of(await upload(anonymous, original)) == "not_signed"
        # Signed by a key of the same national root, but not one of this authority's.
        assert verdict_of(await upload(anonymous, foreign)) == "unknown_signer"
        # The signature stripped: the bytes before the signature's revision are the original.
        assert verdict_of(await upload(anonymous, signed[: len(original)])) == "not_signed"

        refused = await upload(anonymous, b"Xin chao, day khong phai PDF", name="gia.pdf")
        assert refused.status_code == 400 and "không phải là tệp PDF" in refused.text
        empty = await anonymous.post("/xac-thuc", data={"_csrf_token": await csrf_of(anonymous, "/xac-thuc")})
        assert empty.status_code == 400
        too_big = await upload(anonymous, b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024 + 10))
        assert too_big.status_code == 413
        # Without the form's token the upload is refused by the app's CSRF check.
        assert (await anonymous.post("/xac-thuc", files={"file": ("a.pdf", signed)})).status_code == 403
    async with world.db.tenant_session(world.a) as session:
        assert await session.scalar(select(func.count()).select_from(SignedDocument)) == before


async def test_revoked_and_expired_keys_are_refused_and_revoked_ones_shown(
    world: World, app: Litestar
) -> None:
    unit_id, _ = world.units[0]
    row = await file_one(
        world, world.a, a_pdf("Truoc thu hoi"), unit_id=unit_id, title="Văn bản trước thu hồi"
    )
    assert world.signing.ca is not None
    world.signing.ca.revoke(int(row.certificate_serial, 16))
    with pytest.raises(SigningRefusedError, match="thu hồi"):
        await file_one(world, world.a, a_pdf(), unit_id=unit_id, title="Sau thu hồi")
    async with host(app, world.a) as client:
        page = await client.get(f"/xac-thuc/{row.id}")
        assert verdict_of(page) == "revoked" and "Chứng thư số đã bị thu hồi" in page.text
        assert (await client.get(f"/api/v1/verifications/{row.id}")).json()["verdict"] == "revoked"

    # A certificate past its end date: refused with its own message.
    past = datetime.now(UTC) - timedelta(days=400)
    expired = world.signing.ca.issue(
        world.b.name, "Hết hạn", not_before=past, not_after=past + timedelta(days=30)
    )
    world.signing._signers[(world.b.slug, None)] = LocalKeySigner(expired)
    try:
        with pytest.raises(SigningRefusedError, match="hết hạn"):
            await file_one(world, world.b, a_pdf(), unit_id=None, title="Hết hạn")
    finally:
        del world.signing._signers[(world.b.slug, None)]
    # A document that such a key signed anyway is shown as signed with an expired certificate.
    stale = await anyio.to_thread.run_sync(
        LocalKeySigner(expired).sign, a_pdf(), Appearance("Bộ Khác", "Ai đó")
    )
    check = await anyio.to_thread.run_sync(world.signing.check, stale.data)
    assert check.verdict is Verdict.EXPIRED and check.certificate_serial is not None


async def test_a_result_must_be_a_pdf_to_be_signed(world: World) -> None:
    async with world.db.tenant_session(world.a) as session:
        with pytest.raises(NotSignableError, match="PDF"):
            await sign_result(
                session,
                world.a,
                signing=world.signing,
                data=b"PK\x03\x04 a word document",
                title="Kết quả",
                dossier_id=None,  # type: ignore[arg-type]
                unit_id=None,
                signer_name="Lãnh đạo",
                origin="http://x.localhost",
            )


async def test_an_unreachable_timestamp_authority_refuses_with_a_message(
    world: World, live_settings: Settings
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    signing = Signing.for_settings(
        replace(live_settings, signing_tsa_url=f"http://127.0.0.1:{closed}/tsa"), world.signing.storage
    )
    async with world.db.tenant_session(world.a) as session:
        with pytest.raises(SigningRefusedError, match="dấu thời gian"):
            await sign_and_file(
                session,
                world.a,
                signing=signing,
                document_id=new_document_id(),
                pdf=a_pdf(),
                title="Không có dấu thời gian",
                kind=DocumentKind.RESULT,
                dossier_id=None,
                unit_id=None,
                signer_name="Lãnh đạo",
            )
