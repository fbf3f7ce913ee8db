from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from sqlalchemy import Connection, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.services import record_tenant_login
from motcua.identity.sessions import SESSION_COOKIE, SessionStore, UserSession
from tests.conftest import asgi_transport

BIRTH = {
    "code": "1.001193",
    "name": "Đăng ký khai sinh",
    "field": "Hộ tịch",
    "level": "full",
    "agency_code": "000.00.01.T01",
    "processing_days": 1,
    "documents": [
        {
            "code": "to-khai",
            "name": "Tờ khai đăng ký khai sinh",
            "kind": "original",
            "copies": 1,
            "required": True,
        }
    ],
    "fields": [
        {"name": "child_full_name", "label": "Họ tên của trẻ", "type": "text", "required": True},
        {"name": "child_birth_date", "label": "Ngày sinh", "type": "date", "required": True, "max": "today"},
        {
            "name": "mother_full_name",
            "label": "Họ tên mẹ",
            "type": "text",
            "required": True,
            "prefill": "name",
        },
        {
            "name": "mother_personal_id",
            "label": "Số định danh của mẹ",
            "type": "personal_id",
            "required": True,
            "prefill": "personal_id",
        },
        {
            "name": "has_father",
            "label": "Có thông tin cha",
            "type": "select",
            "required": True,
            "options": ["Có", "Không"],
        },
        {
            "name": "father_full_name",
            "label": "Họ tên cha",
            "type": "text",
            "required": True,
            "show_if": {"field": "has_father", "equals": "Có"},
        },
    ],
}

# A real one-page PDF: results are signed, and the signer needs a page to put the QR code on.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000053 00000 n \n0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n167\n%%EOF\n"
)

SignIn = Callable[..., Coroutine[Any, Any, httpx.AsyncClient]]


@pytest.fixture
async def sign_in(app: Litestar, live_settings: Settings) -> AsyncIterator[SignIn]:
    """A browser signed in as a citizen of ``tenant`` (the login flow itself is tested in
    tests/identity; here the session is made the way the callback makes it)."""
    clients: list[httpx.AsyncClient] = []
    db = Database(live_settings.database_url or "", pool_size=2)
    # The app's own store has no handle outside dependency injection; one over the same Redis
    # writes the same sessions.
    redis_client = aioredis.Redis.from_url(live_settings.redis_url or "")
    store = SessionStore(
        redis_client,
        idle_seconds=live_settings.session_idle_seconds,
        absolute_seconds=live_settings.session_absolute_seconds,
    )

    async def make(
        tenant: Tenant,
        *,
        name: str = "Nguyễn Thị Mai",
        personal_id: str = "001190001234",
        email: str | None = None,
    ) -> httpx.AsyncClient:
        claims = {"name": name, "phone_number": "0912345678"}
        if email is not None:
            claims["email"] = email
        identity = VerifiedIdentity(
            issuer="https://eid.test",
            subject=f"sub-{personal_id}",
            personal_id=personal_id,
            claims=claims,
            id_token="",
            end_session_endpoint=None,
        )
        async with db.tenant_session(tenant) as session:
            result = await record_tenant_login(session, identity)
        sid = await store.create(
            UserSession(
                site=tenant.slug,
                issuer=identity.issuer,
                subject=identity.subject,
                personal_id=personal_id,
                name=result.name,
                roles=result.roles,
                citizen_id=result.citizen_id,
            )
        )
        client = httpx.AsyncClient(
            transport=asgi_transport(app),
            base_url=f"http://{tenant.slug}.localhost",
            follow_redirects=False,
        )
        client.cookies.set(SESSION_COOKIE, sid, domain=f"{tenant.slug}.localhost")
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
    await db.dispose()
    await redis_client.aclose()


async def csrf(client: httpx.AsyncClient, path: str) -> str:
    import re

    page = await client.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


def in_progress_dossier(
    conn: Connection,
    tenant: Tenant,
    code: str,
    procedure_code: str,
    *,
    applicant: str = "Người nộp",
    assigned: str | None = None,
) -> None:
    """A dossier in progress, due in three days, written straight into the tenant's table."""
    conn.execute(
        text(
            f"""
            INSERT INTO {tenant.schema}.dossiers (code, procedure_id, procedure_code,
                procedure_name, form_version, citizen_id, applicant_name, applicant_personal_id,
                status, channel, data, fee_vnd, agency_code, received_at, due_at, reception_due_at,
                idempotency_key, assigned_to)
            SELECT :code, p.id, p.code, p.name, 1, (SELECT min(id) FROM {tenant.schema}.citizens),
                :applicant, '001190000009', 'in_progress', 2, '{{}}'::jsonb, 0, '000.00.01.T01',
                now(), now() + interval '3 days', now() + interval '1 day', :code, :assigned
            FROM {tenant.schema}.procedures p WHERE p.code = :procedure
            """
        ),
        {"code": code, "procedure": procedure_code, "applicant": applicant, "assigned": assigned},
    )
