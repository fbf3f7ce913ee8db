"""A tenant's public catalog: home, search (page, htmx partial and JSON API), procedure page,
document templates. The administrators' pages are ``manage_pages.manage_router``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.editing import template_file
from motcua.catalog.models import CHANNEL_LABELS, UNIT_LABELS, Procedure, ProcedureLevel
from motcua.catalog.schemas import ProcedureSummary
from motcua.catalog.services import (
    CatalogCache,
    SearchResult,
    fields_of,
    get_procedure,
    list_procedures,
    search,
)
from motcua.core.apidocs import Refusable
from motcua.core.db import Database
from motcua.core.messages import Message
from motcua.core.pages import HttpRequest, not_found_page, page
from motcua.core.ratelimit import limited
from motcua.core.tenant import Tenant

LEVELS = [(lv.value, lv.label) for lv in ProcedureLevel]


async def catalog_of(cache: CatalogCache, tenant: Tenant, db: Database) -> list[ProcedureSummary]:
    procedures = cache.get(tenant.schema)
    if procedures is None:
        async with db.tenant_session(tenant) as session:
            procedures = await list_procedures(session)
        cache.put(tenant.schema, procedures)
    return procedures


async def procedure_of(cache: CatalogCache, tenant: Tenant, db: Database, code: str) -> Procedure | None:
    hit, procedure = cache.get_detail(tenant.schema, code)
    if not hit:
        async with db.tenant_session(tenant) as session:
            procedure = await get_procedure(session, code)
        cache.put_detail(tenant.schema, code, procedure)
    return procedure


def _page_number(raw: int | None) -> int:
    return raw if raw is not None and 1 <= raw <= 10_000 else 1


def _level(raw: str | None) -> str | None:
    return raw if raw in {lv.value for lv in ProcedureLevel} else None


@get("/", name="home", include_in_schema=False)
async def home(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    catalog_cache: NamedDependency[CatalogCache],
) -> Response[str]:
    catalog = await catalog_of(catalog_cache, tenant, db)
    featured = catalog_cache.derived(
        tenant.schema,
        catalog,
        "featured",
        lambda: search(catalog, None, level="full", per_page=8).items or catalog[:8],
    )
    fields = catalog_cache.derived(tenant.schema, catalog, "fields", lambda: fields_of(catalog))
    return page(request, "home.html", procedures=featured, fields=fields, total=len(catalog))


@get("/procedures", name="procedure_search", include_in_schema=False)
async def procedure_search(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    catalog_cache: NamedDependency[CatalogCache],
    q: FromQuery[str | None] = None,
    field: FromQuery[str | None] = None,
    level: FromQuery[str | None] = None,
    page_number: Annotated[int | None, QueryParameter(name="page")] = None,
) -> Response[str]:
    catalog = await catalog_of(catalog_cache, tenant, db)
    result = search(
        catalog,
        (q or "")[:200],
        field=field,
        level=_level(level),
        page=_page_number(page_number),
        index=catalog_cache.index_of(tenant.schema, catalog),
    )
    context: dict[str, Any] = {"result": result, "fields": fields_of(catalog), "levels": LEVELS}
    if request.headers.get("hx-request") == "true":
        # htmx asks for the results only, as the person types.
        return page(request, "catalog/results.html", **context)
    return page(request, "catalog/search.html", **context)


@get("/procedures/{code:str}", name="procedure", include_in_schema=False)
async def procedure_page(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    catalog_cache: NamedDependency[CatalogCache],
    code: FromPath[str],
) -> Response[str]:
    procedure = await procedure_of(catalog_cache, tenant, db, code[:60])
    if procedure is None:
        return not_found_page(request, Message("Không có thủ tục mã %(code)s trên cổng này.", code=code[:60]))
    return page(
        request,
        "procedure.html",
        procedure=procedure,
        level_label=ProcedureLevel(procedure.level).label,
        channel_labels=CHANNEL_LABELS,
        unit_labels=UNIT_LABELS,
    )


@get("/procedures/{code:str}/templates/{document:str}", name="procedure_template", include_in_schema=False)
async def procedure_template(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
    document: FromPath[str],
) -> Response[Any]:
    """The template of a document (tờ khai mẫu), to fill in before applying."""
    procedure = await get_procedure(db_session, code[:60])
    template = await template_file(db_session, procedure, document[:40]) if procedure is not None else None
    if template is None:
        return not_found_page(request, "Không có mẫu giấy tờ này.")
    return Response(
        template.content,
        media_type=template.media_type,
        headers={
            # The type was checked by content when uploaded: the browser must not guess another.
            "content-disposition": f"attachment; filename*=UTF-8''{quote(template.display_name)}",
            "x-content-type-options": "nosniff",
        },
    )


# Public JSON API ---------------------------------------------------------------------------------
def _api_item(p: ProcedureSummary) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "field": p.field,
        "level": p.level,
        "level_label": p.level_label,
        "processing_time": {"amount": p.processing_days, "unit": p.processing_unit},
        "fee_vnd": p.fee_vnd,
    }


@get(
    "/api/v1/procedures",
    name="api_procedures",
    tags=["catalog"],
    summary="Search the procedure catalog",
    guards=[limited("api")],
    operation_class=Refusable,
)
async def api_procedures(
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    catalog_cache: NamedDependency[CatalogCache],
    q: FromQuery[str | None] = None,
    field: FromQuery[str | None] = None,
    level: FromQuery[str | None] = None,
    page_number: Annotated[int | None, QueryParameter(name="page")] = None,
) -> dict[str, Any]:
    """Procedures of this portal; `q` is diacritic-insensitive ("dang ky khai sinh" finds
    "Đăng ký khai sinh"). Fees in VND (whole đồng)."""
    catalog = await catalog_of(catalog_cache, tenant, db)
    result: SearchResult = search(
        catalog,
        (q or "")[:200],
        field=field,
        level=_level(level),
        page=_page_number(page_number),
        index=catalog_cache.index_of(tenant.schema, catalog),
    )
    return {
        "items": [_api_item(p) for p in result.items],
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
    }


router = Router(
    path="/",
    route_handlers=[
        home,
        procedure_search,
        procedure_page,
        procedure_template,
        api_procedures,
    ],
)
