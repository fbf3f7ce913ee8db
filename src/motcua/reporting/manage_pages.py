"""/manage/reports: a tenant administrator's own indicators for a period (read from the rollups
or, once published, from the frozen snapshot), the 12-month trend, the Decision 766 index with
its working, the list of dossiers behind each figure, exports, and the publication of a finished
month. Every page and export can be cut by receiving unit (``don-vi``): the figures of the
dossiers that unit received, always live from the rollups (a published period freezes the whole
tenant's figures, with one row per unit, not each unit's drill-down).

The lists behind the figures read the dossiers themselves (a staff drill-down, one page at a
time), with the rollups' own definitions (reporting.rollups): the same Vietnam-time day
attribution (a period's bounds are Vietnam midnights, so ``received_at`` in [start, end) is the
rollups' day test), the same outcome transitions and the same on-time rule. A list therefore
has as many dossiers as its figure once the rollups have caught up; a published month's list
shows the dossiers as they are now, which is why the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import partial
from typing import Any, Literal
from urllib.parse import urlencode

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Response
from sqlalchemy import ColumnElement, Select, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.audit import Actor
from motcua.core.dependencies import READ_ONLY
from motcua.core.digits import only_digits
from motcua.core.pages import FormData, HttpRequest, client_address, language, page
from motcua.core.tenant import Tenant
from motcua.core.theming import translations
from motcua.dossiers.models import (
    CHANNEL_LABELS,
    ApologySlip,
    Channel,
    Dossier,
    DossierFile,
    DossierHistory,
    DossierStatus,
)
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.sessions import UserSession
from motcua.organisation.models import Unit
from motcua.payments.models import Payment
from motcua.reporting.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Column, to_csv, to_xlsx
from motcua.reporting.indicators import UnitChoice, compute_indicators, period_totals, unit_choices
from motcua.reporting.models import NO_CHANNEL, NO_PROCEDURE, NO_UNIT, PublishedPeriod
from motcua.reporting.periods import VIETNAM, Period, PeriodError, last_months
from motcua.reporting.public_pages import Words, criterion_formula, criterion_working
from motcua.reporting.publishing import PeriodFigures, PublishError, period_figures, publish_period
from motcua.reporting.rates import RATES, decimal_vi, percent_vi
from motcua.reporting.rollups import rollup_state

BASE = "/manage/reports"
PAGE_SIZE = 50
MAX_PAGE = 200  # a list shows at most 10,000 dossiers a page at a time; the export as many
EXPORT_LIMIT = PAGE_SIZE * MAX_PAGE
_OPTS: dict[str, Any] = {"guards": [requires_tenant_admin], "include_in_schema": False}
_READ: dict[str, Any] = {**_OPTS, "opt": {READ_ONLY: True}}


def _(message: str) -> str:
    """Marks a Vietnamese msgid for extraction; the template that shows it translates it."""
    return message


Basis = Literal["received", "outcome", "now"]


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    title: str
    basis: Basis  # counted by the day received, by the day of the outcome, or as of now


# The figures that have a list of dossiers behind them (the rollups' counters, and their
# complements, which a page shows beside them).
FIGURES: dict[str, Figure] = {
    f.key: f
    for f in (
        Figure("received", _("Hồ sơ tiếp nhận"), "received"),
        Figure("received_online", _("Hồ sơ tiếp nhận trực tuyến"), "received"),
        Figure("received_offline", _("Hồ sơ tiếp nhận trực tiếp hoặc qua bưu chính"), "received"),
        Figure("online_by_citizen", _("Hồ sơ trực tuyến do người dân tự nộp"), "received"),
        Figure("with_fees", _("Hồ sơ có phí, lệ phí"), "received"),
        Figure("paid_online", _("Hồ sơ có phí, lệ phí đã thanh toán trực tuyến"), "received"),
        Figure("not_paid_online", _("Hồ sơ có phí, lệ phí chưa thanh toán trực tuyến"), "received"),
        Figure("digitised", _("Hồ sơ đã số hóa"), "received"),
        Figure("not_digitised", _("Hồ sơ chưa số hóa"), "received"),
        Figure("finished", _("Hồ sơ giải quyết xong"), "outcome"),
        Figure("finished_on_time", _("Hồ sơ giải quyết xong đúng hạn"), "outcome"),
        Figure("finished_late", _("Hồ sơ giải quyết xong trễ hạn"), "outcome"),
        Figure("withdrawn", _("Hồ sơ công dân rút"), "outcome"),
        Figure("refused", _("Hồ sơ không được tiếp nhận"), "outcome"),
        Figure("in_process", _("Hồ sơ đang giải quyết (hiện tại)"), "now"),
        Figure("overdue", _("Hồ sơ đang giải quyết đã quá hạn (hiện tại)"), "now"),
    )
}
# Counts shown without a list (ratings and feedback are about people's opinions, not dossiers).
OTHER_COUNTS = {
    "ratings": _("Lượt đánh giá"),
    "feedback": _("Phản ánh, kiến nghị nhận được"),
    "feedback_on_time": _("Phản ánh, kiến nghị trả lời đúng hạn"),
}
# Each rate's numerator and denominator as lists, where both are lists of dossiers.
RATE_LISTS: dict[str, tuple[str, str]] = {
    "online_dossier_rate": ("received_online", "received"),
    "online_by_citizen_share": ("online_by_citizen", "received_online"),
    "on_time_rate": ("finished_on_time", "finished"),
    "online_payment_rate": ("paid_online", "with_fees"),
    "digitisation_rate": ("digitised", "received"),
}
TREND = ("on_time_rate", "online_dossier_rate", "online_payment_rate")
_OUTCOME_STATUS = {
    "finished": "processed",
    "finished_on_time": "processed",
    "finished_late": "processed",
    "withdrawn": "withdrawn",
    "refused": "refused",
}
_COMPLEMENT = {
    "received_offline": ("received", "received_online"),
    "not_paid_online": ("with_fees", "paid_online"),
    "not_digitised": ("received", "digitised"),
}
DONE = {"published": _("Đã công bố số liệu. Số liệu của kỳ này từ nay được giữ nguyên như lúc công bố.")}
NOT_A_MONTH = _("Chỉ công bố được số liệu theo tháng.")


# Reading the request -----------------------------------------------------------------------------
class BadRequestError(Exception):
    """A query or form value no page can answer (400)."""


def _period(value: str | None, now: datetime) -> Period:
    if not value:
        return Period.current_month(now)
    try:
        return Period.parse(value)
    except PeriodError as exc:
        raise BadRequestError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Scope:
    """A drill-down filter: one procedure, one channel or one field (or none: the whole tenant),
    within one receiving unit's dossiers or the whole tenant's."""

    procedure_id: int | None = None
    channel: int | None = None
    field: str | None = None
    unit_id: int | None = None

    @property
    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.procedure_id is not None:
            out["thu-tuc"] = str(self.procedure_id)
        if self.channel is not None:
            out["kenh"] = str(self.channel)
        if self.field is not None:
            out["linh-vuc"] = self.field
        if self.unit_id is not None:
            out["don-vi"] = str(self.unit_id)
        return out

    @property
    def drill(self) -> Scope:
        """The drill-down alone: the figures it is read from are already the unit's."""
        return Scope(self.procedure_id, self.channel, self.field)


UNKNOWN_UNIT = _("Không có đơn vị này trong danh sách đơn vị của cổng.")


def _unit_param(value: str | None) -> int | None:
    if not value:
        return None
    if not only_digits(value) or len(value) > 18:
        raise BadRequestError(UNKNOWN_UNIT)
    return int(value)


def _scope(query: Mapping[str, str]) -> Scope:
    procedure, channel, field = query.get("thu-tuc"), query.get("kenh"), query.get("linh-vuc")
    scope = Scope(unit_id=_unit_param(query.get("don-vi")))
    if procedure:
        if not only_digits(procedure) or len(procedure) > 18:
            raise BadRequestError(_("Mã thủ tục không hợp lệ."))
        scope = Scope(int(procedure), unit_id=scope.unit_id)
    if channel:
        if channel not in {str(int(c)) for c in Channel}:
            raise BadRequestError(_("Kênh tiếp nhận không hợp lệ."))
        scope = Scope(scope.procedure_id, int(channel), unit_id=scope.unit_id)
    if field:
        if len(field) > 300:
            raise BadRequestError(_("Lĩnh vực không hợp lệ."))
        scope = Scope(scope.procedure_id, scope.channel, field, scope.unit_id)
    return scope


async def _known_unit(session: AsyncSession, unit_id: int | None) -> int | None:
    """The unit of the filter, if this tenant has it (units live in the tenant's schema: another
    tenant's unit is as unknown as one that never existed); unit 0 stands for the dossiers of a
    tenant without units."""
    if unit_id is None or unit_id == NO_UNIT:
        return unit_id
    if await session.get(Unit, unit_id) is None:
        raise BadRequestError(UNKNOWN_UNIT)
    return unit_id


async def unit_figures(
    session: AsyncSession, period: Period, unit_id: int | None, now: datetime
) -> PeriodFigures:
    """The figures a page shows: the period's (frozen once published), or one unit's (live)."""
    if unit_id is None:
        return await period_figures(session, period, now=now)
    return PeriodFigures(period, True, await compute_indicators(session, period, now=now, unit_id=unit_id))


def _query(request: HttpRequest) -> dict[str, str]:
    return {k: str(v) for k, v in request.query_params.items()}


def _bad_request(request: HttpRequest, message: str) -> Response[str]:
    return page(request, "reporting/manage_bad_request.html", status_code=400, message=message)


def url(path: str, period: Period, **params: Any) -> str:
    """A link within the reports (``ky`` first, then the rest, leaving out what is None)."""
    query = {"ky": period.key, **{k: str(v) for k, v in params.items() if v is not None}}
    return f"{path}?{urlencode(query)}"


def list_url(period: Period, key: str, scope: Mapping[str, str] | None = None) -> str:
    """The list of dossiers behind a figure (``scope``: the drill-down's query parameters)."""
    return url(f"{BASE}/dossiers", period, **{"chi-tieu": key, **(scope or {})})


# Numbers as the page writes them -----------------------------------------------------------------
def rate_text(rate: Mapping[str, Any], *, key: str = "", words: Words | None = None) -> str:
    """Written beside "45 ÷ 60": the ratio as a percentage (a score out of 5 for the
    average), or "chưa có số liệu" when there is nothing to divide by; numbers written the
    way of ``words``' language (Vietnamese without)."""
    numerator, denominator = rate.get("numerator"), rate.get("denominator")
    if not denominator or numerator is None:
        return _("chưa có số liệu")
    exact = Fraction(numerator, denominator)
    if words is not None:
        return f"{words.decimal(exact)} / 5" if key == "average_score" else words.percent(exact)
    return f"{decimal_vi(exact)} / 5" if key == "average_score" else percent_vi(exact)


def _ratio(rate: Mapping[str, Any] | None) -> float | None:
    if not rate or not rate.get("denominator") or rate.get("numerator") is None:
        return None
    return float(Fraction(rate["numerator"], rate["denominator"]))


def figure_value(figures: Mapping[str, Any], key: str, scope: Scope = Scope()) -> int | None:
    """The count a list should match, from the figures of its scope (None: the figures do not
    hold it, e.g. the dossiers in process of one procedure, or a scope with two filters). With
    a unit in the scope, ``figures`` are that unit's (``unit_figures``)."""
    scope = scope.drill
    if key in ("in_process", "overdue"):
        backlog = figures.get("in_process")
        if backlog is None or scope != Scope():
            return None
        return int(backlog[key])
    counts = _scope_counts(figures, scope)
    if counts is None:
        return None
    if key in _COMPLEMENT:
        whole, part = _COMPLEMENT[key]
        return int(counts[whole]) - int(counts[part])
    return int(counts[key])


def _scope_counts(figures: Mapping[str, Any], scope: Scope) -> Mapping[str, Any] | None:
    filters = [v for v in (scope.procedure_id, scope.channel, scope.field) if v is not None]
    if not filters:
        counts: Mapping[str, Any] = figures["total"]["counts"]
        return counts
    if len(filters) > 1:
        return None
    wanted: int | str | None
    if scope.procedure_id is not None:
        rows, key, wanted = figures["by_procedure"], "procedure_id", scope.procedure_id
    elif scope.channel is not None:
        rows, key, wanted = figures["by_channel"], "channel", scope.channel
    else:
        rows, key, wanted = figures["by_field"], "field", scope.field
    row = next((r for r in rows if r[key] == wanted), None)
    # Nothing counted for this scope in the period: every count is 0.
    return row["counts"] if row is not None else dict.fromkeys(figures["total"]["counts"], 0)


# The dossiers behind a figure (the rollups' definitions, see the module's docstring) -----------
def _effective_due() -> ColumnElement[Any]:
    """The due date the on-time rule compares with: before any apology slip (Decision 766: a
    dossier that needed an apology slip was late), else the due date."""
    first_slip = (
        select(func.min(ApologySlip.previous_due_at))
        .where(ApologySlip.dossier_id == Dossier.id)
        .scalar_subquery()
    )
    return func.coalesce(first_slip, Dossier.due_at)


def _received_by(unit_id: int) -> ColumnElement[bool]:
    """The rollups' unit rule (reporting.rollups): a dossier without a receiving unit counts for
    the root unit (the first, where a tenant has several), or for unit 0 without any unit."""
    root = select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.position, Unit.id).limit(1)
    if unit_id == NO_UNIT:
        return Dossier.receiving_unit_id.is_(None) & ~root.exists()
    unrecorded = Dossier.receiving_unit_id.is_(None) & (root.scalar_subquery() == unit_id)
    return or_(Dossier.receiving_unit_id == unit_id, unrecorded)


def _dossier_list(figure: Figure, period: Period, scope: Scope) -> Select[Any]:
    due = _effective_due().label("due")
    online = Dossier.channel.in_((int(Channel.ONLINE), int(Channel.NATIONAL_PORTAL)))
    if figure.basis == "outcome":
        at: Any = DossierHistory.at
        query = (
            select(Dossier, due, DossierHistory.at.label("at"))
            .join(DossierHistory, DossierHistory.dossier_id == Dossier.id)
            .where(
                DossierHistory.to_status == _OUTCOME_STATUS[figure.key],
                DossierHistory.from_status.is_distinct_from(DossierHistory.to_status),
                DossierHistory.at >= period.start,
                DossierHistory.at < period.end,
            )
        )
        if figure.key == "finished_on_time":
            query = query.where(DossierHistory.at <= _effective_due())
        elif figure.key == "finished_late":
            query = query.where(not_(DossierHistory.at <= _effective_due()))
    elif figure.basis == "now":
        at = Dossier.received_at
        query = select(Dossier, due, Dossier.finished_at.label("at")).where(
            Dossier.status.in_(("accepted", "in_progress"))
        )
        if figure.key == "overdue":
            query = query.where(Dossier.due_at < func.now())
    else:
        at = Dossier.received_at
        query = select(Dossier, due, Dossier.finished_at.label("at")).where(
            Dossier.received_at >= period.start, Dossier.received_at < period.end
        )
        paid = exists().where(
            Payment.dossier_id == Dossier.id, Payment.method == "online", Payment.status == "succeeded"
        )
        digitised = exists().where(DossierFile.dossier_id == Dossier.id)
        conditions: dict[str, list[ColumnElement[bool]]] = {
            "received": [],
            "received_online": [online],
            "received_offline": [not_(online)],
            "online_by_citizen": [online, Dossier.submitted_by_citizen.is_(True)],
            "with_fees": [Dossier.fee_vnd > 0],
            "paid_online": [Dossier.fee_vnd > 0, paid],
            "not_paid_online": [Dossier.fee_vnd > 0, not_(paid)],
            "digitised": [digitised],
            "not_digitised": [not_(digitised)],
        }
        query = query.where(*conditions[figure.key])
    if scope.procedure_id is not None:
        query = query.where(Dossier.procedure_id == scope.procedure_id)
    if scope.channel is not None:
        query = query.where(Dossier.channel == scope.channel)
    if scope.field is not None:
        query = query.where(
            Dossier.procedure_id.in_(select(Procedure.id).where(Procedure.field == scope.field))
        )
    if scope.unit_id is not None:
        query = query.where(_received_by(scope.unit_id))
    return query.order_by(at, Dossier.id)


@dataclass(frozen=True, slots=True)
class Listed:
    code: str
    procedure_code: str
    procedure_name: str
    channel: str
    received_at: datetime
    due_at: datetime
    at: datetime | None  # the outcome (lists by outcome) or when it was finished
    status: str


def _status_label(status: str) -> str:
    try:
        return DossierStatus(status).label
    except ValueError:
        return status


async def list_dossiers(
    session: AsyncSession, figure: Figure, period: Period, scope: Scope, *, offset: int, limit: int
) -> tuple[int, list[Listed]]:
    """How many dossiers make up the figure, and those of one page."""
    query = _dossier_list(figure, period, scope)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = (await session.execute(query.offset(offset).limit(limit))).all()
    listed = [
        Listed(
            code=d.code,
            procedure_code=d.procedure_code,
            procedure_name=d.procedure_name,
            channel=CHANNEL_LABELS[Channel(d.channel)] if d.channel in set(Channel) else str(d.channel),
            received_at=d.received_at,
            due_at=due,
            at=at,
            status=_status_label(d.status),
        )
        for d, due, at in rows
    ]
    return total, listed


# The overview ------------------------------------------------------------------------------------
def period_choices(now: datetime, chosen: Period) -> list[tuple[str, list[Period]]]:
    """The periods the form offers: the last 24 months, 8 quarters and 5 years (and the one
    shown, if it is older)."""
    months = last_months(24, now=now)[::-1]
    quarter = Period(now.year, "quarter", (now.month - 1) // 3 + 1)
    quarters = [quarter]
    while len(quarters) < 8:
        quarters.append(quarters[-1].previous())
    years = [Period(now.year - n, "year", 0) for n in range(5)]
    groups = [(_("Tháng"), months), (_("Quý"), quarters), (_("Năm"), years)]
    if not any(chosen in periods for _label, periods in groups):
        groups.append((_("Kỳ đang xem"), [chosen]))
    return groups


@dataclass(frozen=True, slots=True)
class TrendRow:
    period: Period
    provisional: bool
    rates: dict[str, Mapping[str, Any]]
    index_total: float


async def trend(
    session: AsyncSession, until: Period, now: datetime, *, unit_id: int | None = None
) -> list[TrendRow]:
    """The 12 months ending with the period's last month (the current month at the latest),
    each as the month's own page shows it: frozen once published, else from the rollups (one
    query for the twelve, indicators.period_totals); one unit's always from the rollups."""
    months = last_months(12, until=Period.month_of(min(until.last_day, now.date())))
    live = await period_totals(session, months, unit_id=unit_id)
    frozen: dict[str, dict[str, Any]] = {}
    if unit_id is None:
        frozen = dict(
            (
                await session.execute(
                    select(PublishedPeriod.period, PublishedPeriod.figures).where(
                        PublishedPeriod.period.in_([m.key for m in months])
                    )
                )
            ).all()
        )
    rows = []
    for month in months:
        figures = frozen.get(month.key) or live[month.key]
        rates = figures["total"]["rates"]
        rows.append(
            TrendRow(month, month.key not in frozen, {k: rates[k] for k in TREND}, figures["index"]["total"])
        )
    return rows


def sparkline(values: Sequence[float | None], *, top: float = 1.0, width: int = 120, height: int = 28) -> str:
    """The points of an SVG polyline through the known values (a month without data is left
    out); the table beside it carries the numbers."""
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )


def _publishable(period: Period, found: PeriodFigures, now: datetime) -> bool:
    return period.kind == "month" and found.provisional and period.is_finished(now)


@get(BASE, **_READ)
async def reports(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
    now = datetime.now(VIETNAM)
    try:
        period = _period(request.query_params.get("ky"), now)
        unit_id = await _known_unit(db_session, _unit_param(request.query_params.get("don-vi")))
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    found = await unit_figures(db_session, period, unit_id, now)
    published = unit_id is not None and await db_session.get(PublishedPeriod, period.key) is not None
    state = await rollup_state(db_session)
    rows = await trend(db_session, period, now, unit_id=unit_id)
    units = await unit_choices(db_session)
    in_unit = {"don-vi": str(unit_id)} if unit_id is not None else {}
    lang = language(request)
    words = Words(lang, translations(lang).gettext)
    lines = {key: sparkline([_ratio(r.rates[key]) for r in rows]) for key in TREND}
    lines["index"] = sparkline([r.index_total for r in rows], top=100)
    done = str(request.query_params.get("done") or "")
    figures = found.figures
    return page(
        request,
        "reporting/manage_reports.html",
        period=period,
        found=found,
        figures=figures,
        field_rows=[(r["field"], {"linh-vuc": r["field"], **in_unit}, r) for r in figures["by_field"]],
        procedure_rows=[
            (f"{r['code']} — {r['name']}", {"thu-tuc": str(r["procedure_id"]), **in_unit}, r)
            for r in figures["by_procedure"]
            if r["procedure_id"] != NO_PROCEDURE
        ],
        channel_rows=[
            (r["label"], {"kenh": str(r["channel"]), **in_unit}, r)
            for r in figures["by_channel"]
            if r["channel"] != NO_CHANNEL
        ],
        # Periods published before the figures were cut by unit have no "by_unit".
        unit_rows=[
            (r["name"], {"don-vi": str(r["unit_id"])}, r)
            for r in figures.get("by_unit", [])
            if unit_id is None or r["unit_id"] == unit_id
        ],
        units=units,
        unit_id=unit_id,
        unit_name=_unit_name(units, unit_id),
        in_unit=in_unit,
        published=published,
        state=state,
        trend=rows,
        lines=lines,
        choices=period_choices(now, period),
        publishable=_publishable(period, found, now),
        done=DONE.get(done),
        rates=RATES,
        rate_lists=RATE_LISTS,
        list_figures=FIGURES,
        other_counts=OTHER_COUNTS,
        channel_labels={int(c): label for c, label in CHANNEL_LABELS.items()},
        # Numbers, the index's formulas and workings in the page's language.
        rate_text=partial(rate_text, words=words),
        figure_value=figure_value,
        decimal=words.decimal,
        formula=partial(criterion_formula, words=words),
        working=partial(criterion_working, words=words),
        list_url=list_url,
        url=url,
        base=BASE,
    )


@get(f"{BASE}/dossiers", **_READ)
async def dossiers(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
    now = datetime.now(VIETNAM)
    query = _query(request)
    try:
        period, figure, scope = _list_request(query, now)
        await _known_unit(db_session, scope.unit_id)
        number = _page_number(query.get("trang"))
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    total, listed = await list_dossiers(
        db_session, figure, period, scope, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    found = await unit_figures(db_session, period, scope.unit_id, now)
    pages = min(MAX_PAGE, max(1, -(-total // PAGE_SIZE)))
    return page(
        request,
        "reporting/manage_dossiers.html",
        period=period,
        figure=figure,
        scope=scope,
        scope_label=await _scope_label(db_session, scope),
        found=found,
        expected=figure_value(found.figures, figure.key, scope),
        total=total,
        listed=listed,
        number=number,
        pages=pages,
        params={"chi-tieu": figure.key, **scope.params},
        url=url,
        base=BASE,
    )


def _list_request(query: Mapping[str, str], now: datetime) -> tuple[Period, Figure, Scope]:
    period = _period(query.get("ky"), now)
    figure = FIGURES.get(query.get("chi-tieu") or "")
    if figure is None:
        raise BadRequestError(_("Chỉ tiêu không có danh sách hồ sơ."))
    return period, figure, _scope(query)


def _page_number(value: str | None) -> int:
    if not value:
        return 1
    if not only_digits(value) or not 1 <= int(value) <= MAX_PAGE:
        raise BadRequestError(_("Số trang không hợp lệ."))
    return int(value)


async def _scope_label(session: AsyncSession, scope: Scope) -> str | None:
    parts = []
    if scope.procedure_id is not None:
        found = await session.get(Procedure, scope.procedure_id)
        parts.append(f"{found.code} — {found.name}" if found is not None else str(scope.procedure_id))
    if scope.channel is not None:
        parts.append(CHANNEL_LABELS[Channel(scope.channel)])
    if scope.field is not None:
        parts.append(scope.field)
    if scope.unit_id is not None:
        parts.append(_unit_name(await unit_choices(session), scope.unit_id) or "")
    return "; ".join(parts) or None


def _unit_name(units: Sequence[UnitChoice], unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    found = next((u for u in units if u.id == unit_id), None)
    return found.name if found is not None else _("Chưa gắn với đơn vị")


# Exports -----------------------------------------------------------------------------------------
INDICATOR_COLUMNS = [
    Column("period", _("Kỳ")),
    Column("scope", _("Phạm vi")),
    Column("scope_name", _("Lĩnh vực, thủ tục, kênh hoặc đơn vị")),
    Column("indicator", _("Mã chỉ tiêu")),
    Column("name", _("Chỉ tiêu")),
    Column("count", _("Số lượng"), "integer"),
    Column("numerator", _("Tử số"), "integer"),
    Column("denominator", _("Mẫu số"), "integer"),
    Column("ratio", _("Tỷ lệ"), "percent"),
    Column("average", _("Điểm trung bình"), "number"),
    Column("points", _("Điểm"), "number"),
    Column("max", _("Điểm tối đa"), "integer"),
]
COUNT_NAMES = {**{k: f.title for k, f in FIGURES.items() if f.basis != "now"}, **OTHER_COUNTS}
SCOPE_TOTAL, SCOPE_FIELD, SCOPE_PROCEDURE, SCOPE_CHANNEL, SCOPE_UNIT, SCOPE_INDEX = (
    _("Toàn cổng"),
    _("Lĩnh vực"),
    _("Thủ tục"),
    _("Kênh tiếp nhận"),
    _("Đơn vị tiếp nhận"),
    _("Chỉ số Quyết định 766"),
)


def _figure_rows(period: Period, scope: str, name: str, figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    counts = figures["counts"]
    rows: list[dict[str, Any]] = []
    for key, title in COUNT_NAMES.items():
        if key in _COMPLEMENT:
            whole, part = _COMPLEMENT[key]
            value = counts[whole] - counts[part]
        else:
            value = counts[key]
        rows.append(
            {
                "period": period.key,
                "scope": scope,
                "scope_name": name,
                "indicator": key,
                "name": title,
                "count": value,
            }
        )
    for key, rate in figures["rates"].items():
        ratio = _ratio(rate)
        rows.append(
            {
                "period": period.key,
                "scope": scope,
                "scope_name": name,
                "indicator": key,
                "name": RATES[key].name,
                "numerator": rate["numerator"],
                "denominator": rate["denominator"],
                "ratio": ratio if key != "average_score" else None,
                "average": ratio if key == "average_score" else None,
            }
        )
    return rows


def indicator_rows(period: Period, figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per indicator and scope: the whole tenant (or the unit the figures are cut by),
    each field, procedure, channel and unit, then each criterion and group of the index."""
    unit = figures.get("unit")
    if unit is not None:
        rows = _figure_rows(period, SCOPE_UNIT, unit["name"], figures["total"])
    else:
        rows = _figure_rows(period, SCOPE_TOTAL, "", figures["total"])
    for row in figures["by_field"]:
        rows += _figure_rows(period, SCOPE_FIELD, row["field"], row)
    for row in figures["by_procedure"]:
        rows += _figure_rows(period, SCOPE_PROCEDURE, f"{row['code']} — {row['name']}", row)
    for row in figures["by_channel"]:
        rows += _figure_rows(period, SCOPE_CHANNEL, row["label"], row)
    if unit is None:
        for row in figures.get("by_unit", []):
            rows += _figure_rows(period, SCOPE_UNIT, row["name"], row)
    index = figures["index"]
    for group in index["groups"]:
        for c in group["criteria"]:
            rows.append(
                {
                    "period": period.key,
                    "scope": SCOPE_INDEX,
                    "scope_name": group["name"],
                    "indicator": c["indicator"],
                    "name": c["name"],
                    "numerator": c["numerator"],
                    "denominator": c["denominator"],
                    "ratio": _ratio(c),
                    "points": c["points"],
                    "max": c["max"],
                }
            )
        rows.append(
            {
                "period": period.key,
                "scope": SCOPE_INDEX,
                "scope_name": group["name"],
                "indicator": group["key"],
                "name": group["name"],
                "points": group["points"],
                "max": group["max"],
            }
        )
    rows.append(
        {
            "period": period.key,
            "scope": SCOPE_INDEX,
            "indicator": "total",
            "name": index["name"],
            "points": index["total"],
            "max": index["max"],
        }
    )
    return rows


DOSSIER_COLUMNS = [
    Column("code", _("Mã hồ sơ")),
    Column("procedure_code", _("Mã thủ tục")),
    Column("procedure_name", _("Thủ tục")),
    Column("channel", _("Kênh tiếp nhận")),
    Column("received_at", _("Tiếp nhận lúc")),
    Column("due_at", _("Hạn giải quyết")),
    Column("at", _("Kết quả lúc")),
    Column("status", _("Trạng thái")),
]


def _vn(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _download(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _file(columns: list[Column], rows: list[dict[str, Any]], fmt: str, name: str) -> Response[bytes]:
    if fmt == "csv":
        return _download(to_csv(columns, rows), CSV_MEDIA_TYPE, f"{name}.csv")
    return _download(to_xlsx(columns, rows), XLSX_MEDIA_TYPE, f"{name}.xlsx")


@get([f"{BASE}/export.csv", f"{BASE}/export.xlsx"], **_READ)
async def export_indicators(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    now = datetime.now(VIETNAM)
    try:
        period = _period(request.query_params.get("ky"), now)
        unit_id = await _known_unit(db_session, _unit_param(request.query_params.get("don-vi")))
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    found = await unit_figures(db_session, period, unit_id, now)
    fmt = "csv" if request.url.path.endswith(".csv") else "xlsx"
    name = f"chi-tieu-{period.key}" + (f"-don-vi-{unit_id}" if unit_id is not None else "")
    return _file(INDICATOR_COLUMNS, indicator_rows(period, found.figures), fmt, name)


@get([f"{BASE}/dossiers.csv", f"{BASE}/dossiers.xlsx"], **_READ)
async def export_dossiers(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    now = datetime.now(VIETNAM)
    try:
        period, figure, scope = _list_request(_query(request), now)
        await _known_unit(db_session, scope.unit_id)
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    _total, listed = await list_dossiers(db_session, figure, period, scope, offset=0, limit=EXPORT_LIMIT)
    rows = [
        {
            "code": d.code,
            "procedure_code": d.procedure_code,
            "procedure_name": d.procedure_name,
            "channel": d.channel,
            "received_at": _vn(d.received_at),
            "due_at": _vn(d.due_at),
            "at": _vn(d.at),
            "status": d.status,
        }
        for d in listed
    ]
    fmt = "csv" if request.url.path.endswith(".csv") else "xlsx"
    return _file(DOSSIER_COLUMNS, rows, fmt, f"ho-so-{figure.key.replace('_', '-')}-{period.key}")


# Publishing --------------------------------------------------------------------------------------
def _confirm_page(
    request: HttpRequest,
    period: Period,
    found: PeriodFigures,
    user: UserSession,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "reporting/manage_publish.html",
        status_code=status_code,
        period=period,
        found=found,
        figures=found.figures,
        publisher=user.name,
        errors=errors or {},
        url=url,
        base=BASE,
    )


@get(f"{BASE}/publish", **_READ)
async def confirm_publish(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], user: NamedDependency[UserSession]
) -> Response[str]:
    now = datetime.now(VIETNAM)
    try:
        period = _period(request.query_params.get("ky"), now)
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    found = await period_figures(db_session, period, now=now)
    return _confirm_page(request, period, found, user)


@post(f"{BASE}/publish", **_OPTS)
async def publish(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    now = datetime.now(VIETNAM)
    value = data.get("ky")
    try:
        period = _period(value if isinstance(value, str) and value else "-", now)
    except BadRequestError as exc:
        return _bad_request(request, str(exc))
    actor = Actor.tenant_admin(user.personal_id, address=client_address(request))
    try:
        if period.kind != "month":
            raise PublishError(NOT_A_MONTH)
        await publish_period(db_session, tenant, period, actor=actor, name=user.name, now=now)
    except PublishError as exc:
        found = await period_figures(db_session, period, now=now)
        return _confirm_page(request, period, found, user, errors={"publish": str(exc)}, status_code=409)
    return Redirect(url(BASE, period, done="published"), status_code=303)


HANDLERS: list[HTTPRouteHandler] = [
    reports,
    dossiers,
    export_indicators,
    export_dossiers,
    confirm_publish,
    publish,
]
