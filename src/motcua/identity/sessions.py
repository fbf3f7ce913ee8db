"""Server-side sessions in Redis.

The cookie holds only a random id; Redis keys use its SHA-256, so a copy of Redis does not
yield live cookies. A session belongs to one site (a tenant slug or the console): presented on
any other host it is simply not found. Ids are rotated at login (no fixation), and sessions end
after an idle period and after an absolute lifetime, whichever comes first.

Roles are copied into the session at login, with the site's *roles version*; every change to
who holds what on a site (a grant, a revocation, a suspended tenant, a removed platform
administrator) bumps that version, and a session whose copy is older has its roles read again
before the request goes on. The version is read in the same Redis round trip as the session,
so a signed-in request costs one round trip (two when its idle timeout is pushed back).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.security import digest
from motcua.identity.schemas import mask_personal_id

SESSION_COOKIE = "motcua_session"
# The idle timeout slides on use, but rewriting the session on every request would double the
# Redis round trips of a signed-in page: it is pushed back at most this often (the idle period
# is then honoured to within this many seconds).
TOUCH_EVERY_SECONDS = 30
_PREFIX = "session:"
_ROLES_VERSION = "roles_version:"


def roles_version_key(site: str) -> str:
    return _ROLES_VERSION + site


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
    # The site's roles version the roles were read at (see the module docstring).
    roles_version: int = 0
    # How many dossiers the citizen has, for the navigation's "Hồ sơ của tôi (3)": kept here so
    # that no page runs a query for it. Set at login, after a submission and when /my/dossiers
    # is viewed (a dossier an officer registers at the desk shows from the next of those); None
    # until known.
    dossier_count: int | None = None
    created_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    id: str = field(default="", compare=False)
    # Set by ``SessionStore.load``, never stored: the site's roles changed since these were read.
    roles_stale: bool = field(default=False, compare=False)

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def masked_personal_id(self) -> str:
        return mask_personal_id(self.personal_id)


# Counts a citizen's dossiers in the tenant's session (the app's ``dossier_counter`` dependency):
# the dossiers package, above this one, implements it for the login.
DossierCounter = Callable[[AsyncSession, int], Awaitable[int]]


def _stored(session: UserSession) -> dict[str, Any]:
    return {k: v for k, v in asdict(session).items() if k not in ("id", "roles_stale")}


class SessionStore:
    def __init__(self, redis: aioredis.Redis, *, idle_seconds: int, absolute_seconds: int) -> None:
        self.redis = redis
        self.idle = idle_seconds
        self.absolute = absolute_seconds

    @staticmethod
    def _key(session_id: str) -> str:
        return _PREFIX + digest(session_id)

    async def roles_version(self, site: str) -> int:
        return int(await self.redis.get(roles_version_key(site)) or 0)

    async def bump_roles_version(self, site: str) -> None:
        """Every session of ``site`` reads its roles again on its next request."""
        await self.redis.incr(roles_version_key(site))

    async def create(self, session: UserSession, *, replacing: str | None = None) -> str:
        """Store a new session under a fresh id; the id it replaces (if any) stops working.
        The session's ``roles`` must have been read after ``roles_version`` was."""
        if replacing:
            await self.redis.delete(self._key(replacing))
        session_id = secrets.token_urlsafe(32)
        session.created_at = session.last_seen = time.time()
        await self.redis.set(self._key(session_id), json.dumps(_stored(session)), ex=self.idle)
        session.id = session_id
        return session_id

    async def load(self, session_id: str, site: str) -> UserSession | None:
        """The session; ``roles_stale`` tells whether its roles are older than the site's roles
        version (the caller then reads them again and calls ``refresh_roles``)."""
        if not session_id or len(session_id) > 100:
            return None
        key = self._key(session_id)
        raw, version = await self.redis.mget(key, roles_version_key(site))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        if data.get("site") != site:
            return None  # a session of another tenant (or the console) means nothing here
        now = time.time()
        if now - float(data.get("created_at", 0)) > self.absolute:
            await self.redis.delete(key)
            return None
        if now - float(data.get("last_seen", 0)) >= TOUCH_EVERY_SECONDS:
            data["last_seen"] = now
            await self.redis.set(key, json.dumps(data), ex=self._ttl(data, now))
        session = UserSession(**data)
        session.id = session_id
        session.roles_stale = session.roles_version != int(version or 0)
        return session

    async def refresh_roles(self, session: UserSession, roles: list[str], version: int) -> None:
        """Store the roles read again for a stale session, with the version they were read at."""
        session.roles, session.roles_version, session.roles_stale = roles, version, False
        data = _stored(session)
        await self.redis.set(
            self._key(session.id), json.dumps(data), ex=self._ttl(data, time.time()), xx=True
        )

    async def set_dossier_count(self, session: UserSession, count: int) -> None:
        """Keep the citizen's dossier count in the session (written only when it changed, so a
        page that refreshes it costs no round trip when nothing changed)."""
        if session.dossier_count == count or not session.id:
            session.dossier_count = count
            return
        session.dossier_count = count
        data = _stored(session)
        await self.redis.set(
            self._key(session.id), json.dumps(data), ex=self._ttl(data, time.time()), xx=True
        )

    def _ttl(self, data: dict[str, Any], now: float) -> int:
        remaining_absolute = int(self.absolute - (now - float(data["created_at"])))
        return max(1, min(self.idle, remaining_absolute))

    async def destroy(self, session_id: str) -> None:
        if session_id:
            await self.redis.delete(self._key(session_id))
