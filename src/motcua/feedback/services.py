"""Ratings of delivered dossiers and feedback (PAKN) with an answer deadline in working days.

Writes validate first and raise ``FeedbackError`` with messages for the person who asked
(Vietnamese), keyed by form field so a page can show each next to its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.messages import Message, MessageError
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, DurationUnit, due_date
from motcua.dossiers.models import Dossier, DossierStatus
from motcua.dossiers.services import calendar_for, citizen_dossier
from motcua.feedback.models import SCORE_LABELS, Feedback, Rating

COMMENT_MAX = 1000
SUBJECT_MAX = 200
CONTENT_MAX = 4000
ANSWER_MAX = 4000
DEFAULT_ANSWER_DAYS = 10
LIST_LIMIT = 200


class FeedbackError(MessageError):
    """A request the rules refuse. ``errors`` maps a form field (or ``""``) to its message (a
    ``Message``, shown in the reader's language; so is ``str(exc)`` when there is one)."""

    def __init__(self, errors: Mapping[str, str] | str) -> None:
        self.errors = {"": errors} if isinstance(errors, str) else dict(errors)
        messages = list(self.errors.values())
        super().__init__(messages[0] if len(messages) == 1 else " ".join(messages))


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(VIETNAM)).astimezone(VIETNAM)


# Ratings ------------------------------------------------------------------------------------------
async def rating_of(session: AsyncSession, dossier_id: int) -> Rating | None:
    return await session.scalar(select(Rating).where(Rating.dossier_id == dossier_id))


def _score(raw: Any) -> int | None:
    try:
        score = int(str(raw).strip())
    except ValueError:
        return None
    return score if score in SCORE_LABELS else None


async def rate_dossier(
    session: AsyncSession,
    dossier: Dossier,
    *,
    citizen_id: int,
    score: Any,
    comment: str = "",
    now: datetime | None = None,
) -> Rating:
    """Record the owner's rating of a delivered dossier, once."""
    if dossier.citizen_id != citizen_id:
        raise FeedbackError(Message("Bạn chỉ có thể đánh giá hồ sơ của chính mình."))
    if dossier.status != DossierStatus.DELIVERED:
        raise FeedbackError(Message("Chỉ có thể đánh giá sau khi hồ sơ đã được trả kết quả."))
    if await rating_of(session, dossier.id) is not None:
        raise FeedbackError(Message("Bạn đã đánh giá hồ sơ này. Mỗi hồ sơ chỉ được đánh giá một lần."))
    errors: dict[str, str] = {}
    value = _score(score)
    if value is None:
        errors["score"] = Message("Vui lòng chọn một mức độ hài lòng từ 1 đến 5.")
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        errors["comment"] = Message(
            "Ý kiến góp ý không được dài quá %(max)s ký tự (hiện có %(count)s).",
            max=COMMENT_MAX,
            count=len(text),
        )
    if errors:
        raise FeedbackError(errors)
    # Two submissions racing: the unique dossier_id lets only one in.
    rating_id = await session.scalar(
        pg_insert(Rating)
        .values(
            dossier_id=dossier.id,
            citizen_id=citizen_id,
            score=value,
            comment=text or None,
            created_at=_now(now),
        )
        .on_conflict_do_nothing(index_elements=["dossier_id"])
        .returning(Rating.id)
    )
    if rating_id is None:
        raise FeedbackError(Message("Bạn đã đánh giá hồ sơ này. Mỗi hồ sơ chỉ được đánh giá một lần."))
    rating = await session.get(Rating, rating_id)
    assert rating is not None
    return rating


# Feedback (PAKN) ----------------------------------------------------------------------------------
def answer_days(tenant: Tenant) -> int:
    try:
        days = int(tenant.settings.get("feedback_answer_days", DEFAULT_ANSWER_DAYS))
    except (TypeError, ValueError):
        return DEFAULT_ANSWER_DAYS
    return days if days >= 0 else DEFAULT_ANSWER_DAYS


async def send_feedback(
    session: AsyncSession,
    tenant: Tenant,
    *,
    citizen_id: int,
    subject: str,
    content: str,
    dossier_code: str = "",
    now: datetime | None = None,
) -> Feedback:
    """Record a citizen's feedback; the answer is owed within the tenant's working days."""
    subject, content, dossier_code = (
        (subject or "").strip(),
        (content or "").strip(),
        (dossier_code or "").strip(),
    )
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = Message("Vui lòng nhập tiêu đề phản ánh, kiến nghị.")
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = Message("Tiêu đề không được dài quá %(max)s ký tự.", max=SUBJECT_MAX)
    if not content:
        errors["content"] = Message("Vui lòng nhập nội dung phản ánh, kiến nghị.")
    elif len(content) > CONTENT_MAX:
        errors["content"] = Message(
            "Nội dung không được dài quá %(max)s ký tự (hiện có %(count)s).",
            max=CONTENT_MAX,
            count=len(content),
        )
    dossier: Dossier | None = None
    if dossier_code:
        dossier = await citizen_dossier(session, dossier_code[:80], citizen_id)
        if dossier is None:
            errors["dossier_code"] = Message(
                "Không tìm thấy hồ sơ có mã này trong hồ sơ của bạn. Vui lòng kiểm tra lại mã hồ sơ."
            )
    if errors:
        raise FeedbackError(errors)
    received = _now(now)
    feedback = Feedback(
        citizen_id=citizen_id,
        dossier_id=dossier.id if dossier else None,
        subject=subject,
        content=content,
        received_at=received,
        due_at=due_date(calendar_for(tenant), received, answer_days(tenant), DurationUnit.WORKING_DAYS),
    )
    session.add(feedback)
    await session.flush()
    return feedback


async def my_feedback(session: AsyncSession, citizen_id: int) -> list[Feedback]:
    return list(
        (
            await session.scalars(
                select(Feedback)
                .where(Feedback.citizen_id == citizen_id)
                .order_by(Feedback.received_at.desc(), Feedback.id.desc())
                .limit(LIST_LIMIT)
            )
        ).all()
    )


async def list_feedback_for_officers(
    session: AsyncSession, *, visible: ColumnElement[bool] | None = None, limit: int = LIST_LIMIT
) -> list[Feedback]:
    """Unanswered first, oldest first (the one closest to or past its deadline on top); then the
    answered ones, most recent answer first. ``visible``: the officer's share (feedback.routes)."""
    unanswered = Feedback.answered_at.is_(None)
    return list(
        (
            await session.scalars(
                select(Feedback)
                .where(visible if visible is not None else true())
                .order_by(
                    case((unanswered, 0), else_=1),
                    case((unanswered, Feedback.received_at)),
                    Feedback.answered_at.desc(),
                    Feedback.id,
                )
                .limit(limit)
            )
        ).all()
    )


async def answer_feedback(
    session: AsyncSession,
    feedback_id: int,
    *,
    actor: Actor,
    answer: str,
    now: datetime | None = None,
    visible: ColumnElement[bool] | None = None,
) -> Feedback:
    """Record the answer once, with who gave it and when (kept to judge whether it was on time).
    ``visible``: the officer's share; feedback outside it is as unknown (LookupError)."""
    feedback = await session.scalar(
        select(Feedback)
        .where(Feedback.id == feedback_id, visible if visible is not None else true())
        .with_for_update()
    )
    if feedback is None:
        raise LookupError(feedback_id)
    if feedback.answered_at is not None:
        raise FeedbackError(Message("Phản ánh, kiến nghị này đã được trả lời; không thể trả lời lại."))
    text = (answer or "").strip()
    if not text:
        raise FeedbackError({"answer": Message("Vui lòng nhập nội dung trả lời.")})
    if len(text) > ANSWER_MAX:
        raise FeedbackError(
            {"answer": Message("Nội dung trả lời không được dài quá %(max)s ký tự.", max=ANSWER_MAX)}
        )
    feedback.answer = text
    feedback.answered_by = str(actor)
    feedback.answered_at = _now(now)
    await session.flush()
    return feedback


# The satisfaction indicator -----------------------------------------------------------------------
async def satisfaction_summary(
    session: AsyncSession, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Ratings (count, average, share of 4–5) and feedback (total, answered, answered on time)
    for the tenant, optionally for ratings given / feedback received in [start, end)."""
    ratings = select(
        func.count(Rating.id).label("rated"),
        func.avg(Rating.score).label("average"),
        func.count(Rating.id).filter(Rating.score >= 4).label("satisfied"),
    )
    if start is not None:
        ratings = ratings.where(Rating.created_at >= start)
    if end is not None:
        ratings = ratings.where(Rating.created_at < end)
    r = (await session.execute(ratings)).one()
    feedback = select(
        func.count(Feedback.id).label("total"),
        func.count(Feedback.id).filter(Feedback.answered_at.is_not(None)).label("answered"),
        func.count(Feedback.id).filter(Feedback.answered_at <= Feedback.due_at).label("on_time"),
    )
    if start is not None:
        feedback = feedback.where(Feedback.received_at >= start)
    if end is not None:
        feedback = feedback.where(Feedback.received_at < end)
    f = (await session.execute(feedback)).one()
    count = int(r.rated)
    return {
        "rating_count": count,
        "average_score": round(float(r.average), 2) if count else None,
        "satisfied_share": round(int(r.satisfied) / count, 4) if count else None,
        "feedback_total": int(f.total),
        "feedback_answered": int(f.answered),
        "feedback_answered_on_time": int(f.on_time),
    }
