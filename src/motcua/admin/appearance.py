"""A portal's look and working rules, changed after onboarding: theme colours (with a contrast
check), the logo, the agency code of dossier codes, and the working calendar's local days off
and make-up working days.

Each action locks the tenant's row, validates, writes ``platform.tenants`` (``branding`` or
``settings``) and the platform audit row in the caller's transaction, and drops the tenant caches
after the commit (``tenancy.events.tenants_changed``). They take a session whose search path is
the tenant's schema plus ``platform`` (``Database.tenant_session``), so the console and /manage
share them. A refusal raises ``AppearanceError`` before anything is written.
"""

from __future__ import annotations

import dataclasses
import io
import math
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import holidays
from litestar.datastructures import UploadFile
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.actions import after_commit
from motcua.core.audit import Actor, platform_entry
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.storage import Storage
from motcua.dossiers.uploads import JPEG, PNG, SVG, WEBP, DetectedType, sniff
from motcua.organisation.models import Unit
from motcua.organisation.services import AGENCY_CODE
from motcua.tenancy import events
from motcua.tenancy.models import TenantRecord, TenantStatus
from motcua.tenancy.services import COLOUR


def N_(message: str) -> str:  # noqa: N802 (the name Babel's extractor looks for)
    """Marks a Vietnamese message for extraction; pages translate it when they show it."""
    return message


@dataclass(frozen=True)
class FieldError:
    """One refused value: the form field it belongs to and a Vietnamese message (a msgid with
    ``%(name)s`` placeholders filled from ``params`` after translation)."""

    field: str
    message: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class AppearanceError(ValueError):
    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(e.message % e.params for e in errors))
        self.errors = errors


def _refuse(field_name: str, message: str, **params: Any) -> AppearanceError:
    return AppearanceError(FieldError(field_name, message, params))


# Editable tenants -------------------------------------------------------------------------------
# A suspended portal keeps its settings and may be prepared for its return; a failed, archived or
# half-made one has no settings worth editing (and maybe no schema).
EDITABLE = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)


async def load_tenant(session: AsyncSession, slug: str) -> Tenant | None:
    """The tenant as stored now (not as a cache remembers it), when its settings can be edited."""
    row = (
        await session.execute(
            select(TenantRecord).where(TenantRecord.slug == slug, TenantRecord.status.in_(EDITABLE))
        )
    ).scalar_one_or_none()
    return None if row is None else _as_tenant(row)


def _as_tenant(row: TenantRecord) -> Tenant:
    return Tenant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        kind=row.kind,
        status=row.status,
        schema=row.schema_name,
        theme=row.theme,
        branding=dict(row.branding or {}),
        settings=dict(row.settings or {}),
        status_reason=row.status_reason,
    )


async def _locked(session: AsyncSession, slug: str) -> TenantRecord:
    row = (
        await session.execute(
            select(TenantRecord)
            .where(TenantRecord.slug == slug, TenantRecord.status.in_(EDITABLE))
            .with_for_update()
            # Fresh values: whoever held the lock before may have just changed them.
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise LookupError(f"no editable tenant {slug!r}")
    return row


async def _write(
    session: AsyncSession,
    slug: str,
    *,
    action: str,
    actor: Actor,
    branding: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    **detail: Any,
) -> None:
    values: dict[str, Any] = {}
    if branding is not None:
        values["branding"] = branding
    if settings is not None:
        values["settings"] = settings
    await session.execute(update(TenantRecord).where(TenantRecord.slug == slug).values(**values))
    await session.execute(platform_entry(action, actor=actor, tenant=slug, **detail))
    after_commit(session, events.tenants_changed)


# Colours ----------------------------------------------------------------------------------------
# WCAG 2.1 success criterion 1.4.3 (contrast, level AA): normal text needs 4.5:1. The header
# writes white text on the primary colour, and links are the primary colour on white; contrast is
# symmetric, so one ratio answers both.
MIN_CONTRAST = 4.5
WHITE = "#ffffff"


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of a #rrggbb colour (sRGB, linearised)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def shown_ratio(ratio: float) -> float:
    """The ratio as a person is told it: cut (never rounded up) to two decimals, so 4.499 is not
    shown as the 4.5 it fails to reach."""
    return math.floor(ratio * 100) / 100


def check_colours(primary: str, accent: str) -> tuple[str, str]:
    """The two colours, lower-cased, or every reason they are refused."""
    primary, accent = primary.strip(), accent.strip()
    errors: list[FieldError] = []
    for name, value in (("primary", primary), ("accent", accent)):
        if not value:
            errors.append(FieldError(name, N_("Vui lòng nhập mã màu.")))
        elif len(value) > 7 or not COLOUR.fullmatch(value):
            errors.append(
                FieldError(name, N_("Mã màu phải có dạng # và 6 chữ số hệ mười sáu, ví dụ #0b5394."))
            )
    if not any(e.field == "primary" for e in errors):
        ratio = contrast_ratio(primary, WHITE)
        if ratio < MIN_CONTRAST:
            errors.append(
                FieldError(
                    "primary",
                    N_(
                        "Màu chính chỉ đạt độ tương phản %(ratio)s:1 với màu trắng (chữ trắng trên "
                        "đầu trang, chữ liên kết trên nền trắng); cần ít nhất %(needed)s:1. "
                        "Hãy chọn màu đậm hơn."
                    ),
                    {"ratio": shown_ratio(ratio), "needed": MIN_CONTRAST},
                )
            )
    if errors:
        raise AppearanceError(*errors)
    return primary.lower(), accent.lower()


async def set_theme_colours(
    session: AsyncSession, slug: str, *, primary: str, accent: str, actor: Actor
) -> None:
    primary, accent = check_colours(primary, accent)
    row = await _locked(session, slug)
    before = dict(row.branding or {})
    branding = {**before, "primary": primary, "accent": accent}
    await _write(
        session,
        slug,
        action="tenant.theme_changed",
        actor=actor,
        branding=branding,
        primary=primary,
        accent=accent,
        previous={"primary": before.get("primary"), "accent": before.get("accent")},
    )


# Logo -------------------------------------------------------------------------------------------
LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 1024
LOGO_TYPES: tuple[DetectedType, ...] = (PNG, JPEG, WEBP)
_PIL_FORMATS = {PNG: "PNG", JPEG: "JPEG", WEBP: "WEBP"}
LOGO_PATH = "/branding/logo/"
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"
# Markup has no business inside an image: a browser that ever sniffed one would run it. Tokens of
# five bytes or more, so compressed pixels practically never spell one by chance.
_MARKUP = (b"<script", b"<html", b"<iframe", b"<?php", b"<!doctype", b"javascript:")


def logo_url(sha256: str, extension: str) -> str:
    """Content-addressed: a new logo gets a new URL, so the old one may be cached for a year."""
    return f"{LOGO_PATH}{sha256}.{extension}"


@dataclass(frozen=True)
class CheckedLogo:
    data: bytes = dataclasses.field(repr=False)
    detected: DetectedType
    width: int
    height: int


async def read_logo(upload: object) -> bytes:
    """The bytes of the form's file field, reading no more than one byte past the limit."""
    if not isinstance(upload, UploadFile) or not (upload.filename or "").strip():
        raise _refuse("logo", N_("Vui lòng chọn tệp ảnh logo."))
    if len(upload.filename or "") > 255:
        raise _refuse("logo", N_("Tên tệp quá dài; vui lòng đổi tên tệp ngắn gọn hơn."))
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(64 * 1024):
        size += len(chunk)
        if size > LOGO_MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> AppearanceError:
    return _refuse("logo", N_("Tệp ảnh quá lớn: tối đa %(kb)s KB."), kb=LOGO_MAX_BYTES // 1024)


def check_logo(data: bytes) -> CheckedLogo:
    """A PNG, JPEG or WebP image by its content: magic bytes, nothing after the image's own end,
    no markup anywhere, and a full decode by Pillow of at most 1024×1024 pixels. SVG is refused:
    it is a document that can carry script, not a picture."""
    if not data:
        raise _refuse("logo", N_("Tệp rỗng: không có nội dung để tải lên."))
    if len(data) > LOGO_MAX_BYTES:
        raise _too_large()
    detected = sniff(data[:4096])
    if detected == SVG:
        raise _refuse(
            "logo", N_("Không nhận ảnh SVG vì ảnh SVG có thể chứa mã chạy; hãy dùng ảnh PNG, JPEG hoặc WebP.")
        )
    if detected not in LOGO_TYPES:
        raise _refuse(
            "logo", N_("Chỉ nhận ảnh PNG, JPEG hoặc WebP; nội dung tệp này không phải ảnh như vậy.")
        )
    assert detected is not None
    if not _ends_cleanly(data, detected) or any(m in data.lower() for m in _MARKUP):
        raise _refuse(
            "logo",
            N_("Tệp ảnh có nội dung lạ ngoài phần ảnh; hãy lưu lại ảnh bằng trình sửa ảnh rồi tải lên."),
        )
    try:
        with warnings.catch_warnings():
            # A decompression bomb warning is an error here: the size check below must not
            # come after the pixels have been allocated.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[detected]]) as image:
                width, height = image.size
                if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
                    raise _refuse(
                        "logo",
                        N_("Ảnh quá lớn: %(width)s×%(height)s điểm ảnh, tối đa %(max)s×%(max)s."),
                        width=width,
                        height=height,
                        max=LOGO_MAX_SIDE,
                    )
                image.load()  # the whole image decodes, not only its header
    except AppearanceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        raise _refuse("logo", N_("Không đọc được ảnh: tệp bị hỏng hoặc không hoàn chỉnh.")) from None
    return CheckedLogo(data=data, detected=detected, width=width, height=height)


def _ends_cleanly(data: bytes, detected: DetectedType) -> bool:
    if detected == PNG:
        return data.endswith(_PNG_END)
    if detected == JPEG:
        return data.endswith(_JPEG_END)
    # RIFF: the size field counts every byte after the first 8 (odd sizes get one pad byte).
    declared = int.from_bytes(data[4:8], "little") + 8
    return len(data) in (declared, declared + (declared % 2))


async def set_logo(
    session: AsyncSession, storage: Storage, tenant: Tenant, data: bytes, *, actor: Actor
) -> str:
    """Check and store a new logo; returns its URL. The replaced file is deleted after the
    commit, so a rolled-back change still has its logo."""
    logo = check_logo(data)
    row = await _locked(session, tenant.slug)
    stored = await storage.put(tenant.schema, logo.data, media_type=logo.detected.media_type)
    before = dict(row.branding or {})
    url = logo_url(stored.sha256, logo.detected.extension)
    branding = {
        **before,
        "logo_url": url,
        "logo_file": {
            "key": stored.key,
            "sha256": stored.sha256,
            "media_type": logo.detected.media_type,
            "extension": logo.detected.extension,
            "size": stored.size,
            "width": logo.width,
            "height": logo.height,
        },
    }
    try:
        await _write(
            session,
            tenant.slug,
            action="tenant.logo_changed",
            actor=actor,
            branding=branding,
            sha256=stored.sha256,
            media_type=logo.detected.media_type,
            size=stored.size,
        )
    except BaseException:
        await storage.delete(tenant.schema, stored.key)
        raise
    _delete_after_commit(session, storage, tenant, before)
    return url


async def remove_logo(session: AsyncSession, storage: Storage, tenant: Tenant, *, actor: Actor) -> bool:
    """Back to the theme's own logo (or none). False when there was no uploaded logo."""
    row = await _locked(session, tenant.slug)
    before = dict(row.branding or {})
    if "logo_file" not in before:
        return False
    branding = {k: v for k, v in before.items() if k not in ("logo_url", "logo_file")}
    await _write(
        session,
        tenant.slug,
        action="tenant.logo_removed",
        actor=actor,
        branding=branding,
        sha256=before["logo_file"].get("sha256"),
    )
    _delete_after_commit(session, storage, tenant, before)
    return True


def _delete_after_commit(
    session: AsyncSession, storage: Storage, tenant: Tenant, before: Mapping[str, Any]
) -> None:
    old = before.get("logo_file")
    if isinstance(old, dict) and isinstance(old.get("key"), str):
        key = old["key"]

        async def delete() -> None:
            await storage.delete(tenant.schema, key)

        after_commit(session, delete)


# Agency code ------------------------------------------------------------------------------------
# The agency's electronic identifier as dossier codes carry it ({agency}-{yyMMdd}-{NNNN}):
# QCVN 102:2016/BTTTT's four levels, e.g. 000.00.01.H26 (Hà Nội), 000.00.00.G12 (a ministry).


def check_agency_code(code: str) -> str:
    code = code.strip().upper()
    if not code:
        raise _refuse("agency_code", N_("Vui lòng nhập mã cơ quan."))
    if len(code) > 13 or not AGENCY_CODE.fullmatch(code):
        raise _refuse(
            "agency_code",
            N_(
                "Mã cơ quan phải có dạng 000.00.00.A00 (ba nhóm chữ số, rồi một chữ cái in hoa "
                "và hai chữ số), ví dụ 000.00.01.H26."
            ),
        )
    return code


async def set_agency_code(session: AsyncSession, slug: str, *, code: str, actor: Actor) -> None:
    """The tenant-wide agency code, which is its root unit's: new dossiers received there, of
    procedures that name no agency code of their own, are numbered with it
    (``dossiers.services.submit_dossier``)."""
    code = check_agency_code(code)
    row = await _locked(session, slug)
    settings = dict(row.settings or {})
    previous = settings.get("agency_code")
    settings["agency_code"] = code
    # The tenant's agency code is its root unit's (the service centre or the ministry's desk,
    # whose dossier codes carry it): one code, changed in one place.
    root = await session.scalar(select(Unit).where(Unit.parent_id.is_(None)).with_for_update())
    if root is not None and root.agency_code != code:
        taken = await session.scalar(select(Unit.name).where(Unit.agency_code == code, Unit.id != root.id))
        if taken is not None:
            raise _refuse("agency_code", N_("Mã cơ quan này đã là mã của “%(unit)s”."), unit=taken)
        root.agency_code = code
    await _write(
        session,
        slug,
        action="tenant.agency_code_changed",
        actor=actor,
        settings=settings,
        code=code,
        previous=previous,
    )


async def procedures_with_own_code(session: AsyncSession) -> int:
    """How many of the tenant's procedures carry their own agency code (which wins over the
    tenant-wide one)."""
    return int(
        await session.scalar(select(func.count()).select_from(Procedure).where(Procedure.agency_code != ""))
        or 0
    )


# Working calendar -------------------------------------------------------------------------------
DAY_OFF = "day_off"
MAKEUP_DAY = "makeup_day"
DAY_NAME_MAX = 100
MAX_CALENDAR_DAYS = 200


@dataclass(frozen=True)
class CalendarDay:
    day: date
    kind: str  # DAY_OFF or MAKEUP_DAY
    name: str


def calendar_days(tenant: Tenant) -> list[CalendarDay]:
    """The tenant's own days off and make-up working days, by date, with their names."""
    config = tenant.settings.get("working_calendar") or {}
    names = tenant.settings.get("calendar_day_names") or {}
    calendar = WorkCalendar.from_config(config)
    days = [CalendarDay(d, DAY_OFF, str(names.get(d.isoformat(), ""))) for d in calendar.extra_days_off]
    days += [
        CalendarDay(d, MAKEUP_DAY, str(names.get(d.isoformat(), ""))) for d in calendar.makeup_working_days
    ]
    return sorted(days, key=lambda d: d.day)


def national_days(year: int, lang: str = "vi") -> list[CalendarDay]:
    """The public holidays and government make-up Saturdays of ``year`` that the deadline engine
    already knows (``dossiers.deadlines``), named in the page's language."""
    table = holidays.country_holidays(
        "VN", years=(year - 1, year, year + 1), language="vi" if lang == "vi" else "en_US"
    )
    days = [CalendarDay(d, DAY_OFF, str(name)) for d, name in table.items() if d.year == year]
    label = "Ngày làm bù" if lang == "vi" else "Make-up working day"
    days += [CalendarDay(d, MAKEUP_DAY, label) for d in table.weekend_workdays if d.year == year]
    return sorted(days, key=lambda d: d.day)


def _clean_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C") or ch == " ")
    return " ".join(name.split())


def editable_years(today: date | None = None) -> tuple[int, int]:
    """The years the page lists and accepts: this one and the next (Vietnam time)."""
    year = (today or datetime.now(VIETNAM).date()).year
    return year, year + 1


def check_calendar_day(
    tenant: Tenant, *, day: str, kind: str, name: str, today: date | None = None
) -> CalendarDay:
    """One day to add, refused when it changes nothing (a day off that is already off, a make-up
    day that is already worked) or is already listed, so what the page lists always matters."""
    errors: list[FieldError] = []
    parsed: date | None = None
    first, last = editable_years(today)
    if not day.strip():
        errors.append(FieldError("day", N_("Vui lòng nhập ngày.")))
    else:
        try:
            parsed = date.fromisoformat(day.strip()[:10]) if len(day.strip()) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            errors.append(FieldError("day", N_("Ngày phải là một ngày có thật, ví dụ 2026-09-02.")))
        elif not first <= parsed.year <= last:
            errors.append(
                FieldError(
                    "day",
                    N_("Chỉ thêm được ngày trong năm %(first)s và %(last)s."),
                    {"first": first, "last": last},
                )
            )
    if kind not in (DAY_OFF, MAKEUP_DAY):
        errors.append(FieldError("kind", N_("Vui lòng chọn loại ngày.")))
    clean = _clean_name(name)
    if not clean:
        errors.append(FieldError("name", N_("Vui lòng nhập tên ngày (ví dụ: Nghỉ bù Quốc khánh).")))
    elif len(clean) > DAY_NAME_MAX:
        errors.append(FieldError("name", N_("Tên ngày dài tối đa %(max)s ký tự."), {"max": DAY_NAME_MAX}))
    if parsed is not None and not any(e.field == "day" for e in errors) and kind in (DAY_OFF, MAKEUP_DAY):
        listed = {d.day for d in calendar_days(tenant)}
        calendar = WorkCalendar.from_config(tenant.settings.get("working_calendar") or {})
        if parsed in listed:
            errors.append(
                FieldError("day", N_("Ngày này đã có trong lịch; hãy xoá ngày cũ trước nếu muốn đổi."))
            )
        elif kind == DAY_OFF and not calendar.is_working_day(parsed):
            errors.append(
                FieldError(
                    "day",
                    N_("Ngày này vốn đã là ngày nghỉ (cuối tuần hoặc ngày lễ quốc gia); không cần thêm."),
                )
            )
        elif kind == MAKEUP_DAY and calendar.is_working_day(parsed):
            errors.append(
                FieldError("day", N_("Ngày này vốn đã là ngày làm việc; ngày làm bù phải là ngày nghỉ."))
            )
    if errors:
        raise AppearanceError(*errors)
    assert parsed is not None
    return CalendarDay(parsed, kind, clean)


async def set_working_calendar(
    session: AsyncSession,
    slug: str,
    *,
    days_off: Mapping[date, str],
    makeup_days: Mapping[date, str],
    actor: Actor,
    change: Mapping[str, Any] | None = None,
) -> None:
    """Replace the tenant's own days off and make-up working days (each with its name); the
    working periods and the national-holiday switch stay as they are. The result is checked by
    ``WorkCalendar.from_config``, the same reader the deadlines use."""
    if len(days_off) + len(makeup_days) > MAX_CALENDAR_DAYS:
        raise _refuse("day", N_("Lịch có quá nhiều ngày; hãy xoá bớt những ngày đã qua."))
    for name in (*days_off.values(), *makeup_days.values()):
        if len(name) > DAY_NAME_MAX:
            raise _refuse("name", N_("Tên ngày dài tối đa %(max)s ký tự."), max=DAY_NAME_MAX)
    row = await _locked(session, slug)
    settings = dict(row.settings or {})
    config = {
        **dict(settings.get("working_calendar") or {}),
        "days_off": sorted(d.isoformat() for d in days_off),
        "makeup_days": sorted(d.isoformat() for d in makeup_days),
    }
    try:
        WorkCalendar.from_config(config)
    except ValueError:
        raise _refuse("day", N_("Một ngày không thể vừa là ngày nghỉ vừa là ngày làm bù.")) from None
    names = {d.isoformat(): n for d, n in {**days_off, **makeup_days}.items() if n}
    settings["working_calendar"] = config
    settings["calendar_day_names"] = dict(sorted(names.items()))
    await _write(
        session,
        slug,
        action="tenant.calendar_changed",
        actor=actor,
        settings=settings,
        **dict(change or {}),
    )


def _split(days: list[CalendarDay]) -> tuple[dict[date, str], dict[date, str]]:
    return (
        {d.day: d.name for d in days if d.kind == DAY_OFF},
        {d.day: d.name for d in days if d.kind == MAKEUP_DAY},
    )


async def add_calendar_day(
    session: AsyncSession,
    slug: str,
    *,
    day: str,
    kind: str,
    name: str,
    actor: Actor,
    today: date | None = None,
) -> CalendarDay:
    row = await _locked(session, slug)
    current = _as_tenant(row)
    added = check_calendar_day(current, day=day, kind=kind, name=name, today=today)
    days_off, makeup_days = _split([*calendar_days(current), added])
    await set_working_calendar(
        session,
        slug,
        days_off=days_off,
        makeup_days=makeup_days,
        actor=actor,
        change={"added": added.day.isoformat(), "kind": added.kind, "name": added.name},
    )
    return added


async def remove_calendar_day(
    session: AsyncSession, slug: str, *, day: date, actor: Actor
) -> CalendarDay | None:
    """Take one listed day off the calendar; None when it was not listed."""
    row = await _locked(session, slug)
    current = _as_tenant(row)
    listed = calendar_days(current)
    removed = next((d for d in listed if d.day == day), None)
    if removed is None:
        return None
    days_off, makeup_days = _split([d for d in listed if d.day != day])
    await set_working_calendar(
        session,
        slug,
        days_off=days_off,
        makeup_days=makeup_days,
        actor=actor,
        change={"removed": day.isoformat(), "kind": removed.kind, "name": removed.name},
    )
    return removed
