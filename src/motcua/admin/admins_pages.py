"""Platform administrators, managed from the console: the list, adding one by personal ID, and
removing one after a confirmation. The rules (never the last one, never oneself) are the
services' (motcua.identity.services), so the command line keeps them too."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Response

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, client_address, page
from motcua.identity.guards import requires_platform_admin
from motcua.identity.schemas import IdentityInputError
from motcua.identity.services import (
    RoleChangeRefusedError,
    add_platform_admin_from_console,
    check_platform_admin_removal,
    list_platform_admins,
    remove_platform_admin_from_console,
    valid_personal_id,
)
from motcua.identity.sessions import SessionStore, UserSession

# What the list says after an action (?done=…): only these, whatever the query carries.
DONE = ("added", "already", "removed", "absent")


async def _list_page(
    request: HttpRequest,
    db: Database,
    user: UserSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response[str]:
    async with db.platform_session() as session:
        admins = await list_platform_admins(session)
    done = str(request.query_params.get("done") or "")
    return page(
        request,
        "admin/admins.html",
        status_code=status_code,
        admins=admins,
        me=user.personal_id,
        errors=errors or {},
        form=form or {},
        done=done if done in DONE and status_code == 200 else None,
    )


@get("/admins", name="console_admins", guards=[requires_platform_admin], include_in_schema=False)
async def admins_page(
    request: HttpRequest, db: NamedDependency[Database], user: NamedDependency[UserSession]
) -> Response[str]:
    return await _list_page(request, db, user)


@post("/admins", name="console_admins_add", guards=[requires_platform_admin], include_in_schema=False)
async def add_admin(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    sessions: NamedDependency[SessionStore],
    data: FormData,
) -> Response[Any]:
    typed = str(data.get("personal_id") or "")[:50]
    actor = Actor.platform_admin(user.personal_id, address=client_address(request))
    try:
        async with db.platform_session() as session:
            added = await add_platform_admin_from_console(session, typed, actor=actor, sessions=sessions)
    except IdentityInputError as exc:
        return await _list_page(
            request, db, user, status_code=400, errors={"personal_id": str(exc)}, form={"personal_id": typed}
        )
    return Redirect("/admins?done=" + ("added" if added else "already"), status_code=303)


@post(
    "/admins/remove", name="console_admins_remove", guards=[requires_platform_admin], include_in_schema=False
)
async def remove_admin(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    sessions: NamedDependency[SessionStore],
    data: FormData,
) -> Response[Any]:
    """Without ``confirm=yes``: the confirmation page (nothing changes). With it: the removal."""
    actor = Actor.platform_admin(user.personal_id, address=client_address(request))
    try:
        personal_id = valid_personal_id(str(data.get("personal_id") or "")[:50])
        if data.get("confirm") != "yes":
            async with db.platform_session() as session:
                # Refused now rather than after the confirmation: the rules are the same then.
                await check_platform_admin_removal(session, personal_id, actor=actor)
                admins = {a.personal_id: a for a in await list_platform_admins(session)}
            if personal_id not in admins:
                return Redirect("/admins?done=absent", status_code=303)
            return page(request, "admin/admins_remove.html", admin=admins[personal_id])
        async with db.platform_session() as session:
            removed = await remove_platform_admin_from_console(
                session, personal_id, actor=actor, sessions=sessions
            )
    except RoleChangeRefusedError as exc:
        return await _list_page(request, db, user, status_code=409, errors={"admins": str(exc)})
    except IdentityInputError as exc:
        return await _list_page(request, db, user, status_code=400, errors={"admins": str(exc)})
    return Redirect("/admins?done=" + ("removed" if removed else "absent"), status_code=303)


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [admins_page, add_admin, remove_admin]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
