"""The ranking of every tenant by the Decision 766 index (console, platform administrators only):
the table for a period, sortable by any column, exported as CSV and XLSX; one tenant's
indicators and twelve-month trend; publishing a finished period's ranking (confirmed, audited);
and the published rankings as open data on the bare platform host."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Response
from sqlalchemy import select, text

from motcua.admin.audit_words import TENANT_KIND_WORDS as KIND_LABELS
from motcua.admin.console_pages import SERVED
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.digits import only_digits
from motcua.core.pages import FormData, HttpRequest, client_address, language, not_found_page, page
from motcua.core.tenant import Tenant
from motcua.core.theming import translations
from motcua.identity.guards import requires_platform_admin
from motcua.identity.models import N_
from motcua.identity.sessions import UserSession
from motcua.reporting.cache import FiguresCache
from motcua.reporting.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Column, to_csv, to_xlsx
from motcua.reporting.periods import VIETNAM, Period, PeriodError, last_months
from motcua.reporting.publishing import period_figures
from motcua.reporting.ranking import (
    DEFAULT_SORT,
    KEY_RATES,
    Ranking,
    RankingPublishError,
    RankingRow,
    monthly_series,
    publish_ranking,
    published_rankings,
    ranking,
    sort_keys,
    sort_rows,
)
from motcua.reporting.rates import RATES, decimal_vi
from motcua.tenancy.models import TenantRecord

Gettext = Callable[[str], str]

# The key rates' short names for table headings (the full name and formula are in rates.RATES).
RATE_LABELS = {
    "full_online_rate": N_("Thủ tục toàn trình"),
    "online_dossier_rate": N_("Hồ sơ trực tuyến"),
    "on_time_rate": N_("Giải quyết đúng hạn"),
    "online_payment_rate": N_("Thanh toán trực tuyến"),
    "digitisation_rate": N_("Số hóa hồ sơ"),
    "satisfied_rate": N_("Hài lòng"),
}
# Column headings of the ranking table, by sort key (each group's name comes from the index data).
SORT_LABELS = {
    "hang": N_("Hạng"),
    "ten": N_("Địa phương"),
    "loai": N_("Loại"),
    "diem": N_("Điểm chỉ số"),
    "ho-so": N_("Hồ sơ tiếp nhận"),
}
NO_DATA = N_("Chưa có số liệu")
PROVISIONAL = N_("Tạm tính")
PUBLISHED = N_("Đã công bố")
PERIOD_REQUIRED = N_("Chọn kỳ cần công bố.")
COUNT_LABELS = {
    "received": N_("Hồ sơ tiếp nhận"),
    "received_online": N_("Hồ sơ tiếp nhận trực tuyến"),
    "finished": N_("Hồ sơ đã giải quyết xong"),
    "finished_on_time": N_("Giải quyết đúng hạn"),
    "finished_late": N_("Giải quyết quá hạn"),
    "withdrawn": N_("Rút hồ sơ"),
    "refused": N_("Từ chối tiếp nhận"),
    "ratings": N_("Lượt đánh giá"),
    "feedback": N_("Phản ánh, kiến nghị"),
}
PERIOD_CHOICES = {"month": 24, "quarter": 8, "year": 3}
_READ: dict[str, Any] = {"guards": [requires_platform_admin], "include_in_schema": False}


def _gettext(request: HttpRequest) -> Gettext:
    return translations(language(request)).gettext


def _number(lang: str) -> Callable[[float | None], str]:
    def shown(value: float | None) -> str:
        if value is None:
            return "—"
        text = decimal_vi(value)
        return text.replace(",", ".") if lang == "en" else text

    return shown


def _percent(lang: str) -> Callable[[float | None], str]:
    number = _number(lang)
    return lambda ratio: "—" if ratio is None else number(ratio * 100) + "%"


def _period_label(period: Period, gettext: Gettext) -> str:
    if period.kind == "month":
        return gettext("Tháng %(month)s/%(year)s") % {"month": f"{period.number:02d}", "year": period.year}
    if period.kind == "quarter":
        return gettext("Quý %(quarter)s/%(year)s") % {"quarter": period.number, "year": period.year}
    return gettext("Năm %(year)s") % {"year": period.year}


def _choices(chosen: Period, now: datetime) -> list[tuple[str, list[Period]]]:
    """The periods the form offers, latest first, by kind (a period typed in the URL is added)."""
    month = Period.current_month(now)
    current = {
        "month": month,
        "quarter": Period(month.year, "quarter", (month.number - 1) // 3 + 1),
        "year": Period(month.year, "year", 0),
    }
    groups = []
    for kind, count in PERIOD_CHOICES.items():
        found = [current[kind]]
        while len(found) < count:
            found.append(found[-1].previous())
        if chosen.kind == kind and chosen not in found:
            found = sorted([*found, chosen], reverse=True)
        groups.append((kind, found))
    return groups


def _chosen_period(request: HttpRequest, now: datetime) -> Period:
    """``?ky=`` or, by default, the previous month (the last finished one); PeriodError if the
    text is not a period."""
    typed = str(request.query_params.get("ky") or "")
    return Period.parse(typed) if typed else Period.current_month(now).previous()


def _chosen_kind(request: HttpRequest) -> str:
    kind = str(request.query_params.get("loai") or "")
    return kind if kind in KIND_LABELS else ""


def _chosen_sort(request: HttpRequest, table: Ranking) -> tuple[str, bool]:
    """The sort column and whether it is descending; anything unknown is the default order."""
    keys = sort_keys(table.groups)
    key = str(request.query_params.get("sap-xep") or "")
    if key not in keys:
        return DEFAULT_SORT, False
    direction = str(request.query_params.get("thu-tu") or "")
    if direction not in ("tang", "giam"):
        direction = "giam" if keys[key] == "desc" else "tang"
    return key, direction == "giam"


def _query(period: Period, kind: str, key: str, descending: bool, **more: str) -> str:
    params = {"ky": period.key, "loai": kind, "sap-xep": key, "thu-tu": "giam" if descending else "tang"}
    return urlencode({k: v for k, v in {**params, **more}.items() if v})


async def _ranking(db: Database, request: HttpRequest, now: datetime) -> tuple[Ranking, str, str, bool]:
    period = _chosen_period(request, now)
    kind = _chosen_kind(request)
    async with db.platform_session(read_only=True) as session:
        marker = (
            *(await session.execute(_RANKING_MARKER, {"period": period.key})).one(),
            int(time.monotonic() // RANKING_TTL_SECONDS),
        )
        table = RANKINGS.get((period.key, kind), marker)
        if table is None:
            table = await ranking(session, period, kind=kind)
            RANKINGS.put((period.key, kind), marker, table)
    key, descending = _chosen_sort(request, table)
    kind_words = {k: _gettext(request)(v) for k, v in KIND_LABELS.items()}
    rows = sort_rows(table.rows, key, descending, kind_words=kind_words)
    return Ranking(table.period, table.groups, rows, table.published), kind, key, descending


# The ranking of a period is read far more often than the job rewrites it: kept per process while
# the figures of the period and the publications stand still, and for a few seconds at most (a
# tenant renamed or suspended shows within that time).
_RANKING_MARKER = text(
    """
    SELECT (SELECT max(computed_at) FROM platform.tenant_indicators WHERE period = :period),
           (SELECT max(published_at) FROM platform.published_rankings)
    """
)
RANKING_TTL_SECONDS = 10
RANKINGS = FiguresCache(size=256)


def _formatters(request: HttpRequest) -> dict[str, Any]:
    lang = language(request)
    return {"number": _number(lang), "percent": _percent(lang), "period_label": _period_label}


@get("/ranking", name="console_ranking", **_READ)
async def ranking_page(request: HttpRequest, db: NamedDependency[Database]) -> Response[str]:
    now = datetime.now(VIETNAM)
    try:
        table, kind, key, descending = await _ranking(db, request, now)
    except PeriodError as exc:
        fallback = Period.current_month(now).previous()
        return page(
            request,
            "admin/ranking.html",
            status_code=400,
            table=None,
            errors={"ky": str(exc)},
            period=fallback,
            choices=_choices(fallback, now),
            kind="",
            kind_labels=KIND_LABELS,
            done=False,
            **_formatters(request),
        )
    done = str(request.query_params.get("done") or "")
    keys = sort_keys(table.groups)
    # A hundred localities a page (the exports have them all): drawing a thousand rows for each
    # view would cost more than everything else on the page.
    pages = max(1, -(-len(table.rows) // PAGE_ROWS))
    number = _page_number(request, pages)
    shown = table.rows[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]

    def page_link(to: int) -> str:
        return "?" + _query(table.period, kind, key, descending, trang=str(to))

    def sort_link(column: str) -> str:
        # The current column flips; another starts in its natural direction.
        flipped = not descending if column == key else keys[column] == "desc"
        return "?" + _query(table.period, kind, column, flipped)

    return page(
        request,
        "admin/ranking.html",
        table=table,
        errors={},
        period=table.period,
        finished=table.period.is_finished(now),
        choices=_choices(table.period, now),
        kind=kind,
        kind_labels=KIND_LABELS,
        sort_key=key,
        descending=descending,
        sort_link=sort_link,
        sort_labels=SORT_LABELS,
        export_query=_query(table.period, kind, key, descending),
        done=done == "published",
        no_data=NO_DATA,
        shown=shown,
        page_number=number,
        pages=pages,
        page_link=page_link,
        **_formatters(request),
    )


PAGE_ROWS = 100


def _page_number(request: HttpRequest, pages: int) -> int:
    """The page asked for (``trang``), within 1..pages; anything else is the first page."""
    raw = str(request.query_params.get("trang") or "1")
    if not only_digits(raw) or len(raw) > 6:
        return 1
    return min(max(1, int(raw)), pages)


# Exports: the rows of the page, in its order ------------------------------------------------------
def _export_table(table: Ranking, gettext: Gettext) -> tuple[list[Column], list[dict[str, Any]]]:
    columns = [
        Column("place", gettext("Hạng"), "integer"),
        Column("name", gettext("Địa phương")),
        Column("kind", gettext("Loại")),
        Column("index_total", gettext("Điểm chỉ số (tối đa 100)"), "number"),
        *(
            Column(
                f"group:{g.key}",
                gettext("%(name)s (tối đa %(max)s)") % {"name": g.name, "max": g.max},
                "number",
            )
            for g in table.groups
        ),
        Column("received", gettext("Hồ sơ tiếp nhận"), "integer"),
        *(Column(f"rate:{k}", gettext(RATE_LABELS[k]), "percent") for k in KEY_RATES),
        Column("note", gettext("Ghi chú")),
    ]
    rows = []
    for r in table.rows:
        note = NO_DATA if not r.has_data else PROVISIONAL if r.provisional else PUBLISHED
        rows.append(
            {
                "place": r.place,
                "name": r.name,
                "kind": gettext(KIND_LABELS.get(r.kind, r.kind)),
                "index_total": r.index_total,
                **{f"group:{g.key}": r.groups.get(g.key) for g in table.groups},
                "received": r.received if r.has_data else None,
                **{f"rate:{k}": r.rates.get(k) for k in KEY_RATES},
                "note": gettext(note),
            }
        )
    return columns, rows


@get(["/ranking.csv", "/ranking.xlsx"], name="console_ranking_export", **_READ)
async def ranking_export(request: HttpRequest, db: NamedDependency[Database]) -> Response[Any]:
    now = datetime.now(VIETNAM)
    try:
        table, _kind, _key, _descending = await _ranking(db, request, now)
    except PeriodError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    columns, rows = _export_table(table, _gettext(request))
    name = f"xep-hang-{table.period.key}"
    if request.url.path.endswith(".csv"):
        body, media_type, filename = to_csv(columns, rows), CSV_MEDIA_TYPE, f"{name}.csv"
    else:
        body, media_type, filename = (
            to_xlsx(columns, rows, sheet=table.period.key),
            XLSX_MEDIA_TYPE,
            f"{name}.xlsx",
        )
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


# One tenant: its indicators for the period and its trend ----------------------------------------
@get("/ranking/tenants/{slug:str}", name="console_ranking_tenant", **_READ)
async def tenant_indicators(request: HttpRequest, db: NamedDependency[Database], slug: str) -> Response[str]:
    now = datetime.now(VIETNAM)
    try:
        period = _chosen_period(request, now)
    except PeriodError as exc:
        return page(request, "admin/ranking_error.html", status_code=400, message=str(exc))
    async with db.platform_session(read_only=True) as session:
        record = await session.scalar(select(TenantRecord).where(TenantRecord.slug == slug[:31]))
        row = None
        if record is not None:
            table = await ranking(session, period)
            row = next((r for r in table.rows if r.tenant == record.slug), None)
    if record is None or record.status not in SERVED:
        return not_found_page(request, "Không có địa phương này trên nền tảng.")
    last = period.months()[-1]
    current = Period.current_month(now)
    # Twelve months ending with the period's last month (the current one at most).
    months = last_months(12, until=min(last, current))
    async with db.tenant_session(Tenant.from_row(record), read_only=True) as session:
        found = await period_figures(session, period, now=now)
        trend = await monthly_series(session, months)
    figures = found.figures
    rates = figures["total"]["rates"]
    return page(
        request,
        "admin/ranking_tenant.html",
        record=record,
        period=period,
        row=row,
        ranked=table.ranked,
        published_ranking=table.published,
        found=found,
        index=figures["index"],
        counts=figures["total"]["counts"],
        rates=[(k, RATES[k], rates[k]) for k in KEY_RATES],
        trend=trend,
        kind_labels=KIND_LABELS,
        rate_labels=RATE_LABELS,
        count_labels=COUNT_LABELS,
        **_formatters(request),
    )


# Publication: a confirmation page, then the action ----------------------------------------------
def _publish_period(typed: str) -> Period:
    if not typed:
        raise PeriodError(PERIOD_REQUIRED)
    return Period.parse(typed)


@get("/ranking/publish", name="console_ranking_confirm", **_READ)
async def confirm_publish(request: HttpRequest, db: NamedDependency[Database]) -> Response[str]:
    try:
        period = _publish_period(str(request.query_params.get("ky") or ""))
    except PeriodError as exc:
        return page(request, "admin/ranking_error.html", status_code=400, message=str(exc))
    async with db.platform_session(read_only=True) as session:
        table = await ranking(session, period)
    return page(
        request,
        "admin/ranking_publish.html",
        table=table,
        period=period,
        finished=period.is_finished(),
        errors={},
        **_formatters(request),
    )


@post("/ranking/publish", name="console_ranking_publish", status_code=303, **_READ)
async def publish(
    request: HttpRequest, db: NamedDependency[Database], user: NamedDependency[UserSession], data: FormData
) -> Response[Any]:
    try:
        period = _publish_period(str(data.get("ky") or "")[:16])
    except PeriodError as exc:
        return page(request, "admin/ranking_error.html", status_code=400, message=str(exc))
    actor = Actor.platform_admin(user.personal_id, address=client_address(request))
    try:
        async with db.platform_session() as session:
            await publish_ranking(session, period, actor=actor, name=user.name)
    except RankingPublishError as exc:
        async with db.platform_session(read_only=True) as session:
            table = await ranking(session, period)
        return page(
            request,
            "admin/ranking_publish.html",
            status_code=409,
            table=table,
            period=period,
            finished=period.is_finished(),
            errors={"publish": str(exc)},
            **_formatters(request),
        )
    return Redirect("/ranking?" + urlencode({"ky": period.key, "done": "published"}), status_code=303)


# Open data on the bare platform host (mounted under /platform by the tenant middleware) ----------
OPEN_DATA_CACHE = "public, max-age=300"


def _open_rows(kind_words: dict[str, str]) -> Callable[[Any], list[dict[str, Any]]]:
    def rows(published: Any) -> list[dict[str, Any]]:
        out = []
        for data in published.rows:
            row = RankingRow.from_json(data)
            out.append(
                {
                    "period": published.period,
                    "place": row.place,
                    "ranked": published.ranked,
                    "tenant": row.name,
                    "kind": kind_words.get(row.kind, ""),
                    "index_total": row.index_total,
                    **{f"group:{g['key']}": row.groups.get(g["key"]) for g in published.groups},
                }
            )
        return out

    return rows


@get("/platform/open-data/ranking.json", name="platform_ranking_json", include_in_schema=False)
async def open_ranking_json(db: NamedDependency[Database]) -> Response[Any]:
    """Every published ranking: places and points of each locality (aggregates only)."""
    async with db.platform_session(read_only=True) as session:
        found = await published_rankings(session)
    rows = _open_rows(KIND_LABELS)
    body = {
        "title": "Xếp hạng chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)",
        "description": (
            "Bảng xếp hạng các địa phương theo Bộ chỉ số 766 đã được nền tảng công bố; số liệu đã "
            "công bố không thay đổi. Chỉ gồm số liệu tổng hợp."
        ),
        "rankings": [
            {
                "period": p.period,
                "published_at": p.published_at.astimezone(VIETNAM).isoformat(),
                "index_version": p.index_version,
                "ranked": p.ranked,
                "groups": p.groups,
                "rows": [{k: v for k, v in r.items() if k != "period" and k != "ranked"} for r in rows(p)],
            }
            for p in found
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/json",
        headers={"Cache-Control": OPEN_DATA_CACHE},
    )


@get("/platform/open-data/ranking.csv", name="platform_ranking_csv", include_in_schema=False)
async def open_ranking_csv(db: NamedDependency[Database]) -> Response[bytes]:
    """The same as one table: a row per published period and locality."""
    async with db.platform_session(read_only=True) as session:
        found = await published_rankings(session)
    groups: dict[str, dict[str, Any]] = {}
    for p in found:
        for g in p.groups:
            groups.setdefault(g["key"], g)
    columns = [
        Column("period", "Kỳ"),
        Column("place", "Hạng", "integer"),
        Column("ranked", "Số địa phương được xếp hạng", "integer"),
        Column("tenant", "Địa phương"),
        Column("kind", "Loại"),
        Column("index_total", "Điểm chỉ số (tối đa 100)", "number"),
        *(Column(f"group:{k}", f"{g['name']} (tối đa {g['max']})", "number") for k, g in groups.items()),
    ]
    rows = _open_rows(KIND_LABELS)
    return Response(
        to_csv(columns, [r for p in found for r in rows(p)]),
        media_type=CSV_MEDIA_TYPE,
        headers={"Cache-Control": OPEN_DATA_CACHE, "Content-Disposition": 'inline; filename="ranking.csv"'},
    )


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [
    ranking_page,
    ranking_export,
    tenant_indicators,
    confirm_publish,
    publish,
]
# Mounted at "/" beside the /manage pages: these answer only on the bare platform host, whose
# paths the tenant middleware moves under /platform (a tenant host's /platform/… is a 404).
MANAGE_HANDLERS: list[HTTPRouteHandler] = [open_ranking_json, open_ranking_csv]
