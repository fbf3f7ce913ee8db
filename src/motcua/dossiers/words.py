"""A dossier in words, for the people who read its pages: where it stands on the road from
submission to result (the stepper), the colour family of its status, what the applicant must do
now, and its history as sentences with people's names ("Cán bộ Trần Văn B", "Bạn",
"Hệ thống (thanh toán trực tuyến)") — never a status code, a ``kind:id`` actor or a personal ID.

Pure functions over rows already read: the pages decide what to read (``dossiers.page``), so a
change of queries never touches the words. Every text is a Vietnamese msgid the templates
translate with ``_()``; statuses keep their legal labels (``DossierStatus.label``, ``|term``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from motcua.core.audit import ActorKind
from motcua.core.messages import Message, message_from_json
from motcua.dossiers.lifecycle import STAFF_NOTE
from motcua.dossiers.models import DossierHistory, DossierStatus
from motcua.identity.models import N_
from motcua.identity.schemas import PERSONAL_ID, mask_personal_id

S = DossierStatus

# The road every dossier travels (GOV.UK "step by step"): milestones, each reached by statuses.
STEPS: tuple[tuple[str, frozenset[DossierStatus]], ...] = (
    (N_("Đã nộp"), frozenset({S.SUBMITTED})),
    (N_("Đã tiếp nhận"), frozenset({S.ACCEPTED})),
    (N_("Đang giải quyết"), frozenset({S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED})),
    (N_("Có kết quả"), frozenset({S.PROCESSED})),
    (N_("Đã trả kết quả"), frozenset({S.DELIVERED})),
)
_STEP_OF = {status: index for index, (_, statuses) in enumerate(STEPS) for status in statuses}

# Side states: a pause on the current step (the applicant's turn) or an end before the result.
SIDE_STATES: dict[DossierStatus, tuple[str, str]] = {
    S.SUPPLEMENT_REQUESTED: (N_("Yêu cầu bổ sung"), "warn"),
    S.PAYMENT_REQUESTED: (N_("Chờ nộp phí, lệ phí"), "warn"),
    S.REFUSED: (N_("Từ chối tiếp nhận"), "error"),
    S.WITHDRAWN: (N_("Đã rút"), "neutral"),
    S.STOPPED: (N_("Dừng xử lý"), "error"),
}
ENDED = frozenset({S.REFUSED, S.WITHDRAWN, S.STOPPED})
# Where an ended dossier stood when the page does not know its previous status (public tracking
# reads the status alone): a refusal can only follow submission; the others are shown after the
# last milestone they surely passed.
_ENDED_AT = {S.REFUSED: S.SUBMITTED, S.WITHDRAWN: S.SUBMITTED, S.STOPPED: S.ACCEPTED}

# The colour family of each status (the theme's --ok/--warn/--error/--info tokens, never the
# portal's brand colour): the office's turn, the applicant's turn, done, ended badly.
STATUS_TONE: dict[str, str] = {
    S.SUBMITTED: "info",
    S.ACCEPTED: "info",
    S.IN_PROGRESS: "info",
    S.SUPPLEMENT_REQUESTED: "warn",
    S.PAYMENT_REQUESTED: "warn",
    S.PROCESSED: "ok",
    S.DELIVERED: "ok",
    S.REFUSED: "error",
    S.STOPPED: "error",
    S.WITHDRAWN: "neutral",
}


def status_tone(status: str) -> str:
    return STATUS_TONE.get(status, "neutral")


@dataclass(frozen=True, slots=True)
class Step:
    label: str  # msgid
    reached: bool
    current: bool = False
    tone: str = ""  # a side state's colour family ("warn", "error", "neutral")
    note: str | None = None  # msgid: the side state of the current step ("Yêu cầu bổ sung")


def stepper(status: str, before: str | None = None) -> list[Step]:
    """The milestones of a dossier at ``status``: those reached, the current one (marked for
    ``aria-current="step"``), those to come. An ended dossier (refused, withdrawn, stopped) shows
    the milestones it reached, then how it ended, and nothing after; ``before`` is the status it
    ended from, when the page knows it."""
    current = S(status)
    if current in ENDED:
        previous = S(before) if before in _STEP_OF else _ENDED_AT[current]
        label, tone = SIDE_STATES[current]
        steps = [Step(name, reached=True) for name, _ in STEPS[: _STEP_OF[previous] + 1]]
        return [*steps, Step(label, reached=True, current=True, tone=tone)]
    at = _STEP_OF[current]
    side = SIDE_STATES.get(current)
    return [
        Step(
            name,
            reached=index <= at,
            current=index == at,
            tone=side[1] if side and index == at else "",
            note=side[0] if side and index == at else None,
        )
        for index, (name, _) in enumerate(STEPS)
    ]


# What the applicant must do now, from the status alone (the list of dossiers) --------------------
TODO_WORDS: dict[str, str] = {
    "supplement": N_("Gửi giấy tờ bổ sung"),
    "pay": N_("Nộp phí, lệ phí"),
    "collect": N_("Nhận kết quả giải quyết"),
}


def todo_of(status: str) -> str | None:
    """ "supplement", "pay" or "collect" when the next move is the applicant's, else None."""
    return {
        S.SUPPLEMENT_REQUESTED: "supplement",
        S.PAYMENT_REQUESTED: "pay",
        S.PROCESSED: "collect",
    }.get(S(status))


# Who did it ------------------------------------------------------------------------------------
STAFF_KINDS = frozenset({ActorKind.OFFICER, ActorKind.TENANT_ADMIN, ActorKind.PLATFORM_ADMIN})
WHO_ROLES = {
    ActorKind.OFFICER: N_("Cán bộ"),
    ActorKind.TENANT_ADMIN: N_("Quản trị địa phương"),
    ActorKind.PLATFORM_ADMIN: N_("Quản trị nền tảng"),
    ActorKind.CITIZEN: N_("Công dân"),
    ActorKind.SYSTEM: N_("Hệ thống"),
    ActorKind.OPERATOR: N_("Người vận hành"),
}
YOU = N_("Bạn")
SOMEONE = N_("Không rõ người thực hiện")
# The parts of the product that act on their own, as the applicant knows them.
SYSTEM_PARTS = {
    "online-payment": N_("thanh toán trực tuyến"),
    "provider": N_("cổng thanh toán"),
    "worker": N_("xử lý tự động"),
}
API_PART = N_("kết nối liên thông")  # ``system:api-<client>``: the national portal or another system


@dataclass(frozen=True, slots=True)
class Who:
    """Someone as a page names them: ``role`` and ``part`` are msgids, ``name`` a person's name."""

    role: str
    name: str | None = None
    part: str | None = None


def who(actor: str, names: Mapping[str, str], *, you: int | None, applicant: str | None = None) -> Who:
    """``actor`` (``kind:id``) in words. ``you``: the citizen id of the reader when the page is
    the applicant's own ("Bạn"); ``applicant``: the name for the applicant on staff pages."""
    kind, _, ident = actor.partition(":")
    if kind in STAFF_KINDS:
        return Who(WHO_ROLES[ActorKind(kind)], name=names.get(ident))
    if kind == ActorKind.CITIZEN:
        if you is not None and ident == str(you):
            return Who(YOU)
        return Who(WHO_ROLES[ActorKind.CITIZEN], name=applicant)
    if kind == ActorKind.SYSTEM:
        part = API_PART if ident.startswith("api-") else SYSTEM_PARTS.get(ident)
        return Who(WHO_ROLES[ActorKind.SYSTEM], part=part)
    if kind == ActorKind.OPERATOR:
        return Who(WHO_ROLES[ActorKind.OPERATOR])
    return Who(SOMEONE)


# What happened -----------------------------------------------------------------------------------
_TRANSITIONS: dict[str, str] = {
    S.ACCEPTED: N_("Đã tiếp nhận hồ sơ"),
    S.REFUSED: N_("Đã từ chối tiếp nhận hồ sơ"),
    S.SUPPLEMENT_REQUESTED: N_("Đã đề nghị bổ sung giấy tờ"),
    S.PAYMENT_REQUESTED: N_("Đã đề nghị nộp phí, lệ phí"),
    S.STOPPED: N_("Đã dừng xử lý hồ sơ"),
    S.PROCESSED: N_("Đã có kết quả giải quyết"),
    S.DELIVERED: N_("Đã trả kết quả"),
    S.WITHDRAWN: N_("Đã rút hồ sơ"),
}
_BACK_TO_WORK: dict[str | None, str] = {
    S.ACCEPTED: N_("Đã bắt đầu giải quyết hồ sơ"),
    S.SUPPLEMENT_REQUESTED: N_("Đã gửi giấy tờ bổ sung"),
    S.PAYMENT_REQUESTED: N_("Đã xác nhận nộp phí, lệ phí"),
}
SUBMITTED = N_("Đã nhận hồ sơ")
UPDATED = N_("Đã cập nhật hồ sơ")
ASSIGNED = N_("Đã phân công cán bộ xử lý")  # its line names the officer assigned (``subject``)
# Rows that change no status (lifecycle.record_event), known by the reason their writer gives.
_EVENTS: tuple[tuple[str, str], ...] = (
    ("Phân công cho cán bộ ", ASSIGNED),
    ("Phiếu xin lỗi, ", N_("Đã gửi phiếu xin lỗi và hẹn lại")),
    ("Đã nộp phí, lệ phí", N_("Đã nộp phí, lệ phí")),
    ("Hoàn ", N_("Đã hoàn trả phí, lệ phí")),
    ("Cổng thanh toán ghi nhận đã hoàn", N_("Đã hoàn trả phí, lệ phí")),
)
# How a dossier arrived, by the reason its first row gives (services.submit_dossier,
# intake._RECEIVED_BY): the line itself.
_ARRIVED = {
    "Nộp hồ sơ trực tuyến": N_("Đã nộp hồ sơ trực tuyến"),
    "Tiếp nhận trực tiếp tại Bộ phận Một cửa": N_("Đã tiếp nhận trực tiếp tại Bộ phận Một cửa"),
    "Tiếp nhận qua dịch vụ bưu chính công ích": N_("Đã tiếp nhận qua dịch vụ bưu chính công ích"),
    "Tiếp nhận từ Cổng Dịch vụ công quốc gia": N_("Đã tiếp nhận từ Cổng Dịch vụ công quốc gia"),
}
# What the product writes itself in a history row (``DossierHistory.message``, since t0020): each
# a msgid with its values, read in the reader's language. Writers build ``Message(AMOUNT_DUE, …)``;
# a row that changes no status is known by its msgid (the line's "what").
AMOUNT_DUE = N_("Số tiền phải nộp: %(amount)s")
PAID = N_("Số tiền %(amount)s (%(method)s); biên lai %(series)s số %(number)s")
REFUNDED = N_("Số tiền hoàn: %(amount)s")  # the officer's reason beside it, as typed
PROVIDER_REFUNDED = N_("Cổng thanh toán ghi nhận đã hoàn tổng cộng %(amount)s")
APOLOGY = N_("Hẹn trả kết quả lại vào %(due)s")  # the officer's reason beside it, as typed
_EVENT_MESSAGES: dict[str, str] = {
    PAID: N_("Đã nộp phí, lệ phí"),
    REFUNDED: N_("Đã hoàn trả phí, lệ phí"),
    PROVIDER_REFUNDED: N_("Đã hoàn trả phí, lệ phí"),
    APOLOGY: N_("Đã gửi phiếu xin lỗi và hẹn lại"),
}
# Where the dossier is inside the administration (``workflow.services`` writes one row on each
# step change, with the status unchanged): the line itself, naming the units. Who did it is the
# row's actor, by name. What the officer typed with it (a leader's reason for sending it back, the
# reason of a transfer, an opinion asked or given) is internal: it is kept beside the message
# (``lifecycle.STAFF_NOTE``) and shown on staff pages only, never on the applicant's.
STEP_TO_UNIT = N_("Hồ sơ được chuyển đến %(unit)s để giải quyết")
STEP_ASSIGNED = N_("%(unit)s đã giao chuyên viên thẩm định hồ sơ")
STEP_SUBMITTED = N_("Chuyên viên %(unit)s đã trình lãnh đạo phê duyệt kết quả")
STEP_APPROVED = N_("Lãnh đạo %(unit)s đã phê duyệt kết quả")
STEP_SENT_BACK = N_("Lãnh đạo %(unit)s đã chuyển lại hồ sơ cho chuyên viên để hoàn thiện")
STEP_RETURNED = N_("Kết quả giải quyết đã được chuyển về %(unit)s")
STEP_DELIVERED = N_("%(unit)s đã hoàn thành bước trả kết quả")
STEP_TRANSFERRED = N_("Hồ sơ được chuyển từ %(from_unit)s đến %(unit)s để giải quyết")
OPINIONS_ASKED = N_("%(unit)s đã xin ý kiến của %(units)s")
OPINION_GIVEN = N_("%(unit)s đã gửi ý kiến về hồ sơ")
STEP_MESSAGES = frozenset(
    {
        STEP_TO_UNIT,
        STEP_ASSIGNED,
        STEP_SUBMITTED,
        STEP_APPROVED,
        STEP_SENT_BACK,
        STEP_RETURNED,
        STEP_DELIVERED,
        STEP_TRANSFERRED,
        OPINIONS_ASKED,
        OPINION_GIVEN,
    }
)
# Reasons the product writes itself that say no more than the line does.
_SAID_BY_THE_LINE = frozenset({"Công dân rút hồ sơ", "Công dân đã bổ sung hồ sơ", *_ARRIVED})
_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One line of "Quá trình xử lý": when — what happened — by whom, and the reason given."""

    at: datetime
    what: str  # msgid, or a ``Message`` for a step change (it names the units)
    who: Who
    # What the product says of it: a ``Message`` or a msgid, read in the reader's language (``_()``).
    note: str | None = None
    # Whom it was about (the officer assigned), for a line that names it after ``what``; ``said``
    # then says the same.
    subject: str | None = None
    # What a person typed (an officer's reason), or the text of a row written before t0020: shown
    # as written, in Vietnamese (``lang="vi"``), names in place of personal IDs.
    said: str | None = None


def personal_ids_in(history: Iterable[DossierHistory], *more: str | None) -> set[str]:
    """The personal IDs a page must name: staff actors, IDs written in reasons (assignments of
    older rows), and ``more`` (the officer in charge)."""
    ids: set[str] = set()
    for row in history:
        kind, _, ident = row.actor.partition(":")
        if kind in STAFF_KINDS and PERSONAL_ID.match(ident):
            ids.add(ident)
        ids.update(_DIGITS.findall(row.reason or ""))
        ids.update(_DIGITS.findall(_staff_note(row) or ""))
    ids.update(m for m in more if m and PERSONAL_ID.match(m))
    return ids


def _named(text: str, names: Mapping[str, str]) -> str:
    """A reason with every personal ID replaced by the person's name, or masked."""
    return _DIGITS.sub(lambda m: names.get(m.group(0)) or mask_personal_id(m.group(0)), text)


def _staff_note(row: DossierHistory) -> str | None:
    note = (row.message or {}).get(STAFF_NOTE)
    return (note.strip() or None) if isinstance(note, str) else None


def _what(row: DossierHistory, *, staff: bool) -> tuple[str, Message | None, str | None]:
    """(what happened, what the product says of it, what was written as text)."""
    if row.message:
        message = message_from_json(row.message)
        if message.msgid in STEP_MESSAGES:
            return message, None, _staff_note(row) if staff else None
        typed = (row.reason or "").strip() or None
        if row.from_status is None:
            return SUBMITTED, message, typed
        if row.from_status == row.to_status:
            return _EVENT_MESSAGES.get(message.msgid, UPDATED), message, typed
        if row.to_status == S.IN_PROGRESS:
            return _BACK_TO_WORK.get(row.from_status, UPDATED), message, typed
        return _TRANSITIONS.get(row.to_status, UPDATED), message, typed
    what, written = _what_written(row)
    return what, None, written


def _what_written(row: DossierHistory) -> tuple[str, str | None]:
    """A row whose only words are its ``reason`` text (a person's, or any row before t0020)."""
    reason = (row.reason or "").strip()
    if row.from_status is None:
        return (_ARRIVED[reason], None) if reason in _ARRIVED else (SUBMITTED, reason or None)
    if row.from_status == row.to_status:
        for prefix, what in _EVENTS:
            if reason.startswith(prefix):
                rest = reason.removeprefix(prefix).strip() if prefix.endswith(" ") else reason
                return what, (rest[:1].upper() + rest[1:]) or None
        return UPDATED, reason or None
    if row.to_status == S.IN_PROGRESS:
        what = _BACK_TO_WORK.get(row.from_status, UPDATED)
    else:
        what = _TRANSITIONS.get(row.to_status, UPDATED)
    return what, (None if reason in _SAID_BY_THE_LINE else reason or None)


def history_in_words(
    history: Sequence[DossierHistory],
    names: Mapping[str, str],
    *,
    you: int | None = None,
    applicant: str | None = None,
    staff: bool = False,
) -> list[HistoryLine]:
    """The dossier's history rows as sentences, oldest first. ``names``: personal ID → name
    (``personal_ids_in`` says which to look up); ``you`` and ``applicant`` as for ``who``;
    ``staff``: the reader is an officer, who also reads what was typed with each step change."""
    lines = []
    for row in history:
        what, message, written = _what(row, staff=staff)
        named = _named(written, names) if written else None
        lines.append(
            HistoryLine(
                at=row.at,
                what=what,
                who=who(row.actor, names, you=you, applicant=applicant),
                note=message,
                subject=named if what == ASSIGNED else None,
                said=named,
            )
        )
    return lines


def status_before_end(history: Sequence[DossierHistory]) -> str | None:
    """The status an ended dossier was in before it ended (for the stepper)."""
    for row in reversed(history):
        if row.to_status in ENDED and row.from_status != row.to_status:
            return row.from_status
    return None
