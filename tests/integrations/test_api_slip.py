"""The appointment slip of a dossier received through the API: signed and filed with the dossier as
online and at the desk, its QR codes (and the tracking link the system is given) on the tenant's
public site whatever host the system called,
its verification page valid and given by the read; a repeat files no second slip; with the signer
failing the dossier is still received (201), and the slip is queued for the signing job, which
signs the same slip later."""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import zxingcpp
from litestar import Litestar
from sqlalchemy import Engine, func, select, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.models import Dossier
from motcua.dossiers.slip import filed_slip
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing, signed_bytes
from tests.conftest import MakeTenant, asgi_transport, unique_slug
from tests.dossiers.conftest import BIRTH
from tests.integrations.conftest import Host, Register, token_of
from tests.integrations.test_api import dossier
from tests.signing.test_signed_results import slip_signed_by_a_worker

ADDRESS = "Số 12 phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội"
NO_DOCUMENTS = {**BIRTH, "documents": []}


def first_page(pdf: bytes) -> tuple[str, list[str]]:
    """The first page's text and the QR codes a phone reads on it."""
    page = pdfium.PdfDocument(pdf)[0]
    words = str(page.get_textpage().get_text_range())
    codes = [found.text for found in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
    return words, codes


def queued_slip_jobs(engine: Engine, tenant: Tenant, dossier_id: int) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM platform.outbox WHERE actor_name = 'sign_slip' "
                "AND tenant_slug = :t AND (kwargs->>'dossier_id')::bigint = :d"
            ),
            {"t": tenant.slug, "d": dossier_id},
        ).scalar_one()
    return int(count)


async def dossier_id_of(api_db: Database, tenant: Tenant, code: str) -> int:
    async with api_db.tenant_session(tenant) as session:
        found = await session.scalar(select(Dossier.id).where(Dossier.code == code))
    assert found is not None
    return int(found)


async def slips_of(api_db: Database, tenant: Tenant, dossier_id: int) -> int:
    async with api_db.tenant_session(tenant) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SignedDocument)
            .where(SignedDocument.dossier_id == dossier_id, SignedDocument.kind == DocumentKind.SLIP.value)
        )
    return int(count or 0)


async def test_a_dossier_posted_through_the_api_gets_its_signed_slip_once(
    make_tenant: MakeTenant,
    register: Register,
    host: Host,
    app: Litestar,
    api_db: Database,
    engine: Engine,
    live_settings: Settings,
) -> None:
    slug = unique_slug("as")
    site = f"dichvucong.{slug}.example.vn"
    tenant = make_tenant(slug, domains=[site], procedures=[NO_DOCUMENTS])
    # The system calls the portal on <slug>.localhost, not on the tenant's public site.
    http = host(tenant)
    auth = {"Authorization": f"Bearer {await token_of(http, await register(tenant))}"}
    body = dossier("EXT-SLIP")
    body["applicant"] = {**body["applicant"], "address": ADDRESS}
    created = await http.post("/api/v1/dossiers", json=body, headers=auth)
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    dossier_id = await dossier_id_of(api_db, tenant, code)

    async with api_db.tenant_session(tenant) as session:
        slip = await filed_slip(session, dossier_id)
    assert slip is not None and slip.title.endswith(code)
    assert queued_slip_jobs(engine, tenant, dossier_id) == 0
    signing = Signing.for_settings(live_settings, storage_for_settings(live_settings))
    words, codes = first_page(await signed_bytes(signing, tenant, slip))
    # The applicant's contact as the sending system gave it.
    assert "0912345678" in words and "Tràng Tiền" in words
    # Both QR codes lead to the tenant's public site, not to the host the system called.
    [verify] = [c for c in codes if "/xac-thuc/" in c]
    assert verify.startswith(f"http://{site}") and verify.endswith(f"/xac-thuc/{slip.id}")
    assert any(c.startswith(f"http://{site}") and c.endswith(f"/tracking?code={code}") for c in codes)
    # And so does the tracking link the system is given to show the citizen.
    tracking = created.json()["tracking_url"]
    assert tracking.startswith(f"http://{site}") and tracking.endswith(f"/tracking?code={code}")

    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{site}") as public:
        page = await public.get(f"/xac-thuc/{slip.id}")
    assert page.status_code == 200 and 'data-verdict="valid"' in page.text

    read = await http.get(f"/api/v1/dossiers/{code}", headers=auth)
    assert read.status_code == 200 and read.json()["slip_verification_url"] == verify
    assert read.json()["tracking_url"] == tracking

    # The same external id again: the same dossier, and no second slip signed.
    again = await http.post("/api/v1/dossiers", json=body, headers=auth)
    assert again.status_code == 200 and again.json()["code"] == code
    assert again.json()["tracking_url"] == tracking
    assert await slips_of(api_db, tenant, dossier_id) == 1
    assert queued_slip_jobs(engine, tenant, dossier_id) == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_with_the_signer_failing_the_dossier_is_received_and_its_slip_queued(
    make_tenant: MakeTenant,
    register: Register,
    host: Host,
    api_db: Database,
    engine: Engine,
    live_settings: Settings,
) -> None:
    from motcua.app import create_app

    tenant = make_tenant(procedures=[NO_DOCUMENTS])
    http = host(tenant)
    auth = {"Authorization": f"Bearer {await token_of(http, await register(tenant))}"}
    # The same product with its timestamp authority unreachable: every signature fails.
    down: Litestar = create_app(
        replace(live_settings, signing_tsa_url=f"http://127.0.0.1:{_closed_port()}/tsa")
    )
    body = dossier("EXT-DOWN")
    body["applicant"] = {**body["applicant"], "address": ADDRESS}
    async with httpx.AsyncClient(transport=asgi_transport(down), base_url=str(http.base_url)) as system:
        created = await system.post("/api/v1/dossiers", json=body, headers=auth)
        assert created.status_code == 201, created.text
        code = created.json()["code"]
        read = await system.get(f"/api/v1/dossiers/{code}", headers=auth)
    assert read.status_code == 200 and read.json()["slip_verification_url"] is None
    dossier_id = await dossier_id_of(api_db, tenant, code)
    assert await slips_of(api_db, tenant, dossier_id) == 0
    assert queued_slip_jobs(engine, tenant, dossier_id) == 1

    # A repeat while the slip waits for the job queues nothing more.
    again = await http.post("/api/v1/dossiers", json=body, headers=auth)
    assert again.status_code == 200 and again.json()["code"] == code
    assert queued_slip_jobs(engine, tenant, dossier_id) == 1

    # The product's worker, with the working signer, signs it later: the same slip as one signed
    # at once, the applicant's contact as the system gave it included.
    slip = await slip_signed_by_a_worker(api_db, tenant, dossier_id)
    signing = Signing.for_settings(live_settings, storage_for_settings(live_settings))
    words, _ = first_page(await signed_bytes(signing, tenant, slip))
    assert code in words and "0912345678" in words and "Tràng Tiền" in words
