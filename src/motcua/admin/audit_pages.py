"""The platform audit viewer: every row of platform.audit_log in words, filtered by tenant,
actor, action and period, newest first, 50 a page, and the same rows as a CSV download."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Response, Stream
from sqlalchemy import ColumnElement, Row, Select, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from motcua.admin.audit_words import ACTION_WORDS, action_words, detail_lines
from motcua.core.audit import PlatformAudit
from motcua.core.db import Database
from motcua.core.pages import HttpRequest, language, page
from motcua.core.theming import translations
from motcua.identity.guards import requires_platform_admin
from motcua.identity.models import ACTOR_KIND_LABELS, N_
from motcua.identity.schemas import PERSONAL_ID
from motcua.identity.services import STAFF_KINDS, VIETNAM, actor_words, platform_admin_names, staff_ids

PAGE_SIZE = 50
CSV_BATCH = 500
_CURSOR = re.compile(r"^(\d{1,18})-(\d{1,18})$")
# The action filter's values: the codes with "-" for ".", so a page never carries a raw code.
ACTION_KEYS = {code.replace(".", "-"): code for code in ACTION_WORDS}
FILTER_FIELDS = ("tenant", "actor_kind", "personal_id", "action", "since", "until")

ERRORS = {
    "tenant": N_("Chọn một địa phương trong danh sách."),
    "actor_kind": N_("Chọn vai trò người thực hiện trong danh sách."),
    "personal_id": N_("Số định danh cá nhân phải gồm đúng 12 chữ số."),
    "action": N_("Chọn một thao tác trong danh sách."),
    "since": N_("Ngày bắt đầu phải là một ngày có thật, ví dụ 01/12/2026."),
    "until": N_("Ngày kết thúc phải là một ngày có thật, ví dụ 31/12/2026."),
    "order": N_("Ngày kết thúc phải bằng hoặc sau ngày bắt đầu."),
    "cursor": N_("Đường dẫn trang không hợp lệ. Hãy xem lại từ trang đầu."),
}


@dataclass(frozen=True)
class AuditFilter:
    tenant: str | None = None
    actor_kind: str | None = None
    personal_id: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        audit = PlatformAudit
        where: list[ColumnElement[bool]] = []
        if self.tenant:
            where.append(audit.tenant_slug == self.tenant)
        if self.action:
            where.append(audit.action == self.action)
        if self.actor_kind and self.personal_id:
            where.append(audit.actor == f"{self.actor_kind}:{self.personal_id}")
        elif self.actor_kind:
            where.append(
                or_(
                    audit.actor == self.actor_kind,
                    audit.actor.startswith(f"{self.actor_kind}:", autoescape=True),
                )
            )
        elif self.personal_id:
            where.append(audit.actor.in_([f"{kind}:{self.personal_id}" for kind in STAFF_KINDS]))
        # Days are Vietnam's days: 01/12 runs from 00:00 to 24:00 Vietnam time.
        if self.since:
            where.append(audit.at >= datetime.combine(self.since, time(), VIETNAM))
        if self.until:
            where.append(audit.at < datetime.combine(self.until + timedelta(days=1), time(), VIETNAM))
        return where


def _date(value: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        return day if 2000 <= day.year <= 2100 else None
    return None


def parse_filter(params: Mapping[str, str], tenants: Mapping[str, str]) -> tuple[AuditFilter, dict[str, str]]:
    """The filter the query asks for, and the errors by field id (empty when it is valid)."""
    values = {name: str(params.get(name) or "").strip()[:100] for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    if values["tenant"] and values["tenant"] not in tenants:
        errors["tenant"] = ERRORS["tenant"]
    if values["actor_kind"] and values["actor_kind"] not in ACTOR_KIND_LABELS:
        errors["actor_kind"] = ERRORS["actor_kind"]
    personal_id = values["personal_id"].replace(" ", "")
    if personal_id and not PERSONAL_ID.match(personal_id):
        errors["personal_id"] = ERRORS["personal_id"]
    if values["action"] and values["action"] not in ACTION_KEYS:
        errors["action"] = ERRORS["action"]
    since = _date(values["since"]) if values["since"] else None
    until = _date(values["until"]) if values["until"] else None
    if values["since"] and since is None:
        errors["since"] = ERRORS["since"]
    if values["until"] and until is None:
        errors["until"] = ERRORS["until"]
    if since and until and until < since:
        errors["until"] = ERRORS["order"]
    if errors:
        return AuditFilter(), errors
    return (
        AuditFilter(
            tenant=values["tenant"] or None,
            actor_kind=values["actor_kind"] or None,
            personal_id=personal_id or None,
            action=ACTION_KEYS.get(values["action"]),
            since=since,
            until=until,
        ),
        {},
    )


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """``<microseconds since 1970>-<id>`` of the last row of the previous page; raises ValueError."""
    if not value:
        return None
    match = _CURSOR.match(value)
    if match is None:
        raise ValueError("not a cursor")
    micros, row_id = int(match[1]), int(match[2])
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros), row_id


def cursor_of(at: datetime, row_id: int) -> str:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}-{row_id}"


def _query(audit_filter: AuditFilter, after: tuple[datetime, int] | None, limit: int) -> Select[Any]:
    statement = select(PlatformAudit).where(*audit_filter.conditions())
    if after is not None:
        # Keyset: the rows older than the last one shown (same index as the order, no OFFSET).
        statement = statement.where(tuple_(PlatformAudit.at, PlatformAudit.id) < tuple_(*after))
    return statement.order_by(PlatformAudit.at.desc(), PlatformAudit.id.desc()).limit(limit)


async def _tenants(conn: AsyncConnection) -> dict[str, str]:
    rows = await conn.execute(text("SELECT slug, name FROM platform.tenants ORDER BY name, slug"))
    return {str(slug): str(name) for slug, name in rows}


@dataclass(frozen=True)
class AuditRowView:
    at: str
    who: str
    what: str
    tenant_slug: str | None
    tenant_name: str | None
    reason: str | None
    address: str | None
    lines: list[Any] = field(default_factory=list)


async def row_views(
    conn: AsyncConnection, rows: Sequence[Row[Any]], tenants: Mapping[str, str], lang: str
) -> list[AuditRowView]:
    gettext = translations(lang).gettext
    names = await platform_admin_names(conn, staff_ids(r.actor for r in rows))
    views = []
    for row in rows:
        detail = row.detail if isinstance(row.detail, dict) else {}
        reason, address = detail.get("reason"), detail.get("address")
        views.append(
            AuditRowView(
                at=row.at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S"),
                who=actor_words(row.actor, names).text(gettext),
                what=gettext(action_words(row.action)),
                tenant_slug=row.tenant_slug if row.tenant_slug in tenants else None,
                tenant_name=tenants.get(row.tenant_slug or "")
                or (gettext(N_("Địa phương không còn trên nền tảng")) if row.tenant_slug else None),
                reason=str(reason)[:500] if reason else None,
                address=str(address)[:100] if address else None,
                lines=detail_lines(detail, gettext),
            )
        )
    return views


def _page_link(params: Mapping[str, str], **changes: str) -> str:
    query = {k: str(params.get(k) or "") for k in FILTER_FIELDS}
    query.update(changes)
    return urlencode({k: v for k, v in query.items() if v})


def _form_context(tenants: Mapping[str, str], params: Mapping[str, str], lang: str) -> dict[str, Any]:
    gettext = translations(lang).gettext
    actions = sorted(
        ((key, gettext(ACTION_WORDS[code])) for key, code in ACTION_KEYS.items()), key=lambda a: a[1]
    )
    return {
        "tenant_options": list(tenants.items()),
        "kind_options": list(ACTOR_KIND_LABELS.items()),
        "action_options": actions,
        "form": {k: str(params.get(k) or "")[:100] for k in FILTER_FIELDS},
    }


@get("/audit", name="console_audit", guards=[requires_platform_admin], include_in_schema=False)
async def audit_page(request: HttpRequest, db: NamedDependency[Database]) -> Response[str]:
    params = {k: str(v) for k, v in request.query_params.items()}
    lang = language(request)
    async with db.engine.connect() as conn:
        tenants = await _tenants(conn)
        audit_filter, errors = parse_filter(params, tenants)
        after = None
        if not errors:
            try:
                after = parse_cursor(params.get("cursor"))
            except ValueError:
                errors = {"audit-filter": ERRORS["cursor"]}
        context = _form_context(tenants, params, lang)
        if errors:
            return page(request, "admin/audit.html", status_code=400, errors=errors, rows=[], **context)
        rows = list((await conn.execute(_query(audit_filter, after, PAGE_SIZE + 1))).all())
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        views = await row_views(conn, rows, tenants, lang)
    return page(
        request,
        "admin/audit.html",
        errors={},
        rows=views,
        next_query=_page_link(params, cursor=cursor_of(rows[-1].at, rows[-1].id)) if more else None,
        first_query=_page_link(params) if after is not None else None,
        csv_query=_page_link(params),
        **context,
    )


CSV_HEADER = (
    N_("Thời điểm (giờ Việt Nam)"),
    N_("Người thực hiện"),
    N_("Thao tác"),
    N_("Địa phương"),
    N_("Lý do"),
    N_("Địa chỉ truy cập"),
    N_("Chi tiết"),
)


@get("/audit.csv", name="console_audit_csv", guards=[requires_platform_admin], include_in_schema=False)
async def audit_csv(request: HttpRequest, db: NamedDependency[Database]) -> Response[Any]:
    params = {k: str(v) for k, v in request.query_params.items()}
    lang = language(request)
    async with db.engine.connect() as conn:
        tenants = await _tenants(conn)
    audit_filter, errors = parse_filter(params, tenants)
    if errors:
        return page(
            request,
            "admin/audit.html",
            status_code=400,
            errors=errors,
            rows=[],
            **_form_context(tenants, params, lang),
        )
    gettext = translations(lang).gettext

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # The byte-order mark makes spreadsheet programs read the file as UTF-8 (Vietnamese).
        buffer.write("\ufeff")
        writer.writerow([gettext(h) for h in CSV_HEADER])
        after: tuple[datetime, int] | None = None
        while True:
            # One short transaction per batch: a long download holds no snapshot open.
            async with db.engine.connect() as conn:
                rows = list((await conn.execute(_query(audit_filter, after, CSV_BATCH))).all())
                views = await row_views(conn, rows, tenants, lang)
            for view in views:
                writer.writerow(
                    [
                        view.at,
                        view.who,
                        view.what,
                        view.tenant_name or "",
                        view.reason or "",
                        view.address or "",
                        "; ".join(f"{line.label}: {line.value}" for line in view.lines),
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < CSV_BATCH:
                return
            after = (rows[-1].at, rows[-1].id)

    return Stream(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="nhat-ky-thao-tac.csv"'},
    )


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [audit_page, audit_csv]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
