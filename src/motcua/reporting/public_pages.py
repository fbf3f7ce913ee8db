"""The public statistics page ``/thong-ke`` on every tenant host, without login: the chosen
period's indicators (the current month by default, provisional until published) and the current
year's, each rate with its numerator ÷ denominator and formula, the Decision 766 index with each
group's points and the working beside each figure, the published periods, and the trend of the
last twelve months as SVG charts with their tables.

Only the public view (indicators.public_view) reaches the page, and it agrees with
``GET /api/v1/statistics`` number for number. Cheap to serve: one query over the rollups for the
twelve months and the year (indicators.period_totals), the frozen months' totals read from their
snapshots, the backlog and the list of publications; never the dossiers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery
from litestar.response import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.dependencies import READ_ONLY, user_of
from motcua.core.pages import HttpRequest, language, page
from motcua.core.tenant import Tenant
from motcua.core.theming import translations
from motcua.identity.models import N_
from motcua.reporting.cache import FIGURES, freshness
from motcua.reporting.charts import Series, line_chart, swatch
from motcua.reporting.indicators import (
    SUPPRESSED_WORKING,
    SUPPRESSION_NOTE,
    backlog_now,
    period_totals,
    public_view,
)
from motcua.reporting.models import PublishedPeriod
from motcua.reporting.periods import VIETNAM, Period, PeriodError, last_months
from motcua.reporting.publishing import period_figures, publications
from motcua.reporting.ranking import latest_place
from motcua.reporting.rates import RATES, decimal_vi
from motcua.reporting.rollups import rollup_state

TREND_MONTHS = 12
# Public and the same for every visitor of a language: caches may keep it a minute (the rollups
# move every two). Vary: the language is a cookie.
CACHE_CONTROL = "public, max-age=60"
CACHE_CONTROL_SIGNED_IN = "private, max-age=60"  # the header shows the signed-in person's name
TREND_RATES = ("on_time_rate", "online_dossier_rate", "online_payment_rate")

Gettext = Callable[[str], str]

# The counts the page lists, in this order.
COUNT_LABELS = {
    "received": N_("Hồ sơ tiếp nhận"),
    "received_online": N_("Hồ sơ tiếp nhận trực tuyến"),
    "online_by_citizen": N_("Hồ sơ trực tuyến do người dân, doanh nghiệp tự nộp"),
    "finished": N_("Hồ sơ đã giải quyết xong"),
    "finished_on_time": N_("Hồ sơ giải quyết đúng hạn"),
    "finished_late": N_("Hồ sơ giải quyết quá hạn"),
    "withdrawn": N_("Hồ sơ đã rút"),
    "refused": N_("Hồ sơ bị từ chối tiếp nhận"),
    "with_fees": N_("Hồ sơ có phí, lệ phí"),
    "paid_online": N_("Hồ sơ thanh toán trực tuyến"),
    "digitised": N_("Hồ sơ được số hóa"),
    "ratings": N_("Lượt đánh giá"),
    "feedback": N_("Phản ánh, kiến nghị"),
    "feedback_on_time": N_("Phản ánh, kiến nghị được trả lời đúng hạn"),
}
BACKLOG_LABELS = {
    "in_process": N_("Hồ sơ đang giải quyết"),
    "overdue": N_("Hồ sơ đang giải quyết đã quá hạn"),
}
# Texts of other reporting modules and of the index's data file, which this page translates at
# render: Babel reads neither f-strings nor TOML, so their msgids are listed here.
DATA_TEXTS = (
    N_("Công khai, minh bạch"),
    N_("Tiến độ giải quyết"),
    N_("Dịch vụ công trực tuyến"),
    N_("Thanh toán trực tuyến"),
    N_("Số hóa hồ sơ, kết quả"),
    N_("Mức độ hài lòng"),
    N_("Tỷ lệ dịch vụ công trực tuyến có phát sinh hồ sơ trực tuyến"),
    N_("Tỷ lệ hồ sơ nộp trực tuyến"),
    N_("Tỷ lệ hồ sơ có phí, lệ phí được thanh toán trực tuyến"),
    N_("Tỷ lệ hồ sơ có thành phần được lưu trữ điện tử"),
    N_("Tỷ lệ đánh giá hài lòng và rất hài lòng"),
    N_("Bộ chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)"),
    N_(
        "Trọng số và chỉ tiêu theo cách hiểu hiện tại của nền tảng, "
        "cần đối chiếu với văn bản đang có hiệu lực."
    ),
)


# Numbers in the page's language ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Words:
    """The page's language: its gettext and its way of writing numbers (Vietnamese groups
    thousands with dots and writes a decimal comma; English the other way round)."""

    lang: str
    gettext: Gettext

    def integer(self, value: int) -> str:
        text = f"{value:,}"
        return text.replace(",", ".") if self.lang == "vi" else text

    def decimal(self, value: Fraction | float, places: int = 2) -> str:
        text = decimal_vi(value, places)
        return text if self.lang == "vi" else text.replace(",", ".")

    def percent(self, value: Fraction | float) -> str:
        return self.decimal(Fraction(value) * 100) + "%"

    def period(self, period: Period) -> str:
        if period.kind == "month":
            return self.gettext("Tháng %(month)s/%(year)s") % {
                "month": f"{period.number:02d}",
                "year": period.year,
            }
        if period.kind == "quarter":
            roman = ("I", "II", "III", "IV")[period.number - 1]
            return self.gettext("Quý %(roman)s/%(year)s") % {
                "roman": roman,
                "number": period.number,
                "year": period.year,
            }
        return self.gettext("Năm %(year)s") % {"year": period.year}

    def short_month(self, period: Period) -> str:
        return f"{period.number:02d}/{period.year % 100:02d}"


def _exact(numerator: int | None, denominator: int | None, ratio: float | None) -> Fraction | None:
    if ratio is None:
        return None
    if numerator is not None and denominator:
        return Fraction(numerator, denominator)
    return Fraction(ratio)


# The page's rows ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Figure:
    """A number as the page writes it: ``value`` (None when not shown) in ``<data value>``,
    ``text`` what a person reads, ``note`` why it is missing."""

    value: float | int | None
    text: str
    missing: str = ""  # "suppressed", "no_data" or ""


@dataclass(frozen=True, slots=True)
class RateRow:
    key: str
    name: str
    formula: str
    ratio: Figure
    numerator: Figure
    denominator: Figure


@dataclass(frozen=True, slots=True)
class CountRow:
    key: str
    name: str
    value: Figure


@dataclass(frozen=True, slots=True)
class CriterionRow:
    indicator: str
    name: str
    max: int
    points: Figure
    formula: str
    working: str


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    name: str
    max: int
    points: Figure
    criteria: list[CriterionRow]


@dataclass(slots=True)
class Section:
    period: Period
    label: str
    provisional: bool
    published_at: datetime | None
    published_by: str | None
    no_data: bool
    rates: list[RateRow]
    counts: list[CountRow]
    index_name: str
    index_source: str
    index_note: str
    index_total: Figure
    index_max: int
    groups: list[GroupRow]
    anchor: str = ""
    heading: str = ""


@dataclass(frozen=True, slots=True)
class TrendRow:
    period: Period
    label: str
    provisional: bool
    values: list[Figure]


@dataclass(slots=True)
class Trend:
    columns: list[str]
    rows: list[TrendRow]
    rates_chart: Markup
    index_chart: Markup
    swatches: list[tuple[Markup, str]] = field(default_factory=list)


def _count(value: int | None, words: Words) -> Figure:
    if value is None:
        return Figure(None, words.gettext("Không công bố"), "suppressed")
    return Figure(value, words.integer(value))


def _rate_figures(rate: Mapping[str, Any], key: str, words: Words) -> tuple[Figure, Figure, Figure]:
    numerator, denominator, ratio = rate["numerator"], rate["denominator"], rate["ratio"]
    num = _count(numerator, words)
    den = _count(denominator, words)
    if rate.get("suppressed"):
        shown = Figure(None, words.gettext("Không công bố"), "suppressed")
    elif ratio is None:
        shown = Figure(None, words.gettext("Chưa có số liệu"), "no_data")
    else:
        exact = _exact(numerator, denominator, ratio)
        assert exact is not None
        text = words.decimal(exact) if key == "average_score" else words.percent(exact)
        shown = Figure(ratio, text)
    return shown, num, den


def criterion_formula(criterion: Mapping[str, Any], words: Words) -> str:
    """decision766.Criterion.formula in the page's language (in Vietnamese, the same text)."""
    _ = words.gettext
    definition = _(RATES[criterion["indicator"]].formula)
    target = criterion["target"]
    if target is None:
        return _("Tỷ lệ = %(definition)s; điểm = tỷ lệ × %(max)s") % {
            "definition": definition,
            "max": criterion["max"],
        }
    return _(
        "Tỷ lệ = %(definition)s; đạt từ %(target)s trở lên: %(max)s điểm, "
        "dưới %(target)s: tỷ lệ ÷ %(target)s × %(max)s"
    ) % {"definition": definition, "target": words.percent(Fraction(str(target))), "max": criterion["max"]}


def criterion_working(criterion: Mapping[str, Any], words: Words) -> str:
    """decision766.Criterion.score's working in the page's language (in Vietnamese, the same text
    as the API's "working")."""
    _ = words.gettext
    if criterion.get("suppressed"):
        return _(SUPPRESSED_WORKING)
    numerator, denominator = criterion["numerator"], criterion["denominator"]
    ratio = _exact(numerator, denominator, criterion["ratio"])
    if ratio is None:
        return _("%(numerator)s ÷ %(denominator)s: chưa có số liệu → 0 điểm") % {
            "numerator": numerator,
            "denominator": denominator,
        }
    values = {
        "numerator": numerator,
        "denominator": denominator,
        "ratio": words.percent(ratio),
        "max": criterion["max"],
        "points": words.decimal(Fraction(str(criterion["points"]))),
    }
    shown = "{numerator} ÷ {denominator} = {ratio}".format(**values)
    target = criterion["target"]
    if target is None:
        return shown + _("; %(ratio)s × %(max)s = %(points)s điểm") % values
    values["target"] = words.percent(Fraction(str(target)))
    if ratio >= Fraction(str(target)):
        return shown + _("; %(ratio)s ≥ %(target)s → %(max)s điểm") % values
    return shown + _("; %(ratio)s < %(target)s → %(ratio)s ÷ %(target)s × %(max)s = %(points)s điểm") % values


def _points(value: float | None, words: Words) -> Figure:
    if value is None:
        return Figure(None, words.gettext("Không công bố"), "suppressed")
    return Figure(value, words.decimal(Fraction(str(value))))


def build_section(
    view: Mapping[str, Any],
    period: Period,
    words: Words,
    *,
    provisional: bool,
    published_at: datetime | None = None,
    published_by: str | None = None,
) -> Section:
    """One period on the page, from its public view."""
    _ = words.gettext
    total = view["total"]
    counts: dict[str, Any] = total["counts"]
    rates = [
        RateRow(
            key, _(RATES[key].name), _(RATES[key].formula), *_rate_figures(total["rates"][key], key, words)
        )
        for key in RATES
        if key in total["rates"]
    ]
    count_rows = [CountRow(k, _(label), _count(counts.get(k), words)) for k, label in COUNT_LABELS.items()]
    backlog = view.get("in_process")
    if backlog is not None:
        count_rows += [
            CountRow(k, _(label), _count(backlog[k], words)) for k, label in BACKLOG_LABELS.items()
        ]
    index = view["index"]
    groups = [
        GroupRow(
            g["key"],
            _(g["name"]),
            g["max"],
            _points(g["points"], words),
            [
                CriterionRow(
                    c["indicator"],
                    _(c["name"]),
                    c["max"],
                    _points(c["points"], words),
                    criterion_formula(c, words),
                    criterion_working(c, words),
                )
                for c in g["criteria"]
            ],
        )
        for g in index["groups"]
    ]
    no_data = all(v == 0 for k, v in counts.items() if k != "rating_levels") and not (backlog or {}).get(
        "in_process"
    )
    return Section(
        period=period,
        label=words.period(period),
        provisional=provisional,
        published_at=published_at,
        published_by=published_by,
        no_data=no_data,
        rates=rates,
        counts=count_rows,
        index_name=_(index["name"]),
        index_source=index["source"],
        index_note=_(index["note"]) if index.get("note") else "",
        index_total=_points(index["total"], words),
        index_max=index["max"],
        groups=groups,
        anchor=f"ky-{period.key}",
    )


def _trend_value(view: Mapping[str, Any], key: str) -> float | None:
    if key == "index":
        total: float | None = view["index"]["total"]
        return total
    rate = view["total"]["rates"][key]
    return None if rate.get("suppressed") else rate["ratio"]


def build_trend(
    months: Sequence[Period], views: Mapping[str, tuple[dict[str, Any], bool]], words: Words
) -> Trend:
    """The twelve months' on-time, online dossier and online payment rates and index, as two
    charts and one table."""
    _ = words.gettext
    names = [_(RATES[k].name) for k in TREND_RATES]
    columns = [*names, _("Chỉ số Quyết định 766 (điểm)")]
    rows: list[TrendRow] = []
    for month in months:
        view, provisional = views[month.key]
        figures: list[Figure] = []
        for key in TREND_RATES:
            shown, _num, _den = _rate_figures(view["total"]["rates"][key], key, words)
            figures.append(shown)
        figures.append(_points(view["index"]["total"], words))
        rows.append(TrendRow(month, words.period(month), provisional, figures))
    labels = [words.short_month(m) for m in months]
    first, last = words.period(months[0]), words.period(months[-1])
    rates_chart = line_chart(
        chart_id="trend-rates",
        title=_("Xu hướng các tỷ lệ, %(first)s – %(last)s") % {"first": first, "last": last},
        description=_(
            "Biểu đồ đường của tỷ lệ hồ sơ giải quyết đúng hạn, tỷ lệ hồ sơ trực tuyến và tỷ lệ "
            "thanh toán trực tuyến theo tháng; số liệu chi tiết ở bảng ngay sau biểu đồ."
        ),
        labels=labels,
        series=[
            Series(
                name, [None if (v := _trend_value(views[m.key][0], k)) is None else v * 100 for m in months]
            )
            for name, k in zip(names, TREND_RATES, strict=True)
        ],
    )
    index_chart = line_chart(
        chart_id="trend-index",
        title=_("Xu hướng chỉ số Quyết định 766, %(first)s – %(last)s") % {"first": first, "last": last},
        description=_(
            "Biểu đồ đường của tổng điểm chỉ số Quyết định 766 (thang 100) theo tháng; số liệu chi "
            "tiết ở bảng ngay sau biểu đồ."
        ),
        labels=labels,
        series=[Series(columns[-1], [_trend_value(views[m.key][0], "index") for m in months])],
        unit="",
    )
    swatches = [(swatch(i), name) for i, name in enumerate(names)]
    return Trend(columns, rows, rates_chart, index_chart, swatches)


# Reading ------------------------------------------------------------------------------------------
def _slim(total: dict[str, Any], index: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's totals and index in the shape public_view takes (the drill-down left out)."""
    return {
        "total": total,
        "index": index,
        "by_field": [],
        "by_procedure": [],
        "by_channel": [],
        "in_process": None,
    }


async def _frozen_totals(
    session: AsyncSession, keys: Sequence[str]
) -> dict[str, tuple[dict[str, Any], Any, str]]:
    """The totals and index of the published periods among ``keys`` — only those parts of each
    snapshot, not its drill-down."""
    rows = await session.execute(
        select(
            PublishedPeriod.period,
            PublishedPeriod.figures["total"],
            PublishedPeriod.figures["index"],
            PublishedPeriod.published_at,
            PublishedPeriod.published_by,
        ).where(PublishedPeriod.period.in_(list(keys)))
    )
    return {period: (_slim(total, index), at, by) for period, total, index, at, by in rows}


@get("/thong-ke", include_in_schema=False, opt={READ_ONLY: True})
async def statistics_page(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    ky: FromQuery[str | None] = None,
) -> Response[str]:
    lang = language(request)
    words = Words(lang, translations(lang).gettext)
    now = datetime.now(VIETNAM)
    current = Period.current_month(now)
    asked = (ky or "").strip()
    chosen = current
    if asked:
        try:
            chosen = Period.parse(asked)
        except PeriodError as exc:
            return page(
                request,
                "reporting/statistics.html",
                status_code=400,
                errors={"ky": str(exc)},
                ky=asked[:20],
                sections=[],
                trend=None,
                published=[],
                refreshed_at=None,
                suppression="",
                place=None,
            )
    marker = await freshness(db_session)
    key = ("page", tenant.schema, chosen.key, current.key, lang)
    context = FIGURES.get(key, marker)
    if context is None:
        context = await _context(db_session, tenant, chosen, current, now, words)
        FIGURES.put(key, marker, context)
    response = page(request, "reporting/statistics.html", errors={}, ky=asked[:20], **context)
    response.headers["Cache-Control"] = CACHE_CONTROL if user_of(request) is None else CACHE_CONTROL_SIGNED_IN
    response.headers["Vary"] = "Cookie"
    return response


async def _context(
    db_session: AsyncSession, tenant: Tenant, chosen: Period, current: Period, now: datetime, words: Words
) -> dict[str, Any]:
    """What the page shows for ``chosen`` (kept in reporting.cache while the rollups stand still)."""
    year = Period(now.year, "year", 0)
    months = last_months(TREND_MONTHS, until=current)
    keys = [m.key for m in months]
    frozen = await _frozen_totals(db_session, [*keys, chosen.key])
    live = await period_totals(db_session, [*(m for m in months if m.key not in frozen), year])

    trend_views: dict[str, tuple[dict[str, Any], bool]] = {}
    for month in months:
        if month.key in frozen:
            trend_views[month.key] = (public_view(frozen[month.key][0]), False)
        else:
            trend_views[month.key] = (public_view(live[month.key]), True)

    # The periods that contain today show the dossiers in process now, as the API does.
    backlog = await backlog_now(db_session)

    def current_view(period: Period, figures: dict[str, Any]) -> dict[str, Any]:
        return public_view({**figures, "in_process": backlog if period.contains(now) else None})

    sections: list[Section] = []
    if chosen.key in frozen:
        view, at, by = frozen[chosen.key]
        sections.append(
            build_section(
                public_view(view), chosen, words, provisional=False, published_at=at, published_by=by
            )
        )
    else:
        figures = (
            live[chosen.key]
            if chosen.key in live
            else (await period_figures(db_session, chosen, now=now)).figures
        )
        sections.append(build_section(current_view(chosen, figures), chosen, words, provisional=True))
    if chosen != year:
        sections.append(build_section(current_view(year, live[year.key]), year, words, provisional=True))
    sections[0].heading = words.gettext("Tháng này") if chosen == current else words.gettext("Kỳ đã chọn")
    if chosen != year:
        sections[-1].heading = words.gettext("Năm nay")

    state = await rollup_state(db_session)
    return {
        "sections": sections,
        "trend": build_trend(months, trend_views, words),
        "published": await publications(db_session),
        "period_label": words.period,
        "refreshed_at": state.refreshed_at,
        "suppression": words.gettext(SUPPRESSION_NOTE),
        # The place the platform published for this locality (none until it publishes one).
        "place": await latest_place(db_session, tenant.slug),
    }


HANDLERS: list[HTTPRouteHandler] = [statistics_page]
