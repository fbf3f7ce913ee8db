"""The indicators of a tenant for a period, read from the rollups (never from the dossiers) and
the catalogue: counts, rates as numerator ÷ denominator (ratio None when there is nothing to
divide by), drill-down by field, procedure, channel and receiving unit, the dossiers in process
now, and the Decision 766 index; all of it for the whole tenant or for one receiving unit.
``compute_indicators`` returns a JSON-ready dict (the same shape a published period freezes);
``public_view`` suppresses small counts for anything shown outside the tenant's staff.

Shape::

    {"period", "period_label", "start", "end", "computed_at", "rollups_refreshed_at",
     "total": FIGURES, "by_field": [{"field", **FIGURES}], "by_procedure": [{"procedure_id",
     "code", "name", "field", **FIGURES}], "by_channel": [{"channel", "label", **FIGURES}],
     "by_unit": [{"unit_id", "name", "agency_code", **FIGURES}],
     "unit": {"unit_id", "name", "agency_code"} | None,
     "in_process": {"in_process", "overdue", "as_of"} | None, "index": {...}}
    FIGURES = {"counts": {counter: int, "rating_levels": {"1".."5": int}},
               "rates": {key: {"numerator", "denominator", "ratio"}}}
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, DateTime, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure, ProcedureLevel
from motcua.dossiers.models import CHANNEL_LABELS, Channel
from motcua.organisation.models import Unit
from motcua.reporting.decision766 import index_for
from motcua.reporting.models import COUNTERS, NO_CHANNEL, ReportingBacklog, ReportingDay
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.rates import RATES, Rate
from motcua.reporting.rollups import rollup_state

NO_FIELD = "Không gắn với thủ tục"
NO_CHANNEL_LABEL = "Không gắn với hồ sơ"
NO_UNIT_LABEL = "Chưa gắn với đơn vị"
ONLINE_LEVELS = (ProcedureLevel.PARTIAL.value, ProcedureLevel.FULL.value)
# Statistical disclosure control: a count from 1 to 4 could point at a person.
SUPPRESS_BELOW = 5
SUPPRESSION_NOTE = (
    "Số liệu từ 1 đến 4 (và các tỷ lệ, số liệu suy ra được từ chúng) không được công bố để bảo vệ "
    "thông tin cá nhân; giá trị null nghĩa là không công bố hoặc chưa có số liệu."
)

SUPPRESSED_WORKING = (
    "Số liệu nhỏ hơn 5, không công bố chi tiết; điểm của nhóm và tổng điểm cũng không công bố."
)

Counts = dict[str, int]


def _zero() -> Counts:
    return dict.fromkeys(COUNTERS, 0)


def _add(into: Counts, row: Mapping[str, int]) -> None:
    for name in COUNTERS:
        into[name] += int(row[name])


def dossier_rates(c: Mapping[str, int]) -> dict[str, Rate]:
    """The rates computed from a set of counters (one row, a field, the whole tenant)."""
    return {
        "online_dossier_rate": Rate(c["received_online"], c["received"]),
        "online_by_citizen_share": Rate(c["online_by_citizen"], c["received_online"]),
        "on_time_rate": Rate(c["finished_on_time"], c["finished"]),
        "online_payment_rate": Rate(c["paid_online"], c["with_fees"]),
        "digitisation_rate": Rate(c["digitised"], c["received"]),
        "satisfied_rate": Rate(c["rating_4"] + c["rating_5"], c["ratings"]),
        "average_score": Rate(c["rating_sum"], c["ratings"]),
        "feedback_on_time_rate": Rate(c["feedback_on_time"], c["feedback"]),
    }


def catalogue_rates(procedures: Iterable[Procedure], online_used: set[int]) -> dict[str, Rate]:
    """Full-online and online-with-dossiers rates over these procedures (the catalogue as it is
    now). PRODUCT DECISION: "eligible for full online" = published and offered online at some
    level (partial or full); the catalogue has no separate eligibility flag yet."""
    online = [p for p in procedures if p.published and p.level in ONLINE_LEVELS]
    full = [p for p in online if p.level == ProcedureLevel.FULL]
    used = [p for p in online if p.id in online_used]
    return {
        "full_online_rate": Rate(len(full), len(online)),
        "online_with_dossiers_rate": Rate(len(used), len(online)),
    }


def _figures(counts: Counts, extra: dict[str, Rate] | None = None) -> dict[str, Any]:
    rates = {**(extra or {}), **dossier_rates(counts)}
    shown = {k: c for k, c in counts.items() if not k.startswith("rating_") or k == "rating_sum"}
    shown["rating_levels"] = {str(n): counts[f"rating_{n}"] for n in range(1, 6)}  # type: ignore[assignment]
    return {"counts": shown, "rates": {k: rates[k].to_dict() for k in RATES if k in rates}}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(VIETNAM).isoformat() if moment is not None else None


@dataclass(frozen=True, slots=True)
class UnitChoice:
    """A unit as a filter offers it, with its depth in the tree."""

    id: int
    name: str
    agency_code: str
    depth: int
    active: bool


async def unit_choices(session: AsyncSession) -> list[UnitChoice]:
    """Every unit of the tenant, depth-first from the roots, children in their order (as
    /manage/units lists them)."""
    units = (await session.execute(select(Unit).order_by(Unit.position, Unit.name, Unit.id))).scalars().all()
    known = {u.id for u in units}
    children: dict[int | None, list[Unit]] = defaultdict(list)
    for u in units:
        children[u.parent_id if u.parent_id in known else None].append(u)
    flat: list[UnitChoice] = []
    stack = [(u, 0) for u in reversed(children[None])]
    while stack:
        unit, depth = stack.pop()
        flat.append(UnitChoice(unit.id, unit.name, unit.agency_code, depth, unit.active))
        stack.extend((c, depth + 1) for c in reversed(children[unit.id]))
    return flat


def _unit_info(unit_id: int, units: Mapping[int, UnitChoice]) -> dict[str, Any]:
    found = units.get(unit_id)
    if found is None:  # unit 0: a tenant without units
        return {"unit_id": unit_id, "name": NO_UNIT_LABEL, "agency_code": ""}
    return {"unit_id": unit_id, "name": found.name, "agency_code": found.agency_code}


async def compute_indicators(
    session: AsyncSession, period: Period, *, now: datetime | None = None, unit_id: int | None = None
) -> dict[str, Any]:
    """Every indicator of the tenant (the session's schema) for ``period``, from the rollups;
    with ``unit_id``, those of the dossiers that unit received (rollups.py says which unit a
    dossier counts for). The catalogue rates stay the tenant's: the catalogue is shared."""
    now = now or datetime.now(VIETNAM)
    sums = [func.coalesce(func.sum(getattr(ReportingDay, c)), 0).label(c) for c in COUNTERS]
    query = (
        select(ReportingDay.procedure_id, ReportingDay.channel, ReportingDay.unit_id, *sums)
        .where(ReportingDay.day >= period.first_day, ReportingDay.day < period.end_day)
        .group_by(ReportingDay.procedure_id, ReportingDay.channel, ReportingDay.unit_id)
    )
    if unit_id is not None:
        query = query.where(ReportingDay.unit_id == unit_id)
    rows = (await session.execute(query)).mappings().all()
    procedures = {p.id: p for p in (await session.scalars(select(Procedure))).all()}
    units = {u.id: u for u in await unit_choices(session)}

    total = _zero()
    by_procedure: dict[int, Counts] = defaultdict(_zero)
    by_channel: dict[int, Counts] = defaultdict(_zero)
    by_field: dict[str, Counts] = defaultdict(_zero)
    by_unit: dict[int, Counts] = defaultdict(_zero)
    online_used: set[int] = set()
    for row in rows:
        procedure = procedures.get(row["procedure_id"])
        field = procedure.field if procedure is not None else NO_FIELD
        for into in (
            total,
            by_procedure[row["procedure_id"]],
            by_channel[row["channel"]],
            by_field[field],
            by_unit[row["unit_id"]],
        ):
            _add(into, row)
        if row["received_online"]:
            online_used.add(row["procedure_id"])

    fields = sorted({p.field for p in procedures.values()} | set(by_field))
    procedure_rows = []
    for procedure_id, counts in sorted(by_procedure.items()):
        p = procedures.get(procedure_id)
        procedure_rows.append(
            {
                "procedure_id": procedure_id,
                "code": p.code if p is not None else "",
                "name": p.name if p is not None else NO_FIELD,
                "field": p.field if p is not None else NO_FIELD,
                **_figures(counts),
            }
        )
    channel_rows = [
        {
            "channel": channel,
            "label": CHANNEL_LABELS[Channel(channel)] if channel != NO_CHANNEL else NO_CHANNEL_LABEL,
            **_figures(by_channel[channel]),
        }
        for channel in sorted(set(by_channel) | {int(c) for c in Channel})
    ]
    field_rows = [
        {
            "field": field,
            **_figures(
                by_field[field],
                catalogue_rates([p for p in procedures.values() if p.field == field], online_used),
            ),
        }
        for field in fields
    ]
    # As by procedure: the units with something counted in the period (a province has a
    # hundred or more), in the tree's order, then unit 0; the chosen unit even with nothing.
    if unit_id is not None:
        shown_units = [unit_id]
    else:
        shown_units = [u for u in units if u in by_unit]
        shown_units += sorted(set(by_unit) - set(shown_units))
    unit_rows = [{**_unit_info(u, units), **_figures(by_unit[u])} for u in shown_units]
    catalogue = catalogue_rates(procedures.values(), online_used)
    total_rates = {**catalogue, **dossier_rates(total)}

    backlog = await backlog_now(session, unit_id=unit_id) if period.contains(now) else None
    state = await rollup_state(session)
    return {
        "period": period.key,
        "period_label": period.label,
        "start": _iso(period.start),
        "end": _iso(period.end),
        "computed_at": _iso(now),
        "rollups_refreshed_at": _iso(state.refreshed_at),
        "total": _figures(total, catalogue),
        "by_field": field_rows,
        "by_procedure": procedure_rows,
        "by_channel": channel_rows,
        "by_unit": unit_rows,
        "unit": _unit_info(unit_id, units) if unit_id is not None else None,
        "in_process": backlog,
        "index": index_for(period.year).score(total_rates),
    }


# Suppression for public outputs -------------------------------------------------------------------
# (part, whole): with the whole shown, a part whose remainder is small reveals that remainder.
_PARTS = (
    ("received_online", "received"),
    ("online_by_citizen", "received_online"),
    ("finished_on_time", "finished"),
    ("finished_late", "finished"),
    ("paid_online", "with_fees"),
    ("digitised", "received"),
    ("feedback_on_time", "feedback"),
)
_RATE_PARTS = {
    "online_dossier_rate": ("received_online", "received"),
    "online_by_citizen_share": ("online_by_citizen", "received_online"),
    "on_time_rate": ("finished_on_time", "finished"),
    "online_payment_rate": ("paid_online", "with_fees"),
    "digitisation_rate": ("digitised", "received"),
    "average_score": ("rating_sum", "ratings"),
    "feedback_on_time_rate": ("feedback_on_time", "feedback"),
}


def _small(value: int | None) -> bool:
    return value is not None and 0 < value < SUPPRESS_BELOW


def _suppress_figures(figures: dict[str, Any]) -> None:
    counts: dict[str, Any] = figures["counts"]
    original = {k: v for k, v in counts.items() if isinstance(v, int)}
    hidden = {k for k, v in original.items() if _small(v)}
    for part, whole in _PARTS:
        if _small(original[whole] - original[part]) and whole not in hidden:
            hidden.add(part)
    if "ratings" in hidden:
        hidden.add("rating_sum")
    levels: dict[str, int] = counts["rating_levels"]
    hidden_levels = {k for k, v in levels.items() if _small(v) or "ratings" in hidden}
    if len(hidden_levels) == 1:  # one hidden level is the total less the others: hide one more
        others = sorted((v, k) for k, v in levels.items() if k not in hidden_levels and v > 0)
        if others:
            hidden_levels.add(others[0][1])
    satisfied = levels["4"] + levels["5"]
    for key in hidden:
        counts[key] = None
    counts["rating_levels"] = {k: (None if k in hidden_levels else v) for k, v in levels.items()}
    rates: dict[str, dict[str, Any]] = figures["rates"]
    for key, (part, whole) in _RATE_PARTS.items():
        if key in rates and (part in hidden or whole in hidden):
            rates[key] = _hidden_rate(rates[key], whole in hidden)
    if "satisfied_rate" in rates and (
        "ratings" in hidden or _small(satisfied) or _small(original["ratings"] - satisfied)
    ):
        rates["satisfied_rate"] = _hidden_rate(rates["satisfied_rate"], "ratings" in hidden)


def _hidden_rate(rate: dict[str, Any], whole_hidden: bool) -> dict[str, Any]:
    return {
        "numerator": None,
        "denominator": None if whole_hidden else rate["denominator"],
        "ratio": None,
        "suppressed": True,
    }


def public_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy fit for the public (statistics page, open data, API): aggregates only, with every
    count from 1 to 4 — and the counts and rates that would reveal one — replaced by null.
    Counts of procedures (the catalogue) are public anyway and kept; 0 is kept (it reveals no one)."""
    view = copy.deepcopy(dict(data))
    _suppress_figures(view["total"])
    # "by_unit" is absent from periods published before the figures were cut by unit.
    for key in ("by_field", "by_procedure", "by_channel", "by_unit"):
        for row in view.get(key, ()):
            _suppress_figures(row)
    backlog = view.get("in_process")
    if backlog is not None:
        in_process, overdue = backlog["in_process"], backlog["overdue"]
        if _small(in_process):
            backlog["in_process"] = None
        if _small(overdue) or _small(in_process - overdue) or _small(in_process):
            backlog["overdue"] = None
    rates = view["total"]["rates"]
    index = view["index"]
    hidden_total = False
    for group in index["groups"]:
        hidden_group = False
        for criterion in group["criteria"]:
            rate = rates.get(criterion["indicator"], {})
            if rate.get("suppressed"):
                # The points would give the ratio back (ratio ÷ target × max, or ratio × max),
                # and with the denominator the count: they go too, and so do the group's and
                # the total, which would give them back by subtraction.
                criterion.update(
                    numerator=None,
                    denominator=rate["denominator"],
                    ratio=None,
                    points=None,
                    working=SUPPRESSED_WORKING,
                    suppressed=True,
                )
                hidden_group = True
        if hidden_group:
            group["points"] = None
            hidden_total = True
    if hidden_total:
        index["total"] = None
    view["suppression"] = SUPPRESSION_NOTE
    return view


# Series for trend charts and pages that show several periods at once ------------------------------
async def period_totals(
    session: AsyncSession, periods: Sequence[Period], *, unit_id: int | None = None
) -> dict[str, dict[str, Any]]:
    """The totals and the Decision 766 index of several periods from one query over the rollups
    (grouped by month), where calling ``compute_indicators`` for each would scan the
    same days again — a year and its twelve months, say. Each value has the shape of
    ``compute_indicators`` with the drill-down left empty and no backlog (so ``public_view``
    applies); its "total" and "index" equal what ``compute_indicators`` gives for that period
    (and that unit, with ``unit_id``)."""
    if not periods:
        return {}
    first = min(p.first_day for p in periods)
    end = max(p.end_day for p in periods)
    # Truncated as a plain timestamp: through timestamptz the session's time zone would move it.
    month = cast(func.date_trunc("month", cast(ReportingDay.day, DateTime())), Date).label("month")
    sums = [func.coalesce(func.sum(getattr(ReportingDay, c)), 0).label(c) for c in COUNTERS]
    used = (
        func.array_agg(ReportingDay.procedure_id.distinct())
        .filter(ReportingDay.received_online > 0)
        .label("online_used")
    )
    query = (
        select(month, *sums, used).where(ReportingDay.day >= first, ReportingDay.day < end).group_by(month)
    )
    if unit_id is not None:
        query = query.where(ReportingDay.unit_id == unit_id)
    rows = (await session.execute(query)).mappings().all()
    procedures = (await session.scalars(select(Procedure))).all()
    out: dict[str, dict[str, Any]] = {}
    for period in periods:
        total = _zero()
        online_used: set[int] = set()
        for row in rows:
            if period.first_day <= row["month"] < period.end_day:
                _add(total, row)
                online_used.update(row["online_used"] or ())
        catalogue = catalogue_rates(procedures, online_used)
        out[period.key] = {
            "period": period.key,
            "period_label": period.label,
            "start": _iso(period.start),
            "end": _iso(period.end),
            "total": _figures(total, catalogue),
            "by_field": [],
            "by_procedure": [],
            "by_channel": [],
            "by_unit": [],
            "unit": None,
            "in_process": None,
            "index": index_for(period.year).score({**catalogue, **dossier_rates(total)}),
        }
    return out


async def backlog_now(session: AsyncSession, *, unit_id: int | None = None) -> dict[str, Any]:
    """The dossiers in process now and those already overdue (what ``compute_indicators`` gives
    as "in_process" for the current period), of the tenant or of one receiving unit."""
    query = select(
        func.coalesce(func.sum(ReportingBacklog.in_process), 0),
        func.coalesce(func.sum(ReportingBacklog.overdue), 0),
        func.max(ReportingBacklog.computed_at),
    )
    if unit_id is not None:
        query = query.where(ReportingBacklog.unit_id == unit_id)
    b = (await session.execute(query)).one()
    return {"in_process": int(b[0]), "overdue": int(b[1]), "as_of": _iso(b[2])}
