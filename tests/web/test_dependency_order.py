"""Dependencies are resolved in order, in the request's own task (core.dependencies
``resolve_dependencies_in_order``): no task per dependency, the same values, clean-ups and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.testing import AsyncTestClient

from motcua.core.dependencies import resolve_dependencies_in_order


async def test_dependencies_run_in_the_requests_task_with_their_clean_ups_and_errors() -> None:
    resolve_dependencies_in_order()
    seen: list[tuple[str, asyncio.Task[Any] | None]] = []

    async def first() -> str:
        seen.append(("first", asyncio.current_task()))
        return "a"

    def second() -> str:
        seen.append(("second", asyncio.current_task()))
        return "b"

    async def session(first: NamedDependency[str]) -> AsyncIterator[str]:
        seen.append(("session", asyncio.current_task()))
        yield first + "-session"
        seen.append(("session closed", asyncio.current_task()))

    async def broken() -> str:
        raise ValueError("the provider failed")

    @get("/", sync_to_thread=False)
    async def page(
        first: NamedDependency[str], second: NamedDependency[str], session: NamedDependency[str]
    ) -> str:
        seen.append(("handler", asyncio.current_task()))
        return f"{first} {second} {session}"

    @get("/broken", dependencies={"broken": Provide(broken)})
    async def broken_page(first: NamedDependency[str], broken: NamedDependency[str]) -> str:
        return broken

    app = Litestar(
        [page, broken_page],
        dependencies={
            "first": Provide(first),
            "second": Provide(second, sync_to_thread=False),
            "session": Provide(session),
        },
    )
    async with AsyncTestClient(app) as client:
        answer = await client.get("/")
        assert answer.status_code == 200 and answer.text == "a b a-session"
        names = [name for name, _ in seen]
        assert set(names[:2]) == {"first", "second"}  # one level: in either order
        assert names[2:] == ["session", "handler", "session closed"]
        # One task for the whole request: the providers ran in it, none in a task of its own.
        assert len({task for _, task in seen}) == 1
        assert (await client.get("/broken")).status_code == 500
