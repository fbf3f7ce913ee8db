"""The database floor of `make bench`: what one tenant-scoped read costs with nothing else.

A bare ASGI app (no framework, no ORM) on a raw asyncpg pool, served by the same server with the
same workers as the product: ``GET /floor?code=…`` on a tenant host does exactly BEGIN,
``SET LOCAL search_path``, one SELECT by key, COMMIT, and answers JSON. Every page of the product
that reads the database is reported also as a share of this floor (bench/run.py).

Not part of the product: run only by the bench (``uvicorn bench.db_floor:app``), configured by
MOTCUA_DATABASE_URL like the app it is compared with.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import parse_qs

import asyncpg

_SLUG = re.compile(r"^[a-z][a-z0-9]{1,30}$")
_pool: asyncpg.Pool | None = None


def _dsn() -> str:
    url = os.environ["MOTCUA_DATABASE_URL"]
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # As many connections as the product's pool (core.db.Database's default).
                _pool = await asyncpg.create_pool(_dsn(), min_size=10, max_size=20)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    host = dict(scope["headers"]).get(b"host", b"").decode().split(":")[0]
    slug = host.split(".", 1)[0]
    code = (parse_qs(scope["query_string"].decode()).get("code") or [""])[0]
    if not _SLUG.match(slug) or _pool is None:
        await _answer(send, 404, {"detail": "no such portal"})
        return
    async with _pool.acquire() as connection, connection.transaction():
        await connection.execute(f"SET LOCAL search_path TO t_{slug}, platform")
        row = await connection.fetchrow("SELECT code, status, due_at FROM dossiers WHERE code = $1", code)
    if row is None:
        await _answer(send, 404, {"detail": "not found"})
        return
    await _answer(
        send, 200, {"code": row["code"], "status": row["status"], "due_at": row["due_at"].isoformat()}
    )
