"""Identity writes and lookups: who a login is, which roles a personal ID holds."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from motcua.core.actions import after_commit, emit, emit_sync
from motcua.core.audit import Actor, ActorKind, platform_entry, tenant_entry
from motcua.core.db import Database, inline_limit, search_path_sql
from motcua.core.events import RolesChanged
from motcua.core.outbox import OutboxRow, relay_sync
from motcua.core.security import SecretBox, sign
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES
from motcua.identity.models import (
    ACTOR_KIND_LABELS,
    ACTOR_PART_LABELS,
    N_,
    Citizen,
    IdentitySetting,
    PlatformAdmin,
    Role,
    RoleGrant,
)
from motcua.identity.oidc import ProviderConfig, VerifiedIdentity
from motcua.identity.schemas import PERSONAL_ID, IdentityInputError, RoleGrantCreate, mask_personal_id
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
            return _provider_from_row(settings, row)
    return default_provider(settings)


async def provider_of_tenant(db: Database, settings: Settings, slug: str) -> ProviderConfig:
    """What ``provider_for`` gives the tenant ``slug``, from any host (the console's test login)."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT s.* FROM platform.identity_settings s "
                    "JOIN platform.tenants t ON t.id = s.tenant_id WHERE t.slug = :slug"
                ),
                {"slug": slug},
            )
        ).one_or_none()
    return default_provider(settings) if row is None else _provider_from_row(settings, row)


def _provider_from_row(settings: Settings, row: Any) -> ProviderConfig:
    return ProviderConfig(
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=SecretBox(settings.secret_key).open(row.client_secret_sealed),
        scopes=row.scopes,
        personal_id_claim=row.personal_id_claim,
        display_name=row.display_name,
    )


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


# The issuer of citizen rows that an officer (desk, post) or another system entered before the
# person ever logged in here: the subject is their personal ID. Their first e-ID login takes the
# row over (record_tenant_login), so the dossiers received for them show in "Hồ sơ của tôi".
INTAKE_ISSUER = "urn:motcua:intake"


@lru_cache(maxsize=1)
def _own_row() -> type[Citizen]:
    """The citizens table under a second name, made once (an alias takes milliseconds)."""
    return aliased(Citizen)


async def _take_over_intake_row(
    session: AsyncSession, identity: VerifiedIdentity, values: Mapping[str, Any]
) -> int | None:
    """The id of the intake row now become this login's own, or None when there is none to take
    (or the person already has their own row: the intake row is then left as it is)."""
    own = _own_row()
    takeover = (
        update(Citizen)
        .where(
            Citizen.issuer == INTAKE_ISSUER,
            Citizen.personal_id == identity.personal_id,
            ~select(own.id).where(own.issuer == identity.issuer, own.subject == identity.subject).exists(),
        )
        .values(
            issuer=identity.issuer,
            subject=identity.subject,
            # What the officer wrote down (a phone, an address) stays where the e-ID says nothing.
            **{k: v if k == "personal_id" else v or getattr(Citizen, k) for k, v in values.items()},
            last_login_at=func.now(),
        )
        .returning(Citizen.id)
        .execution_options(synchronize_session=False)
    )
    try:
        # A savepoint: a concurrent first login of the same person may have created their own
        # row since this statement's snapshot; the upsert that follows then refreshes that one.
        async with session.begin_nested():
            return (await session.execute(takeover)).scalar_one_or_none()
    except IntegrityError:
        return None


async def record_tenant_login(
    session: AsyncSession, identity: VerifiedIdentity, *, language: str = DEFAULT_LANGUAGE
) -> LoginResult:
    """Create or refresh the citizen (keyed by issuer and sub) and read the roles granted to
    their personal ID. Runs in the tenant's transaction. ``language`` is the UI language they
    logged in with: their notifications are written in it."""
    claims = identity.claims
    values = {
        "preferred_language": language if language in LANGUAGES else DEFAULT_LANGUAGE,
        "personal_id": identity.personal_id,
        "full_name": str(claims.get("name") or "").strip()[:200],
        "birthdate": str(claims["birthdate"])[:10] if claims.get("birthdate") else None,
        "gender": str(claims["gender"])[:20] if claims.get("gender") else None,
        "address": _address(claims),
        "email": str(claims["email"])[:320] if claims.get("email") else None,
        "phone": str(claims["phone_number"])[:32] if claims.get("phone_number") else None,
    }
    citizen_id = await _take_over_intake_row(session, identity, values)
    if citizen_id is None:
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
    (None), as a session stores them. A suspended or deleted tenant grants nothing; an archived
    one keeps its staff's roles, since they still read and export its dossiers."""
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
        if status not in ("active", "archived"):
            return []
        granted = await session.scalars(select(RoleGrant.role).where(RoleGrant.personal_id == personal_id))
        return [Role.CITIZEN.value, *sorted(set(granted))]


async def record_console_login(db: Database, identity: VerifiedIdentity) -> LoginResult:
    name = str(identity.claims.get("name") or "").strip()[:200] or None
    async with db.platform_session() as session:
        # An administrator's name is kept from their last login: the console's list of
        # administrators and the audit viewer name them with it.
        is_admin = await session.scalar(
            update(PlatformAdmin)
            .where(PlatformAdmin.personal_id == identity.personal_id)
            .values(name=func.coalesce(name, PlatformAdmin.name), last_login_at=func.now())
            .returning(PlatformAdmin.personal_id)
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


# Lock-outs the services refuse, whoever asks (the /manage and console pages, the command line).
SELF_REVOKE = N_(
    "Bạn không thể tự thu hồi quyền quản trị địa phương của chính mình. "
    "Hãy nhờ một quản trị viên địa phương khác."
)
LAST_TENANT_ADMIN = N_(
    "Không thể thu hồi quyền của quản trị viên địa phương cuối cùng. "
    "Hãy cấp quyền quản trị địa phương cho người khác trước."
)
SELF_REMOVE = N_(
    "Bạn không thể tự gỡ quyền quản trị nền tảng của chính mình. Hãy nhờ một quản trị viên nền tảng khác."
)
LAST_PLATFORM_ADMIN = N_(
    "Không thể gỡ quản trị viên nền tảng cuối cùng. Hãy thêm một quản trị viên nền tảng khác trước."
)
BAD_PERSONAL_ID = N_("Số định danh cá nhân phải gồm đúng 12 chữ số.")


class RoleChangeRefusedError(IdentityInputError):
    """A change of roles that would lock people out; the message (Vietnamese) says why."""


def _is(actor: Actor, kind: ActorKind, personal_id: str) -> bool:
    return actor.kind == kind and actor.id == personal_id


async def check_revoke(session: AsyncSession, grant: RoleGrantCreate, *, actor: Actor) -> None:
    """Raise RoleChangeRefusedError when taking ``grant`` back would leave the portal without an
    administrator, or take an administrator's own rights away. Locks the tenant's administrator
    grants until the transaction ends, so two administrators revoking each other at the same
    time cannot both succeed."""
    if grant.role != Role.TENANT_ADMIN:
        return
    if _is(actor, ActorKind.TENANT_ADMIN, grant.personal_id):
        raise RoleChangeRefusedError(SELF_REVOKE)
    admins = set(
        (
            await session.scalars(
                select(RoleGrant.personal_id)
                .where(RoleGrant.role == Role.TENANT_ADMIN.value)
                .with_for_update()
            )
        ).all()
    )
    if admins == {grant.personal_id}:
        raise RoleChangeRefusedError(LAST_TENANT_ADMIN)


async def revoke_role(
    session: AsyncSession, tenant: Tenant, grant: RoleGrantCreate, *, actor: Actor, sessions: SessionStore
) -> bool:
    """Take a role back; the person's sessions lose it on their next request. Refused
    (RoleChangeRefusedError) for one's own administrator role and for the last administrator."""
    await check_revoke(session, grant, actor=actor)
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


# Who did something, in words ------------------------------------------------------------------
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
_MASKED_PREFIX = re.compile(r"^\d{3}\*+$")


def vietnam_time(moment: datetime) -> str:
    """A moment as people in Vietnam read it: dd/mm/yyyy hh:mm, Vietnam time."""
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class ActorWords:
    """An audit row's ``kind:id`` as people read it: ``role`` and ``part`` are Vietnamese
    msgids (translated where shown), ``name`` and the masked personal ID where known."""

    role: str
    part: str | None = None
    name: str | None = None
    masked_id: str | None = None

    def text(self, gettext: Callable[[str], str]) -> str:
        words = gettext(self.role) + (f": {gettext(self.part)}" if self.part else "")
        if self.name:
            words += f" {self.name}"
        if self.masked_id:
            words += f" ({self.masked_id})"
        return words


STAFF_KINDS = (ActorKind.OFFICER, ActorKind.TENANT_ADMIN, ActorKind.PLATFORM_ADMIN)


def actor_words(actor: str, names: Mapping[str, str] | None = None) -> ActorWords:
    """``officer:001178006789`` → Cán bộ Nguyễn Văn A (001******789); never the raw value: an
    unknown kind or part is named by a generic phrase."""
    kind, _, ident = actor.partition(":")
    role = ACTOR_KIND_LABELS.get(kind, N_("Không rõ người thực hiện"))
    if kind in STAFF_KINDS:
        if not PERSONAL_ID.match(ident):
            return ActorWords(role=role)
        return ActorWords(role=role, name=(names or {}).get(ident), masked_id=mask_personal_id(ident))
    if kind == ActorKind.PERSON:
        return ActorWords(role=role, masked_id=ident if _MASKED_PREFIX.match(ident) else None)
    if kind in (ActorKind.SYSTEM, ActorKind.OPERATOR):
        return ActorWords(role=role, part=ACTOR_PART_LABELS.get(actor))
    return ActorWords(role=role)


def staff_ids(actors: Iterable[str]) -> set[str]:
    """The personal IDs of the members of staff among ``actors`` (``kind:id`` values)."""
    ids = set()
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind in STAFF_KINDS and PERSONAL_ID.match(ident):
            ids.add(ident)
    return ids


async def platform_admin_names(
    session: AsyncSession | AsyncConnection, personal_ids: Collection[str]
) -> dict[str, str]:
    """Names of platform administrators, from their last console login."""
    if not personal_ids:
        return {}
    rows = await session.execute(
        select(PlatformAdmin.personal_id, PlatformAdmin.name).where(
            PlatformAdmin.personal_id.in_(personal_ids), PlatformAdmin.name.is_not(None)
        )
    )
    return {pid: name for pid, name in rows if name}


def staff_name_of(personal_id: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[str | None]:
    """``staff_names`` as a column of the statement that lists the people (the officer queue's
    rows): the name from their latest login on this portal, else from the console; NULL when
    neither is known. Two index probes per row inside the one query, no second round trip."""
    from_portal = (
        select(Citizen.full_name)
        .where(Citizen.personal_id == personal_id, Citizen.full_name != "")
        .order_by(Citizen.last_login_at.desc().nulls_last())
        .limit(inline_limit(1))
        .scalar_subquery()
    )
    from_console = (
        select(PlatformAdmin.name)
        .where(PlatformAdmin.personal_id == personal_id, PlatformAdmin.name != "")
        .scalar_subquery()
    )
    return func.coalesce(from_portal, from_console)


async def staff_names(session: AsyncSession, personal_ids: Collection[str]) -> dict[str, str]:
    """Names of people on a tenant's session: from their latest login on this portal, else
    from the console (platform administrators)."""
    if not personal_ids:
        return {}
    names = await platform_admin_names(session, personal_ids)
    rows = await session.execute(
        select(Citizen.personal_id, Citizen.full_name)
        .where(Citizen.personal_id.in_(personal_ids), Citizen.full_name != "")
        .order_by(Citizen.last_login_at)
    )
    names.update(dict(rows.all()))  # the latest login is read last and wins
    return names


@dataclass(frozen=True)
class GrantView:
    personal_id: str
    masked_id: str
    role: str
    role_label: str
    granted_by: ActorWords
    granted_at: str
    name: str | None


async def list_grants(session: AsyncSession) -> list[GrantView]:
    grants = (await session.scalars(select(RoleGrant).order_by(RoleGrant.role, RoleGrant.personal_id))).all()
    names = await staff_names(
        session, {g.personal_id for g in grants} | staff_ids(g.granted_by for g in grants)
    )
    seen: set[tuple[str, str]] = set()
    views = []
    for grant in grants:
        if (grant.personal_id, grant.role) in seen:
            continue
        seen.add((grant.personal_id, grant.role))
        views.append(
            GrantView(
                personal_id=grant.personal_id,
                masked_id=mask_personal_id(grant.personal_id),
                role=grant.role,
                role_label=Role(grant.role).label,
                granted_by=actor_words(grant.granted_by, names),
                granted_at=vietnam_time(grant.granted_at),
                name=names.get(grant.personal_id),
            )
        )
    return views


# Platform administrators (the console and the command line) ----------------------------------
def valid_personal_id(personal_id: str | None) -> str:
    pid = (personal_id or "").strip().replace(" ", "")
    if not PERSONAL_ID.match(pid):
        raise IdentityInputError(BAD_PERSONAL_ID)
    return pid


def _removal_refusal(personal_id: str, admins: Collection[str], actor: Actor) -> str | None:
    """Why removing ``personal_id`` from ``admins`` (read under lock) is refused, if it is. The
    command line acts as an operator, so only the last-administrator rule applies to it."""
    if personal_id not in admins:
        return None
    if _is(actor, ActorKind.PLATFORM_ADMIN, personal_id):
        return SELF_REMOVE
    if set(admins) == {personal_id}:
        return LAST_PLATFORM_ADMIN
    return None


def _add_admin_statement(personal_id: str, actor: Actor) -> Any:
    return (
        pg_insert(PlatformAdmin)
        .values(personal_id=personal_id, added_by=str(actor))
        .on_conflict_do_nothing()
        .returning(PlatformAdmin.personal_id)
    )


def _remove_admin_statement(personal_id: str) -> Any:
    return (
        delete(PlatformAdmin)
        .where(PlatformAdmin.personal_id == personal_id)
        .returning(PlatformAdmin.personal_id)
    )


# Every administrator row locked: two administrators removing each other at the same time
# cannot both succeed (the second reads again once the first has committed).
_ADMINS_LOCKED = select(PlatformAdmin.personal_id).with_for_update()


def _cli_personal_id(personal_id: str) -> str:
    # The blocking forms serve the command line, whose messages are English.
    if not PERSONAL_ID.match(personal_id):
        raise IdentityInputError(f"personal ID must be exactly 12 digits, got {personal_id!r}")
    return personal_id


def add_platform_admin(engine: Engine, personal_id: str, *, actor: Actor) -> bool:
    """Returns False when they were already an administrator."""
    personal_id = _cli_personal_id(personal_id)
    relay: list[OutboxRow] = []
    with engine.begin() as conn:
        changed = conn.execute(_add_admin_statement(personal_id, actor)).scalar_one_or_none() is not None
        if changed:
            conn.execute(platform_entry("platform_admin.added", actor=actor, personal_id=personal_id))
            relay = emit_sync(conn, RolesChanged(tenant=None, site="console"))
    relay_sync(engine, relay)
    return changed


def remove_platform_admin(engine: Engine, personal_id: str, *, actor: Actor) -> bool:
    """Take the console away from someone: their console sessions lose it on their next
    request. Returns False when they were not an administrator; refuses (RoleChangeRefusedError)
    to remove the last one, or oneself."""
    personal_id = _cli_personal_id(personal_id)
    relay: list[OutboxRow] = []
    with engine.begin() as conn:
        refusal = _removal_refusal(personal_id, conn.execute(_ADMINS_LOCKED).scalars().all(), actor)
        if refusal == LAST_PLATFORM_ADMIN:
            raise RoleChangeRefusedError(
                f"{personal_id} is the last platform administrator: add another one before removing them"
            )
        if refusal:
            raise RoleChangeRefusedError(refusal)
        changed = conn.execute(_remove_admin_statement(personal_id)).scalar_one_or_none() is not None
        if changed:
            conn.execute(platform_entry("platform_admin.removed", actor=actor, personal_id=personal_id))
            relay = emit_sync(conn, RolesChanged(tenant=None, site="console"))
    relay_sync(engine, relay)
    return changed


async def _console_roles_changed(session: AsyncSession, sessions: SessionStore) -> None:
    after_commit(session, partial(sessions.bump_roles_version, "console"))
    await emit(session, RolesChanged(tenant=None, site="console"))


async def add_platform_admin_from_console(
    session: AsyncSession, personal_id: str | None, *, actor: Actor, sessions: SessionStore
) -> bool:
    """``add_platform_admin`` on a platform session (the console). False when already one."""
    pid = valid_personal_id(personal_id)
    changed = (await session.execute(_add_admin_statement(pid, actor))).scalar_one_or_none() is not None
    if changed:
        await session.execute(platform_entry("platform_admin.added", actor=actor, personal_id=pid))
        await _console_roles_changed(session, sessions)
    return changed


async def check_platform_admin_removal(session: AsyncSession, personal_id: str, *, actor: Actor) -> None:
    """Raise RoleChangeRefusedError when removing ``personal_id`` is against the rules."""
    refusal = _removal_refusal(personal_id, (await session.scalars(_ADMINS_LOCKED)).all(), actor)
    if refusal:
        raise RoleChangeRefusedError(refusal)


async def remove_platform_admin_from_console(
    session: AsyncSession, personal_id: str | None, *, actor: Actor, sessions: SessionStore
) -> bool:
    """``remove_platform_admin`` on a platform session (the console): the removed person's
    console sessions lose the console on their next request."""
    pid = valid_personal_id(personal_id)
    await check_platform_admin_removal(session, pid, actor=actor)
    changed = (await session.execute(_remove_admin_statement(pid))).scalar_one_or_none() is not None
    if changed:
        await session.execute(platform_entry("platform_admin.removed", actor=actor, personal_id=pid))
        await _console_roles_changed(session, sessions)
    return changed


@dataclass(frozen=True)
class PlatformAdminView:
    personal_id: str
    masked_id: str
    name: str | None
    added_by: ActorWords
    added_at: str
    last_login_at: str | None


async def list_platform_admins(session: AsyncSession) -> list[PlatformAdminView]:
    admins = (await session.scalars(select(PlatformAdmin).order_by(PlatformAdmin.added_at))).all()
    names = {a.personal_id: a.name for a in admins if a.name}
    return [
        PlatformAdminView(
            personal_id=a.personal_id,
            masked_id=mask_personal_id(a.personal_id),
            name=a.name,
            added_by=actor_words(a.added_by, names),
            added_at=vietnam_time(a.added_at),
            last_login_at=vietnam_time(a.last_login_at) if a.last_login_at else None,
        )
        for a in admins
    ]


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
    with engine.begin() as conn:
        set_identity_setting_on(
            conn,
            settings,
            tenant,
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            personal_id_claim=personal_id_claim,
            display_name=display_name,
            actor=actor,
        )


def set_identity_setting_on(
    conn: Connection,
    settings: Settings,
    tenant: Tenant,
    *,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    scopes: str,
    personal_id_claim: str,
    display_name: str,
    actor: Actor,
) -> None:
    """The write itself, on the caller's transaction (async callers reach it with ``run_sync``).
    ``client_secret`` None keeps the sealed secret already stored: a form never shows it back,
    so an edit that leaves it blank must not erase it."""
    if not issuer.startswith(("https://", "http://")):
        raise IdentityInputError("issuer must be an http(s) URL")
    if settings.is_production and not issuer.startswith("https://"):
        raise IdentityInputError("issuer must use https in production")
    if not client_id or client_secret == "":
        raise IdentityInputError("client id and client secret are required")
    if "openid" not in scopes.split():
        raise IdentityInputError("scopes must include openid")
    values: dict[str, Any] = {
        "issuer": issuer.rstrip("/"),
        "client_id": client_id,
        "scopes": scopes,
        "personal_id_claim": personal_id_claim,
        "display_name": display_name,
    }
    if client_secret is not None:
        values["client_secret_sealed"] = SecretBox(settings.secret_key).seal(client_secret)
        stmt = pg_insert(IdentitySetting).values(tenant_id=tenant.id, **values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[IdentitySetting.tenant_id], set_={**values, "updated_at": text("now()")}
            )
        )
    else:
        kept = conn.execute(
            update(IdentitySetting)
            .where(IdentitySetting.tenant_id == tenant.id)
            .values(**values, updated_at=text("now()"))
            .returning(IdentitySetting.tenant_id)
        ).scalar_one_or_none()
        if kept is None:
            raise IdentityInputError("client secret is required")
    conn.execute(
        platform_entry(
            "identity.configured",
            actor=actor,
            tenant=tenant.slug,
            issuer=values["issuer"],
            client_id=client_id,
            secret_changed=client_secret is not None,
        )
    )
