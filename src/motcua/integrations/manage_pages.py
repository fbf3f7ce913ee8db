"""/manage/integrations: API clients registered, rotated and revoked by tenant administrators.

A secret is shown once, on the page that answers the registration or rotation (never stored,
never cached: ``Cache-Control: no-store``). Rotating and revoking each ask for confirmation
first; the confirmation pages change nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.pages import FormData, HttpRequest, client_address, not_found_page, page
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.sessions import UserSession
from motcua.integrations.auth import SCOPE_DESCRIPTIONS, SCOPES, _
from motcua.integrations.clients import (
    NAME_MAX,
    ClientErrors,
    ClientSpec,
    Issued,
    client_by_id,
    list_clients,
    register_client,
    revoke_client,
    rotate_secret,
)
from motcua.integrations.models import ApiClientRow

BASE = "/manage/integrations"
NOT_FOUND = _("Không tìm thấy hệ thống kết nối này.")
_OPTS: dict[str, Any] = {"guards": [requires_tenant_admin], "include_in_schema": False}
# What the list says after an action (``?done=`` takes only these keys).
DONE = {
    "revoked": _("Đã thu hồi quyền kết nối. Mọi access token của hệ thống này hết hiệu lực ngay."),
    "already_revoked": _("Hệ thống này đã bị thu hồi trước đó; không có gì thay đổi."),
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.tenant_admin(user.personal_id, address=client_address(request))


def _scope_rows() -> list[tuple[str, str]]:
    return [(s, SCOPE_DESCRIPTIONS[s]) for s in SCOPES]


def _values(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, str):
        return [value[:40]]
    if isinstance(value, list):
        return [v[:40] for v in value[:10] if isinstance(v, str)]
    return []


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    return value[:limit] if isinstance(value, str) else ""


def scopes_of(row: ApiClientRow) -> list[str]:
    return [SCOPE_DESCRIPTIONS[s] for s in SCOPES if s in row.scopes]


@get(BASE, **_OPTS)
async def clients_list(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
    done = str(request.query_params.get("done") or "")
    return page(
        request,
        "integrations/clients_list.html",
        clients=await list_clients(db_session),
        scopes_of=scopes_of,
        done=DONE.get(done),
    )


def _form_page(
    request: HttpRequest, *, form: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Response[str]:
    return page(
        request,
        "integrations/clients_form.html",
        status_code=status_code,
        form=form,
        errors=errors,
        scope_rows=_scope_rows(),
        name_max=NAME_MAX,
    )


@get(f"{BASE}/new", **_OPTS)
async def new_client(request: HttpRequest) -> Response[str]:
    return _form_page(request, form={"scopes": []}, errors={})


def _secret_page(request: HttpRequest, issued: Issued, *, created: bool) -> Response[str]:
    return page(
        request,
        "integrations/clients_secret.html",
        status_code=201 if created else 200,
        headers=NO_STORE,
        client=issued.client,
        secret=issued.secret,
        created=created,
        scopes=scopes_of(issued.client),
    )


@post(BASE, **_OPTS)
async def create_client(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[str]:
    spec = ClientSpec(
        name=_text(data, "name", NAME_MAX + 50),
        source_system=_text(data, "source_system", 64),
        scopes=tuple(_values(data, "scopes")),
    )
    result = await register_client(db_session, spec, actor=_actor(request, user))
    if isinstance(result, ClientErrors):
        form = {"name": spec.name, "source_system": spec.source_system, "scopes": list(spec.scopes)}
        return _form_page(request, form=form, errors=result.errors, status_code=400)
    return _secret_page(request, result, created=True)


def _confirm_page(request: HttpRequest, row: ApiClientRow, action: str) -> Response[str]:
    return page(
        request, "integrations/clients_confirm.html", client=row, action=action, scopes=scopes_of(row)
    )


async def _active(db_session: AsyncSession, client_id: str) -> ApiClientRow | None:
    row = await client_by_id(db_session, client_id)
    return row if row is not None and row.revoked_at is None else None


@get(f"{BASE}/{{client_id:str}}/rotate", **_OPTS)
async def confirm_rotate(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], client_id: FromPath[str]
) -> Response[str]:
    row = await _active(db_session, client_id)
    if row is None:
        return not_found_page(request, NOT_FOUND)
    return _confirm_page(request, row, "rotate")


@post(f"{BASE}/{{client_id:str}}/rotate", **_OPTS)
async def rotate(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    client_id: FromPath[str],
) -> Response[str]:
    row = await _active(db_session, client_id)
    issued = await rotate_secret(db_session, row, actor=_actor(request, user)) if row is not None else None
    if issued is None:
        return not_found_page(request, NOT_FOUND)
    return _secret_page(request, issued, created=False)


@get(f"{BASE}/{{client_id:str}}/revoke", **_OPTS)
async def confirm_revoke(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], client_id: FromPath[str]
) -> Response[str]:
    row = await _active(db_session, client_id)
    if row is None:
        return not_found_page(request, NOT_FOUND)
    return _confirm_page(request, row, "revoke")


@post(f"{BASE}/{{client_id:str}}/revoke", **_OPTS, status_code=303)
async def revoke(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    client_id: FromPath[str],
) -> Response[Any]:
    row = await client_by_id(db_session, client_id)
    if row is None:
        return not_found_page(request, NOT_FOUND)
    revoked = await revoke_client(db_session, row, actor=_actor(request, user))
    return Redirect(f"{BASE}?done={'revoked' if revoked else 'already_revoked'}", status_code=303)


HANDLERS: list[HTTPRouteHandler] = [
    clients_list,
    new_client,
    create_client,
    confirm_rotate,
    rotate,
    confirm_revoke,
    revoke,
]
