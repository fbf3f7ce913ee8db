"""Tenant changes reach the caches of every process (core.invalidation over the real Redis).

"Another process" is stood in for by a second set of caches (``Caches()``) with its own resolver,
catalogue cache, database pool and Redis listener: the test process's own changes clear only
the caches of ``invalidation.PROCESS`` directly, so whatever reaches the stand-in came over Redis.
Its caches keep entries for ten minutes, so no expiry can explain a change seen within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from motcua.catalog.routes import catalog_of
from motcua.catalog.schemas import ProcedureSpec
from motcua.catalog.services import CatalogCache, upsert_procedures
from motcua.core import invalidation
from motcua.core.audit import Actor
from motcua.core.db import Database, search_path_sql
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.tenancy import events
from motcua.tenancy.resolution import TenantResolver
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.conftest import MakeTenant, procedure

LONG_TTL = 600.0
DEADLINE = 10.0


@dataclass
class StandIn:
    """The caches of another process, and what that process would serve from them."""

    caches: invalidation.Caches
    resolver: TenantResolver
    catalog: CatalogCache
    db: Database
    listener: invalidation.Listener

    async def status_of(self, tenant: Tenant) -> str | None:
        found = (await self.resolver.resolve(f"{tenant.slug}.localhost")).tenant
        return None if found is None else found.status

    async def names_of(self, tenant: Tenant) -> list[str]:
        return [p.name for p in await catalog_of(self.catalog, tenant, self.db)]


@contextlib.asynccontextmanager
async def stand_in(database_url: str, redis_url: str) -> AsyncIterator[StandIn]:
    caches = invalidation.Caches()
    db = Database(database_url, pool_size=2)
    catalog = CatalogCache(LONG_TTL)
    events.subscribe(catalog, caches)
    resolver = TenantResolver(db, "localhost", LONG_TTL, caches=caches)
    try:
        async with invalidation.listening(redis_url, caches) as listener:
            await asyncio.wait_for(listener.connected.wait(), DEADLINE)
            yield StandIn(caches, resolver, catalog, db, listener)
    finally:
        await db.dispose()


@pytest.fixture
async def other_process(live_settings: Settings) -> AsyncIterator[StandIn]:
    assert live_settings.database_url and live_settings.redis_url
    async with stand_in(live_settings.database_url, live_settings.redis_url) as other:
        yield other


async def eventually(check: Callable[[], Awaitable[bool]], deadline: float = DEADLINE) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while loop.time() < end:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return await check()


def rename(engine: Engine, tenant: Tenant, code: str, name: str) -> None:
    """The catalogue's own write path, as onboarding seeds it."""
    with engine.begin() as conn:
        conn.execute(text(search_path_sql(tenant.schema)))
        upsert_procedures(conn, [ProcedureSpec.parse(procedure(code, name), "test")])


async def test_a_suspension_made_by_a_sync_caller_reaches_another_process(
    other_process: StandIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    assert await other_process.status_of(tenant) == "active"  # now cached for ten minutes

    # A thread without an event loop, as the CLI or onboarding calls it.
    await asyncio.to_thread(suspend_tenant, engine, tenant.slug, actor=Actor.operator("test"))

    async def suspended() -> bool:
        return await other_process.status_of(tenant) == "suspended"

    assert await eventually(suspended)

    await asyncio.to_thread(resume_tenant, engine, tenant.slug, actor=Actor.operator("test"))

    async def active() -> bool:
        return await other_process.status_of(tenant) == "active"

    assert await eventually(active)


async def test_a_catalogue_change_reaches_another_process_and_drops_only_that_tenant(
    other_process: StandIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    changed = make_tenant(procedures=[procedure("1.009001", "Cấp bản sao trích lục")])
    untouched = make_tenant(procedures=[procedure("1.009002", "Đăng ký kết hôn")])
    assert await other_process.names_of(changed) == ["Cấp bản sao trích lục"]
    assert await other_process.names_of(untouched) == ["Đăng ký kết hôn"]

    rename(engine, changed, "1.009001", "Cấp bản sao trích lục hộ tịch")
    events.catalog_changed(changed.slug)  # from async code, as the payments settings page does

    async def renamed() -> bool:
        return await other_process.names_of(changed) == ["Cấp bản sao trích lục hộ tịch"]

    assert await eventually(renamed)
    # The other tenant's catalogue stayed cached: a catalogue change is not a tenant change.
    assert other_process.catalog.get(untouched.schema) is not None


class Heard:
    """A cache that only notes which tenants' catalogue changes reached it."""

    def __init__(self) -> None:
        self.slugs: list[str] = []

    def catalog_changed(self, slug: str) -> None:
        self.slugs.append(slug)

    def invalidate(self) -> None:
        pass


async def test_a_process_skips_its_own_messages_but_not_others(
    other_process: StandIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    """The publishing process cleared its caches already; the same message from elsewhere
    still clears them."""
    tenant = make_tenant(procedures=[procedure("1.009003", "Chứng thực chữ ký")])
    assert live_settings.redis_url
    own = invalidation.Publisher(live_settings.redis_url)

    heard = Heard()
    other_process.caches.subscribe(heard)

    async def heard_all_sent_so_far() -> None:
        # Messages arrive in the order they were published: once a marker sent now has been
        # applied, every earlier one has been too (onboarding's own, ours).
        marker = f"marker-{uuid.uuid4().hex[:8]}"
        assert own.send(invalidation.Change("catalog", marker), "someone-else")

        async def marker_applied() -> bool:
            return marker in heard.slugs

        assert await eventually(marker_applied)

    try:
        await heard_all_sent_so_far()  # the tenant's onboarding announced itself; done now
        await other_process.names_of(tenant)
        assert own.send(invalidation.Change("catalog", tenant.slug), other_process.caches.origin)
        await heard_all_sent_so_far()
        assert other_process.catalog.get(tenant.schema) is not None
        assert own.send(invalidation.Change("catalog", tenant.slug), "someone-else")

        async def dropped() -> bool:
            return other_process.catalog.get(tenant.schema) is None

        assert await eventually(dropped)
    finally:
        own.close()


class CuttableLink:
    """A Unix-socket relay in front of Redis that a test can cut and restore, as a network
    outage or a Redis restart does to a listener."""

    def __init__(self, redis_url: str) -> None:
        assert redis_url.startswith("unix://"), "the embedded Redis listens on a Unix socket"
        self.target = redis_url.removeprefix("unix://")
        self.folder = Path(tempfile.mkdtemp(prefix="mc-link-"))
        self.path = self.folder / "redis.sock"
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    async def open(self) -> None:
        self.server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()
        self.path.unlink(missing_ok=True)  # new connections are refused, not queued

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        self.writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None and self.server.is_serving():
            await self.cut()
        shutil.rmtree(self.folder, ignore_errors=True)


async def test_a_listener_that_lost_its_connection_clears_everything_when_it_reconnects(
    live_settings: Settings, make_tenant: MakeTenant, engine: Engine
) -> None:
    assert live_settings.database_url and live_settings.redis_url
    tenant = make_tenant(procedures=[procedure("1.009004", "Đăng ký thường trú")])
    link = CuttableLink(live_settings.redis_url)
    await link.open()
    try:
        async with stand_in(live_settings.database_url, link.url) as other:
            assert await other.status_of(tenant) == "active"
            assert await other.names_of(tenant) == ["Đăng ký thường trú"]

            await link.cut()
            # Published while the listener is away: this message never reaches it.
            await asyncio.to_thread(suspend_tenant, engine, tenant.slug, actor=Actor.operator("test"))
            rename(engine, tenant, "1.009004", "Đăng ký tạm trú")
            events.catalog_changed(tenant.slug)
            await asyncio.sleep(0.5)
            assert await other.status_of(tenant) == "active"  # missed, and cached for ten minutes

            await link.open()

            async def reconnected() -> bool:
                return other.listener.connections == 2

            assert await eventually(reconnected, deadline=3 * invalidation.BACKOFF_MAX)
            # Nothing was published after the reconnect: the listener cleared everything.
            assert await other.status_of(tenant) == "suspended"
            assert await other.names_of(tenant) == ["Đăng ký tạm trú"]
    finally:
        await link.close()


def test_publishing_with_redis_unreachable_does_not_fail_the_action(
    live_settings: Settings, make_tenant: MakeTenant, engine: Engine
) -> None:
    """A plain (sync) test: the publish runs in the caller's thread, as in the CLI. The change
    is made, this process's caches are cleared, and the others fall back on their TTL."""
    tenant = make_tenant(procedures=[procedure("1.009005", "Cấp phiếu lý lịch tư pháp")])
    local = CatalogCache(LONG_TTL)
    events.subscribe(local)
    local.put(tenant.schema, [])
    folder = Path(tempfile.mkdtemp(prefix="mc-none-"))
    invalidation.configure(f"unix://{folder / 'nobody-listens.sock'}")
    try:
        events.catalog_changed(tenant.slug)
        assert local.get(tenant.schema) is None  # cleared here all the same
        local.put(tenant.schema, [])
        suspended = suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
        assert suspended.status == "suspended"
        assert local.get(tenant.schema) is None
        events.tenants_changed()
    finally:
        invalidation.configure(live_settings.redis_url)
        shutil.rmtree(folder, ignore_errors=True)
    # A TCP address where nothing listens: refused, not hung.
    invalidation.configure("redis://127.0.0.1:9/0")
    try:
        resumed = resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))
        assert resumed.status == "active"
    finally:
        invalidation.configure(live_settings.redis_url)


def test_an_unreadable_message_clears_every_cache() -> None:
    """Dropping caches is always safe; acting on a half-understood message might not be."""
    assert invalidation.Change.decode(b"not json") == (None, invalidation.Change("tenants"))
    assert invalidation.Change.decode(b'{"origin": "x", "scope": "catalog"}')[1] == invalidation.Change(
        "tenants"
    )
    assert invalidation.Change.decode(invalidation.Change("catalog", "hanoi").encode("x")) == (
        "x",
        invalidation.Change("catalog", "hanoi"),
    )
