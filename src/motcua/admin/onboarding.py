"""Onboarding requested from the console: the form's values are checked, kept on a tenant row in
``provisioning`` and handed to a Dramatiq job (through the outbox, in the same transaction), which
runs the very same ``onboard_tenant`` as the CLI. The console follows the row's step; a failure
leaves the row ``failed`` with its step and reason, and a retry runs the job again with the same
request (a shared catalogue file fixed in between is read again)."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dramatiq
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.admin.localities import locality
from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.actions import enqueue
from motcua.core.audit import Actor, ActorKind, platform_entry
from motcua.core.db import sync_engine
from motcua.core.events import Subscriber
from motcua.core.settings import Settings, load_settings
from motcua.organisation.services import AGENCY_CODE
from motcua.tenancy.models import TenantRecord, TenantStatus
from motcua.tenancy.schemas import TenantCreate
from motcua.tenancy.services import (
    COLOUR,
    ONBOARDING_STEPS,
    TenancyError,
    schema_for,
    validate_host,
    validate_slug,
)

log = logging.getLogger(__name__)

RUN_ONBOARDING = Subscriber("run_onboarding", "provisioning")

PERSONAL_ID = re.compile(r"^\d{12}$")
NAME_MAX = 200
DOMAINS_MAX = 20

# The words people see for each step of ``ONBOARDING_STEPS``.
STEP_LABELS = {
    "record": "Ghi nhận yêu cầu",
    "schema": "Tạo vùng dữ liệu riêng",
    "migrate": "Dựng cấu trúc dữ liệu",
    "seed": "Nạp danh mục thủ tục và quản trị viên",
    "domains": "Đăng ký tên miền",
    "activate": "Mở cổng",
}


@dataclass(frozen=True, slots=True)
class OnboardingRequest:
    """What the console form asks for, as kept on the tenant row until onboarding is done."""

    slug: str
    name: str
    locality: str  # Locality.key: "province:01", "ministry:botuphap"
    agency_code: str
    domains: tuple[str, ...]
    primary: str
    accent: str
    catalogue: str  # the stem of a file in the shared catalogue folder, or "" for none
    first_admin: str  # a personal ID, or ""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["domains"] = list(self.domains)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnboardingRequest:
        return cls(**{**data, "domains": tuple(data.get("domains") or ())})

    @property
    def kind(self) -> str:
        unit = locality(self.locality)
        assert unit is not None  # checked when the form was read
        return unit.kind


class OnboardingFormError(Exception):
    """Each field the person must fix, with the message to show beside it (Vietnamese)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# Shared catalogue files --------------------------------------------------------------------------
def catalogue_files(settings: Settings) -> list[str]:
    folder = settings.catalogues_dir
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def catalogue_path(settings: Settings, stem: str) -> Path:
    if stem not in catalogue_files(settings):
        raise TenancyError(f"the shared catalogue {stem!r} does not exist (any more)")
    return settings.catalogues_dir / f"{stem}.toml"


def load_catalogue(settings: Settings, stem: str) -> list[dict[str, Any]]:
    """The procedures of a shared catalogue file. Those that name no agency code use the
    tenant's (``settings["agency_code"]``), which its administrator can change later."""
    path = catalogue_path(settings, stem)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TenancyError(f"{path.name}: not valid TOML ({exc})") from None
    procedures = data.get("procedures", [])
    if not isinstance(procedures, list) or not all(isinstance(p, dict) for p in procedures):
        raise TenancyError(f"{path.name}: procedures must be a list of [[procedures]] tables")
    return [dict(p) for p in procedures]


# The form ----------------------------------------------------------------------------------------
def read_onboarding_form(form: Mapping[str, str], settings: Settings) -> OnboardingRequest:
    """Check every field and report all mistakes at once."""
    errors: dict[str, str] = {}
    slug = form.get("slug", "").strip().lower()
    try:
        validate_slug(slug)
    except TenancyError:
        errors["slug"] = (
            "Mã địa phương gồm 2–31 ký tự: chữ thường không dấu, chữ số và dấu gạch ngang, "
            "bắt đầu bằng một chữ cái, và không trùng tên dành riêng của nền tảng."
        )
    name = " ".join(form.get("name", "").split())
    if not name:
        errors["name"] = "Nhập tên cổng dịch vụ công."
    elif len(name) > NAME_MAX:
        errors["name"] = "Tên cổng dài tối đa 200 ký tự."
    unit_key = form.get("locality", "")
    if locality(unit_key) is None:
        errors["locality"] = "Chọn tỉnh, thành phố hoặc bộ, ngành trong danh sách."
    agency_code = form.get("agency_code", "").strip().upper()
    if not AGENCY_CODE.match(agency_code):
        errors["agency_code"] = (
            "Mã cơ quan phải có dạng 000.00.00.A00 (ba nhóm chữ số, rồi một chữ cái in hoa "
            "và hai chữ số), ví dụ 000.00.01.H26."
        )
    domains: list[str] = []
    raw_domains = [d for d in form.get("domains", "").replace(",", "\n").split() if d]
    if len(raw_domains) > DOMAINS_MAX:
        errors["domains"] = "Nhập tối đa 20 tên miền."
    for raw in raw_domains:
        try:
            domains.append(validate_host(raw, slug=slug, platform_domain=settings.platform_domain))
        except TenancyError:
            errors["domains"] = (
                "Có tên miền không hợp lệ: dùng tên miền riêng của địa phương, ví dụ "
                "dichvucong.hanoi.gov.vn (không thuộc tên miền của nền tảng), mỗi dòng một tên miền."
            )
            break
    colours = {}
    for key, message in (
        ("primary", "Màu chủ đạo phải có dạng #rrggbb, ví dụ #0b5394."),
        ("accent", "Màu nhấn phải có dạng #rrggbb, ví dụ #f1c232."),
    ):
        value = form.get(key, "").strip()
        if not COLOUR.match(value):
            errors[key] = message
        colours[key] = value.lower()
    catalogue = form.get("catalogue", "")
    if catalogue and catalogue not in catalogue_files(settings):
        errors["catalogue"] = "Chọn một danh mục dùng chung trong danh sách."
    first_admin = form.get("first_admin", "").replace(" ", "")
    if first_admin and not PERSONAL_ID.match(first_admin):
        errors["first_admin"] = "Số định danh cá nhân gồm đúng 12 chữ số."
    if errors:
        raise OnboardingFormError(errors)
    return OnboardingRequest(
        slug=slug,
        name=name,
        locality=unit_key,
        agency_code=agency_code,
        domains=tuple(dict.fromkeys(domains)),
        primary=colours["primary"],
        accent=colours["accent"],
        catalogue=catalogue,
        first_admin=first_admin,
    )


def spec_of(request: OnboardingRequest) -> TenantCreate:
    unit = locality(request.locality)
    if unit is None:
        raise TenancyError(f"unknown locality {request.locality!r}")
    return build_spec(
        slug=request.slug,
        name=request.name,
        kind=unit.kind,
        domains=request.domains,
        branding={"primary": request.primary, "accent": request.accent},
        roles=[(request.first_admin, "tenant_admin")] if request.first_admin else [],
        settings={
            "locality": {"code": unit.code, "name": unit.name},
            "agency_code": request.agency_code,
        },
        where="onboarding",
    )


# Starting and retrying ---------------------------------------------------------------------------
async def request_onboarding(session: AsyncSession, request: OnboardingRequest, *, actor: Actor) -> None:
    """Keep the request on a new tenant row and queue the job, in the caller's transaction."""
    spec = spec_of(request)  # the same checks the CLI's onboarding makes, before anything is kept
    taken = await session.scalar(select(TenantRecord.status).where(TenantRecord.slug == request.slug))
    if taken is not None:
        raise OnboardingFormError({"slug": "Mã địa phương này đã được dùng; chọn mã khác."})
    await session.execute(
        insert(TenantRecord).values(
            slug=spec.slug,
            name=spec.name,
            kind=spec.kind,
            status=TenantStatus.PROVISIONING,
            schema_name=schema_for(spec.slug),
            theme=spec.theme,
            branding=spec.branding,
            settings=spec.settings,
            onboarding_step="record",
            onboarding_spec=request.as_json(),
        )
    )
    await session.execute(
        platform_entry(
            "tenant.onboarding_started", actor=actor, tenant=spec.slug, name=spec.name, kind=spec.kind
        )
    )
    await _queue(session, spec.slug, actor)


async def retry_onboarding(session: AsyncSession, slug: str, *, actor: Actor) -> None:
    """Run a failed onboarding again with the request it was made with."""
    row = (
        await session.execute(
            select(TenantRecord.status, TenantRecord.onboarding_spec)
            .where(TenantRecord.slug == slug)
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    if row.status != TenantStatus.FAILED:
        raise TenancyError("only a failed onboarding can be retried")
    if not row.onboarding_spec:
        raise TenancyError("this tenant was onboarded from the command line: retry it there")
    await session.execute(
        update(TenantRecord)
        .where(TenantRecord.slug == slug)
        .values(status=TenantStatus.PROVISIONING, onboarding_step="record", failure_reason=None)
    )
    await session.execute(platform_entry("tenant.onboarding_retried", actor=actor, tenant=slug))
    await _queue(session, slug, actor)


async def _queue(session: AsyncSession, slug: str, actor: Actor) -> None:
    await enqueue(
        session, RUN_ONBOARDING, tenant=None, slug=slug, actor_kind=str(actor.kind), actor_id=actor.id
    )


# The job -----------------------------------------------------------------------------------------
_engine: Engine | None = None


def _worker_engine(settings: Settings) -> Engine:
    global _engine
    if _engine is None:
        _engine = sync_engine(settings.database_url or "", pool_size=2)
    return _engine


@dramatiq.actor(
    actor_name=RUN_ONBOARDING.actor_name,
    queue_name=RUN_ONBOARDING.queue_name,
    # A failure is recorded on the tenant (step and reason) for a person to fix and retry; an
    # automatic retry would only repeat it.
    max_retries=0,
)
def run_onboarding(slug: str, actor_kind: str, actor_id: str) -> None:
    settings = load_settings()
    engine = _worker_engine(settings)
    actor = Actor(kind=ActorKind(actor_kind), id=actor_id)
    with engine.connect() as conn:
        row = conn.execute(
            select(TenantRecord.status, TenantRecord.onboarding_spec).where(TenantRecord.slug == slug)
        ).one_or_none()
    if row is None or row.status != TenantStatus.PROVISIONING or not row.onboarding_spec:
        log.info("onboarding of %s: nothing to do (%s)", slug, None if row is None else row.status)
        return  # a redelivered message after the work was done, or a deleted request
    request = OnboardingRequest.from_json(row.onboarding_spec)
    try:
        onboard_tenant(
            engine,
            settings,
            spec_of(request),
            actor=actor,
            catalogue=((lambda: load_catalogue(settings, request.catalogue)) if request.catalogue else None),
        )
    except TenancyError as exc:
        # onboard_tenant has marked the tenant failed with its step and reason.
        log.warning("onboarding of %s failed: %s", slug, exc)
        _mark_failed_if_still_provisioning(engine, slug, str(exc), actor=actor)


def _mark_failed_if_still_provisioning(engine: Engine, slug: str, reason: str, *, actor: Actor) -> None:
    """A refusal raised before onboarding's own steps (a domain now owned by another tenant)
    leaves the row provisioning: it must show as failed too, or the console would wait forever."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(TenantRecord)
            .where(TenantRecord.slug == slug, TenantRecord.status == TenantStatus.PROVISIONING)
            .values(status=TenantStatus.FAILED, failure_reason=f"record: {reason}"[:500])
            .returning(TenantRecord.id)
        ).first()
        if changed is not None:
            conn.execute(platform_entry("tenant.onboarding_failed", actor=actor, tenant=slug, reason=reason))


def step_states(status: str, current: str | None, failure_reason: str | None) -> list[tuple[str, str]]:
    """Each step with its state for the progress list: done, running, failed or waiting."""
    failed_step = (failure_reason or "").split(":", 1)[0] if status == TenantStatus.FAILED else None
    position = ONBOARDING_STEPS.index(current) if current in ONBOARDING_STEPS else None
    states = []
    for i, step in enumerate(ONBOARDING_STEPS):
        if status == TenantStatus.ACTIVE or status not in (TenantStatus.PROVISIONING, TenantStatus.FAILED):
            state = "done"
        elif step == failed_step:
            state = "failed"
        elif position is None:
            state = "waiting"
        elif i < position:
            state = "done"
        elif i == position:
            state = (
                "failed"
                if status == TenantStatus.FAILED and failed_step is None
                else ("running" if status == TenantStatus.PROVISIONING else "waiting")
            )
        else:
            state = "waiting"
        states.append((step, state))
    return states
