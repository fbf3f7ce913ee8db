"""A tenant's public catalog pages."""

from __future__ import annotations

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import ProcedureLevel
from motcua.catalog.services import CatalogCache, get_procedure, list_procedures
from motcua.core.db import Database
from motcua.tenancy.schemas import Tenant
from motcua.web.errors import not_found_page
from motcua.web.pages import page


@get("/", name="home", include_in_schema=False)
async def home(
    request: Request,  # type: ignore[type-arg]
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
) -> Response[str]:
    cache: CatalogCache = request.app.state.catalog_cache
    procedures = cache.get(tenant.schema)
    if procedures is None:
        async with db.tenant_session(tenant) as session:
            procedures = await list_procedures(session)
        cache.put(tenant.schema, procedures)
    return page(request, "home.html", procedures=procedures)


@get("/procedures/{code:str}", name="procedure", include_in_schema=False)
async def procedure_page(
    request: Request,  # type: ignore[type-arg]
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
) -> Response[str]:
    procedure = await get_procedure(db_session, code)
    if procedure is None:
        return not_found_page(request, f"Không có thủ tục mã {code} trên cổng này.")
    return page(
        request, "procedure.html", procedure=procedure, level_label=ProcedureLevel(procedure.level).label
    )


router = Router(path="/", route_handlers=[home, procedure_page])
