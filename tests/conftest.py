"""Test infrastructure: a real PostgreSQL and a real Redis (the embedded servers the product
itself uses), schemas built by the real migrations, tenants made by the real onboarding."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.settings import S3Bucket, Settings, load_settings
from motcua.core.tenant import Tenant
from tests.s3 import S3Stand

_counter = itertools.count(1)

# The files that start `motcua run` or drive a browser (a minute or more each) go first, the
# two longest (two to three minutes) before them. With `--dist loadfile`, xdist hands out files
# in collection order when told not to reorder them (`make test` passes --no-loadscope-reorder;
# by default it sorts files by their number of tests, which puts these last): the short files
# then fill the gaps at the end, instead of one worker finishing a long file while the other
# waits.
_LONG_FIRST = ("tests/e2e/test_browser_matrix.py", "tests/e2e/test_browser_admin_pages.py", "tests/e2e/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parents[1]

    def rank(item: pytest.Item) -> int:
        where = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        ranks = (n for n, prefix in enumerate(_LONG_FIRST) if where.startswith(prefix))
        return next(ranks, len(_LONG_FIRST))

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def live_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from motcua.core.embedded import EmbeddedServices

    data_dir = tmp_path_factory.mktemp("motcua-data")
    embedded = EmbeddedServices(data_dir).start()
    env = {
        "MOTCUA_ENV": "test",
        "MOTCUA_DATA_DIR": str(data_dir),
        "MOTCUA_DATABASE_URL": embedded.database_url,
        "MOTCUA_REDIS_URL": embedded.redis_url,
        "MOTCUA_SECRET_KEY": "test-secret-key-" + "x" * 40,
        "MOTCUA_DOMAIN_CACHE_TTL": "30",
        # The whole suite signs in and submits from one address within minutes; the budgets
        # themselves are tested with their real sizes in tests/security/test_rate_limits.py.
        "MOTCUA_RATE_LIMITS": "login=100000,submit=100000,api=100000",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = load_settings()
        from motcua.core.broker import setup_broker
        from motcua.core.db import sync_engine
        from motcua.tenancy.migrate import migrate_platform

        # The broker must exist before any actor module is imported.
        setup_broker(settings)
        engine = sync_engine(settings.database_url or "", pool_size=0)
        migrate_platform(engine, settings.root)
        engine.dispose()
        yield settings
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        embedded.stop()


@pytest.fixture(scope="session")
def engine(live_settings: Settings) -> Iterator[Engine]:
    from motcua.core.db import sync_engine

    eng = sync_engine(live_settings.database_url or "", pool_size=5)
    yield eng
    eng.dispose()


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}{next(_counter)}-{uuid.uuid4().hex[:6]}"


MakeTenant = Callable[..., Tenant]


@pytest.fixture
def make_tenant(engine: Engine, live_settings: Settings) -> MakeTenant:
    """Onboard a tenant through the real service; procedures are raw dicts as in tenants/*.toml."""
    from motcua.admin.services import build_spec, onboard_tenant

    def make(
        slug: str | None = None,
        *,
        name: str | None = None,
        domains: list[str] | None = None,
        procedures: list[dict[str, Any]] | None = None,
        theme: str = "default",
        kind: str = "province",
    ) -> Tenant:
        slug = slug or unique_slug()
        spec = build_spec(
            slug=slug,
            name=name or f"Cổng thử nghiệm {slug}",
            kind=kind,
            domains=domains or [],
            theme=theme,
            procedures=procedures or [],
        )
        return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))

    return make


def asgi_transport(app: Litestar) -> httpx.ASGITransport:
    """An httpx transport that calls ``app`` in-process.

    httpx types its ``app`` as a callable over plain ``MutableMapping`` scopes and messages, while
    Litestar's ``__call__`` takes its own TypedDict scopes and event unions; both are the same
    ASGI 3 interface, but the two spellings are not assignable to each other. The cast lives here,
    once, so every test can build a transport without its own ignore.
    """
    return httpx.ASGITransport(app=cast(Any, app))


def procedure(code: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": name, "field": extra.pop("field", "Hộ tịch"), "level": "full", **extra}


@pytest.fixture(scope="session")
def app(live_settings: Settings) -> Litestar:
    from motcua.app import create_app

    return create_app(live_settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI in the test's own event loop (the app's pools are bound to that loop,
    so every test client must share it; Litestar's TestClient would run a loop of its own)."""
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://localhost.test") as c:
        yield c


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Stand]:
    """A local S3-compatible server (tests/s3.py), started once for the tests that use one."""
    stand = S3Stand.start()
    yield stand
    stand.stop()


@pytest.fixture(scope="module")
def s3_bucket(s3_server: S3Stand) -> S3Bucket:
    """An empty bucket of its own for each test module."""
    return s3_server.bucket()
