"""Identity writes and lookups: who a login is, which roles a personal ID holds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.actions import after_commit, emit, emit_sync
from motcua.core.audit import Actor, ActorKind, platform_entry, tenant_entry
from motcua.core.db import Database, search_path_sql
from motcua.core.events import RolesChanged
from motcua.core.outbox import OutboxRow, relay_sync
from motcua.core.security import SecretBox, sign
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.models import Citizen, IdentitySetting, PlatformAdmin, Role, RoleGrant
from motcua.identity.oidc import ProviderConfig, VerifiedIdentity
from motcua.identity.schemas import PERSONAL_ID, IdentityInputError, RoleGrantCreate
from motcua.identity.sessions import SessionStore


class IdentityNotConfiguredError(LookupError):
    pass


# The one client the development e-ID provider (motcua.dev.eid_provider) registers: its secret
# is derived from the platform's secret key, so the portal and the provider agree without a file.
DEV_CLIENT_ID = "motcua-dev"


def dev_client_credentials(settings: Settings) -> tuple[str, str]:
    """``(client_id, client_secret)`` of the development provider's client, so the app can be it."""
    return DEV_CLIENT_ID, sign(settings.secret_key, "dev-eid-client", DEV_CLIENT_ID)


def default_provider(settings: Settings) -> ProviderConfig:
    if settings.oidc_issuer:
        return ProviderConfig(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
            personal_id_claim=settings.oidc_personal_id_claim,
            display_name="VNeID",
        )
    if settings.dev_services:
        client_id, client_secret = dev_client_credentials(settings)
        return ProviderConfig(
            issuer=settings.dev_eid_issuer,
            client_id=client_id,
            client_secret=client_secret,
            scopes=settings.oidc_scopes,
            personal_id_claim="personal_id",
            display_name="Định danh điện tử (môi trường phát triển)",
        )
    raise IdentityNotConfiguredError("no e-ID issuer is configured (MOTCUA_OIDC_ISSUER)")


async def provider_for(db: Database, settings: Settings, tenant: Tenant | None) -> ProviderConfig:
    """The tenant's own identity setting when it has one, else the platform-wide issuer."""
    if tenant is not None:
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(IdentitySetting.__table__).where(IdentitySetting.tenant_id == tenant.id)
                )
            ).one_or_none()
        if row is not None:
            return ProviderConfig(
                issuer=row.issuer,
                client_id=row.client_id,
                client_secret=SecretBox(settings.secret_key).open(row.client_secret_sealed),
                scopes=row.scopes,
                personal_id_claim=row.personal_id_claim,
                display_name=row.display_name,
            )
    return default_provider(settings)


def _address(claims: dict[str, Any]) -> str | None:
    address = claims.get("address")
    if isinstance(address, dict):
        return str(address.get("formatted") or "") or None
    return str(address) if address else None


@dataclass(frozen=True)
class LoginResult:
    citizen_id: int | None
    name: str
    roles: list[str]


async def record_tenant_login(session: AsyncSession, identity: VerifiedIdentity) -> LoginResult:
    """Create or refresh the citizen (keyed by issuer and sub) and read the roles granted to
    their personal ID. Runs in the tenant's transaction."""
    claims = identity.claims
    values = {
        "personal_id": identity.personal_id,
        "full_name": str(claims.get("name") or "").strip()[:200],
        "birthdate": str(claims["birthdate"])[:10] if claims.get("birthdate") else None,
        "gender": str(claims["gender"])[:20] if claims.get("gender") else None,
        "address": _address(claims),
        "email": str(claims["email"])[:320] if claims.get("email") else None,
        "phone": str(claims["phone_number"])[:32] if claims.get("phone_number") else None,
    }
    insert_stmt = pg_insert(Citizen).values(issuer=identity.issuer, subject=identity.subject, **values)
    upsert = insert_stmt.on_conflict_do_update(
        index_elements=[Citizen.issuer, Citizen.subject],
        set_={**{k: insert_stmt.excluded[k] for k in values}, "last_login_at": text("now()")},
    ).returning(Citizen.id)
    citizen_id = (await session.execute(upsert)).scalar_one()
    granted = (
        await session.execute(select(RoleGrant.role).where(RoleGrant.personal_id == identity.personal_id))
    ).scalars()
    roles = [Role.CITIZEN.value, *sorted(set(granted))]
    await session.execute(tenant_entry("identity.login", actor=Actor.citizen(citizen_id), roles=roles))
    return LoginResult(citizen_id=citizen_id, name=values["full_name"] or "Công dân", roles=roles)


async def current_roles(db: Database, tenant: Tenant | None, personal_id: str) -> list[str]:
    """The roles ``personal_id`` holds now on a tenant's portal (``tenant``) or on the console
    (None), as a session stores them. A tenant that is no longer active grants nothing."""
    if tenant is None:
        async with db.platform_session() as session:
            admin = await session.scalar(
                select(PlatformAdmin.personal_id).where(PlatformAdmin.personal_id == personal_id)
            )
        return [Role.PLATFORM_ADMIN.value] if admin else []
    async with db.tenant_session(tenant) as session:
        status = await session.scalar(
            text("SELECT status FROM platform.tenants WHERE id = :i"), {"i": tenant.id}
        )
        if status != "active":
            return []
        granted = await session.scalars(select(RoleGrant.role).where(RoleGrant.personal_id == personal_id))
        return [Role.CITIZEN.value, *sorted(set(granted))]


async def record_console_login(db: Database, identity: VerifiedIdentity) -> LoginResult:
    async with db.platform_session() as session:
        is_admin = await session.scalar(
            select(PlatformAdmin.personal_id).where(PlatformAdmin.personal_id == identity.personal_id)
        )
        roles = [Role.PLATFORM_ADMIN.value] if is_admin else []
        await session.execute(
            # A login is not yet an act of administration: the person is named by a masked ID.
            platform_entry(
                "console.login",
                actor=Actor(kind=ActorKind.PERSON, id=f"{identity.personal_id[:3]}***"),
                roles=roles,
            )
        )
    return LoginResult(citizen_id=None, name=str(identity.claims.get("name") or "Quản trị viên"), roles=roles)


# Role grants (tenant administrators) ------------------------------------------------------------
# One way to grant a role, run on an async session (the UI) or a sync connection (the CLI,
# onboarding): the row if it is new, and its audit line.
def grant_statement(personal_id: str, role: str, *, actor: Actor) -> Any:
    return (
        pg_insert(RoleGrant)
        .values(personal_id=personal_id, role=role, granted_by=str(actor))
        .on_conflict_do_nothing()
        .returning(RoleGrant.id)
    )


def granted_audit(personal_id: str, role: str, *, actor: Actor) -> Any:
    return tenant_entry("role.granted", actor=actor, personal_id=personal_id, role=role)


async def _roles_changed(session: AsyncSession, tenant: Tenant, sessions: SessionStore) -> None:
    """Sessions of the tenant's portal read their roles again: at once after the commit, and
    through the outbox should that fail (see identity.jobs)."""
    after_commit(session, partial(sessions.bump_roles_version, tenant.slug))
    await emit(session, RolesChanged(tenant=tenant.slug, site=tenant.slug))


async def grant_role(
    session: AsyncSession, tenant: Tenant, grant: RoleGrantCreate, *, actor: Actor, sessions: SessionStore
) -> bool:
    """Grant a role to a personal ID; returns False when it was already held."""
    result = await session.execute(grant_statement(grant.personal_id, grant.role, actor=actor))
    created = result.scalar_one_or_none() is not None
    if created:
        await session.execute(granted_audit(grant.personal_id, grant.role, actor=actor))
        await _roles_changed(session, tenant, sessions)
    return created


async def revoke_role(
    session: AsyncSession, tenant: Tenant, grant: RoleGrantCreate, *, actor: Actor, sessions: SessionStore
) -> bool:
    """Take a role back; the person's sessions lose it on their next request."""
    result = await session.execute(
        delete(RoleGrant)
        .where(RoleGrant.personal_id == grant.personal_id, RoleGrant.role == grant.role)
        .returning(RoleGrant.id)
    )
    removed = result.scalar_one_or_none() is not None
    if removed:
        await session.execute(
            tenant_entry("role.revoked", actor=actor, personal_id=grant.personal_id, role=grant.role)
        )
        await _roles_changed(session, tenant, sessions)
    return removed


@dataclass(frozen=True)
class GrantView:
    personal_id: str
    role: str
    role_label: str
    granted_by: str
    granted_at: str
    name: str | None


async def list_grants(session: AsyncSession) -> list[GrantView]:
    rows = (
        await session.execute(
            select(RoleGrant, Citizen.full_name)
            .outerjoin(Citizen, Citizen.personal_id == RoleGrant.personal_id)
            .order_by(RoleGrant.role, RoleGrant.personal_id)
        )
    ).all()
    seen: set[tuple[str, str]] = set()
    views = []
    for grant, name in rows:
        if (grant.personal_id, grant.role) in seen:
            continue
        seen.add((grant.personal_id, grant.role))
        views.append(
            GrantView(
                personal_id=grant.personal_id,
                role=grant.role,
                role_label=Role(grant.role).label,
                granted_by=grant.granted_by,
                granted_at=grant.granted_at.strftime("%d/%m/%Y %H:%M"),
                name=name,
            )
        )
    return views


# Operator actions (CLI) -----------------------------------------------------------------------
def add_platform_admin(engine: Engine, personal_id: str, *, actor: Actor) -> bool:
    """Returns False when they were already an administrator."""
    statement = (
        pg_insert(PlatformAdmin)
        .values(personal_id=personal_id, added_by=str(actor))
        .on_conflict_do_nothing()
        .returning(PlatformAdmin.personal_id)
    )
    return _change_platform_admins(engine, personal_id, statement, "platform_admin.added", actor=actor)


def remove_platform_admin(engine: Engine, personal_id: str, *, actor: Actor) -> bool:
    """Take the console away from someone: their console sessions lose it on their next
    request. Returns False when they were not an administrator."""
    statement = (
        delete(PlatformAdmin)
        .where(PlatformAdmin.personal_id == personal_id)
        .returning(PlatformAdmin.personal_id)
    )
    return _change_platform_admins(engine, personal_id, statement, "platform_admin.removed", actor=actor)


def _change_platform_admins(
    engine: Engine, personal_id: str, statement: Any, action: str, *, actor: Actor
) -> bool:
    """Run ``statement`` (it returns the row it changed, if any) with its audit row and the
    roles change of the console, in one transaction."""
    if not PERSONAL_ID.match(personal_id):
        raise IdentityInputError(f"personal ID must be exactly 12 digits, got {personal_id!r}")
    relay: list[OutboxRow] = []
    with engine.begin() as conn:
        changed = conn.execute(statement).scalar_one_or_none() is not None
        if changed:
            conn.execute(platform_entry(action, actor=actor, personal_id=personal_id))
            relay = emit_sync(conn, RolesChanged(tenant=None, site="console"))
    relay_sync(engine, relay)
    return changed


def grant_role_sync(engine: Engine, tenant: Tenant, grant: RoleGrantCreate, *, actor: Actor) -> bool:
    with engine.begin() as conn:
        conn.execute(text(search_path_sql(tenant.schema)))
        created = grant_role_on(conn, grant.personal_id, grant.role, actor=actor)
        relay = emit_sync(conn, RolesChanged(tenant=tenant.slug, site=tenant.slug)) if created else []
    relay_sync(engine, relay)
    return created


def grant_role_on(conn: Connection, personal_id: str, role: str, *, actor: Actor) -> bool:
    """The sync form, on a connection whose search_path is the tenant's."""
    created = conn.execute(grant_statement(personal_id, role, actor=actor)).scalar_one_or_none() is not None
    if created:
        conn.execute(granted_audit(personal_id, role, actor=actor))
    return created


def set_identity_setting(
    engine: Engine,
    settings: Settings,
    tenant: Tenant,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str,
    personal_id_claim: str,
    display_name: str,
    actor: Actor,
) -> None:
    if not issuer.startswith(("https://", "http://")):
        raise IdentityInputError("issuer must be an http(s) URL")
    if settings.is_production and not issuer.startswith("https://"):
        raise IdentityInputError("issuer must use https in production")
    if not client_id or not client_secret:
        raise IdentityInputError("client id and client secret are required")
    if "openid" not in scopes.split():
        raise IdentityInputError("scopes must include openid")
    sealed = SecretBox(settings.secret_key).seal(client_secret)
    values = {
        "issuer": issuer.rstrip("/"),
        "client_id": client_id,
        "client_secret_sealed": sealed,
        "scopes": scopes,
        "personal_id_claim": personal_id_claim,
        "display_name": display_name,
    }
    with engine.begin() as conn:
        stmt = pg_insert(IdentitySetting).values(tenant_id=tenant.id, **values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[IdentitySetting.tenant_id], set_={**values, "updated_at": text("now()")}
            )
        )
        conn.execute(
            platform_entry(
                "identity.configured",
                actor=actor,
                tenant=tenant.slug,
                issuer=values["issuer"],
                client_id=client_id,
            )
        )
