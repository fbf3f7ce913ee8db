"""The dossier state machine (DOMAIN.md statuses): which action may move a dossier from which
status to which, who may take it, and what it must carry (a reason, a list).

Every transition is one guarded UPDATE (``version`` = optimistic concurrency: of two officers
acting at once, one wins and the other is told) plus an append-only history row, in the
caller's transaction. An illegal action is refused before anything is written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.messages import Message, MessageError, Term, message_to_json
from motcua.dossiers.models import Dossier, DossierHistory, DossierStatus

S = DossierStatus


class DossierError(MessageError):
    """A request the rules refuse; the message is for the person who asked (Vietnamese text or
    a ``Message``, which the page shows in the reader's language)."""


class Action(enum.StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    START = "start"
    REQUEST_SUPPLEMENT = "request_supplement"
    ANSWER_SUPPLEMENT = "answer_supplement"
    REQUEST_PAYMENT = "request_payment"
    RECORD_PAYMENT = "record_payment"
    STOP = "stop"
    FINISH = "finish"
    DELIVER = "deliver"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[DossierStatus]
    target: DossierStatus
    by: str  # "officer", "citizen" or "system"
    label: str
    reason_required: bool = False


_IN_PROCESS = frozenset({S.ACCEPTED, S.IN_PROGRESS})
RULES: dict[Action, Rule] = {
    Action.ACCEPT: Rule(frozenset({S.SUBMITTED}), S.ACCEPTED, "officer", "Tiếp nhận"),
    Action.REFUSE: Rule(
        frozenset({S.SUBMITTED}), S.REFUSED, "officer", "Từ chối tiếp nhận", reason_required=True
    ),
    Action.START: Rule(frozenset({S.ACCEPTED}), S.IN_PROGRESS, "officer", "Bắt đầu xử lý"),
    Action.REQUEST_SUPPLEMENT: Rule(_IN_PROCESS, S.SUPPLEMENT_REQUESTED, "officer", "Yêu cầu bổ sung", True),
    Action.ANSWER_SUPPLEMENT: Rule(
        frozenset({S.SUPPLEMENT_REQUESTED}), S.IN_PROGRESS, "citizen", "Bổ sung hồ sơ"
    ),
    Action.REQUEST_PAYMENT: Rule(_IN_PROCESS, S.PAYMENT_REQUESTED, "officer", "Yêu cầu nghĩa vụ tài chính"),
    # Taken by the payment itself (online or recorded at the desk, with its receipt), never by
    # a bare button: a dossier cannot look paid without a payment behind it.
    Action.RECORD_PAYMENT: Rule(
        frozenset({S.PAYMENT_REQUESTED}), S.IN_PROGRESS, "system", "Xác nhận đã nộp phí"
    ),
    Action.STOP: Rule(
        frozenset({S.ACCEPTED, S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED}),
        S.STOPPED,
        "officer",
        "Dừng xử lý",
        reason_required=True,
    ),
    Action.FINISH: Rule(frozenset({S.IN_PROGRESS}), S.PROCESSED, "officer", "Hoàn thành xử lý"),
    Action.DELIVER: Rule(frozenset({S.PROCESSED}), S.DELIVERED, "officer", "Trả kết quả"),
    Action.WITHDRAW: Rule(
        frozenset({S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED}),
        S.WITHDRAWN,
        "citizen",
        "Rút hồ sơ",
    ),
}

# Each action as a refusal names it ("Không thể tiếp nhận hồ sơ khi…"): msgids of their own, for
# the rules' labels double as status names ("Trả kết quả"), which English words differently.
DOING: dict[Action, str] = {
    Action.ACCEPT: "tiếp nhận hồ sơ",
    Action.REFUSE: "từ chối tiếp nhận hồ sơ",
    Action.START: "bắt đầu xử lý hồ sơ",
    Action.REQUEST_SUPPLEMENT: "yêu cầu bổ sung hồ sơ",
    Action.ANSWER_SUPPLEMENT: "gửi phần bổ sung hồ sơ",
    Action.REQUEST_PAYMENT: "yêu cầu thực hiện nghĩa vụ tài chính",
    Action.RECORD_PAYMENT: "xác nhận đã nộp phí, lệ phí",
    Action.STOP: "dừng xử lý hồ sơ",
    Action.FINISH: "hoàn thành xử lý hồ sơ",
    Action.DELIVER: "trả kết quả",
    Action.WITHDRAW: "rút hồ sơ",
}

# DOMAIN report groups: in process {2, 4}; paused {5, 6, 8}; done {7, 9, 10}.
IN_PROCESS = frozenset({S.ACCEPTED, S.IN_PROGRESS})
PAUSED = frozenset({S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED, S.STOPPED})
DONE = frozenset({S.WITHDRAWN, S.PROCESSED, S.DELIVERED})
FINAL = frozenset({S.REFUSED, S.WITHDRAWN, S.STOPPED, S.DELIVERED})


def allowed_actions(status: str, by: str) -> list[Action]:
    return [a for a, r in RULES.items() if r.by == by and status in r.sources]


async def transition(
    session: AsyncSession,
    dossier: Dossier,
    action: Action,
    *,
    actor: Actor,
    reason: str | None = None,
    values: dict[str, Any] | None = None,
    message: Message | None = None,
) -> None:
    """``reason``: what the person typed, kept as typed; ``message``: what the product says of
    the change (an amount due, a receipt), kept as a message each reader reads in their language."""
    rule = RULES[action]
    if dossier.status not in rule.sources:
        raise DossierError(
            Message(
                "Không thể %(action)s khi hồ sơ đang ở trạng thái “%(status)s”.",
                action=Message(DOING[action]),
                status=Term(DossierStatus(dossier.status).label),
            )
        )
    reason = (reason or "").strip()[:2000] or None
    if rule.reason_required and not (reason or message):
        raise DossierError(Message("Cần ghi rõ lý do để %(action)s.", action=Message(DOING[action])))
    previous = dossier.status  # the ORM UPDATE below also updates the loaded object
    extra = dict(values or {})
    if rule.target in FINAL or rule.target == S.PROCESSED:
        extra.setdefault("finished_at", func.now())
    await guarded_update(session, dossier, dossier.version, status=rule.target, **extra)
    await session.execute(
        insert(DossierHistory).values(
            dossier_id=dossier.id,
            actor=str(actor),
            from_status=previous,
            to_status=rule.target,
            reason=reason,
            ip=actor.address,
            message=_stored(message),
        )
    )
    await session.refresh(dossier)


STALE = "Hồ sơ vừa được người khác cập nhật; vui lòng tải lại trang và thử lại."


async def guarded_update(session: AsyncSession, dossier: Dossier, version: int, **values: Any) -> None:
    """The one way a dossier row changes: only if it is still at ``version`` (the one the
    person saw), bumping it, so of two concurrent changes one wins and the other is told."""
    if version != dossier.version:
        raise DossierError(STALE)
    changed = await session.execute(
        update(Dossier)
        .where(Dossier.id == dossier.id, Dossier.version == version)
        .values(version=Dossier.version + 1, updated_at=func.now(), **values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise DossierError(STALE)


# The key of ``DossierHistory.message`` that holds a staff-only note (``record_event``).
STAFF_NOTE = "staff_note"


async def record_event(
    session: AsyncSession,
    dossier: Dossier,
    *,
    actor: Actor,
    reason: str | None = None,
    message: Message | None = None,
    staff_note: str | None = None,
    at: datetime | None = None,
) -> None:
    """A history row that changes no status (assignment, apology slip, payment, a workflow step):
    ``message`` is what the product says of it, ``reason`` what a person typed (as for
    ``transition``); ``staff_note``, with a message, what a person typed that only staff read (a
    leader's reason for sending the dossier back), kept beside it; ``at`` when it happened,
    when not now."""
    stored = _stored(message)
    note = (staff_note or "").strip()[:2000]
    if stored is not None and note:
        stored[STAFF_NOTE] = note
    await session.execute(
        insert(DossierHistory).values(
            dossier_id=dossier.id,
            actor=str(actor),
            from_status=dossier.status,
            to_status=dossier.status,
            reason=(reason or "").strip()[:2000] or None,
            ip=actor.address,
            message=stored,
            **({"at": at} if at is not None else {}),
        )
    )


def _stored(message: Message | None) -> dict[str, object] | None:
    # A Message, not a text: a plain str here would be Vietnamese for every reader.
    if message is None:
        return None
    if not isinstance(message, Message):
        raise TypeError("a history message must be a core.messages.Message")
    return message_to_json(message)
