"""Units of a tenant and their staff.

A province's dossiers are received by its public administration service centre and by every
commune's one-stop desk, and decided by a department or by the commune itself; a ministry has
its one-stop desk and its departments. Units form a tree (``parent_id``) managed by the tenant
administrator; each has its own agency code, which dossier codes carry.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase
from motcua.identity.models import N_


class Tier(enum.StrEnum):
    """Which level of the two-tier local government (or the ministry) a unit belongs to."""

    PROVINCE = "province"
    COMMUNE = "commune"
    MINISTRY = "ministry"

    @property
    def label(self) -> str:
        return _TIER_LABELS[self]


_TIER_LABELS = {
    Tier.PROVINCE: N_("Cấp tỉnh"),
    Tier.COMMUNE: N_("Cấp xã"),
    Tier.MINISTRY: N_("Cấp bộ"),
}


class UnitKind(enum.StrEnum):
    SERVICE_CENTRE = "service_centre"  # Trung tâm Phục vụ hành chính công / Bộ phận Một cửa
    DEPARTMENT = "department"  # Sở, ban, ngành; a ministry's Cục, Vụ
    COMMUNE = "commune"  # Xã
    WARD = "ward"  # Phường
    SPECIAL_ZONE = "special_zone"  # Đặc khu

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def receives(self) -> bool:
        """Whether a unit of this kind has a one-stop desk that receives dossiers."""
        return self is not UnitKind.DEPARTMENT

    @property
    def commune_level(self) -> bool:
        return self in (UnitKind.COMMUNE, UnitKind.WARD, UnitKind.SPECIAL_ZONE)


_KIND_LABELS = {
    UnitKind.SERVICE_CENTRE: N_("Trung tâm phục vụ hành chính công"),
    UnitKind.DEPARTMENT: N_("Sở, ban, ngành"),
    UnitKind.COMMUNE: N_("Xã"),
    UnitKind.WARD: N_("Phường"),
    UnitKind.SPECIAL_ZONE: N_("Đặc khu"),
}


class UnitRole(enum.StrEnum):
    """What a member of staff does in a unit (a person may hold several, in several units)."""

    RECEPTION = "reception"
    SPECIALIST = "specialist"
    LEADER = "leader"
    UNIT_ADMIN = "unit_admin"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    UnitRole.RECEPTION: N_("Cán bộ tiếp nhận"),
    UnitRole.SPECIALIST: N_("Chuyên viên xử lý"),
    UnitRole.LEADER: N_("Lãnh đạo"),
    UnitRole.UNIT_ADMIN: N_("Quản trị đơn vị"),
}


class Unit(TenantBase):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    # Unique in the tenant: dossier codes start with it ({agency code}-{yyMMdd}-{NNNN}).
    agency_code: Mapped[str] = mapped_column(String(13), unique=True)
    # The national code of the commune or ward (vietnam-provinces), when the unit is one.
    division_code: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UnitStaff(TenantBase):
    """A role held by a person (by personal ID, possibly before they ever log in) in a unit."""

    __tablename__ = "unit_staff"
    __table_args__ = (UniqueConstraint("unit_id", "personal_id", "role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    personal_id: Mapped[str] = mapped_column(String(12), index=True)
    # The name the administrator gave; pages prefer the e-ID's name once the person logged in.
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcedureRoute(TenantBase):
    """Which tier receives a procedure and which unit decides it (organisation.routing).

    ``deciding_unit_id`` NULL: for a commune-level procedure the commune that received the
    dossier decides; for a province or ministry procedure, the service centre."""

    __tablename__ = "procedure_routes"

    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[str] = mapped_column(String(10))
    deciding_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
