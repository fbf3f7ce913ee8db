"""Tenant lifecycle: onboard, suspend, resume, list.

These are operator actions run by the CLI and by jobs, so they use the blocking engine.
Every change appends a ``platform.audit_log`` row in the same transaction, and in-process
caches are told after commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, select, update

from motcua.core.actions import emit_sync
from motcua.core.audit import Actor, platform_entry
from motcua.core.events import RolesChanged
from motcua.core.outbox import relay_sync
from motcua.core.tenant import Tenant
from motcua.tenancy import events
from motcua.tenancy.models import Domain, TenantRecord, TenantStatus

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "www",
        "api",
        "static",
        "assets",
        "mail",
        "smtp",
        "ftp",
        "ns",
        "ns1",
        "ns2",
        "auth",
        "login",
        "sso",
        "id",
        "eid",
        "status",
        "health",
        "platform",
        "public",
        "console",
        "dev",
        "test",
        "staging",
        "root",
        "support",
        "help",
        "docs",
        # The console's own pages under /tenants/ (/tenants/new).
        "new",
        # Its schema, t_template, is the migrated template new tenant schemas are cloned from.
        "template",
    }
)
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

ONBOARDING_STEPS = ("record", "schema", "migrate", "seed", "domains", "activate")


class TenancyError(Exception):
    """A tenant operation was refused; the message says why, for the person who asked."""


class OnboardingError(TenancyError):
    pass


def schema_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def validate_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise TenancyError(
            f"invalid tenant slug {slug!r}: use 2–31 characters, lower-case letters, digits and '-', "
            "starting with a letter"
        )
    if slug in RESERVED_SLUGS:
        raise TenancyError(f"tenant slug {slug!r} is reserved for the platform; choose another")
    return slug


def validate_host(host: str, *, slug: str, platform_domain: str) -> str:
    host = host.strip().lower().rstrip(".")
    if not _HOST.match(host):
        raise TenancyError(f"invalid domain {host!r}: expected a host name like dichvucong.hanoi.gov.vn")
    suffix = "." + platform_domain
    if host == platform_domain or (host.endswith(suffix) and host != f"{slug}{suffix}"):
        raise TenancyError(
            f"domain {host!r} is under the platform domain; only {slug}{suffix} may point at this tenant"
        )
    return host


# Core table: rows read on a plain Connection have attributes named like the columns.
TENANTS = cast(Table, TenantRecord.__table__)


def to_tenant(row: Any) -> Tenant:
    return Tenant.from_row(row)


def platform_audit(conn: Connection, action: str, slug: str, *, actor: Actor, **detail: Any) -> None:
    conn.execute(platform_entry(action, actor=actor, tenant=slug, **detail))


# Status changes ------------------------------------------------------------------------------
REASON_MAX = 500


def _set_status(
    engine: Engine,
    slug: str,
    *,
    allowed_from: set[str],
    to: str,
    actor: Actor,
    reason: str | None = None,
) -> Tenant:
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise TenancyError(f"the reason is longer than {REASON_MAX} characters")
    with engine.begin() as conn:
        row = conn.execute(select(TENANTS).where(TENANTS.c.slug == slug).with_for_update()).one_or_none()
        if row is None:
            raise TenancyError(f"no tenant with slug {slug!r}")
        if row.status == to:
            return to_tenant(row)
        if row.status not in allowed_from:
            raise TenancyError(f"tenant {slug!r} is {row.status} and cannot become {to}")
        values: dict[str, Any] = {"status": to, "status_reason": reason}
        if to == TenantStatus.ARCHIVED:
            values["archived_at"] = func.now()
        elif row.status == TenantStatus.ARCHIVED:
            values["archived_at"] = None
        conn.execute(update(TenantRecord).where(TenantRecord.id == row.id).values(**values))
        platform_audit(conn, f"tenant.{to}", slug, actor=actor, previous_status=row.status, reason=reason)
        row = conn.execute(select(TENANTS).where(TENANTS.c.id == row.id)).one()
        result = to_tenant(row)
        # A suspended portal grants nothing: its sessions read their roles again (and find
        # none) on their next request; a resumed one gets them back the same way.
        relay = emit_sync(conn, RolesChanged(tenant=slug, site=slug))
    relay_sync(engine, relay)
    events.tenants_changed()
    return result


def suspend_tenant(engine: Engine, slug: str, *, actor: Actor, reason: str | None = None) -> Tenant:
    """Close the portal (503 with ``reason`` on its notice page); nothing is deleted."""
    return _set_status(
        engine,
        slug,
        allowed_from={TenantStatus.ACTIVE},
        to=TenantStatus.SUSPENDED,
        actor=actor,
        reason=reason,
    )


def resume_tenant(engine: Engine, slug: str, *, actor: Actor) -> Tenant:
    return _set_status(
        engine, slug, allowed_from={TenantStatus.SUSPENDED}, to=TenantStatus.ACTIVE, actor=actor
    )


def archive_tenant(engine: Engine, slug: str, *, actor: Actor, reason: str | None = None) -> Tenant:
    """Make the portal read-only for good (a notice says why): no new dossiers, staff can still
    read and export. The first step towards deleting a tenant."""
    return _set_status(
        engine,
        slug,
        allowed_from={TenantStatus.ACTIVE, TenantStatus.SUSPENDED},
        to=TenantStatus.ARCHIVED,
        actor=actor,
        reason=reason,
    )


@dataclass(frozen=True)
class TenantListing:
    slug: str
    name: str
    kind: str
    status: str
    schema: str
    domains: tuple[str, ...]
    onboarding_step: str | None
    failure_reason: str | None
    created_at: str


def list_tenants(engine: Engine, platform_domain: str) -> list[TenantListing]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                TENANTS,
                func.array_remove(func.array_agg(Domain.host), None).label("hosts"),
            )
            .outerjoin(Domain, Domain.tenant_id == TenantRecord.id)
            .group_by(TenantRecord.id)
            .order_by(TenantRecord.slug)
        ).all()
    return [
        TenantListing(
            slug=t.slug,
            name=t.name,
            kind=t.kind,
            status=t.status,
            schema=t.schema_name,
            domains=(f"{t.slug}.{platform_domain}", *sorted(t.hosts or [])),
            onboarding_step=t.onboarding_step,
            failure_reason=t.failure_reason,
            created_at=t.created_at.isoformat(),
        )
        for t in rows
    ]


def get_tenant(engine: Engine, slug: str) -> Tenant | None:
    with engine.connect() as conn:
        row = conn.execute(select(TENANTS).where(TENANTS.c.slug == slug)).one_or_none()
    return None if row is None else to_tenant(row)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:500]


__all__ = [
    "ONBOARDING_STEPS",
    "OnboardingError",
    "TenancyError",
    "archive_tenant",
    "list_tenants",
    "resume_tenant",
    "schema_for",
    "suspend_tenant",
]
