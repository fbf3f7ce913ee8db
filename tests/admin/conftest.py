"""Browsers signed in to the console and to a tenant's /manage pages, with sessions made the way
the login callback makes them (the login flow itself is tested in tests/identity)."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import (
    add_platform_admin,
    grant_role_sync,
    record_console_login,
    record_tenant_login,
)
from motcua.identity.sessions import SESSION_COOKIE, SessionStore, UserSession
from tests.conftest import asgi_transport

_ids = itertools.count(1)
CONSOLE = "http://admin.localhost"

Browser = Callable[..., Coroutine[Any, Any, httpx.AsyncClient]]


def new_personal_id() -> str:
    """A 12-digit personal ID no other test uses (tests share one database)."""
    return f"0791{next(_ids):08d}"


@pytest.fixture
async def signed_in(app: Litestar, live_settings: Settings, engine: Engine) -> AsyncIterator[Browser]:
    """``await signed_in(tenant=None, role=...)``: a browser signed in to the console (``tenant``
    None) or to a tenant's portal. ``role`` is ``platform_admin`` (console), ``tenant_admin``,
    ``officer`` or ``citizen``; the role is granted through the real services first."""
    clients: list[httpx.AsyncClient] = []
    db = Database(live_settings.database_url or "", pool_size=2)
    redis_client = aioredis.Redis.from_url(live_settings.redis_url or "")
    store = SessionStore(
        redis_client,
        idle_seconds=live_settings.session_idle_seconds,
        absolute_seconds=live_settings.session_absolute_seconds,
    )

    async def make(
        tenant: Tenant | None = None,
        *,
        role: str = "platform_admin",
        personal_id: str | None = None,
        name: str = "Trần Văn Quản",
    ) -> httpx.AsyncClient:
        personal_id = personal_id or new_personal_id()
        identity = VerifiedIdentity(
            issuer="https://eid.test",
            subject=f"sub-{personal_id}",
            personal_id=personal_id,
            claims={"name": name},
            id_token="",
            end_session_endpoint=None,
        )
        if tenant is None:
            if role == "platform_admin":
                add_platform_admin(engine, personal_id, actor=Actor.operator("test"))
            result = await record_console_login(db, identity)
            site, base = "console", CONSOLE
        else:
            if role in ("officer", "tenant_admin"):
                grant_role_sync(
                    engine,
                    tenant,
                    RoleGrantCreate(personal_id=personal_id, role=role),
                    actor=Actor.operator("test"),
                )
            async with db.tenant_session(tenant) as session:
                result = await record_tenant_login(session, identity)
            site, base = tenant.slug, f"http://{tenant.slug}.localhost"
        sid = await store.create(
            UserSession(
                site=site,
                issuer=identity.issuer,
                subject=identity.subject,
                personal_id=personal_id,
                name=result.name,
                roles=result.roles,
                citizen_id=result.citizen_id,
            )
        )
        client = httpx.AsyncClient(transport=asgi_transport(app), base_url=base, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, sid, domain=base.removeprefix("http://"))
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
    await db.dispose()
    await redis_client.aclose()


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    """The CSRF token of the form on ``path`` (which also sets the CSRF cookie)."""
    page = await client.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match is not None, page.text[:500]
    return match.group(1)
