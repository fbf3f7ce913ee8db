"""Onboarding a locality from the console: the form (with the slug checked as it is typed), the
request handed to the onboarding job, and a retry after a failure. Progress is shown on the
tenant's page (``console_pages``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body
from litestar.response import Redirect, Response
from sqlalchemy import select

from motcua.admin.localities import ministries, provinces
from motcua.admin.onboarding import (
    OnboardingFormError,
    catalogue_files,
    read_onboarding_form,
    request_onboarding,
    retry_onboarding,
)
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, client_address, not_found_page, page
from motcua.core.settings import Settings
from motcua.identity.guards import requires_platform_admin
from motcua.identity.sessions import UserSession
from motcua.tenancy.models import TenantRecord
from motcua.tenancy.services import TenancyError, validate_slug

DEFAULT_FORM = {"primary": "#0b5394", "accent": "#f1c232", "catalogue": "common"}


def _form_page(
    request: HttpRequest,
    settings: Settings,
    form: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "admin/onboard.html",
        status_code=status_code,
        form=form,
        errors=errors,
        provinces=provinces(),
        ministries=ministries(),
        catalogues=catalogue_files(settings),
        platform_domain=settings.platform_domain,
    )


@get("/tenants/new", name="console_onboard_form", guards=[requires_platform_admin], include_in_schema=False)
async def onboard_form(request: HttpRequest, settings: NamedDependency[Settings]) -> Response[str]:
    return _form_page(request, settings, dict(DEFAULT_FORM), {})


@get(
    "/tenants/new/slug",
    name="console_onboard_slug",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def check_slug(request: HttpRequest, db: NamedDependency[Database]) -> Response[str]:
    """The slug's verdict while it is typed (htmx swaps it under the field)."""
    slug = str(request.query_params.get("slug") or "").strip().lower()[:64]
    verdict = "empty"
    if slug:
        try:
            validate_slug(slug)
            async with db.engine.connect() as conn:
                taken = await conn.scalar(select(TenantRecord.id).where(TenantRecord.slug == slug))
            verdict = "taken" if taken is not None else "free"
        except TenancyError:
            verdict = "invalid"
    return page(request, "admin/_slug_check.html", verdict=verdict, slug=slug)


@post(
    "/tenants/new",
    name="console_onboard",
    guards=[requires_platform_admin],
    include_in_schema=False,
    status_code=303,
)
async def onboard(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: Annotated[FormData, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    fields = (
        "slug",
        "name",
        "locality",
        "agency_code",
        "domains",
        "primary",
        "accent",
        "catalogue",
        "first_admin",
    )
    form = {k: str(data.get(k) or "")[:2000] for k in fields}
    actor = Actor.platform_admin(user.personal_id, address=client_address(request))
    try:
        onboarding = read_onboarding_form(form, settings)
        async with db.platform_session() as session:
            await request_onboarding(session, onboarding, actor=actor)
    except OnboardingFormError as exc:
        return _form_page(request, settings, form, exc.errors, status_code=400)
    except TenancyError:
        return _form_page(
            request,
            settings,
            form,
            {"slug": "Không thể tiếp nhận địa phương với các giá trị này; kiểm tra lại các trường."},
            status_code=400,
        )
    return Redirect(f"/tenants/{onboarding.slug}", status_code=303)


@post(
    "/tenants/{slug:str}/retry",
    name="console_onboard_retry",
    guards=[requires_platform_admin],
    include_in_schema=False,
    status_code=303,
)
async def retry(
    request: HttpRequest, db: NamedDependency[Database], user: NamedDependency[UserSession], slug: str
) -> Response[Any]:
    actor = Actor.platform_admin(user.personal_id, address=client_address(request))
    try:
        async with db.platform_session() as session:
            await retry_onboarding(session, slug[:31], actor=actor)
    except TenancyError:
        return not_found_page(request, "Không có lần khởi tạo lỗi nào của địa phương này để thử lại.")
    return Redirect(f"/tenants/{slug}", status_code=303)


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [onboard_form, check_slug, onboard, retry]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
