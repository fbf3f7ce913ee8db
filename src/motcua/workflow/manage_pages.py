"""/manage/catalog/{code}/workflow: the tenant administrator sets a procedure's steps and each
step's share of the legal deadline (GOV.UK: a table of rows to fill, an error summary that
links to the cell, the values kept when something is wrong)."""

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
from motcua.core.pages import HttpRequest, client_address, not_found_page, page
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.models import N_
from motcua.identity.sessions import UserSession
from motcua.workflow.models import StepKind
from motcua.workflow.services import WorkflowError, save_steps, steps_of

# Rows the form shows beyond the current steps, for adding; a row left on "—" is dropped.
SPARE_ROWS = 2
MAX_ROWS = 20
SAVED = N_("Đã lưu quy trình xử lý. Hồ sơ mới đi theo quy trình này; hồ sơ đang xử lý giữ bước hiện tại.")
NO_PROCEDURE = N_("Không có thủ tục này trong danh mục của cổng.")


async def _procedure(session: AsyncSession, code: str) -> Procedure | None:
    return await get_procedure(session, code[:60], published_only=False)


def _render(
    request: HttpRequest,
    procedure: Procedure,
    rows: list[dict[str, str]],
    *,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "workflow/steps.html",
        status_code=status_code,
        procedure=procedure,
        rows=rows,
        errors=errors or {},
        done=done,
        kinds=[(k.value, k.label) for k in StepKind],
    )


@get("/manage/catalog/{code:str}/workflow", include_in_schema=False)
async def workflow_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return not_found_page(request, NO_PROCEDURE)
    steps = await steps_of(db_session, procedure.id)
    rows = [{"kind": s.kind.value, "share": str(s.share_percent)} for s in steps]
    rows += [{"kind": "", "share": ""} for _ in range(SPARE_ROWS)]
    return _render(request, procedure, rows, done=SAVED if done == "saved" else None)


@post("/manage/catalog/{code:str}/workflow", include_in_schema=False, status_code=303)
async def workflow_save(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return not_found_page(request, NO_PROCEDURE)
    rows = [
        {
            "kind": str(data.get(f"steps-{i}-kind") or "")[:20],
            "share": str(data.get(f"steps-{i}-share") or "")[:10],
        }
        for i in range(MAX_ROWS)
        if f"steps-{i}-kind" in data or f"steps-{i}-share" in data
    ]
    filled = [r for r in rows if r["kind"] or r["share"]]
    try:
        await save_steps(
            db_session,
            procedure,
            [(r["kind"], r["share"]) for r in filled],
            actor=Actor.tenant_admin(user.personal_id, address=client_address(request)),
        )
    except WorkflowError as exc:
        # Error keys name positions among the filled rows, which are the rows shown again.
        return _render(
            request, procedure, [*filled, {"kind": "", "share": ""}], errors=exc.errors, status_code=400
        )
    return Redirect(f"/manage/catalog/{procedure.code}/workflow?done=saved", status_code=303)


router = Router(path="/", route_handlers=[workflow_page, workflow_save], guards=[requires_tenant_admin])
