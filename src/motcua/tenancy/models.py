from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import PlatformBase


class TenantKind(enum.StrEnum):
    PROVINCE = "province"
    MINISTRY = "ministry"


class TenantStatus(enum.StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    FAILED = "failed"
    ARCHIVED = "archived"


class TenantRecord(PlatformBase):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slug: Mapped[str] = mapped_column(String(31), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=TenantStatus.PROVISIONING)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    theme: Mapped[str] = mapped_column(String(63), default="default")
    branding: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    onboarding_step: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # Why the portal is suspended or archived, shown on its notice page.
    status_reason: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The validated onboarding request, kept so a failed onboarding can be retried as it was.
    onboarding_spec: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The tenant schema's Alembic revision after its last migration run.
    schema_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Domain(PlatformBase):
    __tablename__ = "domains"

    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("platform.tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TenantFigures(PlatformBase):
    """Live figures of one tenant for the console home, refreshed by a periodic job."""

    __tablename__ = "tenant_figures"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("platform.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    dossiers_month: Mapped[int] = mapped_column(default=0)
    overdue_now: Mapped[int] = mapped_column(default=0)
    failed_jobs_24h: Mapped[int] = mapped_column(default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
