from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase


class ProcedureLevel(enum.StrEnum):
    """Decree 42/2022 levels of an online service."""

    INFORMATION = "information"
    PARTIAL = "partial"
    FULL = "full"

    @property
    def label(self) -> str:
        return {
            ProcedureLevel.INFORMATION: "Cung cấp thông tin",
            ProcedureLevel.PARTIAL: "Một phần",
            ProcedureLevel.FULL: "Toàn trình",
        }[self]


class Procedure(TenantBase):
    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    field: Mapped[str] = mapped_column(String(120))
    agency: Mapped[str] = mapped_column(String(200), default="")
    level: Mapped[str] = mapped_column(String(16), default=ProcedureLevel.PARTIAL)
    processing_days: Mapped[int] = mapped_column(Integer, default=0)
    fee_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    # Diacritic-free, lower-case copy of the name and field for search ("dang ky khai sinh").
    search_text: Mapped[str] = mapped_column(Text, default="")
    form_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    agency_code: Mapped[str] = mapped_column(String(40), default="")
    processing_unit: Mapped[str] = mapped_column(String(16), default="working_days")
    description: Mapped[str] = mapped_column(Text, default="")
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    fees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    results: Mapped[list[str]] = mapped_column(JSONB, default=list)
    legal_basis: Mapped[list[str]] = mapped_column(JSONB, default=list)
    form_version: Mapped[int] = mapped_column(Integer, default=1)
    # Only published procedures are on the public pages (search, procedure page, apply).
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # {document code: {"id", "name", "media_type", "size"}} of the downloadable templates.
    templates: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ProcedureForm(TenantBase):
    """One published version of a procedure's form; never edited once a dossier may use it."""

    __tablename__ = "procedure_forms"

    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcedureTemplate(TenantBase):
    """The file of a document template (tờ khai mẫu) citizens download from the procedure page."""

    __tablename__ = "procedure_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    document_code: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


CHANNEL_LABELS = {"online": "Trực tuyến", "in_person": "Trực tiếp", "postal": "Dịch vụ bưu chính"}
UNIT_LABELS = {"working_days": "ngày làm việc", "calendar_days": "ngày"}
DOCUMENT_KINDS = {"original": "Bản chính", "copy": "Bản sao"}
PUBLICATION_LABELS = {True: "Đã công bố", False: "Chưa công bố"}
