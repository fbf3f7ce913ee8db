"""The two append-only audit trails: the platform's (what operators did to tenants, failed jobs)
and each tenant's own (inside its schema). Every action writes its row in its own transaction."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Insert, String, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import PlatformBase, TenantBase


class ActorKind(enum.StrEnum):
    """In which capacity someone or something acted."""

    CITIZEN = "citizen"  # id: the citizen's row in the tenant
    OFFICER = "officer"  # id: the officer's personal ID
    TENANT_ADMIN = "tenant_admin"  # id: personal ID
    PLATFORM_ADMIN = "platform_admin"  # id: personal ID
    SYSTEM = "system"  # id: the part of the product (online-payment, provider, worker…)
    OPERATOR = "operator"  # id: the command line (cli) or the demo seeding (seed)
    PERSON = "person"  # id: a masked personal ID (someone who holds no role where they acted)


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who did something, in which role, from which address: the one value every action takes
    (keyword-only ``actor=``) and every history and audit row records (``str(actor)``, e.g.
    ``officer:001178006789``; the address goes to the row's own column where it has one)."""

    kind: ActorKind
    id: str = ""
    address: str | None = None

    def __post_init__(self) -> None:
        if len(self.id) > 150 or ":" in self.id:
            raise ValueError(f"not an actor id: {self.id!r}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else str(self.kind)

    @property
    def personal_id(self) -> str:
        """The personal ID of a member of staff (officers and administrators)."""
        if self.kind in (ActorKind.CITIZEN, ActorKind.SYSTEM, ActorKind.OPERATOR):
            raise ValueError(f"{self} is not a member of staff")
        return self.id

    @property
    def citizen_id(self) -> int:
        """The citizen's row id, for an action a citizen took."""
        if self.kind != ActorKind.CITIZEN:
            raise ValueError(f"{self} is not a citizen")
        return int(self.id)

    @classmethod
    def citizen(cls, citizen_id: int, *, address: str | None = None) -> Actor:
        return cls(kind=ActorKind.CITIZEN, id=str(citizen_id), address=address)

    @classmethod
    def officer(cls, personal_id: str, *, address: str | None = None) -> Actor:
        return cls(kind=ActorKind.OFFICER, id=personal_id, address=address)

    @classmethod
    def tenant_admin(cls, personal_id: str, *, address: str | None = None) -> Actor:
        return cls(kind=ActorKind.TENANT_ADMIN, id=personal_id, address=address)

    @classmethod
    def platform_admin(cls, personal_id: str, *, address: str | None = None) -> Actor:
        return cls(kind=ActorKind.PLATFORM_ADMIN, id=personal_id, address=address)

    @classmethod
    def system(cls, part: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, id=part)

    @classmethod
    def operator(cls, name: str = "cli") -> Actor:
        return cls(kind=ActorKind.OPERATOR, id=name)


class PlatformAudit(PlatformBase):
    """Append-only record of what operators did to tenants (onboard, suspend, resume…)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    tenant_slug: Mapped[str | None] = mapped_column(String(31), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class TenantAudit(TenantBase):
    """Append-only record of events inside one tenant (lives in the tenant's own schema)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


def platform_entry(
    action: str, *, actor: Actor, tenant: str | None = None, detail: dict[str, Any] | None = None, **more: Any
) -> Insert:
    """The one way a platform audit row is written (run it on the action's own transaction);
    ``detail`` for keys that are not identifiers, ``more`` for the rest."""
    row = {**(detail or {}), **more}
    if actor.address:
        # Console actions are audited with where they came from (the platform trail has no
        # address column of its own).
        row.setdefault("address", actor.address)
    return insert(PlatformAudit).values(actor=str(actor), action=action, tenant_slug=tenant, detail=row)


def tenant_entry(action: str, *, actor: Actor, **detail: Any) -> Insert:
    """The one way a tenant audit row is written, on a session scoped to that tenant."""
    return insert(TenantAudit).values(actor=str(actor), action=action, detail=detail)
