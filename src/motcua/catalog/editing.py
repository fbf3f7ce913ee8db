"""Catalogue changes by a tenant administrator: add, edit, publish, unpublish, a new form
version, document templates, imports.

Each action validates, writes and appends its tenant audit row in the caller's transaction, and
registers ``tenancy.events.catalog_changed`` to run after the commit, so every process drops its
cached copy of the tenant's catalogue (the public pages show the change at once).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from motcua.catalog.models import Procedure, ProcedureForm, ProcedureTemplate
from motcua.catalog.schemas import Issue, ProcedureSpec
from motcua.catalog.services import upsert_procedures
from motcua.core.actions import after_commit
from motcua.core.audit import Actor, tenant_entry
from motcua.core.tenant import Tenant
from motcua.tenancy.events import catalog_changed

TEMPLATE_MAX_BYTES = 5 * 1024 * 1024
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# What an administrator sees when comparing (import preview, audit detail).
KEY_LABELS = {
    "name": "Tên thủ tục",
    "field": "Lĩnh vực",
    "agency": "Cơ quan thực hiện",
    "agency_code": "Mã cơ quan",
    "level": "Mức độ",
    "processing_days": "Thời hạn giải quyết",
    "processing_unit": "Đơn vị thời hạn",
    "fee_vnd": "Số tiền nộp trực tuyến",
    "description": "Mô tả",
    "fields": "Biểu mẫu",
    "channels": "Cách thức thực hiện",
    "fees": "Phí, lệ phí",
    "documents": "Thành phần hồ sơ",
    "results": "Kết quả",
    "legal_basis": "Căn cứ pháp lý",
}


class CatalogError(ValueError):
    """A change refused; ``issues`` say why, per field, in Vietnamese."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))


def spec_of(procedure: Procedure) -> ProcedureSpec:
    """The procedure as the catalogue files describe it (its current form included)."""
    return ProcedureSpec(
        code=procedure.code,
        name=procedure.name,
        field=procedure.field,
        agency=procedure.agency,
        agency_code=procedure.agency_code,
        level=procedure.level,
        processing_days=procedure.processing_days,
        processing_unit=procedure.processing_unit,
        fee_vnd=procedure.fee_vnd,
        description=procedure.description,
        form_fields=list(procedure.form_fields),
        channels=list(procedure.channels),
        fees=list(procedure.fees),
        documents=list(procedure.documents),
        results=list(procedure.results),
        legal_basis=list(procedure.legal_basis),
    )


def changed_keys(before: ProcedureSpec, after: ProcedureSpec) -> list[str]:
    old, new = before.as_raw(), after.as_raw()
    return [key for key in KEY_LABELS if old.get(key) != new.get(key)]


async def _locked(session: AsyncSession, code: str) -> Procedure | None:
    # Form versions are numbered max+1: two saves of one procedure at once must queue.
    return await session.scalar(
        select(Procedure)
        .where(Procedure.code == code)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _write(session: AsyncSession, specs: Sequence[ProcedureSpec]) -> None:
    def run(sync: Session) -> None:
        upsert_procedures(sync.connection(), specs, publish_new=False)

    await session.run_sync(run)
    await session.flush()


def _announce(session: AsyncSession, tenant: Tenant) -> None:
    after_commit(session, lambda: catalog_changed(tenant.slug))


async def add_procedure(session: AsyncSession, tenant: Tenant, spec: ProcedureSpec, *, actor: Actor) -> None:
    """A new procedure, unpublished, with its form as version 1."""
    if await _locked(session, spec.code) is not None:
        raise CatalogError([Issue("code", "Đã có thủ tục mang mã này.")])
    await _write(session, [spec])
    await session.execute(tenant_entry("catalog.procedure_added", actor=actor, code=spec.code))
    _announce(session, tenant)


async def edit_procedure(
    session: AsyncSession, tenant: Tenant, code: str, spec: ProcedureSpec, *, actor: Actor
) -> list[str]:
    """Change a procedure's description (code, form and publication state stay). Returns the
    keys that changed (nothing is written when none did)."""
    procedure = await _locked(session, code)
    if procedure is None:
        raise CatalogError([Issue("code", "Không có thủ tục mang mã này.")])
    before = spec_of(procedure)
    after = ProcedureSpec.parse({**spec.as_raw(), "code": code, "fields": before.form_fields}, code)
    keys = changed_keys(before, after)
    if keys:
        await _write(session, [after])
        await session.execute(tenant_entry("catalog.procedure_edited", actor=actor, code=code, changed=keys))
        _announce(session, tenant)
    return keys


async def set_published(
    session: AsyncSession, tenant: Tenant, code: str, published: bool, *, actor: Actor
) -> bool:
    """Publish or unpublish; False when it already was in that state (nothing written)."""
    procedure = await _locked(session, code)
    if procedure is None:
        raise CatalogError([Issue("code", "Không có thủ tục mang mã này.")])
    if procedure.published == published:
        return False
    await session.execute(update(Procedure).where(Procedure.id == procedure.id).values(published=published))
    action = "catalog.procedure_published" if published else "catalog.procedure_unpublished"
    await session.execute(tenant_entry(action, actor=actor, code=code))
    _announce(session, tenant)
    return True


async def save_form(
    session: AsyncSession, tenant: Tenant, code: str, fields: list[dict[str, Any]], *, actor: Actor
) -> int | None:
    """Publish ``fields`` as the procedure's next form version; None when it is the current one.
    Drafts already started keep the version they were started on."""
    procedure = await _locked(session, code)
    if procedure is None:
        raise CatalogError([Issue("code", "Không có thủ tục mang mã này.")])
    before = spec_of(procedure)
    after = ProcedureSpec.parse({**before.as_raw(), "fields": fields}, code)
    if after.form_fields == before.form_fields:
        return None
    await _write(session, [after])
    version = int(
        await session.scalar(
            select(ProcedureForm.version)
            .where(ProcedureForm.procedure_id == procedure.id)
            .order_by(ProcedureForm.version.desc())
            .limit(1)
        )
        or 1
    )
    await session.execute(tenant_entry("catalog.form_versioned", actor=actor, code=code, version=version))
    _announce(session, tenant)
    return version


async def form_versions(session: AsyncSession, procedure_id: int) -> list[ProcedureForm]:
    rows = await session.scalars(
        select(ProcedureForm)
        .where(ProcedureForm.procedure_id == procedure_id)
        .order_by(ProcedureForm.version.desc())
    )
    return list(rows.all())


# Imports -------------------------------------------------------------------------------------------
@dataclass
class ImportPlan:
    added: list[ProcedureSpec] = field(default_factory=list)
    changed: list[tuple[ProcedureSpec, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[ProcedureSpec]:
        return [*self.added, *(spec for spec, _ in self.changed)]


async def existing_specs(session: AsyncSession) -> dict[str, ProcedureSpec]:
    rows = await session.scalars(select(Procedure))
    return {p.code: spec_of(p) for p in rows.all()}


async def plan_import(session: AsyncSession, specs: Sequence[ProcedureSpec]) -> ImportPlan:
    existing = await existing_specs(session)
    plan = ImportPlan()
    for spec in specs:
        before = existing.get(spec.code)
        if before is None:
            plan.added.append(spec)
        elif keys := changed_keys(before, spec):
            plan.changed.append((spec, keys))
        else:
            plan.unchanged.append(spec.code)
    return plan


async def import_procedures(
    session: AsyncSession, tenant: Tenant, specs: Sequence[ProcedureSpec], *, source: str, actor: Actor
) -> ImportPlan:
    """Add and update procedures from a catalogue file or a CSV (all or nothing: the caller has
    validated every row). New procedures start unpublished; existing ones keep their state."""
    # Lock what will change, in code order (two imports at once cannot deadlock).
    await session.execute(
        select(Procedure.id)
        .where(Procedure.code.in_([s.code for s in specs]))
        .order_by(Procedure.code)
        .with_for_update()
    )
    plan = await plan_import(session, specs)
    if plan.writes:
        await _write(session, plan.writes)
        await session.execute(
            tenant_entry(
                "catalog.imported",
                actor=actor,
                source=source[:200],
                added=[s.code for s in plan.added],
                changed=[s.code for s, _ in plan.changed],
            )
        )
        _announce(session, tenant)
    return plan


# Document templates --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckedTemplate:
    content: bytes
    media_type: str
    display_name: str
    sha256: str


def _display_name(filename: str, extension: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", base).strip(" .") or "mau"
    return f"{stem[:100]}.{extension}"


def check_template(content: bytes, filename: str) -> CheckedTemplate:
    """A template is a PDF or a Word (DOCX) file, recognised by its content (the name and the
    browser's type are the client's choice), at most ``TEMPLATE_MAX_BYTES``."""
    if not content:
        raise CatalogError([Issue("file", "Chọn tệp mẫu để tải lên.")])
    if len(content) > TEMPLATE_MAX_BYTES:
        raise CatalogError([Issue("file", "Tệp mẫu không được lớn hơn 5 MB.")])
    if content.startswith(b"%PDF-") and b"%%EOF" in content[-1024:]:
        media_type, extension = PDF_TYPE, "pdf"
    elif content.startswith(b"PK\x03\x04") and _is_docx(content):
        media_type, extension = DOCX_TYPE, "docx"
    else:
        raise CatalogError([Issue("file", "Tệp mẫu phải là PDF hoặc Word (DOCX).")])
    return CheckedTemplate(
        content=content,
        media_type=media_type,
        display_name=_display_name(filename, extension),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _is_docx(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    # Macro-enabled documents (vbaProject.bin) are not templates citizens should open.
    return (
        "[Content_Types].xml" in names
        and "word/document.xml" in names
        and not any(n.lower().endswith("vbaproject.bin") for n in names)
    )


async def attach_template(
    session: AsyncSession,
    tenant: Tenant,
    code: str,
    document_code: str,
    checked: CheckedTemplate,
    *,
    actor: Actor,
) -> None:
    procedure = await _locked(session, code)
    if procedure is None or document_code not in {d.get("code") for d in procedure.documents}:
        raise CatalogError([Issue("file", "Không có giấy tờ này trong thủ tục.")])
    template_id = uuid.uuid4().hex
    session.add(
        ProcedureTemplate(
            id=template_id,
            procedure_id=procedure.id,
            document_code=document_code,
            display_name=checked.display_name,
            media_type=checked.media_type,
            size=len(checked.content),
            sha256=checked.sha256,
            content=checked.content,
        )
    )
    await _replace_template(
        session,
        procedure,
        document_code,
        {
            "id": template_id,
            "name": checked.display_name,
            "media_type": checked.media_type,
            "size": len(checked.content),
        },
    )
    await session.execute(
        tenant_entry(
            "catalog.template_attached",
            actor=actor,
            code=code,
            document=document_code,
            sha256=checked.sha256,
            size=len(checked.content),
        )
    )
    _announce(session, tenant)


async def remove_template(
    session: AsyncSession, tenant: Tenant, code: str, document_code: str, *, actor: Actor
) -> bool:
    procedure = await _locked(session, code)
    if procedure is None or document_code not in (procedure.templates or {}):
        return False
    await _replace_template(session, procedure, document_code, None)
    await session.execute(
        tenant_entry("catalog.template_removed", actor=actor, code=code, document=document_code)
    )
    _announce(session, tenant)
    return True


async def _replace_template(
    session: AsyncSession, procedure: Procedure, document_code: str, entry: dict[str, Any] | None
) -> None:
    templates = dict(procedure.templates or {})
    old = templates.pop(document_code, None)
    if entry is not None:
        templates[document_code] = entry
    await session.flush()
    if old is not None:
        await session.execute(delete(ProcedureTemplate).where(ProcedureTemplate.id == old["id"]))
    await session.execute(update(Procedure).where(Procedure.id == procedure.id).values(templates=templates))


async def template_file(
    session: AsyncSession, procedure: Procedure, document_code: str
) -> ProcedureTemplate | None:
    entry = (procedure.templates or {}).get(document_code)
    if not entry:
        return None
    return await session.scalar(
        select(ProcedureTemplate).where(
            ProcedureTemplate.id == entry["id"], ProcedureTemplate.procedure_id == procedure.id
        )
    )
