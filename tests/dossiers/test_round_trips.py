"""What a page view costs in round trips (issue: pages that read the database): an anonymous
page touches no Redis, a signed-in one loads its session with one command, a lookup spends its
rate budget with one, and the pages that only read send no BEGIN, SET or COMMIT of their own."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, event

from motcua.core import db as core_db
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.dossiers.test_journey import CODE, _prepare


class Sent:
    """Redis commands, SQL statements and our own transaction statements sent while counting."""

    def __init__(self) -> None:
        self.redis: Counter[str] = Counter()
        self.sql: list[str] = []
        self.transaction: list[str] = []

    def clear(self) -> None:
        self.redis.clear()
        self.sql.clear()
        self.transaction.clear()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sent]:
    seen = Sent()
    execute_command: Any = aioredis.Redis.execute_command

    async def counted(self: aioredis.Redis, *args: Any, **options: Any) -> Any:
        seen.redis[str(args[0]).upper()] += 1
        return await execute_command(self, *args, **options)

    send = core_db._send

    async def counted_send(connection: Any, driver: Any, statement: str) -> None:
        seen.transaction.append(statement.split()[0])
        await send(connection, driver, statement)

    fetch = core_db._fetch

    async def counted_fetch(connection: Any, driver: Any, statement: str, args: tuple[Any, ...]) -> Any:
        seen.sql.append(statement)  # sent by the driver itself (core.db.fetch_row)
        return await fetch(connection, driver, statement, args)

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        seen.sql.append(sql)

    monkeypatch.setattr(aioredis.Redis, "execute_command", counted)
    monkeypatch.setattr(core_db, "_send", counted_send)
    monkeypatch.setattr(core_db, "_fetch", counted_fetch)
    event.listen(Engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


async def test_round_trips_of_the_hot_pages(
    sign_in: SignIn, make_tenant: MakeTenant, client: httpx.AsyncClient, sent: Sent
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    token = await _prepare(browser)
    done = await browser.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": browser.cookies["motcua_csrf"], "token": token, "declaration": "yes"},
    )
    found = CODE.search(done.headers["location"])
    assert found is not None
    code = found.group(0)
    host = {"host": f"{tenant.slug}.localhost"}
    await client.get("/", headers=host)  # the tenant and its catalogue are now in this process

    sent.clear()
    home = await client.get("/", headers=host)
    assert home.status_code == 200
    assert sent.redis == Counter() and sent.sql == [] and sent.transaction == []

    sent.clear()
    tracked = await client.get("/tracking", params={"code": code}, headers=host)
    assert tracked.status_code == 200 and code in tracked.text
    # The rate budget: one script call; the dossier: one statement naming the tenant's schema.
    assert sum(sent.redis.values()) == 1 and set(sent.redis) <= {"EVALSHA", "EVAL"}
    assert len(sent.sql) == 1 and f'"{tenant.schema}".dossiers' in sent.sql[0]
    assert sent.transaction == []

    sent.clear()
    mine = await browser.get(f"/my/dossiers/{code}")
    assert mine.status_code == 200 and code in mine.text
    assert sent.redis == Counter({"MGET": 1})  # the session and the site's roles version
    assert sent.transaction == []
    assert all(re.match(r"\s*SELECT", sql) for sql in sent.sql)
