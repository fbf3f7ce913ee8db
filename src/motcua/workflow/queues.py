"""What a unit has on its desk: the open steps of its dossiers, each with the step's deadline and
the legal one, and the leader's view of the unit's workload.

The queue is one statement, paged by keyset on (step due date, step id), served by the partial
index of open steps per unit (``ix_dossier_steps_open_by_unit``): the page costs the same on the
first screen and the hundredth, with 100 or 100,000 dossiers in the unit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Select, String, and_, bindparam, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from motcua.core.db import inline_limit
from motcua.dossiers.models import Dossier
from motcua.identity.services import staff_name_of, staff_names
from motcua.organisation.models import Unit, UnitRole, UnitStaff
from motcua.workflow.models import DossierStep, StepKind

PAGE = 50


@dataclass(frozen=True, slots=True)
class QueueRow:
    step_id: int
    code: str
    procedure_name: str
    applicant_name: str
    step: StepKind
    unit_id: int
    assignee: str | None
    step_due_at: datetime
    legal_due_at: datetime
    # The assignee's name as ``names_in_unit`` gives it, read with the row; None: none known.
    assignee_name: str | None = None


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    # The keyset of the next page (None on the last): the last row's step due date and id.
    after: tuple[datetime, int] | None


@dataclass(frozen=True, slots=True)
class UnitShown:
    """What a unit's pages show of the unit itself."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class UnitQueue:
    unit: UnitShown
    roles: frozenset[UnitRole]  # the reader's roles in the unit (never empty)
    page: QueuePage


async def unit_queue(
    session: AsyncSession,
    unit_id: int,
    *,
    personal_id: str,
    assignee: str | None = None,
    kinds: Sequence[StepKind] = (),
    after: tuple[datetime, int] | None = None,
    limit: int = PAGE,
) -> UnitQueue | None:
    """The open steps of the unit, soonest step deadline first, for a person who holds a role
    there (None for anyone else, or a unit that does not exist); ``assignee`` narrows it to one
    person's. One statement: the unit and the reader's roles, each row joined to them."""
    statement = _queue_statement(assignee=assignee is not None, kinds=bool(kinds), after=after is not None)
    params = {
        "unit_id": unit_id,
        "reader": personal_id,
        "assignee": assignee,
        "kinds": [k.value for k in kinds],
        "after_due": after[0] if after else None,
        "after_id": after[1] if after else None,
        "limit": limit + 1,
    }
    found = (await session.execute(statement, params)).all()
    if not found:
        return None
    rows = [
        QueueRow(sid, code, name, applicant, StepKind(kind), unit, person, step_due, legal_due, person_name)
        for *_, sid, code, name, applicant, kind, unit, person, step_due, legal_due, person_name in found
        if sid is not None  # the unit's own row when it has nothing open
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    first = found[0]
    return UnitQueue(
        UnitShown(first[0], first[1]),
        frozenset(UnitRole(role) for role in first[2]),
        QueuePage(rows, (rows[-1].step_due_at, rows[-1].step_id) if more else None),
    )


@lru_cache(maxsize=1)
def _reader() -> Subquery:
    """The unit of ``unit_id`` with every role the person ``reader`` holds there, in one row; no
    row when they hold none (or the unit does not exist)."""
    return (
        select(Unit.id, Unit.name, func.array_agg(UnitStaff.role).label("roles"))
        .join(UnitStaff, UnitStaff.unit_id == Unit.id)
        .where(
            Unit.id == bindparam("unit_id", type_=BigInteger),
            UnitStaff.personal_id == bindparam("reader", type_=String),
        )
        .group_by(Unit.id, Unit.name)
        .subquery("reader")
    )


@lru_cache(maxsize=1)
def _reader_statement() -> Select[*tuple[Any, ...]]:
    reader = _reader()
    return select(reader.c.id, reader.c.name, reader.c.roles)


async def unit_of_reader(
    session: AsyncSession, unit_id: int, personal_id: str
) -> tuple[UnitShown, frozenset[UnitRole]] | None:
    """The unit and the person's roles there (None where they hold none), as ``unit_queue``
    reads them with its rows: for the unit's other pages."""
    row = (await session.execute(_reader_statement(), {"unit_id": unit_id, "reader": personal_id})).first()
    if row is None:
        return None
    return UnitShown(row[0], row[1]), frozenset(UnitRole(role) for role in row[2])


@lru_cache(maxsize=16)
def _queue_statement(*, assignee: bool, kinds: bool, after: bool) -> Select[*tuple[Any, ...]]:
    """The queue's statement for one shape of filter, built once with every value bound: a page
    view neither rebuilds it nor computes its cache key again (SQLAlchemy memoises the key on
    the statement object). The unit with the reader's roles there (no row: not theirs), then
    its first open steps beside it (LEFT JOIN LATERAL: the unit's row still comes with none)."""
    reader = _reader()
    steps = (
        select(
            DossierStep.id.label("step_id"),
            Dossier.code,
            Dossier.procedure_name,
            Dossier.applicant_name,
            DossierStep.kind,
            DossierStep.unit_id,
            DossierStep.assignee,
            DossierStep.due_at.label("step_due_at"),
            Dossier.due_at.label("legal_due_at"),
            # names_in_unit in the statement: the e-ID's name, else the one the unit's
            # administrator typed (no second and third round trip for a page's few people).
            func.coalesce(
                staff_name_of(DossierStep.assignee),
                select(UnitStaff.full_name)
                .where(
                    UnitStaff.unit_id == DossierStep.unit_id,
                    UnitStaff.personal_id == DossierStep.assignee,
                    UnitStaff.full_name != "",
                )
                .limit(inline_limit(1))
                .scalar_subquery(),
            ).label("assignee_name"),
        )
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .where(DossierStep.finished_at.is_(None), DossierStep.unit_id == reader.c.id)
        .order_by(DossierStep.due_at, DossierStep.id)
        # Written into the text at execution (core.db.inline_limit), one statement per page size.
        .limit(bindparam("limit", type_=Integer, literal_execute=True))
    )
    if assignee:
        steps = steps.where(DossierStep.assignee == bindparam("assignee", type_=String))
    if kinds:
        steps = steps.where(DossierStep.kind.in_(bindparam("kinds", expanding=True)))
    if after:
        due, step_id = bindparam("after_due", type_=_MOMENT), bindparam("after_id", type_=BigInteger)
        steps = steps.where(
            or_(DossierStep.due_at > due, and_(DossierStep.due_at == due, DossierStep.id > step_id))
        )
    page = steps.lateral("steps")
    return (
        select(reader.c.id, reader.c.name, reader.c.roles, *page.c)
        .select_from(reader)
        .outerjoin(page, true())
        .order_by(page.c.step_due_at, page.c.step_id)
    )


_MOMENT = DateTime(timezone=True)


@dataclass
class Workload:
    """A leader's view of one unit: what is in progress at each step, what is late, what falls
    due this week, and who holds what."""

    by_step: dict[StepKind, int] = field(default_factory=dict)
    overdue: int = 0  # past the legal due date
    step_overdue: int = 0  # past the step's own share of it
    due_this_week: int = 0  # legal due date within the next seven days
    by_person: list[tuple[str, str, int]] = field(default_factory=list)  # (personal ID, name, open steps)
    unassigned: int = 0


async def workload(session: AsyncSession, unit_id: int, *, now: datetime) -> Workload:
    rows = await session.execute(
        select(DossierStep.kind, DossierStep.assignee, DossierStep.due_at, Dossier.due_at)
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .where(DossierStep.finished_at.is_(None), DossierStep.unit_id == unit_id)
    )
    load = Workload()
    steps: Counter[StepKind] = Counter()
    people: Counter[str] = Counter()
    week = now + timedelta(days=7)
    for kind, assignee, step_due, legal_due in rows:
        steps[StepKind(kind)] += 1
        load.overdue += legal_due < now
        load.step_overdue += step_due < now
        load.due_this_week += now <= legal_due < week
        if assignee:
            people[assignee] += 1
        else:
            load.unassigned += 1
    load.by_step = {kind: steps[kind] for kind in StepKind if steps[kind]}
    names = await names_in_unit(session, unit_id, list(people))
    load.by_person = sorted(
        ((pid, names.get(pid, ""), n) for pid, n in people.items()), key=lambda p: (-p[2], p[1])
    )
    return load


async def names_in_unit(session: AsyncSession, unit_id: int, personal_ids: Sequence[str]) -> dict[str, str]:
    """People's names as the unit's pages show them: identity's one lookup (the e-ID's name from
    their latest login), else the name the administrator gave when granting the unit role (a
    member of staff who never logged in)."""
    if not personal_ids:
        return {}
    given = await session.execute(
        select(UnitStaff.personal_id, func.max(UnitStaff.full_name))
        .where(UnitStaff.unit_id == unit_id, UnitStaff.personal_id.in_(personal_ids))
        .group_by(UnitStaff.personal_id)
    )
    # Result objects have keys(): dict() would take them for mappings, hence the list.
    return dict(given.all()) | await staff_names(session, personal_ids)
