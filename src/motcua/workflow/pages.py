"""/officer/units: the units where the signed-in person holds a role, each unit's queue of open
steps, and its leader's view of the workload with the dossiers at risk of being late.

Every page is scoped by the person's roles read from ``unit_staff`` on each request (not from
the session): a role taken away at /manage/units closes the unit's pages at the next click. A
unit where they hold no role gets the same 403 whether it exists or not, so its id tells nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.dependencies import NO_TRANSACTION, READ_ONLY
from motcua.core.digits import only_digits
from motcua.core.pages import HttpRequest, page
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.models import Dossier
from motcua.dossiers.services import calendar_for
from motcua.identity.guards import requires_login
from motcua.identity.models import N_
from motcua.identity.schemas import mask_personal_id
from motcua.identity.sessions import UserSession
from motcua.organisation.models import Unit, UnitRole
from motcua.organisation.services import roles_of
from motcua.workflow.models import DossierStep, StepKind
from motcua.workflow.queues import PAGE, QueueRow, unit_of_reader, unit_queue, workload
from motcua.workflow.risk import HIGH_RISK, late_risks

# Rows per queue page (a module constant so that the tests can page through a few dossiers).
QUEUE_PAGE = PAGE
# Who sees the leader's page of a unit.
OVERSEERS = frozenset({UnitRole.LEADER, UnitRole.UNIT_ADMIN})

BAD_QUERY = N_(
    "Đường dẫn của trang này không đúng (bộ lọc hoặc trang sau). Vui lòng quay lại hàng đợi và chọn lại."
)
NOT_YOUR_UNIT = N_(
    "Bạn không có vai trò ở đơn vị này. Nếu bạn cần xem hồ sơ của đơn vị, "
    "hãy đề nghị quản trị viên của cổng giao vai trò cho bạn."
)
LEADERS_ONLY = N_("Trang tình hình xử lý chỉ dành cho lãnh đạo và quản trị của đơn vị.")


class BadQueryError(ValueError):
    """A queue link whose filters or keyset do not parse (edited or truncated by hand)."""


@dataclass(frozen=True, slots=True)
class MyUnit:
    """A unit on the person's list, with what is on its desk now."""

    id: int
    name: str
    roles: tuple[UnitRole, ...]
    open_steps: int
    overdue: int  # past the legal due date
    step_overdue: int  # past the step's own share of it

    @property
    def oversees(self) -> bool:
        return bool(OVERSEERS & set(self.roles))


@dataclass(frozen=True, slots=True)
class RiskRow:
    code: str
    procedure_name: str
    applicant_name: str
    step: StepKind
    legal_due_at: datetime
    percent: int


def _now() -> datetime:
    return datetime.now(VIETNAM)


def _refused(request: HttpRequest, message: str) -> Response[str]:
    return page(
        request,
        "web/forbidden.html",
        status_code=403,
        title=N_("Bạn không có quyền truy cập trang này"),
        message=message,
    )


def _bad_query(request: HttpRequest) -> Response[str]:
    return page(
        request, "web/forbidden.html", status_code=400, title=N_("Yêu cầu không hợp lệ"), message=BAD_QUERY
    )


def parse_after(due: str | None, step_id: str | None) -> tuple[datetime, int] | None:
    """The keyset of "Trang sau": the last row's step due date (ISO 8601 with its offset) and
    step id; both or neither."""
    if not due and not step_id:
        return None
    if not due or not step_id or not only_digits(step_id) or len(step_id) > 18 or len(due) > 40:
        raise BadQueryError(step_id)
    try:
        at = datetime.fromisoformat(due)
    except ValueError as exc:
        raise BadQueryError(due) from exc
    if at.tzinfo is None:
        raise BadQueryError(due)
    return at, int(step_id)


def parse_kind(value: str | None) -> StepKind | None:
    if not value:
        return None
    try:
        return StepKind(value)
    except ValueError as exc:
        raise BadQueryError(value) from exc


# The list and the queue read a few statements that need not agree: no transaction (each
# statement its own round trip), as the back office's queue.
@get("/officer/units", include_in_schema=False, opt={NO_TRANSACTION: True})
async def my_units(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], user: NamedDependency[UserSession]
) -> Response[str]:
    held = await roles_of(db_session, user.personal_id)
    units: list[MyUnit] = []
    if held:
        now = _now()
        counts = {
            unit_id: (int(n), int(late), int(step_late))
            for unit_id, n, late, step_late in (
                await db_session.execute(
                    select(
                        DossierStep.unit_id,
                        func.count(),
                        func.count().filter(Dossier.due_at < now),
                        func.count().filter(DossierStep.due_at < now),
                    )
                    .join(Dossier, Dossier.id == DossierStep.dossier_id)
                    .where(DossierStep.finished_at.is_(None), DossierStep.unit_id.in_(list(held)))
                    .group_by(DossierStep.unit_id)
                )
            )
        }
        order = list(UnitRole)
        for unit in (
            (await db_session.execute(select(Unit).where(Unit.id.in_(list(held))).order_by(Unit.name)))
            .scalars()
            .all()
        ):
            n, late, step_late = counts.get(unit.id, (0, 0, 0))
            roles = tuple(sorted(held[unit.id], key=order.index))
            units.append(MyUnit(unit.id, unit.name, roles, n, late, step_late))
    return page(request, "workflow/my_units.html", units=units)


@get("/officer/units/{unit_id:int}/queue", include_in_schema=False, opt={NO_TRANSACTION: True})
async def queue(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    unit_id: FromPath[int],
    mine: Annotated[str | None, QueryParameter(name="cua_toi")] = None,
    kind: Annotated[str | None, QueryParameter(name="buoc")] = None,
    after_due: Annotated[str | None, QueryParameter(name="sau_han")] = None,
    after_id: Annotated[str | None, QueryParameter(name="sau_buoc")] = None,
) -> Response[str]:
    try:
        after = parse_after(after_due, after_id)
        step_kind = parse_kind(kind)
    except BadQueryError:
        return _bad_query(request)
    only_mine = mine == "1"
    # The unit, the person's roles there and the page of steps in one statement.
    found = await unit_queue(
        db_session,
        unit_id,
        personal_id=user.personal_id,
        assignee=user.personal_id if only_mine else None,
        kinds=[step_kind] if step_kind else (),
        after=after,
        limit=QUEUE_PAGE,
    )
    if found is None:
        return _refused(request, NOT_YOUR_UNIT)
    result = found.page
    # The names come with the rows (unit_queue), in the same statement.
    rows: list[tuple[QueueRow, str | None]] = [
        (r, (r.assignee_name or mask_personal_id(r.assignee)) if r.assignee else None) for r in result.rows
    ]
    return page(
        request,
        "workflow/unit_queue.html",
        unit=found.unit,
        oversees=bool(OVERSEERS & found.roles),
        rows=rows,
        now=_now(),
        mine=only_mine,
        kind=step_kind.value if step_kind else "",
        kinds=[(k.value, k.label) for k in StepKind],
        next_due=result.after[0].isoformat() if result.after else None,
        next_id=result.after[1] if result.after else None,
        later_page=after is not None,
    )


@get("/officer/units/{unit_id:int}/workload", include_in_schema=False, opt={READ_ONLY: True})
async def unit_workload(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    unit_id: FromPath[int],
) -> Response[str]:
    found = await unit_of_reader(db_session, unit_id, user.personal_id)
    if found is None:
        return _refused(request, NOT_YOUR_UNIT)
    unit, roles = found
    if not OVERSEERS & roles:
        return _refused(request, LEADERS_ONLY)
    now = _now()
    load = await workload(db_session, unit.id, now=now)
    # The forecast reads the whole tenant's history (a unit's own is often too thin); only this
    # unit's dossiers are shown.
    every = await late_risks(db_session, now=now, calendar=calendar_for(tenant), unit_id=unit.id)
    risky = sorted(
        (r for r in every if r.unit_id == unit.id and r.probability >= HIGH_RISK),
        key=lambda r: -r.probability,
    )
    facts = {
        d.id: d
        for d in (
            await db_session.execute(select(Dossier).where(Dossier.id.in_([r.dossier_id for r in risky])))
        )
        .scalars()
        .all()
    }
    kinds = dict(
        (
            await db_session.execute(
                select(DossierStep.dossier_id, DossierStep.kind).where(
                    DossierStep.finished_at.is_(None), DossierStep.dossier_id.in_(list(facts))
                )
            )
        ).all()
    )
    risks = [
        RiskRow(
            facts[r.dossier_id].code,
            facts[r.dossier_id].procedure_name,
            facts[r.dossier_id].applicant_name,
            StepKind(kinds[r.dossier_id]),
            facts[r.dossier_id].due_at,
            round(r.probability * 100),
        )
        for r in risky
        if r.dossier_id in facts and r.dossier_id in kinds
    ]
    people = [(name or mask_personal_id(pid), n) for pid, name, n in load.by_person]
    return page(request, "workflow/workload.html", unit=unit, load=load, people=people, risks=risks)


router = Router(path="/", route_handlers=[my_units, queue, unit_workload], guards=[requires_login])
