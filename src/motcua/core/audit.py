"""The two append-only audit trails: the platform's (what operators did to tenants, failed jobs)
and each tenant's own (inside its schema). Every action writes its row in its own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import PlatformBase, TenantBase


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
