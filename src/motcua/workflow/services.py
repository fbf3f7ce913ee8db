"""A procedure's workflow (its steps and their shares of the legal deadline) and each dossier's
way through it: opened at reception, advanced step by step, sent back by a leader.

Every change is one action in the caller's transaction, with its row in the dossier's history
(who, when, and the step and units in words: the applicant reads them too; what the officer typed
with it is kept for staff only). A dossier has at most one open step
(a unique partial index holds it even against two officers acting at the same moment); the
step's unit comes from the dossier (its receiving unit for the desk's steps, its deciding unit
for the others), and the step's deadline is its share of the legal deadline in working hours
from the moment it opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.audit import Actor, tenant_entry
from motcua.core.digits import only_digits
from motcua.core.messages import Message
from motcua.dossiers.deadlines import WorkCalendar
from motcua.dossiers.lifecycle import record_event
from motcua.dossiers.models import Dossier
from motcua.dossiers.words import (
    OPINION_GIVEN,
    OPINIONS_ASKED,
    STEP_APPROVED,
    STEP_ASSIGNED,
    STEP_DELIVERED,
    STEP_RETURNED,
    STEP_SENT_BACK,
    STEP_SUBMITTED,
    STEP_TO_UNIT,
    STEP_TRANSFERRED,
)
from motcua.identity.models import N_
from motcua.organisation.models import Unit
from motcua.workflow.models import (
    DEFAULT_STEPS,
    Consultation,
    DossierStep,
    Outcome,
    StepKind,
    Transfer,
    WorkflowStep,
)

NO_STEPS = N_("Quy trình cần ít nhất một bước.")
BAD_STEP = N_("Chọn loại bước trong danh sách.")
BAD_SHARE = N_("Tỷ lệ thời gian của mỗi bước là số nguyên từ 0 đến 100.")
SHARES_NOT_100 = N_("Tổng tỷ lệ thời gian của các bước phải bằng 100%.")
FIRST_RECEPTION = N_("Bước đầu tiên phải là tiếp nhận hồ sơ.")
LAST_DELIVERY = N_("Bước cuối cùng phải là trả kết quả cho người dân.")
NO_UNIT = N_("Hồ sơ chưa có đơn vị tiếp nhận và đơn vị giải quyết.")
NOT_OPEN = N_("Hồ sơ không còn ở bước nào của quy trình.")
SEND_BACK_ONLY_LEADER = N_("Chỉ lãnh đạo ở bước phê duyệt mới trả lại hồ sơ.")
SEND_BACK_REASON = N_("Ghi rõ lý do trả lại.")
TRANSFER_REASON = N_("Ghi rõ lý do chuyển.")
TRANSFER_UNIT = N_("Chọn đơn vị nhận hồ sơ trong danh sách (đang hoạt động, khác đơn vị hiện tại).")
WAITING_OPINIONS = N_("Hồ sơ đang chờ ý kiến của đơn vị khác; chưa thể chuyển bước.")
OPINION_UNITS = N_("Chọn ít nhất một đơn vị khác để xin ý kiến.")
OPINION_QUESTION = N_("Ghi rõ nội dung xin ý kiến.")
OPINION_HOURS = N_("Thời hạn trả lời là số giờ làm việc từ 1 đến 400.")
OPINION_ANSWER = N_("Ghi nội dung ý kiến.")
OPINION_DONE = N_("Ý kiến này đã được trả lời.")
STALE_STEP = N_(
    "Hồ sơ đã được chuyển sang bước khác trong lúc bạn xem. Hãy tải lại trang để xem bước hiện tại."
)


class WorkflowError(ValueError):
    """A change the workflow refuses; ``errors`` maps the field to a Vietnamese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PlannedStep:
    kind: StepKind
    share_percent: int

    @property
    def label(self) -> str:
        return self.kind.label


async def steps_of(session: AsyncSession, procedure_id: int) -> list[PlannedStep]:
    """The procedure's own steps, or the default workflow when it has none."""
    rows = await session.execute(
        select(WorkflowStep.kind, WorkflowStep.share_percent)
        .where(WorkflowStep.procedure_id == procedure_id)
        .order_by(WorkflowStep.position)
    )
    own = [PlannedStep(StepKind(kind), share) for kind, share in rows]
    return own or [PlannedStep(kind, share) for kind, share in DEFAULT_STEPS]


def check_steps(steps: Sequence[tuple[str, str | int]]) -> list[PlannedStep]:
    """Validate a workflow as a form posts it: (kind, share) pairs in order."""
    errors: dict[str, str] = {}
    planned: list[PlannedStep] = []
    if not steps:
        raise WorkflowError({"steps": NO_STEPS})
    for i, (kind, share) in enumerate(steps):
        if kind not in {k.value for k in StepKind}:
            errors[f"steps-{i}-kind"] = BAD_STEP
            continue
        text = str(share).strip().rstrip("%").strip()
        if not only_digits(text) or not 0 <= int(text) <= 100:
            errors[f"steps-{i}-share"] = BAD_SHARE
            continue
        planned.append(PlannedStep(StepKind(kind), int(text)))
    if not errors:
        if sum(p.share_percent for p in planned) != 100:
            errors["steps"] = SHARES_NOT_100
        elif planned[0].kind is not StepKind.RECEPTION:
            errors["steps-0-kind"] = FIRST_RECEPTION
        elif planned[-1].kind is not StepKind.DELIVERY:
            errors[f"steps-{len(planned) - 1}-kind"] = LAST_DELIVERY
    if errors:
        raise WorkflowError(errors)
    return planned


async def save_steps(
    session: AsyncSession, procedure: Procedure, steps: Sequence[tuple[str, str | int]], *, actor: Actor
) -> list[PlannedStep]:
    """Replace the procedure's workflow (dossiers already on their way keep their open step)."""
    planned = check_steps(steps)
    procedure_id = procedure.id
    await session.execute(delete(WorkflowStep).where(WorkflowStep.procedure_id == procedure_id))
    session.add_all(
        WorkflowStep(procedure_id=procedure_id, position=i, kind=p.kind.value, share_percent=p.share_percent)
        for i, p in enumerate(planned)
    )
    await session.flush()
    await session.execute(
        tenant_entry(
            "workflow.changed",
            actor=actor,
            procedure=procedure.code,
            name=procedure.name,
            steps=[f"{p.kind.value}:{p.share_percent}" for p in planned],
        )
    )
    return planned


# What the history says when a step is completed, by the step's kind (``%(unit)s``: the unit
# where it was done; for reception, the unit the dossier goes to).
_DONE_WORDS = {
    StepKind.RECEPTION: STEP_TO_UNIT,
    StepKind.DEPARTMENT: STEP_ASSIGNED,
    StepKind.SPECIALIST: STEP_SUBMITTED,
    StepKind.LEADER: STEP_APPROVED,
    StepKind.RETURN: STEP_RETURNED,
    StepKind.DELIVERY: STEP_DELIVERED,
}


async def _unit_name(session: AsyncSession, unit_id: int | None) -> str:
    """The unit's name for the history; a step with no unit recorded (a dossier from before
    routing) is the root unit's, the service centre's, as the officer scope counts it."""
    unit = await session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None:
        unit = await session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
    return unit.name if unit is not None else ""


async def _tell(
    session: AsyncSession,
    dossier: Dossier,
    msgid: str,
    *,
    at: datetime,
    actor: Actor,
    note: str | None = None,
    **units: str,
) -> None:
    """The step change's row in the dossier's history; ``note`` (what the officer typed) is for
    staff only."""
    await record_event(session, dossier, actor=actor, message=Message(msgid, **units), staff_note=note, at=at)


def legal_hours(dossier: Dossier, calendar: WorkCalendar) -> float:
    """The dossier's whole legal time in working hours (reception to due date)."""
    return calendar.working_hours_between(dossier.received_at, dossier.due_at)


async def _open(
    session: AsyncSession,
    dossier: Dossier,
    plan: Sequence[PlannedStep],
    position: int,
    *,
    at: datetime,
    calendar: WorkCalendar,
    assignee: str | None = None,
) -> DossierStep:
    step = plan[position]
    unit = dossier.receiving_unit_id if step.kind.at_receiving_unit else dossier.deciding_unit_id
    if unit is None:
        raise WorkflowError({"unit": NO_UNIT})
    budget = legal_hours(dossier, calendar) * step.share_percent / 100
    opened = DossierStep(
        dossier_id=dossier.id,
        position=position,
        kind=step.kind.value,
        unit_id=unit,
        assignee=assignee,
        budget_hours=budget,
        started_at=at,
        due_at=calendar.add_working_hours(at, budget),
    )
    session.add(opened)
    await session.flush()
    return opened


async def start_workflow(
    session: AsyncSession,
    dossier: Dossier,
    *,
    receiving_unit_id: int,
    deciding_unit_id: int,
    at: datetime,
    calendar: WorkCalendar,
) -> DossierStep:
    """Route the dossier (the desk that received it, the unit that decides it) and open its
    first step, reception at that desk."""
    dossier.receiving_unit_id = receiving_unit_id
    dossier.deciding_unit_id = deciding_unit_id
    plan = await steps_of(session, dossier.procedure_id)
    return await _open(session, dossier, plan, 0, at=at, calendar=calendar)


async def open_step(
    session: AsyncSession, dossier_id: int, *, expected: int | None = None
) -> DossierStep | None:
    """The dossier's open step, locked until the transaction ends. With ``expected`` (the step
    the officer was looking at), a different open step is refused as stale: two officers acting
    on the same page never move the dossier two steps."""
    step = (
        await session.execute(
            select(DossierStep)
            .where(DossierStep.dossier_id == dossier_id, DossierStep.finished_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if expected is not None and (step is None or step.id != expected):
        raise WorkflowError({"step": STALE_STEP})
    return step


def _close(
    step: DossierStep,
    outcome: Outcome,
    *,
    at: datetime,
    calendar: WorkCalendar,
    actor: Actor,
    note: str | None,
) -> None:
    step.finished_at = at
    step.worked_hours = calendar.working_hours_between(step.started_at, at)
    step.outcome = outcome.value
    step.actor = str(actor)
    step.note = note


async def advance(
    session: AsyncSession,
    dossier: Dossier,
    *,
    at: datetime,
    calendar: WorkCalendar,
    actor: Actor,
    note: str | None = None,
    assignee: str | None = None,
    expected: int | None = None,
) -> DossierStep | None:
    """Close the open step as done and open the next; None after the last step."""
    current = await open_step(session, dossier.id, expected=expected)
    if current is None:
        raise WorkflowError({"step": NOT_OPEN})
    if await waiting_opinions(session, dossier.id):
        raise WorkflowError({"step": WAITING_OPINIONS})
    _close(current, Outcome.DONE, at=at, calendar=calendar, actor=actor, note=note)
    await session.flush()
    plan = await steps_of(session, dossier.procedure_id)
    following = current.position + 1
    opened = (
        await _open(session, dossier, plan, following, at=at, calendar=calendar, assignee=assignee)
        if following < len(plan)
        else None
    )
    kind = StepKind(current.kind)
    where = opened.unit_id if kind is StepKind.RECEPTION and opened is not None else current.unit_id
    await _tell(
        session,
        dossier,
        _DONE_WORDS[kind],
        at=at,
        actor=actor,
        note=note,
        unit=await _unit_name(session, where),
    )
    return opened


async def send_back(
    session: AsyncSession,
    dossier: Dossier,
    *,
    at: datetime,
    calendar: WorkCalendar,
    actor: Actor,
    reason: str,
    expected: int | None = None,
) -> DossierStep:
    """A leader sends the dossier back to the specialist step before theirs, with a reason;
    it goes to the specialist who had it."""
    reason = " ".join(reason.split())[:2000]
    current = await open_step(session, dossier.id, expected=expected)
    if current is None:
        raise WorkflowError({"step": NOT_OPEN})
    if current.kind != StepKind.LEADER:
        raise WorkflowError({"step": SEND_BACK_ONLY_LEADER})
    if not reason:
        raise WorkflowError({"reason": SEND_BACK_REASON})
    plan = await steps_of(session, dossier.procedure_id)
    back = max(
        (i for i in range(current.position) if plan[i].kind is StepKind.SPECIALIST),
        default=max(current.position - 1, 0),
    )
    previous = (
        await session.execute(
            select(DossierStep.assignee)
            .where(DossierStep.dossier_id == dossier.id, DossierStep.position == back)
            .order_by(DossierStep.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    _close(current, Outcome.SENT_BACK, at=at, calendar=calendar, actor=actor, note=reason)
    await session.flush()
    opened = await _open(session, dossier, plan, back, at=at, calendar=calendar, assignee=previous)
    # The applicant reads that it went back, not why: the reason is the leader's to the specialist.
    await _tell(
        session,
        dossier,
        STEP_SENT_BACK,
        at=at,
        actor=actor,
        note=reason,
        unit=await _unit_name(session, current.unit_id),
    )
    return opened


async def journey(session: AsyncSession, dossier_id: int) -> list[DossierStep]:
    """Every step the dossier went through, in order: the internal history."""
    return list(
        (
            await session.execute(
                select(DossierStep).where(DossierStep.dossier_id == dossier_id).order_by(DossierStep.id)
            )
        ).scalars()
    )


async def transfer(
    session: AsyncSession,
    dossier: Dossier,
    *,
    to_unit_id: int,
    reason: str,
    at: datetime,
    calendar: WorkCalendar,
    actor: Actor,
    expected: int | None = None,
) -> DossierStep:
    """Hand the dossier to another unit to decide (liên thông), with a reason: the open step
    closes as transferred and the deciding step opens at the new unit."""
    reason = " ".join(reason.split())[:2000]
    current = await open_step(session, dossier.id, expected=expected)
    if current is None:
        raise WorkflowError({"step": NOT_OPEN})
    errors: dict[str, str] = {}
    target = await session.get(Unit, to_unit_id)
    if target is None or not target.active or to_unit_id == current.unit_id:
        errors["to_unit_id"] = TRANSFER_UNIT
    if not reason:
        errors["reason"] = TRANSFER_REASON
    if errors:
        raise WorkflowError(errors)
    _close(current, Outcome.TRANSFERRED, at=at, calendar=calendar, actor=actor, note=reason)
    session.add(
        Transfer(
            dossier_id=dossier.id,
            from_unit_id=current.unit_id,
            to_unit_id=to_unit_id,
            reason=reason,
            actor=str(actor),
            at=at,
        )
    )
    dossier.deciding_unit_id = to_unit_id
    await session.flush()
    plan = await steps_of(session, dossier.procedure_id)
    deciding = next((i for i, p in enumerate(plan) if p.kind is StepKind.DEPARTMENT), None)
    if deciding is None:
        deciding = next((i for i, p in enumerate(plan) if not p.kind.at_receiving_unit), current.position)
    opened = await _open(session, dossier, plan, deciding, at=at, calendar=calendar)
    await _tell(
        session,
        dossier,
        STEP_TRANSFERRED,
        at=at,
        actor=actor,
        note=reason,
        from_unit=await _unit_name(session, current.unit_id),
        unit=await _unit_name(session, to_unit_id),
    )
    return opened


async def waiting_opinions(session: AsyncSession, dossier_id: int) -> list[Consultation]:
    return list(
        (
            await session.execute(
                select(Consultation)
                .where(Consultation.dossier_id == dossier_id, Consultation.answered_at.is_(None))
                .order_by(Consultation.id)
            )
        ).scalars()
    )


async def ask_opinions(
    session: AsyncSession,
    dossier: Dossier,
    *,
    unit_ids: Sequence[int],
    question: str,
    hours: str | int,
    at: datetime,
    calendar: WorkCalendar,
    actor: Actor,
) -> list[Consultation]:
    """Ask other units for their opinion, each with the same deadline in working hours; the
    dossier's step waits until every answer is in."""
    question = " ".join(question.split())[:4000]
    current = await open_step(session, dossier.id)
    if current is None:
        raise WorkflowError({"step": NOT_OPEN})
    errors: dict[str, str] = {}
    wanted = sorted({u for u in unit_ids if u != current.unit_id})
    found = (
        (await session.execute(select(Unit.id).where(Unit.id.in_(wanted), Unit.active.is_(True))))
        .scalars()
        .all()
        if wanted
        else []
    )
    if not wanted or len(found) != len(wanted):
        errors["unit_ids"] = OPINION_UNITS
    if not question:
        errors["question"] = OPINION_QUESTION
    text = str(hours).strip()
    if not only_digits(text) or not 1 <= int(text) <= 400:
        errors["hours"] = OPINION_HOURS
    if errors:
        raise WorkflowError(errors)
    due = calendar.add_working_hours(at, int(text))
    asked = [
        Consultation(
            dossier_id=dossier.id,
            asking_unit_id=current.unit_id,
            unit_id=unit_id,
            question=question,
            asked_by=str(actor),
            asked_at=at,
            due_at=due,
        )
        for unit_id in wanted
    ]
    session.add_all(asked)
    await session.flush()
    await _tell(
        session,
        dossier,
        OPINIONS_ASKED,
        at=at,
        actor=actor,
        note=question,
        unit=await _unit_name(session, current.unit_id),
        units=", ".join([await _unit_name(session, unit_id) for unit_id in wanted]),
    )
    return asked


async def answer_opinion(
    session: AsyncSession, consultation: Consultation, *, answer: str, at: datetime, actor: Actor
) -> None:
    answer = answer.strip()[:8000]
    if consultation.answered_at is not None:
        raise WorkflowError({"answer": OPINION_DONE})
    if not answer:
        raise WorkflowError({"answer": OPINION_ANSWER})
    consultation.answer, consultation.answered_by, consultation.answered_at = answer, str(actor), at
    await session.flush()
    dossier = await session.get(Dossier, consultation.dossier_id)
    if dossier is not None:
        await _tell(
            session,
            dossier,
            OPINION_GIVEN,
            at=at,
            actor=actor,
            note=answer,
            unit=await _unit_name(session, consultation.unit_id),
        )
