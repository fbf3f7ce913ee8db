"""The appointment slip and the receipt, signed and filed with the dossier: each carries a QR code
to its own verification page, passes pyHanko's validator, and is signed once however often asked."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import zxingcpp
from litestar import Litestar
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import Engine, func, select

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.slip import file_signed_slip, slip_for
from motcua.payments.receipts import file_receipt_pdf
from motcua.payments.services import record_counter_payment
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing, signed_bytes, signed_documents_of
from motcua.signing.signers import to_asn1
from tests.conftest import asgi_transport, procedure, unique_slug

COPY = procedure("2.000001", "Cấp bản sao trích lục hộ tịch", agency="Ủy ban nhân dân phường Kinh Bắc")
FEE = {**COPY, "fee_vnd": 8000}
OFFICER = "001085004321"


@pytest.fixture(scope="module")
def tenant(engine: Engine, live_settings: Settings) -> Tenant:
    spec = build_spec(slug=unique_slug("ss"), name="Tỉnh Bắc Ninh", kind="province", procedures=[FEE])
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


@pytest.fixture(scope="module")
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    yield database
    await database.dispose()


def qr_codes(pdf: bytes) -> list[str]:
    page = pdfium.PdfDocument(pdf)[0]
    image = page.render(scale=3).to_pil()
    return [result.text for result in zxingcpp.read_barcodes(image)]


async def validated_signer(data: bytes, signing: Signing) -> str:
    assert signing.ca is not None
    (signature,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    status = await async_validate_pdf_signature(
        signature, ValidationContext(trust_roots=[to_asn1(signing.ca.root())], crls=[signing.ca.crl()])
    )
    assert status.bottom_line and status.signer_reported_dt is not None
    return str(status.signing_cert.subject.native["common_name"])


async def test_the_slip_and_the_receipt_are_signed_once_and_verify_from_their_qr_code(
    tenant: Tenant, db: Database, live_settings: Settings, app: Litestar
) -> None:
    storage = storage_for_settings(live_settings)
    signing = Signing.for_settings(live_settings, storage)
    origin = f"http://{tenant.slug}.localhost"
    async with db.tenant_session(tenant) as session:
        copy = await get_procedure(session, FEE["code"])
        assert copy is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=copy,
            applicant=Applicant(personal_id="001190005678", full_name="Trần Văn Bình"),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.officer(OFFICER),
        )
        assert isinstance(outcome, Received), outcome
        dossier = outcome.dossier
        slip = slip_for(dossier, [], copy, tenant_name=tenant.name, tracking_url=f"{origin}/tracking?code=x")
        first = await file_signed_slip(
            session, tenant, signing=signing, dossier=dossier, slip=slip, origin=origin
        )
        again = await file_signed_slip(
            session, tenant, signing=signing, dossier=dossier, slip=slip, origin=origin
        )
        assert again.id == first.id and first.kind == DocumentKind.SLIP and first.dossier_id == dossier.id

        current = await session.get(Dossier, dossier.id)
        assert current is not None
        receipt = await record_counter_payment(
            session, tenant, current, actor=Actor.officer(OFFICER), method="cash"
        )
        filed = await file_receipt_pdf(session, storage, tenant, receipt, signing=signing, origin=origin)
        signed_receipt = await session.scalar(
            select(SignedDocument).where(
                SignedDocument.kind == DocumentKind.RECEIPT, SignedDocument.dossier_id == dossier.id
            )
        )
        assert signed_receipt is not None and filed.storage_key == signed_receipt.storage_key
        assert await session.scalar(select(func.count()).select_from(SignedDocument)) == 2
        filed_with_dossier = await signed_documents_of(session, dossier.id, citizen=True)
        assert [d.kind for d in filed_with_dossier] == [DocumentKind.SLIP, DocumentKind.RECEIPT]

    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=origin) as client:
        for row in (first, signed_receipt):
            data = await signed_bytes(signing, tenant, row)
            assert await validated_signer(data, signing) == row.issuer_name
            url = f"{origin}/xac-thuc/{row.id}"
            assert url in qr_codes(data)
            page = await client.get(url)
            assert page.status_code == 200 and 'data-verdict="valid"' in page.text
