"""API clients of a tenant: registered, rotated and revoked by its administrators, each change
audited in the tenant's trail.

A secret is 32 random bytes (URL-safe base64), shown once when it is made; only its SHA-256 is
kept. Rotating makes a new one and ends the old one and every token issued with it at once (the
tokens carry a mark of the secret: integrations.tokens); revoking ends the client at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor, tenant_entry
from motcua.integrations.auth import SCOPES, _
from motcua.integrations.models import ApiClientRow

NAME_MAX = 200
SOURCE_SYSTEM = re.compile(r"^[a-z0-9]{2,32}$")
CLIENT_ID_PREFIX = "mc_"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """What a tenant administrator typed, as typed (kept in the form when it is refused)."""

    name: str
    source_system: str
    scopes: tuple[str, ...]


@dataclass
class ClientErrors:
    """Field name → Vietnamese msgid."""

    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Issued:
    """A client and its secret in clear: the one moment the secret exists outside the caller."""

    client: ApiClientRow
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret).encode(), secret_hash.encode())


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def check_spec(spec: ClientSpec) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = spec.name.strip()
    if not name:
        errors["name"] = _("Nhập tên hệ thống kết nối.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Tên hệ thống dài tối đa 200 ký tự.")
    if not spec.source_system.strip():
        errors["source_system"] = _("Nhập mã hệ thống nguồn, ví dụ dvcqg.")
    elif not SOURCE_SYSTEM.match(spec.source_system.strip()):
        errors["source_system"] = _("Mã hệ thống nguồn gồm 2 đến 32 chữ thường không dấu hoặc chữ số.")
    if not spec.scopes:
        errors["scopes"] = _("Chọn ít nhất một quyền truy cập.")
    elif any(s not in SCOPES for s in spec.scopes):
        errors["scopes"] = _("Chọn quyền truy cập trong danh sách.")
    return errors


async def list_clients(session: AsyncSession) -> list[ApiClientRow]:
    rows = await session.scalars(
        select(ApiClientRow).order_by(ApiClientRow.revoked_at.is_not(None), ApiClientRow.created_at.desc())
    )
    return list(rows)


async def client_by_id(session: AsyncSession, client_id: str) -> ApiClientRow | None:
    if len(client_id) > 64:
        return None
    return await session.scalar(select(ApiClientRow).where(ApiClientRow.client_id == client_id))


async def register_client(session: AsyncSession, spec: ClientSpec, *, actor: Actor) -> Issued | ClientErrors:
    errors = check_spec(spec)
    if errors:
        return ClientErrors(errors)
    secret = new_secret()
    scopes = [s for s in SCOPES if s in spec.scopes]
    row = ApiClientRow(
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y"),
        name=spec.name.strip(),
        source_system=spec.source_system.strip(),
        secret_hash=hash_secret(secret),
        scopes=scopes,
        created_by=str(actor),
    )
    session.add(row)
    await session.flush()
    await session.execute(
        tenant_entry(
            "api_client.registered",
            actor=actor,
            client_id=row.client_id,
            name=row.name,
            source_system=row.source_system,
            scopes=scopes,
            address=actor.address,
        )
    )
    return Issued(row, secret)


async def rotate_secret(session: AsyncSession, client: ApiClientRow, *, actor: Actor) -> Issued | None:
    """A new secret for an active client (None when it was revoked meanwhile)."""
    secret = new_secret()
    # Conditional on the client still being active: a revoke that committed first wins.
    changed = await session.execute(
        update(ApiClientRow)
        .where(ApiClientRow.id == client.id, ApiClientRow.revoked_at.is_(None))
        .values(secret_hash=hash_secret(secret), rotated_at=datetime.now(UTC))
        .returning(ApiClientRow.id)
    )
    if changed.scalar() is None:
        return None
    await session.refresh(client)
    await session.execute(
        tenant_entry("api_client.rotated", actor=actor, client_id=client.client_id, address=actor.address)
    )
    return Issued(client, secret)


async def revoke_client(session: AsyncSession, client: ApiClientRow, *, actor: Actor) -> bool:
    """Revoke at once; False when it already was."""
    changed = await session.execute(
        update(ApiClientRow)
        .where(ApiClientRow.id == client.id, ApiClientRow.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(ApiClientRow.id)
    )
    if changed.scalar() is None:
        return False
    await session.refresh(client)
    await session.execute(
        tenant_entry("api_client.revoked", actor=actor, client_id=client.client_id, address=actor.address)
    )
    return True
