"""Ratings of delivered dossiers (on the citizen's dossier page) and feedback (PAKN): the
citizen's form and list at /feedback, the officers' list and answers at /officer/feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.pages import FormData, HttpRequest, client_address, page
from motcua.core.ratelimit import limited
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.models import Dossier
from motcua.dossiers.services import citizen_dossier
from motcua.feedback.models import SCORE_LABELS, Feedback
from motcua.feedback.services import (
    COMMENT_MAX,
    CONTENT_MAX,
    SUBJECT_MAX,
    FeedbackError,
    answer_feedback,
    list_feedback_for_officers,
    my_feedback,
    rate_dossier,
    rating_of,
    send_feedback,
)
from motcua.identity.guards import requires_login, requires_officer
from motcua.identity.models import Role
from motcua.identity.sessions import UserSession
from motcua.workflow.scope import scope_of, visible_to


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    # Kept a little past the limit so the page can say "too long" rather than cut silently.
    return str(data.get(name, ""))[: limit + 100]


# Ratings ------------------------------------------------------------------------------------------
async def _mine(user: UserSession, session: AsyncSession, code: str) -> Dossier:
    dossier = await citizen_dossier(session, code[:80], user.citizen_id or 0)
    if dossier is None:
        raise NotFoundException()  # another person's dossier is not even acknowledged
    return dossier


async def _rating(
    request: HttpRequest,
    session: AsyncSession,
    dossier: Dossier,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    partial = request.headers.get("hx-request") == "true"
    return page(
        request,
        "feedback/rating_panel.html" if partial else "feedback/rating.html",
        status_code=status_code,
        dossier=dossier,
        rating=await rating_of(session, dossier.id),
        scores=SCORE_LABELS,
        errors=errors or {},
        values=values or {},
        comment_max=COMMENT_MAX,
    )


@get("/my/dossiers/{code:str}/rating", guards=[requires_login], include_in_schema=False)
async def rating_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[str]:
    """The rating box: loaded by htmx into the dossier page, or a page of its own without JS."""
    return await _rating(request, db_session, await _mine(user, db_session, code))


@post(
    "/my/dossiers/{code:str}/rating",
    guards=[requires_login, limited("submit")],
    include_in_schema=False,
    status_code=303,
)
async def rate(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _mine(user, db_session, code)
    try:
        await rate_dossier(
            db_session,
            dossier,
            citizen_id=user.citizen_id or 0,
            score=data.get("score", ""),
            comment=_text(data, "comment", COMMENT_MAX),
        )
    except FeedbackError as exc:
        # Refused before anything was written; a field error is the person's to fix (400), the
        # rest (already rated, not delivered yet) is the dossier's state (409).
        status = 400 if set(exc.errors) - {""} else 409
        return await _rating(
            request, db_session, dossier, errors=exc.errors, values=dict(data), status_code=status
        )
    return Redirect(f"/my/dossiers/{dossier.code}#rating", status_code=303)


# Feedback: the citizen ----------------------------------------------------------------------------
async def _feedback_page(
    request: HttpRequest,
    user: UserSession,
    session: AsyncSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "feedback/citizen.html",
        status_code=status_code,
        items=await my_feedback(session, user.citizen_id or 0),
        errors=errors or {},
        values=values or {},
        sent=sent,
        now=datetime.now(VIETNAM),
        vietnam=VIETNAM,
        subject_max=SUBJECT_MAX,
        content_max=CONTENT_MAX,
    )


@get("/feedback", guards=[requires_login], include_in_schema=False)
async def feedback_form(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    sent: FromQuery[bool] = False,
    dossier: FromQuery[str] = "",
) -> Response[str]:
    return await _feedback_page(request, user, db_session, sent=sent, values={"dossier_code": dossier[:80]})


@post("/feedback", guards=[requires_login, limited("submit")], include_in_schema=False, status_code=303)
async def feedback_send(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    try:
        await send_feedback(
            db_session,
            tenant,
            citizen_id=user.citizen_id or 0,
            subject=_text(data, "subject", SUBJECT_MAX),
            content=_text(data, "content", CONTENT_MAX),
            dossier_code=str(data.get("dossier_code", ""))[:80],
        )
    except FeedbackError as exc:
        return await _feedback_page(
            request, user, db_session, errors=exc.errors, values=dict(data), status_code=400
        )
    return Redirect("/feedback?sent=true#mine", status_code=303)


# Feedback: the officers ---------------------------------------------------------------------------
async def _officer_share(session: AsyncSession, user: UserSession) -> ColumnElement[bool]:
    """The feedback an officer sees and answers (docs/architecture.md, "Officers and their
    units"): feedback about a dossier of one of their units (workflow.scope); feedback about no
    dossier goes to the service centre, i.e. to staff of a root unit (and to a tenant-wide
    officer without unit roles, who works there)."""
    scope = await scope_of(session, user.personal_id, tenant_officer=user.has(Role.OFFICER))
    theirs = Feedback.dossier_id.in_(select(Dossier.id).where(visible_to(scope)))
    return or_(theirs, Feedback.dossier_id.is_(None)) if scope.root else theirs


async def _officer_page(
    request: HttpRequest,
    session: AsyncSession,
    share: ColumnElement[bool],
    *,
    error: str | None = None,
    error_for: int | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    items = await list_feedback_for_officers(session, visible=share)
    now = datetime.now(VIETNAM)
    return page(
        request,
        "feedback/officer.html",
        status_code=status_code,
        items=items,
        waiting=sum(1 for f in items if not f.answered),
        overdue=sum(1 for f in items if not f.answered and f.overdue(now)),
        now=now,
        vietnam=VIETNAM,
        error=error,
        error_for=error_for,
        values=values or {},
    )


@get("/officer/feedback", guards=[requires_officer], include_in_schema=False)
async def officer_feedback(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], user: NamedDependency[UserSession]
) -> Response[str]:
    return await _officer_page(request, db_session, await _officer_share(db_session, user))


@post(
    "/officer/feedback/{feedback_id:int}/answer",
    guards=[requires_officer],
    include_in_schema=False,
    status_code=303,
)
async def officer_answer(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    feedback_id: FromPath[int],
    data: FormData,
) -> Response[Any]:
    share = await _officer_share(db_session, user)
    try:
        await answer_feedback(
            db_session,
            feedback_id,
            actor=Actor.officer(user.personal_id, address=client_address(request)),
            answer=str(data.get("answer", ""))[:5000],
            visible=share,
        )
    except LookupError:
        raise NotFoundException() from None
    except FeedbackError as exc:
        status = 400 if "answer" in exc.errors else 409
        return await _officer_page(
            request,
            db_session,
            share,
            error=str(exc),
            error_for=feedback_id,
            values={"answer": str(data.get("answer", ""))},
            status_code=status,
        )
    return Redirect(f"/officer/feedback#feedback-{feedback_id}", status_code=303)


router = Router(
    path="/",
    route_handlers=[rating_page, rate, feedback_form, feedback_send, officer_feedback, officer_answer],
)
