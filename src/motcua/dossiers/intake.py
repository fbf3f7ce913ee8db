"""A dossier received by another channel than the citizen's own online form: at the one-stop
desk, by post, or from another system (the national public-service portal) through the API.

One function for all of them, so every channel gets the same code, due date, history and slip as
an online dossier: ``receive_dossier`` checks the applicant and the answers against the
procedure's current form version, files the documents (each may be marked digitised), and
records who entered it and from where. Idempotent for systems: the same (source system, external
id) is the same dossier, also under concurrent posts (a unique index decides)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.audit import Actor, ActorKind
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, DurationUnit, due_date, reception_deadline
from motcua.dossiers.forms import FormResult, validate
from motcua.dossiers.models import Channel, Dossier, DossierFile, DossierHistory, DossierStatus
from motcua.dossiers.services import (
    calendar_for,
    fallback_agency_code,
    form_definition,
    next_code,
    tell_applicant,
)
from motcua.dossiers.storage import StoredObject
from motcua.dossiers.uploads import ValidatedUpload
from motcua.identity.models import Citizen

# Citizens entered by an officer or a system are keyed by their personal ID under this issuer;
# the person's own e-ID login later takes the row over.
from motcua.identity.services import INTAKE_ISSUER
from motcua.organisation.routing import RouteInputError, dossier_agency_code, route_dossier

PERSONAL_ID = re.compile(r"^\d{12}$")
NAME_MAX = 200
ADDRESS_MAX = 500
_PHONE = re.compile(r"^(\+84|0)\d{9,10}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s]{2,}$")

_RECEIVED_BY = {
    Channel.IN_PERSON: "Tiếp nhận trực tiếp tại Bộ phận Một cửa",
    Channel.POSTAL: "Tiếp nhận qua dịch vụ bưu chính công ích",
    Channel.NATIONAL_PORTAL: "Tiếp nhận từ Cổng Dịch vụ công quốc gia",
    Channel.ONLINE: "Nộp hồ sơ trực tuyến",
}


@dataclass(frozen=True, slots=True)
class Applicant:
    personal_id: str
    full_name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None


def contact_phone(applicant: Applicant) -> str | None:
    """The applicant's phone as kept (spaces, dots, dashes and brackets left out), or None."""
    return re.sub(r"[\s.\-()]", "", applicant.phone or "") or None


def contact_address(applicant: Applicant) -> str | None:
    return (applicant.address or "").strip() or None


@dataclass(frozen=True, slots=True)
class IntakeDocument:
    document_code: str
    upload: ValidatedUpload
    stored: StoredObject
    digitised: bool = False


@dataclass
class IntakeErrors:
    """Every field the sender must fix, keyed by field name (``applicant.personal_id``,
    ``data.<field>``, ``documents.<code>``), with the Vietnamese message."""

    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class Received:
    dossier: Dossier
    created: bool


def personal_id_problem(personal_id: str) -> str | None:
    """Why a personal ID (CCCD, 12 digits) is not acceptable, or None. Its structure: a 3-digit
    province code (001–096), a century-and-sex digit, the 2-digit birth year, 6 digits."""
    if not PERSONAL_ID.match(personal_id):
        return "Số định danh cá nhân gồm đúng 12 chữ số."
    if not 1 <= int(personal_id[:3]) <= 96:
        return "Ba chữ số đầu của số định danh cá nhân là mã tỉnh nơi đăng ký khai sinh (001–096)."
    return None


def check_applicant(applicant: Applicant) -> dict[str, str]:
    errors: dict[str, str] = {}
    problem = personal_id_problem(applicant.personal_id)
    if problem:
        errors["applicant.personal_id"] = problem
    name = applicant.full_name.strip()
    if not name:
        errors["applicant.full_name"] = "Nhập họ và tên người nộp hồ sơ."
    elif len(name) > NAME_MAX:
        errors["applicant.full_name"] = "Họ và tên dài tối đa 200 ký tự."
    phone = contact_phone(applicant)
    if phone and (len(phone) > 20 or not _PHONE.match(phone)):
        errors["applicant.phone"] = "Số điện thoại không đúng, ví dụ: 0912345678."
    email = (applicant.email or "").strip()
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        errors["applicant.email"] = "Thư điện tử không đúng định dạng, ví dụ: ten@example.vn."
    if len(contact_address(applicant) or "") > ADDRESS_MAX:
        errors["applicant.address"] = "Địa chỉ dài tối đa 500 ký tự."
    return errors


async def intake_problems(
    session: AsyncSession,
    *,
    procedure: Procedure,
    applicant: Applicant,
    data: Mapping[str, str],
    document_codes: Collection[str],
    today: date,
) -> tuple[IntakeErrors, FormResult]:
    """Everything wrong with an intake, nothing written: the applicant, the answers against the
    procedure's current form version, the documents against those the procedure asks for. Also
    the checked answers, which are what the dossier keeps."""
    problems = IntakeErrors(check_applicant(applicant))
    definition = await form_definition(session, procedure.id, procedure.form_version)
    checked: FormResult = validate(definition, data, today=today)
    problems.errors.update({f"data.{k}": v for k, v in checked.errors.items()})
    known = {str(f["name"]) for f in definition}
    for name in data:
        if name not in known:
            problems.errors[f"data.{name[:60]}"] = "Biểu mẫu của thủ tục không có trường này."
    given = set(document_codes)
    codes = {str(doc["code"]) for doc in procedure.documents}
    for required in procedure.documents:
        if required.get("required") and required["code"] not in given:
            problems.errors[f"documents.{required['code']}"] = (
                f"Thiếu giấy tờ bắt buộc: {required['name'][0].lower()}{required['name'][1:]}."
            )
    for code in given - codes:
        problems.errors[f"documents.{code[:60]}"] = "Thủ tục không yêu cầu giấy tờ này."
    return problems, checked


async def intake_citizen(session: AsyncSession, applicant: Applicant) -> Citizen:
    """The citizen row of the applicant: their own (e-ID) row when they have logged in here,
    else one kept under the intake issuer."""
    own = await session.scalar(
        select(Citizen)
        .where(Citizen.personal_id == applicant.personal_id)
        .order_by(Citizen.issuer == INTAKE_ISSUER, Citizen.last_login_at.desc())
        .limit(1)
    )
    if own is not None:
        return own
    await session.execute(
        pg_insert(Citizen)
        .values(
            issuer=INTAKE_ISSUER,
            subject=applicant.personal_id,
            personal_id=applicant.personal_id,
            full_name=applicant.full_name.strip(),
            phone=contact_phone(applicant),
            email=(applicant.email or "").strip() or None,
            address=contact_address(applicant),
        )
        .on_conflict_do_nothing()
    )
    citizen = await session.scalar(
        select(Citizen).where(Citizen.issuer == INTAKE_ISSUER, Citizen.subject == applicant.personal_id)
    )
    assert citizen is not None
    return citizen


async def receive_dossier(
    session: AsyncSession,
    tenant: Tenant,
    *,
    procedure: Procedure,
    applicant: Applicant,
    data: dict[str, str],
    documents: Sequence[IntakeDocument],
    channel: Channel,
    actor: Actor,
    submitted_by_citizen: bool = False,
    source_system: str | None = None,
    external_id: str | None = None,
    intake_client_id: int | None = None,
    now: datetime | None = None,
    desk_unit_id: int | None = None,
) -> Received | IntakeErrors:
    """Create the dossier, or return every error at once (nothing written). With an
    ``external_id`` the same (source system, id) returns the dossier already received;
    ``desk_unit_id``: the unit an officer receiving at several desks chose."""
    if external_id is not None:
        existing = await _by_external_id(session, source_system, external_id)
        if existing is not None:
            return Received(existing, created=False)
    received = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    problems, checked = await intake_problems(
        session,
        procedure=procedure,
        applicant=applicant,
        data=data,
        document_codes={d.document_code for d in documents},
        today=received.date(),
    )
    if not problems.ok:
        return problems

    # Received where the officer receives (their reception unit, or the one they chose), else
    # at the service centre; a system's commune-level dossier goes to the commune the
    # applicant's address names. Routed before anything is written: a refused desk writes nothing.
    try:
        routing = await route_dossier(
            session,
            procedure,
            officer_id=actor.id if actor.kind == ActorKind.OFFICER else None,
            desk_unit_id=desk_unit_id,
            applicant_address=applicant.address,
        )
    except RouteInputError as exc:
        return IntakeErrors(dict(exc.errors))
    citizen = await intake_citizen(session, applicant)
    calendar = calendar_for(tenant)
    agency = dossier_agency_code(routing, procedure.agency_code, fallback_agency_code(tenant))
    dossier = Dossier(
        code=await next_code(session, agency, received.date()),
        procedure_id=procedure.id,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        form_version=procedure.form_version,
        citizen_id=citizen.id,
        applicant_name=applicant.full_name.strip(),
        applicant_personal_id=applicant.personal_id,
        # What the slip shows: the contact given now, else what the person's record holds.
        applicant_phone=contact_phone(applicant) or citizen.phone,
        applicant_address=contact_address(applicant) or citizen.address,
        status=DossierStatus.SUBMITTED,
        channel=channel,
        data=checked.values,
        fee_vnd=procedure.fee_vnd,
        agency_code=agency,
        received_at=received,
        due_at=due_date(
            calendar, received, procedure.processing_days, DurationUnit(procedure.processing_unit)
        ),
        reception_due_at=reception_deadline(calendar, received),
        idempotency_key=uuid.uuid4().hex,
        submitted_by_citizen=submitted_by_citizen,
        source_system=source_system,
        external_id=external_id,
        intake_client_id=intake_client_id,
        receiving_unit_id=routing.receiving.id if routing.receiving is not None else None,
        deciding_unit_id=routing.deciding_unit_id,
    )
    try:
        # A savepoint: a concurrent post of the same external id loses here, and the answer
        # is the dossier the other one created.
        async with session.begin_nested():
            session.add(dossier)
            await session.flush()
    except IntegrityError:
        if external_id is None:
            raise
        existing = await _by_external_id(session, source_system, external_id)
        if existing is None:
            raise
        return Received(existing, created=False)
    for doc in documents:
        session.add(
            DossierFile(
                id=uuid.uuid4().hex,
                citizen_id=citizen.id,
                dossier_id=dossier.id,
                document_code=doc.document_code,
                storage_key=doc.stored.key,
                display_name=doc.upload.display_name,
                media_type=doc.upload.detected.media_type,
                size=doc.upload.size,
                sha256=doc.upload.sha256,
                digitised=doc.digitised,
            )
        )
    await session.execute(
        insert(DossierHistory).values(
            dossier_id=dossier.id,
            actor=str(actor),
            from_status=None,
            to_status=DossierStatus.SUBMITTED,
            reason=_RECEIVED_BY[channel],
            ip=actor.address,
        )
    )
    await tell_applicant(session, tenant, dossier, "dossier_submitted", f"{dossier.id}:submitted")
    return Received(dossier, created=True)


async def _by_external_id(
    session: AsyncSession, source_system: str | None, external_id: str
) -> Dossier | None:
    return await session.scalar(
        select(Dossier).where(Dossier.source_system == source_system, Dossier.external_id == external_id)
    )
