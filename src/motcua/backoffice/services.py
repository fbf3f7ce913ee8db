"""Officer work queues and the dossier workspace: reads shaped for 100,000 dossiers a tenant
(one aggregate for all counts, one indexed page of rows), and the officer actions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, Select, and_, bindparam, func, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from motcua.backoffice.steps import open_on_accept
from motcua.catalog.models import Procedure
from motcua.core.actions import after_commit, emit
from motcua.core.audit import Actor
from motcua.core.db import inline_limit
from motcua.core.digits import only_digits, row_id
from motcua.core.events import DeadlineEvent
from motcua.core.messages import Message, Money
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.lifecycle import (
    DONE,
    FINAL,
    RULES,
    STALE,
    Action,
    DossierError,
    guarded_update,
    record_event,
    transition,
)
from motcua.dossiers.models import ApologySlip, Dossier, DossierStatus
from motcua.dossiers.services import request_supplement, tell_applicant
from motcua.dossiers.words import AMOUNT_DUE, APOLOGY
from motcua.identity.models import N_, Citizen, Role, RoleGrant
from motcua.identity.schemas import mask_personal_id
from motcua.identity.services import staff_name_of, staff_names
from motcua.identity.sessions import UserSession
from motcua.organisation.models import UnitStaff
from motcua.payments.settings import parse_amount_vnd
from motcua.workflow.models import DossierStep
from motcua.workflow.scope import Scope, scope_of, sees_dossier, visible_dossier, visible_to_bound

# The background jobs in words, by Dramatiq actor name (the name a failure is recorded under,
# motcua.core.broker): the administrator reads what failed, not the function behind it.
JOB_LABELS: dict[str, str] = {
    "notify_citizen": N_("Gửi thông báo cho người dân"),
    "notify_deadline": N_("Báo cán bộ về thời hạn giải quyết hồ sơ"),
    "deadline_scan": N_("Rà soát thời hạn giải quyết hồ sơ"),
    "file_receipt": N_("Lưu biên lai điện tử"),
    "reconcile_payments": N_("Đối soát thanh toán trực tuyến"),
    "report_payments": N_("Lập báo cáo thu phí theo ngày"),
    "refresh_roles": N_("Cập nhật quyền của các phiên đăng nhập"),
    "run_onboarding": N_("Khởi tạo cổng"),
    "announce_tenant_ready": N_("Thông báo cổng đã sẵn sàng"),
    "refresh_tenant_figures": N_("Cập nhật số liệu của cổng"),
    "export_tenant": N_("Xuất dữ liệu của địa phương"),
    "record_webhook_events": N_("Ghi nhận sự kiện cần gửi cho hệ thống kết nối"),
    "send_webhooks": N_("Gửi sự kiện cho hệ thống kết nối"),
    "refresh_rollups": N_("Cập nhật số liệu chỉ số phục vụ"),
    "sign_slip": N_("Ký số phiếu tiếp nhận và hẹn trả kết quả"),
}
OTHER_JOB = N_("Công việc nền khác")


S = DossierStatus
PAGE_SIZE = 50
WORKING_DAY_HOURS = 8
# "Due soon" = within 2 working days (16 working hours with the default calendar).
DUE_SOON_HOURS = 16


@dataclass(frozen=True)
class Queue:
    key: str
    label: str


QUEUES = (
    Queue("new", N_("Chờ tiếp nhận")),
    Queue("in_progress", N_("Đang xử lý")),
    Queue("supplement", N_("Chờ bổ sung")),
    Queue("payment", N_("Chờ nộp phí")),
    Queue("due_soon", N_("Sắp đến hạn")),
    Queue("overdue", N_("Quá hạn")),
    Queue("finished", N_("Đã kết thúc")),
)
QUEUE_KEYS = {q.key for q in QUEUES}
_ACTIVE = (S.ACCEPTED, S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED)


def _conditions(now: Any, soon: Any) -> dict[str, ColumnElement[bool]]:
    """Each queue as a condition; ``now`` and ``soon`` are moments or bound parameters."""
    in_process = Dossier.status.in_((S.ACCEPTED, S.IN_PROGRESS))
    return {
        "new": Dossier.status == S.SUBMITTED,
        "in_progress": in_process,
        "supplement": Dossier.status == S.SUPPLEMENT_REQUESTED,
        "payment": Dossier.status == S.PAYMENT_REQUESTED,
        "due_soon": and_(in_process, Dossier.due_at >= now, Dossier.due_at < soon),
        # Late for the result, or (online dossiers) not accepted nor refused within 8 working hours.
        "overdue": or_(
            and_(in_process, Dossier.due_at < now),
            and_(Dossier.status == S.SUBMITTED, Dossier.reception_due_at < now),
        ),
        "finished": Dossier.status.in_(tuple(DONE | FINAL | {S.PROCESSED})),
    }


@dataclass(frozen=True)
class QueueRow:
    code: str
    procedure_name: str
    applicant_name: str
    status: str
    status_label: str
    received_at: datetime
    due_at: datetime
    assigned_to: str | None
    hours_left: float  # working hours; negative when late
    # The officer in charge as people read it: their name, else their masked ID; None: nobody.
    assigned_name: str | None = None
    # An online dossier nobody accepted nor refused within its reception time (the queue
    # "overdue" lists it too).
    reception_late: bool = False
    # Past its due date, as the queue "overdue" counts it: a dossier due at 17:00 is late at
    # 20:00 although no working hour has passed since.
    late: bool = False

    @property
    def due_flag(self) -> str | None:
        """Overdue or due soon ("overdue", "due_soon") while the office works on the dossier, as
        the queues count them; None otherwise (a dossier waiting for the applicant is not late
        on the office's side, a finished one is no longer due)."""
        if self.status == S.SUBMITTED:
            return "overdue" if self.reception_late else None
        if self.status not in (S.ACCEPTED, S.IN_PROGRESS):
            return None
        if self.late:
            return "overdue"
        return "due_soon" if self.hours_left < DUE_SOON_HOURS else None

    @property
    def due_text(self) -> str:
        """The due moment as the queue prints it (HH:MM DD/MM/YYYY), without strftime's locale
        machinery on each of a page's rows."""
        d = self.due_at
        return f"{d.hour:02d}:{d.minute:02d} {d.day:02d}/{d.month:02d}/{d.year}"

    @property
    def shown(self) -> tuple[Any, ...]:
        """Every value the queue's row shows: the key its rendered markup is kept under
        (``backoffice/queue_table.html``, core.fragments), built in one call per row."""
        unit, count = self.time_left
        return (
            self.code,
            self.procedure_name,
            self.applicant_name,
            self.status,
            self.due_text,
            self.due_flag,
            unit,
            count,
            self.assigned_name,
        )

    @property
    def time_left(self) -> tuple[str, int]:
        """What is left (or how late), in whole working days from one day on, else in working
        hours: the unit ("days"/"hours") and the count, for the template's plural forms."""
        hours = abs(self.hours_left)
        if hours >= WORKING_DAY_HOURS:
            return "days", round(hours / WORKING_DAY_HOURS)
        return "hours", round(hours)


@dataclass(frozen=True)
class QueuePage:
    queue: str
    counts: dict[str, int]
    rows: list[QueueRow]
    procedures: list[tuple[str, str]]
    fields: list[str]
    # The cursor of the next page (None on the last one), and whether this is a later page.
    next_after: str | None = None
    is_later_page: bool = False


def queue_cursor(due_at: datetime, dossier_id: int) -> str:
    """Where a page ends, in the queue's order (due date, then id): the next page starts after it
    (keyset paging: page 200 costs what page 1 costs, and a dossier that moves meanwhile is
    neither shown twice nor skipped)."""
    return f"{int(due_at.timestamp() * 1_000_000)}.{dossier_id}"


def parse_queue_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """The cursor back; anything malformed is the first page (a stale or edited link)."""
    if not raw or len(raw) > 40:
        return None
    micros, _, ident = raw.partition(".")
    if not (only_digits(micros) and only_digits(ident)):
        return None
    try:
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(ident)
    except (OverflowError, ValueError, OSError):
        return None


SummaryKey = tuple[str, str | None, str | None]


class QueueSummaryCache:
    """Queue counts and the procedure filter list, per tenant and filter, for a few seconds.

    Counting 100,000 dossiers on every page view would cost more than the page itself; a
    count a few seconds old is fine on a work list (the rows are always fresh), and this
    process's own actions clear it at once.

    One request per key reads the counts again; the others do not queue behind it nor read
    them too. When the entry has only expired, they show it a moment longer; when there is
    none (first view, or this process just acted), they wait for that one reading. Without
    this, every officer page in flight when the entry expired counted the 100,000 dossiers at
    the same moment: the slowest hundredth of the queue's views took a second."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._entries: dict[SummaryKey, tuple[float, Any]] = {}
        self._reading: dict[SummaryKey, asyncio.Future[None]] = {}
        # Bumped by each invalidation: a reading begun before it is not kept after it.
        self._generation: dict[str, int] = {}

    async def get(self, key: SummaryKey, read: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            entry = self._entries.get(key)
            if entry is not None and entry[0] >= time.monotonic():
                return entry[1]
            pending = self._reading.get(key)
            if pending is None:
                break
            if entry is not None:
                return entry[1]  # expired a moment ago, while another request reads it again
            # Never raises: whether it worked is read from the entries on the next turn (a
            # reading that failed leaves none, and this request then reads them itself).
            await asyncio.wait([pending])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reading[key] = done
        generation = self._generation.get(key[0], 0)
        try:
            value = await read()
            if self._generation.get(key[0], 0) == generation:
                self._put(key, value)
            return value
        finally:
            del self._reading[key]
            done.set_result(None)

    def _put(self, key: SummaryKey, value: Any) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def invalidate(self, schema: str) -> None:
        self._generation[schema] = self._generation.get(schema, 0) + 1
        self._entries = {k: v for k, v in self._entries.items() if k[0] != schema}


SUMMARIES = QueueSummaryCache(ttl=10.0)


async def queue_page(
    session: AsyncSession,
    calendar: WorkCalendar,
    queue: str,
    *,
    scope: Scope,
    procedure: str | None = None,
    field: str | None = None,
    assigned_to: str | None = None,
    after: str | None = None,
    now: datetime | None = None,
    schema: str = "",
) -> QueuePage:
    now = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    soon = calendar.add_working_hours(now, DUE_SOON_HOURS)
    shape = _FilterShape(
        any_units=bool(scope.unit_ids),
        root=scope.root,
        procedure=bool(procedure),
        field=bool(field),
        assigned=bool(assigned_to),
    )
    cursor = parse_queue_cursor(after)
    # The values of every bound parameter of the summary's and the rows' statements.
    params = {
        "now": now,
        "soon": soon,
        "scope_units": sorted(scope.unit_ids),
        "procedure": procedure,
        "field": field,
        "assigned_to": assigned_to,
        "after_due": cursor[0] if cursor else None,
        "after_id": cursor[1] if cursor else None,
    }
    key = (schema, f"{scope.key()}|{procedure or ''}|{field or ''}", assigned_to)
    if schema:
        summary = await SUMMARIES.get(key, lambda: _summary(session, shape, params))
    else:
        summary = await _summary(session, shape, params)
    counts, procedures, fields = summary
    statement = _rows_statement(queue, shape, cursor=cursor is not None)
    found = (await session.execute(statement, params)).all()
    rows = found[:PAGE_SIZE]
    more = len(found) > PAGE_SIZE
    return QueuePage(
        next_after=queue_cursor(rows[-1].due_at, rows[-1].id) if more else None,
        is_later_page=cursor is not None,
        queue=queue,
        counts=counts,
        rows=[_queue_row(r, calendar, now) for r in rows],
        procedures=procedures,
        fields=fields,
    )


def _queue_row(r: Any, calendar: WorkCalendar, now: datetime) -> QueueRow:
    """One row of the queue as the page shows it (``now`` in Vietnam time)."""
    # Converted once: the working-hours count takes a Vietnam time as it is, and the database
    # gives UTC (each conversion looks the zone's rules up again).
    due = r.due_at.astimezone(VIETNAM)
    return QueueRow(
        code=r.code,
        procedure_name=r.procedure_name,
        applicant_name=r.applicant_name,
        status=r.status,
        status_label=S(r.status).label,
        received_at=r.received_at.astimezone(VIETNAM),
        due_at=due,
        assigned_to=r.assigned_to,
        hours_left=_hours_left(calendar, now, due),
        assigned_name=(r.assigned_name or mask_personal_id(r.assigned_to)) if r.assigned_to else None,
        late=due < now,
        reception_late=r.status == S.SUBMITTED
        and r.reception_due_at is not None
        and r.reception_due_at < now,
    )


@dataclass(frozen=True, slots=True)
class _FilterShape:
    """Which filters a queue view applies (not their values): what its statements are built for."""

    any_units: bool
    root: bool
    procedure: bool
    field: bool
    assigned: bool


_MOMENT = DateTime(timezone=True)


@lru_cache(maxsize=64)
def _bound_conditions() -> dict[str, ColumnElement[bool]]:
    return _conditions(bindparam("now", type_=_MOMENT), bindparam("soon", type_=_MOMENT))


@lru_cache(maxsize=64)
def _filters(shape: _FilterShape) -> tuple[ColumnElement[bool], ...]:
    """The officer's units' dossiers (workflow.scope) with the chosen filters, in the counts as
    in the rows; every value a bound parameter."""
    filters = [visible_to_bound(any_units=shape.any_units, root=shape.root)]
    if shape.procedure:
        filters.append(Dossier.procedure_code == bindparam("procedure"))
    if shape.field:
        filters.append(
            Dossier.procedure_id.in_(select(Procedure.id).where(Procedure.field == bindparam("field")))
        )
    if shape.assigned:
        filters.append(Dossier.assigned_to == bindparam("assigned_to"))
    return tuple(filters)


@lru_cache(maxsize=512)
def _rows_statement(queue: str, shape: _FilterShape, *, cursor: bool) -> Select[*tuple[Any, ...]]:
    """The rows of a queue page, built once per queue and shape of filter, with every value
    bound at execution: a page view neither rebuilds the statement (the scope alone is three
    subqueries) nor computes its cache key again (SQLAlchemy memoises it on the statement)."""
    filters = [_bound_conditions()[queue], *_filters(shape)]
    if cursor:
        filters.append(
            tuple_(Dossier.due_at, Dossier.id)
            > tuple_(bindparam("after_due", type_=_MOMENT), bindparam("after_id", type_=BigInteger))
        )
    return (
        select(
            Dossier.id,
            Dossier.code,
            Dossier.procedure_name,
            Dossier.applicant_name,
            Dossier.status,
            Dossier.received_at,
            Dossier.due_at,
            Dossier.reception_due_at,
            Dossier.assigned_to,
            # Officers in charge by name in the same statement (a rename or a new assignment
            # shows at once; not cached with the counts).
            staff_name_of(Dossier.assigned_to).label("assigned_name"),
        )
        .where(*filters)
        .order_by(Dossier.due_at, Dossier.id)
        .limit(inline_limit(PAGE_SIZE + 1))
    )


async def _summary(
    session: AsyncSession, shape: _FilterShape, params: dict[str, Any]
) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    # Each count is its own indexed query (status counts from the (status, due_at) index,
    # the deadline ones as index ranges) rather than one pass over every row with FILTERs.
    conditions, filters = _bound_conditions(), _filters(shape)
    by_status = dict(
        (
            await session.execute(
                select(Dossier.status, func.count()).where(*filters).group_by(Dossier.status), params
            )
        ).all()
    )
    counts = {
        "new": by_status.get(S.SUBMITTED, 0),
        "in_progress": by_status.get(S.ACCEPTED, 0) + by_status.get(S.IN_PROGRESS, 0),
        "supplement": by_status.get(S.SUPPLEMENT_REQUESTED, 0),
        "payment": by_status.get(S.PAYMENT_REQUESTED, 0),
        "finished": sum(by_status.get(s, 0) for s in DONE | FINAL | {S.PROCESSED}),
    }
    for key in ("due_soon", "overdue"):
        counts[key] = int(
            await session.scalar(
                select(func.count()).select_from(Dossier).where(conditions[key], *filters), params
            )
            or 0
        )
    # Procedures that have dossiers the officer may see (their units' scope, not the whole
    # tenant's), read from the catalogue: a probe per procedure on the procedure_code index, not
    # a grouping of every dossier. The procedure filter itself is left out, so that the list
    # still offers the other procedures while one is chosen.
    in_scope = visible_to_bound(any_units=shape.any_units, root=shape.root)
    procedures = (
        await session.execute(
            select(Procedure.code, Procedure.name, Procedure.field)
            .where(select(Dossier.id).where(Dossier.procedure_code == Procedure.code, in_scope).exists())
            .order_by(Procedure.code)
            .limit(200),
            params,
        )
    ).all()
    return counts, [(p[0], p[1]) for p in procedures], sorted({p[2] for p in procedures})


def _hours_left(calendar: WorkCalendar, now: datetime, due: datetime) -> float:
    if due >= now:
        return calendar.working_hours_between(now, due)
    return -calendar.working_hours_between(due, now)


async def dossier_by_code(session: AsyncSession, code: str) -> Dossier | None:
    """Any dossier of the tenant by its code: for jobs and services, never for an officer's
    request (those go through ``officer_dossier``)."""
    return await session.scalar(select(Dossier).where(Dossier.code == code[:80]))


async def officer_scope(session: AsyncSession, user: UserSession) -> Scope:
    """The signed-in officer's units, read now (workflow.scope), not from the session."""
    return await scope_of(session, user.personal_id, tenant_officer=user.has(Role.OFFICER))


async def officer_sees_dossier(session: AsyncSession, user: UserSession, dossier_id: int) -> bool:
    """Whether the dossier belongs to one of the officer's units: what a receipt asks
    (payments.routes.StaffSeesDossier, handed in by the app)."""
    return await sees_dossier(session, await officer_scope(session, user), dossier_id)


async def officer_dossier(session: AsyncSession, code: str, user: UserSession) -> Dossier | None:
    """The dossier of ``code`` if it belongs to one of the officer's units; None, as for an
    unknown code, otherwise. Every /officer/dossiers/{code}/… route reads its dossier here."""
    return await visible_dossier(session, await officer_scope(session, user), code)


# The workspace's actions, as the officer meets them ------------------------------------------
# One primary action per status (GOV.UK: one main call to action a page): what moves the dossier
# on. A status missing here waits for someone else (the applicant's supplement or payment).
PRIMARY_ACTION: dict[str, Action] = {
    S.SUBMITTED: Action.ACCEPT,
    S.ACCEPTED: Action.START,
    S.IN_PROGRESS: Action.FINISH,
    S.PROCESSED: Action.DELIVER,
}
# Actions that end a dossier or give money back: behind a confirmation step, and refused when the
# request does not carry the confirmation (a stray or replayed POST changes nothing).
CONFIRMED_ACTIONS = frozenset({Action.REFUSE, Action.STOP})
CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"
NOT_CONFIRMED = N_("Hãy xác nhận thao tác này bằng nút “Xác nhận” trong phần đã mở; chưa có gì thay đổi.")

# Step actions behind a confirmation: a transfer hands the dossier to another unit, which the
# officer cannot take back.
CONFIRMED_STEPS = frozenset({"transfer"})

# The success banners after an action (?done=… on the redirect back to the workspace): only
# these keys are shown, whatever the query says.
DONE_KEYS = frozenset(
    {
        *(a.value for a in Action if RULES[a].by == "officer"),
        "assign",
        "apology",
        "control_sheet",
        "result",
        "counter_payment",
        "refund",
        "step_advance",
        "step_send_back",
        "step_transfer",
        "step_ask_opinion",
        "step_answer_opinion",
    }
)

# What a dossier's files are, by document code, besides the procedure's own documents.
RESULT_DOCUMENT = "ket-qua"
FILE_KINDS = {
    RESULT_DOCUMENT: N_("Văn bản kết quả"),
    "bo-sung": N_("Giấy tờ bổ sung"),
}
OTHER_FILE_KIND = N_("Giấy tờ khác")
# Shown in the workspace's viewer; anything else is downloaded (a browser would otherwise try to
# open a Word file or an archive in the frame).
VIEWABLE_MEDIA_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


def staff_label(personal_id: str, names: dict[str, str]) -> str:
    """A member of staff as people read them: the name from their latest login, else the masked
    personal ID (an officer granted the role who never signed in); never the full number."""
    return names.get(personal_id) or mask_personal_id(personal_id)


@dataclass(frozen=True)
class OfficerChoice:
    """One line of the officer picker. The form sends ``grant_id`` (the officer's role grant), so
    the page carries no personal ID number."""

    grant_id: int
    personal_id: str
    name: str


async def officers_of(session: AsyncSession, *, unit_id: int | None = None) -> list[OfficerChoice]:
    """Who a dossier can be given to, by name: the staff of ``unit_id`` (the unit that holds the
    dossier's open step), else — a dossier outside the workflow — the tenant's officers."""
    if unit_id is None:
        grants = (
            await session.execute(
                select(func.min(RoleGrant.id), RoleGrant.personal_id, literal(""))
                .where(RoleGrant.role == Role.OFFICER)
                .group_by(RoleGrant.personal_id)
            )
        ).all()
    else:
        # The name the unit's administrator gave stands in for someone who never logged in.
        grants = (
            await session.execute(
                select(func.min(UnitStaff.id), UnitStaff.personal_id, func.max(UnitStaff.full_name))
                .where(UnitStaff.unit_id == unit_id)
                .group_by(UnitStaff.personal_id)
            )
        ).all()
    names = await staff_names(session, {g[1] for g in grants})
    choices = [
        OfficerChoice(int(g[0]), g[1], names.get(g[1]) or g[2] or staff_label(g[1], names)) for g in grants
    ]
    return sorted(choices, key=lambda c: (c.name.casefold(), c.grant_id))


async def officer_of_choice(
    session: AsyncSession, choice: str, *, unit_id: int | None = None
) -> OfficerChoice | None:
    """The officer a picker's value names, or None when it is not among ``officers_of`` now (a
    tampered form, a role taken away, a dossier moved to another unit since the page was shown)."""
    grant_id = row_id(choice)
    if grant_id is None:
        return None
    return next((c for c in await officers_of(session, unit_id=unit_id) if c.grant_id == grant_id), None)


async def officer_act(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    action: Action,
    *,
    actor: Actor,
    version: int,
    reason: str | None,
    data: dict[str, Any],
) -> None:
    """One officer action from the workspace. ``version`` is the one the officer saw: if the
    dossier changed since, the action is refused rather than applied to something else."""
    if version != dossier.version:
        raise DossierError(STALE)
    if action == Action.REQUEST_SUPPLEMENT:
        items = [line for line in str(data.get("items", "")).splitlines() if line.strip()]
        await request_supplement(session, dossier, actor=actor, reason=reason or "", items=items)
    else:
        values: dict[str, Any] = {}
        if action == Action.ACCEPT and dossier.assigned_to is None:
            values["assigned_to"] = actor.personal_id  # whoever receives a dossier owns it until reassigned
        said: Message | None = None  # what the product adds to the history (e14: read in any language)
        if action == Action.REQUEST_PAYMENT:
            # The amount the officer worked out (fees per page, per copy…); none: the catalogue's.
            amount = parse_amount_vnd(str(data.get("amount") or ""), what=Message("Số tiền phải nộp"))
            if amount is not None:
                values["fee_vnd"] = amount
                said = Message(AMOUNT_DUE, amount=Money(amount))
        await transition(session, dossier, action, actor=actor, reason=reason, values=values, message=said)
        if action == Action.ACCEPT:
            await open_on_accept(session, tenant, dossier, actor=actor, at=datetime.now(VIETNAM))
    schema = tenant.schema
    after_commit(session, lambda: SUMMARIES.invalidate(schema))
    kind = TELLS_APPLICANT.get(action)
    if kind is not None:
        await tell_applicant(session, tenant, dossier, kind, f"{dossier.id}:{kind}:{dossier.version}")


# What the applicant hears of each officer action (the kinds of notifications.templates).
TELLS_APPLICANT = {
    Action.ACCEPT: "dossier_accepted",
    Action.REFUSE: "dossier_refused",
    Action.REQUEST_SUPPLEMENT: "supplement_requested",
    Action.REQUEST_PAYMENT: "payment_requested",
    Action.FINISH: "dossier_processed",
    Action.DELIVER: "result_delivered",
    Action.WITHDRAW: "dossier_withdrawn",
}


async def assign(
    session: AsyncSession,
    dossier: Dossier,
    *,
    to: OfficerChoice,
    actor: Actor,
    version: int,
    step: DossierStep | None = None,
) -> None:
    """Give the dossier to an officer; with the open ``step`` (locked by the caller), the step
    is theirs too (the unit's queue shows it as theirs)."""
    if version != dossier.version:
        raise DossierError(STALE)
    if dossier.status in FINAL:
        raise DossierError(Message("Hồ sơ đã kết thúc, không phân công được."))
    if step is not None:
        step.assignee = to.personal_id
    await guarded_update(session, dossier, version, assigned_to=to.personal_id)
    # The history says who, by name: it is read by the applicant too, never a personal ID number.
    await record_event(session, dossier, actor=actor, reason=f"Phân công cho cán bộ {to.name}")
    await session.refresh(dossier)


async def issue_apology(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    actor: Actor,
    new_due: datetime,
    reason: str,
    version: int,
) -> ApologySlip:
    """Phiếu xin lỗi và hẹn lại (DOMAIN): a late dossier gets an apology and a later date."""
    if version != dossier.version:
        raise DossierError(STALE)
    if dossier.status not in (S.SUBMITTED, *_ACTIVE):
        raise DossierError(Message("Chỉ gửi phiếu xin lỗi cho hồ sơ đang giải quyết."))
    if not reason.strip():
        raise DossierError(Message("Phiếu xin lỗi cần ghi rõ lý do chậm."))
    if new_due <= dossier.due_at:
        raise DossierError(Message("Ngày hẹn mới phải sau ngày hẹn hiện tại."))
    slip = ApologySlip(
        dossier_id=dossier.id,
        previous_due_at=dossier.due_at,
        new_due_at=new_due,
        reason=reason.strip()[:2000],
        issued_by=str(actor),
    )
    session.add(slip)
    await guarded_update(session, dossier, version, due_at=new_due)
    await record_event(
        session,
        dossier,
        actor=actor,
        reason=slip.reason,
        message=Message(APOLOGY, due=f"{new_due.astimezone(VIETNAM):%H:%M %d/%m/%Y}"),
    )
    await session.flush()
    await session.refresh(dossier)
    await tell_applicant(
        session,
        tenant,
        dossier,
        "apology_issued",
        f"{dossier.id}:apology:{dossier.version}",
        reason=slip.reason,
        new_due_at=slip.new_due_at,
    )
    return slip


async def apologies_of(session: AsyncSession, dossier_id: int) -> list[ApologySlip]:
    return list(
        (
            await session.scalars(
                select(ApologySlip).where(ApologySlip.dossier_id == dossier_id).order_by(ApologySlip.id)
            )
        ).all()
    )


# Deadline scan ---------------------------------------------------------------------------------
_SCAN = text(
    """
    INSERT INTO deadline_notices (dossier_id, kind, due_at)
    SELECT id, 'overdue', due_at FROM dossiers
     WHERE status IN ('accepted', 'in_progress') AND due_at < :now
    UNION ALL
    SELECT id, 'reception_overdue', reception_due_at FROM dossiers
     WHERE status = 'submitted' AND reception_due_at < :now
    UNION ALL
    SELECT id, 'due_soon', due_at FROM dossiers
     WHERE status IN ('accepted', 'in_progress') AND due_at >= :now AND due_at < :soon
    ON CONFLICT DO NOTHING
    RETURNING dossier_id, kind
    """
)


async def scan_deadlines(
    session: AsyncSession, calendar: WorkCalendar, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Mark dossiers that are due soon, late, or late for reception, and return only those not
    marked before: a notice is keyed by (dossier, kind, due date), so repeated scans — or two
    schedulers — tell people once, and a new date (an apology slip) can be noticed again.
    One set-based statement, so a scan of 100,000 dossiers is one round trip."""
    now = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    soon = calendar.add_working_hours(now, DUE_SOON_HOURS)
    rows = (await session.execute(_SCAN, {"now": now, "soon": soon})).all()
    return [(int(r.dossier_id), str(r.kind)) for r in rows]


async def tell_staff_of_deadline(session: AsyncSession, tenant: Tenant, dossier_id: int, kind: str) -> None:
    """Emit the ``DeadlineEvent`` of a notice the scan marked: to the officer handling the
    dossier; an overdue one also to the tenant administrators; a dossier nobody took that is
    late for reception to every officer."""
    dossier = await session.get(Dossier, dossier_id)
    if dossier is None:
        return
    personal_ids = [dossier.assigned_to] if dossier.assigned_to else []
    if kind != "due_soon":
        admins = await session.scalars(
            select(RoleGrant.personal_id).where(RoleGrant.role == Role.TENANT_ADMIN)
        )
        personal_ids += list(admins)
    if not personal_ids and kind == "reception_overdue":
        officers = select(RoleGrant.personal_id).where(RoleGrant.role == Role.OFFICER)
        personal_ids += list(await session.scalars(officers))
    await emit_deadline_notice(
        session,
        tenant,
        dossier,
        kind=kind,
        key=f"deadline:{dossier.id}:{kind}:{dossier.due_at.isoformat()}",
        personal_ids=personal_ids,
    )


async def emit_deadline_notice(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    kind: str,
    key: str,
    personal_ids: Sequence[str] | Select[str],
) -> None:
    """The ``DeadlineEvent`` of a dossier to the staff named by ``personal_ids`` (a list, or a
    query of them) who have an e-mail, each with the UI language they last logged in with: the
    notice is written in it. ``key`` makes its delivery happen once."""
    staff = [
        (row.email, row.preferred_language)
        for row in await session.execute(
            select(Citizen.email, Citizen.preferred_language).where(
                Citizen.personal_id.in_(personal_ids), Citizen.email.is_not(None)
            )
        )
        if row.email
    ]
    await emit(
        session,
        DeadlineEvent(
            tenant=tenant.slug,
            kind=kind,
            key=key,
            code=dossier.code,
            procedure_name=dossier.procedure_name,
            status_label=DossierStatus(dossier.status).label,
            applicant_name=dossier.applicant_name,
            due_at=dossier.due_at,
            emails=tuple(email for email, _ in staff),
            languages=tuple(language for _, language in staff),
        ),
    )
