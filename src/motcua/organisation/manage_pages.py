"""/manage/units: the tenant administrator's units and their staff.

GOV.UK patterns: the tree as a table, one page per unit with a summary list, forms that keep
what was typed and an error summary, a confirmation page before closing a unit or taking a role
away, and a notification banner after each change. Every change goes through an action of
``organisation.services`` (validated and audited in the request's transaction).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.digits import row_id
from motcua.core.pages import HttpRequest, client_address, not_found_page, page
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.models import N_
from motcua.identity.schemas import mask_personal_id
from motcua.identity.sessions import UserSession
from motcua.organisation.models import Tier, Unit, UnitKind, UnitRole
from motcua.organisation.routing import RouteInputError, departments, route_of, save_route, service_centre
from motcua.organisation.services import (
    LAST_ROOT,
    UnitInputError,
    add_staff,
    add_unit,
    edit_unit,
    get_unit,
    remove_staff,
    set_unit_active,
    unit_staff,
    unit_tree,
)

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

# The banner after a change (?done=…), in words.
DONE = {
    "created": N_("Đã thêm đơn vị."),
    "changed": N_("Đã lưu thay đổi của đơn vị."),
    "unchanged": N_("Không có gì thay đổi."),
    "closed": N_("Đã đóng đơn vị: đơn vị không nhận hồ sơ mới; hồ sơ và lịch sử vẫn giữ nguyên."),
    "reopened": N_("Đã mở lại đơn vị."),
    "staff_added": N_("Đã giao vai trò cho cán bộ. Cán bộ có quyền từ lần thao tác tiếp theo."),
    "staff_already": N_("Cán bộ này đã có vai trò đó ở đơn vị; không có gì thay đổi."),
    "staff_removed": N_("Đã thu hồi vai trò của cán bộ ở đơn vị."),
    "staff_absent": N_("Cán bộ này không còn vai trò đó ở đơn vị; không có gì thay đổi."),
}
UNKNOWN_UNIT = N_("Không tìm thấy đơn vị này.")


def _field(data: dict[str, str], name: str, limit: int = 250) -> str:
    return str(data.get(name) or "")[:limit]


def _actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.tenant_admin(user.personal_id, address=client_address(request))


def _parent(value: str) -> int | None:
    return row_id(value)


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": {k.value: k.label for k in UnitKind},
        "role_labels": {r.value: r.label for r in UnitRole},
    }


async def _list_page(
    request: HttpRequest,
    session: AsyncSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response[str]:
    return page(
        request,
        "organisation/units.html",
        status_code=status_code,
        units=await unit_tree(session),
        errors=errors or {},
        form=form or {},
        **_labels(),
    )


@get("/manage/units", include_in_schema=False)
async def units_page(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
    return await _list_page(request, db_session)


@post("/manage/units", include_in_schema=False, status_code=303)
async def units_add(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: Form,
) -> Response[Any]:
    form = {k: _field(data, k) for k in ("parent_id", "kind", "name", "agency_code")}
    try:
        unit = await add_unit(
            db_session,
            parent_id=_parent(form["parent_id"]),
            kind=form["kind"],
            name=form["name"],
            agency_code=form["agency_code"],
            actor=_actor(request, user),
        )
    except UnitInputError as exc:
        return await _list_page(request, db_session, status_code=400, errors=exc.errors, form=form)
    return Redirect(f"/manage/units/{unit.id}?done=created", status_code=303)


async def _unit_page(
    request: HttpRequest,
    session: AsyncSession,
    unit: Unit,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    confirm: dict[str, str] | None = None,
    done: str | None = None,
) -> Response[str]:
    tree = await unit_tree(session)
    staff = await unit_staff(session, unit.id)
    return page(
        request,
        "organisation/unit.html",
        status_code=status_code,
        unit=unit,
        kind=UnitKind(unit.kind),
        parent=next((u for u in tree if u.id == unit.parent_id), None),
        units=[u for u in tree if u.id != unit.id],
        staff=[(m, mask_personal_id(m.personal_id)) for m in staff],
        errors=errors or {},
        form=form or {},
        confirm=confirm,
        done=DONE.get(done or "") if status_code == 200 and confirm is None else None,
        **_labels(),
    )


@get("/manage/units/{unit_id:int}", include_in_schema=False)
async def unit_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    unit_id: FromPath[int],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    unit = await get_unit(db_session, unit_id)
    if unit is None:
        return not_found_page(request, UNKNOWN_UNIT)
    return await _unit_page(request, db_session, unit, done=done)


@post("/manage/units/{unit_id:int}", include_in_schema=False, status_code=303)
async def unit_change(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    unit_id: FromPath[int],
    data: Form,
) -> Response[Any]:
    """``action=edit``; ``action=close`` (first the confirmation page, then with ``confirm=yes``);
    ``action=reopen``."""
    unit = await get_unit(db_session, unit_id)
    if unit is None:
        return not_found_page(request, UNKNOWN_UNIT)
    action = _field(data, "action", 10)
    actor = _actor(request, user)
    try:
        if action == "edit":
            form = {k: _field(data, k) for k in ("parent_id", "name", "agency_code")}
            try:
                changed = await edit_unit(
                    db_session,
                    unit,
                    parent_id=_parent(form["parent_id"]) if unit.parent_id is not None else None,
                    name=form["name"],
                    agency_code=form["agency_code"],
                    actor=actor,
                )
            except UnitInputError as exc:
                return await _unit_page(
                    request, db_session, unit, status_code=400, errors=exc.errors, form=form
                )
            return Redirect(
                f"/manage/units/{unit.id}?done={'changed' if changed else 'unchanged'}", status_code=303
            )
        if action == "close":
            if unit.parent_id is None:
                raise UnitInputError({"active": LAST_ROOT})
            if data.get("confirm") != "yes":
                return await _unit_page(request, db_session, unit, confirm={"action": "close"})
            done = await set_unit_active(db_session, unit, active=False, actor=actor)
            return Redirect(
                f"/manage/units/{unit.id}?done={'closed' if done else 'unchanged'}", status_code=303
            )
        if action == "reopen":
            done = await set_unit_active(db_session, unit, active=True, actor=actor)
            return Redirect(
                f"/manage/units/{unit.id}?done={'reopened' if done else 'unchanged'}", status_code=303
            )
    except UnitInputError as exc:
        return await _unit_page(request, db_session, unit, status_code=409, errors=exc.errors)
    return await _unit_page(
        request, db_session, unit, status_code=400, errors={"action": N_("Thao tác không hợp lệ.")}
    )


@post("/manage/units/{unit_id:int}/staff", include_in_schema=False, status_code=303)
async def unit_staff_change(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    unit_id: FromPath[int],
    data: Form,
) -> Response[Any]:
    """``action=add``, or ``action=remove``: first the confirmation page, then with
    ``confirm=yes`` the removal."""
    unit = await get_unit(db_session, unit_id)
    if unit is None:
        return not_found_page(request, UNKNOWN_UNIT)
    form = {k: _field(data, k, 250) for k in ("personal_id", "full_name", "role")}
    actor = _actor(request, user)
    action = _field(data, "action", 10)
    if action == "add":
        try:
            added = await add_staff(
                db_session,
                unit,
                personal_id=form["personal_id"],
                full_name=form["full_name"],
                role=form["role"],
                actor=actor,
            )
        except UnitInputError as exc:
            return await _unit_page(request, db_session, unit, status_code=400, errors=exc.errors, form=form)
        return Redirect(
            f"/manage/units/{unit.id}?done={'staff_added' if added else 'staff_already'}", status_code=303
        )
    if action == "remove" and form["role"] in {r.value for r in UnitRole}:
        if data.get("confirm") != "yes":
            member = next(
                (m for m in await unit_staff(db_session, unit.id) if m.personal_id == form["personal_id"]),
                None,
            )
            if member is None:
                return Redirect(f"/manage/units/{unit.id}?done=staff_absent", status_code=303)
            return await _unit_page(
                request,
                db_session,
                unit,
                confirm={
                    "action": "remove",
                    "personal_id": member.personal_id,
                    "name": member.name,
                    "role": form["role"],
                    "role_label": UnitRole(form["role"]).label,
                },
            )
        removed = await remove_staff(
            db_session, unit, personal_id=form["personal_id"], role=form["role"], actor=actor
        )
        return Redirect(
            f"/manage/units/{unit.id}?done={'staff_removed' if removed else 'staff_absent'}", status_code=303
        )
    return await _unit_page(
        request, db_session, unit, status_code=400, errors={"action": N_("Thao tác không hợp lệ.")}
    )


# /manage/catalog/{code}/routing ------------------------------------------------------------------
NO_PROCEDURE = N_("Không có thủ tục này trong danh mục của cổng.")
ROUTE_DONE = {
    "saved": N_("Đã lưu nơi tiếp nhận và đơn vị giải quyết. Hồ sơ nộp từ nay đi theo cách này."),
    "unchanged": N_("Không có gì thay đổi."),
}


async def _routing_page(
    request: HttpRequest,
    session: AsyncSession,
    procedure: Procedure,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    route = await route_of(session, procedure)
    centre = await service_centre(session)
    ministry = centre is not None and centre.tier == Tier.MINISTRY
    tiers = [Tier.MINISTRY] if ministry else [Tier.PROVINCE, Tier.COMMUNE]
    shown = form or {
        "tier": route.tier.value,
        "deciding_unit_id": str(route.deciding_unit_id or ""),
    }
    return page(
        request,
        "organisation/routing.html",
        status_code=status_code,
        procedure=procedure,
        route=route,
        centre=centre,
        tiers=[(t.value, t.label) for t in tiers],
        departments=await departments(session),
        form=shown,
        errors=errors or {},
        done=ROUTE_DONE.get(done or "") if status_code == 200 else None,
    )


@get("/manage/catalog/{code:str}/routing", include_in_schema=False)
async def routing_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    procedure = await get_procedure(db_session, code[:60], published_only=False)
    if procedure is None:
        return not_found_page(request, NO_PROCEDURE)
    return await _routing_page(request, db_session, procedure, done=done)


@post("/manage/catalog/{code:str}/routing", include_in_schema=False, status_code=303)
async def routing_save(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: Form,
) -> Response[Any]:
    procedure = await get_procedure(db_session, code[:60], published_only=False)
    if procedure is None:
        return not_found_page(request, NO_PROCEDURE)
    form = {k: _field(data, k, 20) for k in ("tier", "deciding_unit_id")}
    try:
        changed = await save_route(
            db_session,
            procedure,
            tier=form["tier"],
            deciding_unit_id=_parent(form["deciding_unit_id"]),
            actor=_actor(request, user),
        )
    except RouteInputError as exc:
        return await _routing_page(
            request, db_session, procedure, form=form, errors=exc.errors, status_code=400
        )
    return Redirect(
        f"/manage/catalog/{procedure.code}/routing?done={'saved' if changed else 'unchanged'}",
        status_code=303,
    )


router = Router(
    path="/",
    route_handlers=[
        units_page,
        units_add,
        unit_page,
        unit_change,
        unit_staff_change,
        routing_page,
        routing_save,
    ],
    guards=[requires_tenant_admin],
)
