"""The dossier's internal workflow as the officer drives it from the workspace: the current step,
its unit and deadline, the journey so far with people's names, and the step actions by role.

Who may do what at a step (roles per unit, ``organisation.models.UnitRole``, read per request
through ``workflow.scope.Scope``):
- complete the step (``advance``): whoever holds the step's role in the step's unit (reception
  at the desk's steps, a leader at the department's step and approval, a specialist at the
  specialist's step); a leader's completion of the approval step is the approval;
- send back (``send_back``): a leader of the step's unit, at the approval step, with a reason;
- transfer to another unit or ask other units for an opinion: the step's role holder or a
  leader of the step's unit, with a reason (a question);
- answer an opinion: anyone with a role in the unit asked.
Every form carries the step it was shown for (``expected``): a step that moved meanwhile is
refused as stale, so two officers on one page never move a dossier two steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.digits import row_id
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.lifecycle import DossierError
from motcua.dossiers.models import Dossier
from motcua.dossiers.services import calendar_for
from motcua.identity.models import N_
from motcua.identity.schemas import mask_personal_id
from motcua.identity.services import staff_ids, staff_names
from motcua.organisation.models import Unit, UnitRole, UnitStaff
from motcua.workflow.models import Consultation, DossierStep, Outcome, StepKind
from motcua.workflow.scope import Scope
from motcua.workflow.services import (
    NOT_OPEN,
    STALE_STEP,
    WorkflowError,
    advance,
    answer_opinion,
    ask_opinions,
    journey,
    open_step,
    send_back,
    start_workflow,
    steps_of,
    transfer,
)

# The step actions a form may post (/officer/dossiers/{code}/steps/{verb}).
STEP_VERBS = frozenset({"advance", "send_back", "transfer", "ask_opinion", "answer_opinion"})
NOT_YOUR_STEP = N_("Bạn không có vai trò ở đơn vị đang giữ hồ sơ để thực hiện thao tác này ở bước hiện tại.")
NOT_YOUR_OPINION = N_("Ý kiến này không được hỏi đơn vị của bạn.")


@dataclass(frozen=True, slots=True)
class JourneyRow:
    """One stay of the dossier in a step, as people read it."""

    step: str  # the step in words
    unit: str
    started_at: datetime
    due_at: datetime
    finished_at: datetime | None
    outcome: str | None  # in words; None while open
    by: str | None  # who closed it, by name
    assignee: str | None  # by name
    note: str | None

    @property
    def late(self) -> bool:
        return (self.finished_at or datetime.now(VIETNAM)) > self.due_at


@dataclass(frozen=True, slots=True)
class Opinion:
    id: int
    asking_unit: str
    unit: str
    question: str
    due_at: datetime
    answer: str | None
    answered_by: str | None
    can_answer: bool


@dataclass(frozen=True, slots=True)
class StepPanel:
    """The workflow part of the workspace. ``step`` is None when the dossier has no open step
    (not routed yet, or its workflow is over)."""

    step: DossierStep | None
    kind: StepKind | None
    unit: str
    can_advance: bool
    can_send_back: bool
    can_route: bool  # transfer and ask for opinions
    units: list[tuple[int, str]]  # the other active units, for transfers and opinions
    opinions: list[Opinion]
    journey: list[JourneyRow]


def _name(actor: str | None, names: dict[str, str]) -> str | None:
    if not actor:
        return None
    ids = staff_ids([actor])
    if not ids:
        return None
    pid = next(iter(ids))
    return names.get(pid) or mask_personal_id(pid)


def _may_act(scope: Scope, step: DossierStep) -> bool:
    return scope.holds(step.unit_id, UnitRole(StepKind(step.kind).role))


def _may_route(scope: Scope, step: DossierStep) -> bool:
    return _may_act(scope, step) or scope.holds(step.unit_id, UnitRole.LEADER)


async def step_panel(session: AsyncSession, dossier: Dossier, scope: Scope) -> StepPanel:
    steps = await journey(session, dossier.id)
    asked = list(
        (
            await session.execute(
                select(Consultation).where(Consultation.dossier_id == dossier.id).order_by(Consultation.id)
            )
        ).scalars()
    )
    units = {u.id: u for u in (await session.execute(select(Unit))).scalars().all()}
    people = {s.assignee for s in steps if s.assignee} | staff_ids(
        [s.actor for s in steps if s.actor] + [c.answered_by for c in asked if c.answered_by]
    )
    names = await staff_names(session, people)

    def unit_name(unit_id: int) -> str:
        unit = units.get(unit_id)
        return unit.name if unit is not None else ""

    current = next((s for s in steps if s.finished_at is None), None)
    rows = [
        JourneyRow(
            step=StepKind(s.kind).label,
            unit=unit_name(s.unit_id),
            started_at=s.started_at.astimezone(VIETNAM),
            due_at=s.due_at.astimezone(VIETNAM),
            finished_at=s.finished_at.astimezone(VIETNAM) if s.finished_at else None,
            outcome=Outcome(s.outcome).label if s.outcome else None,
            by=_name(s.actor, names),
            assignee=(names.get(s.assignee) or mask_personal_id(s.assignee)) if s.assignee else None,
            note=s.note,
        )
        for s in steps
    ]
    opinions = [
        Opinion(
            id=c.id,
            asking_unit=unit_name(c.asking_unit_id),
            unit=unit_name(c.unit_id),
            question=c.question,
            due_at=c.due_at.astimezone(VIETNAM),
            answer=c.answer,
            answered_by=_name(c.answered_by, names),
            can_answer=c.answered_at is None and scope.holds(c.unit_id),
        )
        for c in asked
    ]
    return StepPanel(
        step=current,
        kind=StepKind(current.kind) if current else None,
        unit=unit_name(current.unit_id) if current else "",
        can_advance=current is not None and _may_act(scope, current),
        can_send_back=current is not None
        and current.kind == StepKind.LEADER
        and scope.holds(current.unit_id, UnitRole.LEADER),
        can_route=current is not None and _may_route(scope, current),
        units=sorted(
            (
                (u.id, u.name)
                for u in units.values()
                if u.active and (current is None or u.id != current.unit_id)
            ),
            key=lambda u: u[1].casefold(),
        ),
        opinions=opinions,
        journey=rows,
    )


async def open_on_accept(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, *, actor: Actor, at: datetime
) -> None:
    """Accepting a routed dossier is its reception step done: the workflow opens at the desk
    from the moment the dossier was received (so the reception step's time is the desk's), and
    moves on to the deciding unit. A dossier without both units stays outside the workflow
    (a single-desk tenant, or one received before routing)."""
    if dossier.receiving_unit_id is None or dossier.deciding_unit_id is None:
        return
    calendar = calendar_for(tenant)
    current = await open_step(session, dossier.id)
    if current is None:
        current = await start_workflow(
            session,
            dossier,
            receiving_unit_id=dossier.receiving_unit_id,
            deciding_unit_id=dossier.deciding_unit_id,
            at=min(dossier.received_at, at),
            calendar=calendar,
        )
    if current.kind == StepKind.RECEPTION:
        await advance(session, dossier, at=at, calendar=calendar, actor=actor, expected=current.id)


async def _next_assignee(session: AsyncSession, dossier: Dossier, current: DossierStep) -> str | None:
    """Who the next step is for: the officer the dossier is assigned to (the leader picks the
    specialist at the department's step), when they hold that step's role in its unit."""
    plan = await steps_of(session, dossier.procedure_id)
    person = dossier.assigned_to
    if person is None or current.position + 1 >= len(plan):
        return None
    following = plan[current.position + 1].kind
    unit = dossier.receiving_unit_id if following.at_receiving_unit else dossier.deciding_unit_id
    holds = await session.scalar(
        select(UnitStaff.id)
        .where(UnitStaff.unit_id == unit, UnitStaff.personal_id == person, UnitStaff.role == following.role)
        .limit(1)
    )
    return person if holds is not None else None


def _expected(data: dict[str, Any]) -> int:
    text = str(data.get("step", ""))
    # A form without its step is stale by definition (-1 matches no step).
    found = row_id(text)
    return -1 if found is None else found


def _unit_ids(data: dict[str, Any], name: str) -> list[int]:
    raw = data.get(name, [])
    values = raw if isinstance(raw, list) else [raw]
    return [found for v in values[:200] if (found := row_id(str(v))) is not None]


async def step_action(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    scope: Scope,
    verb: str,
    data: dict[str, Any],
    *,
    actor: Actor,
    at: datetime,
) -> None:
    """One step action from the workspace, checked against the officer's roles in the unit that
    holds the dossier now; refusals raise ``DossierError`` before anything is written."""
    calendar = calendar_for(tenant)
    try:
        if verb == "answer_opinion":
            opinion = row_id(str(data.get("opinion", "")))
            consultation = await session.get(Consultation, opinion) if opinion is not None else None
            if (
                consultation is None
                or consultation.dossier_id != dossier.id
                or not scope.holds(consultation.unit_id)
            ):
                raise DossierError(NOT_YOUR_OPINION)
            await answer_opinion(
                session, consultation, answer=str(data.get("answer", "")), at=at, actor=actor
            )
            return
        expected = _expected(data)
        # The roles are checked against the step the dossier is at now (someone without a role
        # there hears so, whatever page they came from), then the page's step against it.
        current = await open_step(session, dossier.id)
        if current is None:
            raise DossierError(NOT_OPEN)
        allowed = {
            "advance": _may_act(scope, current),
            "send_back": scope.holds(current.unit_id, UnitRole.LEADER),
            "transfer": _may_route(scope, current),
            "ask_opinion": _may_route(scope, current),
        }
        if not allowed.get(verb, False):
            raise DossierError(NOT_YOUR_STEP)
        if current.id != expected:
            raise DossierError(STALE_STEP)
        reason = str(data.get("reason", ""))
        if verb == "advance":
            await advance(
                session,
                dossier,
                at=at,
                calendar=calendar,
                actor=actor,
                expected=expected,
                assignee=await _next_assignee(session, dossier, current),
            )
        elif verb == "send_back":
            await send_back(
                session, dossier, at=at, calendar=calendar, actor=actor, reason=reason, expected=expected
            )
        elif verb == "transfer":
            targets = _unit_ids(data, "to_unit")
            await transfer(
                session,
                dossier,
                to_unit_id=targets[0] if targets else -1,
                reason=reason,
                at=at,
                calendar=calendar,
                actor=actor,
                expected=expected,
            )
        else:
            await ask_opinions(
                session,
                dossier,
                unit_ids=_unit_ids(data, "units"),
                question=str(data.get("question", "")),
                hours=str(data.get("hours", "")),
                at=at,
                calendar=calendar,
                actor=actor,
            )
    except WorkflowError as exc:
        raise DossierError(next(iter(exc.errors.values()))) from None
