"""API clients registered through the real service, tokens from the real endpoint, and clients of
the app on a tenant's host (shared by the API, client and schemathesis tests)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.integrations.auth import SCOPES
from motcua.integrations.clients import ClientSpec, Issued, register_client
from tests.admin.conftest import csrf_of, signed_in  # noqa: F401  (fixtures used by test modules)
from tests.conftest import asgi_transport


@dataclass(frozen=True)
class Registered:
    tenant: Tenant
    client_id: str
    secret: str
    row_id: int

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()


Register = Callable[..., Coroutine[Any, Any, Registered]]
Host = Callable[[Tenant], httpx.AsyncClient]


@pytest.fixture
async def api_db(live_settings: Settings) -> AsyncIterator[Database]:
    db = Database(live_settings.database_url or "", pool_size=4)
    yield db
    await db.dispose()


@pytest.fixture
def register(api_db: Database) -> Register:
    """``await register(tenant, scopes=..., source_system=...)``: a client made by the real action."""

    async def make(
        tenant: Tenant, *, scopes: tuple[str, ...] = SCOPES, source_system: str = "dvcqg", name: str = "DVCQG"
    ) -> Registered:
        async with api_db.tenant_session(tenant) as session:
            issued = await register_client(
                session,
                ClientSpec(name=name, source_system=source_system, scopes=scopes),
                actor=Actor.tenant_admin("001090000001", address="127.0.0.1"),
            )
        assert isinstance(issued, Issued)
        return Registered(tenant, issued.client.client_id, issued.secret, issued.client.id)

    return make


@pytest.fixture
async def host(app: Litestar) -> AsyncIterator[Host]:
    """``host(tenant)``: a cookie-less client (a system, not a browser) on the tenant's host."""
    clients: list[httpx.AsyncClient] = []

    def make(tenant: Tenant) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost")
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


async def token_of(http: httpx.AsyncClient, registered: Registered, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = await http.post("/oauth/token", data=form, headers={"Authorization": registered.basic})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token
