"""The late-risk of every in-progress dossier of a tenant, from its own history (``forecast``).

Two statements: the history, summarised by PostgreSQL as quantiles of the working hours each
(procedure, unit, step) and each (procedure, step) took; and the open steps. Everything else
is arithmetic in this process, one ``Forecaster`` per (procedure, unit).

When a step has too little history anywhere, its budget stands in (``forecast.choose_durations``):
its share of the procedure's legal time, taken as the median legal time of the procedure's
dossiers now in progress.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, ColumnElement, Float, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.dossiers.deadlines import WorkCalendar
from motcua.dossiers.models import Dossier
from motcua.workflow.forecast import MIN_HISTORY, STEP_QUANTILES, Forecaster, StepDurations, choose_durations
from motcua.workflow.models import DossierStep, Outcome
from motcua.workflow.services import PlannedStep, steps_of

_LEVELS = [i / (STEP_QUANTILES - 1) for i in range(STEP_QUANTILES)]
# A dossier at least this likely to miss its legal deadline is a high risk: listed on its unit
# leader's page, and its leaders are told by the deadline scan (once a day).
HIGH_RISK = 0.5


@dataclass(frozen=True, slots=True)
class Risk:
    dossier_id: int
    position: int
    unit_id: int
    probability: float


async def _history(
    session: AsyncSession, *, by_unit: bool
) -> dict[tuple[int, int | None, int], tuple[int, list[float]]]:
    """(procedure, unit or None, position) → (how many finished, their quantiles)."""
    unit = DossierStep.unit_id if by_unit else literal(None)
    rows = await session.execute(
        select(
            Dossier.procedure_id,
            unit,
            DossierStep.position,
            func.count(),
            func.percentile_disc(literal(_LEVELS, type_=ARRAY(Float))).within_group(DossierStep.worked_hours),
        )
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .where(DossierStep.outcome == Outcome.DONE.value, DossierStep.worked_hours.is_not(None))
        .group_by(Dossier.procedure_id, unit, DossierStep.position)
    )
    return {(p, u, pos): (int(n), [float(h) for h in q]) for p, u, pos, n, q in rows}


async def late_risks(
    session: AsyncSession, *, now: datetime, calendar: WorkCalendar, unit_id: int | None = None
) -> list[Risk]:
    """P(missing the legal deadline) for every dossier with an open step (at ``unit_id`` only,
    when given: a leader's page reads its own unit's, the deadline scan everyone's)."""
    where: list[ColumnElement[bool]] = [DossierStep.finished_at.is_(None)]
    if unit_id is not None:
        where.append(DossierStep.unit_id == unit_id)
    open_rows = (
        await session.execute(
            select(
                DossierStep.dossier_id,
                Dossier.procedure_id,
                DossierStep.unit_id,
                DossierStep.position,
                DossierStep.started_at,
                Dossier.due_at,
                DossierStep.budget_hours,
                DossierStep.kind,
            )
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .where(*where)
        )
    ).all()
    if not open_rows:
        return []
    by_unit = await _history(session, by_unit=True)
    by_procedure = await _history(session, by_unit=False)

    plans: dict[int, list[PlannedStep]] = {}
    legal: dict[int, list[float]] = defaultdict(list)
    for _, procedure_id, _, position, _, _, budget, _ in open_rows:
        if procedure_id not in plans:
            plans[procedure_id] = await steps_of(session, procedure_id)
        share = plans[procedure_id][position].share_percent if position < len(plans[procedure_id]) else 0
        if share:
            legal[procedure_id].append(budget * 100 / share)

    forecasters: dict[tuple[int, int], Forecaster] = {}

    def forecaster(procedure_id: int, unit_id: int) -> Forecaster:
        key = (procedure_id, unit_id)
        built = forecasters.get(key)
        if built is None:
            plan = plans[procedure_id]
            typical = statistics.median(legal[procedure_id]) if legal[procedure_id] else 8.0
            steps: Sequence[StepDurations] = [
                choose_durations(
                    _quantiles(by_unit.get((procedure_id, unit_id, i))),
                    _quantiles(by_procedure.get((procedure_id, None, i))),
                    typical * step.share_percent / 100,
                )
                for i, step in enumerate(plan)
            ]
            built = forecasters[key] = Forecaster(steps)
        return built

    risks = []
    for dossier_id, procedure_id, unit_id, position, started_at, due_at, _, _ in open_rows:
        elapsed = calendar.working_hours_between(started_at, now)
        remaining = calendar.working_hours_between(now, due_at) if due_at > now else -1.0
        if position >= len(plans[procedure_id]):
            position = len(plans[procedure_id]) - 1
        probability = forecaster(procedure_id, unit_id).risk(position, elapsed, remaining)
        risks.append(Risk(dossier_id, position, unit_id, probability))
    return risks


def _quantiles(found: tuple[int, list[float]] | None) -> list[float]:
    """The history of one scope as ``choose_durations`` takes it: empty when it is too thin,
    else its quantiles (each standing for an equal share of the finished steps)."""
    if found is None or found[0] < MIN_HISTORY:
        return []
    return found[1]
