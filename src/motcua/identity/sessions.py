"""Server-side sessions in Redis.

The cookie holds only a random id; Redis keys use its SHA-256, so a copy of Redis does not
yield live cookies. A session belongs to one site (a tenant slug or the console): presented on
any other host it is simply not found. Ids are rotated at login (no fixation), and sessions end
after an idle period and after an absolute lifetime, whichever comes first.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from motcua.core.security import digest
from motcua.identity.schemas import mask_personal_id

SESSION_COOKIE = "motcua_session"
_PREFIX = "session:"


@dataclass
class UserSession:
    site: str
    issuer: str
    subject: str
    personal_id: str
    name: str
    roles: list[str] = field(default_factory=list)
    citizen_id: int | None = None
    id_token: str | None = None
    end_session_endpoint: str | None = None
    client_id: str = ""
    created_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    id: str = field(default="", compare=False)

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def masked_personal_id(self) -> str:
        return mask_personal_id(self.personal_id)


class SessionStore:
    def __init__(self, redis: aioredis.Redis, *, idle_seconds: int, absolute_seconds: int) -> None:
        self.redis = redis
        self.idle = idle_seconds
        self.absolute = absolute_seconds

    @staticmethod
    def _key(session_id: str) -> str:
        return _PREFIX + digest(session_id)

    async def create(self, session: UserSession, *, replacing: str | None = None) -> str:
        """Store a new session under a fresh id; the id it replaces (if any) stops working."""
        if replacing:
            await self.redis.delete(self._key(replacing))
        session_id = secrets.token_urlsafe(32)
        session.created_at = session.last_seen = time.time()
        payload = {k: v for k, v in asdict(session).items() if k != "id"}
        await self.redis.set(self._key(session_id), json.dumps(payload), ex=self.idle)
        session.id = session_id
        return session_id

    async def load(self, session_id: str, site: str) -> UserSession | None:
        if not session_id or len(session_id) > 100:
            return None
        key = self._key(session_id)
        raw = await self.redis.get(key)
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        if data.get("site") != site:
            return None  # a session of another tenant (or the console) means nothing here
        now = time.time()
        if now - float(data.get("created_at", 0)) > self.absolute:
            await self.redis.delete(key)
            return None
        data["last_seen"] = now
        remaining_absolute = int(self.absolute - (now - float(data["created_at"])))
        await self.redis.set(key, json.dumps(data), ex=max(1, min(self.idle, remaining_absolute)))
        session = UserSession(**data)
        session.id = session_id
        return session

    async def destroy(self, session_id: str) -> None:
        if session_id:
            await self.redis.delete(self._key(session_id))
