from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.services import set_identity_setting
from tests.conftest import asgi_transport
from tests.identity.rogue_provider import CLIENT_ID, CLIENT_SECRET, RogueProvider


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh browser: its own cookie jar, talking to the app over ASGI, no redirects followed.
    Requests use absolute URLs, so cookies are kept per host exactly as a browser keeps them."""
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as c:
        yield c


@pytest.fixture
def rogue() -> Iterator[RogueProvider]:
    provider = RogueProvider().start()
    yield provider
    provider.stop()


def use_provider(
    engine: Engine,
    settings: Settings,
    tenant: Tenant,
    *,
    issuer: str,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    scopes: str = "openid profile personal_id",
) -> None:
    set_identity_setting(
        engine,
        settings,
        tenant,
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        personal_id_claim="personal_id",
        display_name="Thử nghiệm",
        actor=Actor.operator("test"),
    )


def query(url: str) -> dict[str, Any]:
    from urllib.parse import parse_qs, urlparse

    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
