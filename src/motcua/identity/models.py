from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import PlatformBase, TenantBase


class Role(enum.StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    TENANT_ADMIN = "tenant_admin"
    PLATFORM_ADMIN = "platform_admin"

    @property
    def label(self) -> str:
        return {
            Role.CITIZEN: "Công dân",
            Role.OFFICER: "Cán bộ",
            Role.TENANT_ADMIN: "Quản trị địa phương",
            Role.PLATFORM_ADMIN: "Quản trị nền tảng",
        }[self]


GRANTABLE_ROLES = (Role.OFFICER, Role.TENANT_ADMIN)


def N_(message: str) -> str:  # noqa: N802 (the name Babel's extractor looks for)
    """Marks a Vietnamese text for the catalog; templates translate it when they show it."""
    return message


# Who acted, in words (audit rows name them as "kind:id", see motcua.core.audit.ActorKind).
ACTOR_KIND_LABELS = {
    "citizen": N_("Công dân"),
    "officer": N_("Cán bộ"),
    "tenant_admin": N_("Quản trị địa phương"),
    "platform_admin": N_("Quản trị nền tảng"),
    "system": N_("Hệ thống"),
    "operator": N_("Người vận hành"),
    "person": N_("Người đăng nhập"),
}
# The parts of the product that act on their own (Actor.system) and the operators' tools
# (Actor.operator); an unknown part is shown by its kind alone.
ACTOR_PART_LABELS = {
    "system:worker": N_("bộ xử lý công việc nền"),
    "system:onboarding": N_("tiếp nhận địa phương"),
    "system:online-payment": N_("thanh toán trực tuyến"),
    "system:provider": N_("nhà cung cấp thanh toán"),
    "operator:cli": N_("dòng lệnh"),
    "operator:seed": N_("dữ liệu mẫu"),
}


class Citizen(TenantBase):
    """Anyone who has logged in on this tenant, keyed by (issuer, sub); claims kept for prefill."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    personal_id: Mapped[str] = mapped_column(String(12), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    birthdate: Mapped[str | None] = mapped_column(String(10))
    gender: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    # The UI language (core.theming.LANGUAGES) chosen when they last logged in: e-mails and SMS
    # about their dossiers are written in it.
    preferred_language: Mapped[str] = mapped_column(String(5), default="vi", server_default="vi")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoleGrant(TenantBase):
    """A role given to a personal ID, possibly before that person ever logged in."""

    __tablename__ = "role_grants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlatformAdmin(PlatformBase):
    __tablename__ = "platform_admins"

    personal_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # From the e-ID claims at their last console login (None until they have logged in).
    name: Mapped[str | None] = mapped_column(String(200))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdentitySetting(PlatformBase):
    """A tenant's own e-ID provider; without one, the platform-wide issuer is used."""

    __tablename__ = "identity_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("platform.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_sealed: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(500))
    personal_id_claim: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
