"""A portal's look and working rules: theme colours and logo, agency code, working calendar;
from the console (platform administrators, ``/tenants/{slug}/settings/…``) and from
/manage/settings (the tenant's own administrators). Both sides share one implementation per page;
a console handler finds the tenant by its slug, a /manage handler is the tenant of the host.
Also the uploaded logo itself, served on the tenant's host at a content-addressed URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.admin.appearance import (
    DAY_OFF,
    LOGO_MAX_BYTES,
    LOGO_MAX_SIDE,
    MAKEUP_DAY,
    MIN_CONTRAST,
    WHITE,
    AppearanceError,
    FieldError,
    add_calendar_day,
    calendar_days,
    contrast_ratio,
    editable_years,
    load_tenant,
    national_days,
    procedures_with_own_code,
    read_logo,
    remove_calendar_day,
    remove_logo,
    set_agency_code,
    set_logo,
    set_theme_colours,
    shown_ratio,
)
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, client_address, language, page
from motcua.core.tenant import Tenant
from motcua.core.theming import translations
from motcua.dossiers.storage import NotFoundInTenantError, Storage
from motcua.identity.guards import requires_platform_admin, requires_tenant_admin
from motcua.identity.sessions import UserSession
from motcua.tenancy.services import COLOUR

CONSOLE = "/tenants/{slug:str}/settings"
MANAGE = "/manage/settings"
# The logo form carries one image of at most 512 KB; the envelope and a few fields fit in the rest.
LOGO_REQUEST_LIMIT = 2 * LOGO_MAX_BYTES + 64 * 1024
# Typed values shown back on a refused form are cut here: no real value is longer.
KEPT_MAX = 200
MultipartData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


@dataclass(frozen=True)
class Place:
    """Where a settings page is: the tenant it edits, the URL prefix of its pages, who acts."""

    target: Tenant
    base: str
    layout: str  # "admin" (console) or "manage"
    actor: Actor

    def template(self, name: str) -> str:
        return f"{self.layout}/appearance_{name}.html"


# Errors as the page shows them ------------------------------------------------------------------
def _localised(value: Any, lang: str) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace(".", ",") if lang == "vi" else text
    return str(value)


def shown_errors(
    request: HttpRequest, errors: tuple[FieldError, ...] | list[FieldError]
) -> list[dict[str, str]]:
    """Each error translated into the page's language, numbers written its way (3,2 / 3.2)."""
    lang = language(request)
    gettext = translations(lang).gettext
    return [
        {"field": e.field, "text": gettext(e.message) % {k: _localised(v, lang) for k, v in e.params.items()}}
        for e in errors
    ]


def _feedback(request: HttpRequest, errors: tuple[FieldError, ...] | list[FieldError]) -> dict[str, Any]:
    """The error summary, each field's own error (its first), and what was just saved."""
    shown = shown_errors(request, errors)
    return {
        "errors": shown,
        "field_errors": {e["field"]: e["text"] for e in reversed(shown)},
        "saved": "" if shown else str(request.query_params.get("saved", ""))[:20],
    }


def _kept(data: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {n: str(data.get(n, ""))[:KEPT_MAX] for n in names}


# Theme, logo and agency code --------------------------------------------------------------------
def _preview(request: HttpRequest, primary: str, accent: str) -> dict[str, Any]:
    """What the header preview shows: the colours once both are valid, and their contrast."""
    lang = language(request)
    primary, accent = primary.strip().lower(), accent.strip().lower()
    if not (COLOUR.fullmatch(primary) and COLOUR.fullmatch(accent)):
        return {"valid": False, "primary": "", "accent": "", "ratio": "", "needed": "", "passes": False}
    ratio = shown_ratio(contrast_ratio(primary, WHITE))
    return {
        "valid": True,
        "primary": primary,
        "accent": accent,
        "ratio": _localised(ratio, lang),
        "needed": _localised(MIN_CONTRAST, lang),
        "passes": ratio >= MIN_CONTRAST,
    }


async def _theme_page(
    request: HttpRequest,
    session: AsyncSession,
    place: Place,
    *,
    errors: list[FieldError] | tuple[FieldError, ...] = (),
    colours: Mapping[str, str] | None = None,
    agency: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    target = place.target
    branding = {"primary": "#0b5394", "accent": "#f1c232", **target.branding}
    colours = colours or {"primary": branding["primary"], "accent": branding["accent"]}
    agency = agency or {"agency_code": str(target.settings.get("agency_code", ""))}
    logo = branding.get("logo_file") if isinstance(branding.get("logo_file"), dict) else None
    return page(
        request,
        place.template("theme"),
        status_code=status_code,
        place=place,
        target=target,
        base=place.base,
        **_feedback(request, errors),
        colours=colours,
        agency=agency,
        logo=logo,
        logo_src=_logo_src(place, logo),
        theme_logo=bool(branding.get("logo")),
        preview=_preview(request, colours["primary"], colours["accent"]),
        own_codes=await procedures_with_own_code(session),
        logo_max_kb=LOGO_MAX_BYTES // 1024,
        logo_max_side=LOGO_MAX_SIDE,
    )


def _logo_src(place: Place, logo: Mapping[str, Any] | None) -> str | None:
    """The page's own host serves the image (the pages allow images from their own origin only):
    the portal its public URL, the console a copy behind its guard."""
    if logo is None:
        return None
    if place.layout == "manage":
        return str(place.target.branding.get("logo_url"))
    return f"{place.base}/appearance/logo/{logo['sha256']}.{logo['extension']}"


async def _colours(
    request: HttpRequest, session: AsyncSession, place: Place, data: Mapping[str, Any]
) -> Response[Any]:
    kept = _kept(data, "primary", "accent")
    try:
        await set_theme_colours(
            session, place.target.slug, primary=kept["primary"], accent=kept["accent"], actor=place.actor
        )
    except AppearanceError as exc:
        return await _theme_page(request, session, place, errors=exc.errors, colours=kept, status_code=400)
    return Redirect(f"{place.base}/appearance?saved=colours", status_code=303)


async def _agency(
    request: HttpRequest, session: AsyncSession, place: Place, data: Mapping[str, Any]
) -> Response[Any]:
    kept = _kept(data, "agency_code")
    try:
        await set_agency_code(session, place.target.slug, code=kept["agency_code"], actor=place.actor)
    except AppearanceError as exc:
        return await _theme_page(request, session, place, errors=exc.errors, agency=kept, status_code=400)
    return Redirect(f"{place.base}/appearance?saved=agency", status_code=303)


async def _logo(
    request: HttpRequest,
    session: AsyncSession,
    storage: Storage,
    place: Place,
    data: Mapping[str, Any],
) -> Response[Any]:
    try:
        body = await read_logo(data.get("logo"))
        await set_logo(session, storage, place.target, body, actor=place.actor)
    except AppearanceError as exc:
        return await _theme_page(request, session, place, errors=exc.errors, status_code=400)
    return Redirect(f"{place.base}/appearance?saved=logo", status_code=303)


def _confirm(request: HttpRequest, place: Place, **context: Any) -> Response[str]:
    return page(
        request, place.template("confirm"), place=place, target=place.target, base=place.base, **context
    )


async def _logo_remove(
    request: HttpRequest, session: AsyncSession, storage: Storage, place: Place, *, confirmed: bool
) -> Response[Any]:
    if "logo_file" not in place.target.branding:
        raise NotFoundException()
    if not confirmed:
        return _confirm(request, place, what="logo", action=f"{place.base}/appearance/logo/remove")
    await remove_logo(session, storage, place.target, actor=place.actor)
    return Redirect(f"{place.base}/appearance?saved=logo_removed", status_code=303)


async def _stored_logo(storage: Storage, tenant: Tenant, name: str, *, cache: str) -> Response[bytes]:
    logo = tenant.branding.get("logo_file")
    if not isinstance(logo, dict) or name != f"{logo.get('sha256')}.{logo.get('extension')}":
        raise NotFoundException()
    try:
        body = b"".join([chunk async for chunk in await storage.open(tenant.schema, str(logo["key"]))])
    except NotFoundInTenantError:
        raise NotFoundException() from None
    return Response(
        body,
        media_type=str(logo["media_type"]),
        headers={
            "cache-control": cache,
            "x-content-type-options": "nosniff",
            "content-disposition": "inline",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


# Working calendar -------------------------------------------------------------------------------
def _calendar_page(
    request: HttpRequest,
    place: Place,
    *,
    errors: list[FieldError] | tuple[FieldError, ...] = (),
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    years = editable_years()
    own = calendar_days(place.target)
    lang = language(request)
    return page(
        request,
        place.template("calendar"),
        status_code=status_code,
        place=place,
        target=place.target,
        base=place.base,
        **_feedback(request, errors),
        form=form or {"day": "", "kind": DAY_OFF, "name": ""},
        years=years,
        own={year: [d for d in own if d.day.year == year] for year in years},
        national={year: national_days(year, lang) for year in years},
        DAY_OFF=DAY_OFF,
        MAKEUP_DAY=MAKEUP_DAY,
    )


async def _add_day(
    request: HttpRequest, session: AsyncSession, place: Place, data: Mapping[str, Any]
) -> Response[Any]:
    kept = _kept(data, "day", "kind", "name")
    try:
        await add_calendar_day(
            session,
            place.target.slug,
            day=kept["day"],
            kind=kept["kind"],
            name=kept["name"],
            actor=place.actor,
        )
    except AppearanceError as exc:
        return _calendar_page(request, place, errors=exc.errors, form=kept, status_code=400)
    return Redirect(f"{place.base}/calendar?saved=added", status_code=303)


def _day(raw: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise NotFoundException() from None


async def _remove_day(
    request: HttpRequest, session: AsyncSession, place: Place, raw: str, *, confirmed: bool
) -> Response[Any]:
    day = _day(raw)
    listed = next((d for d in calendar_days(place.target) if d.day == day), None)
    if listed is None:
        raise NotFoundException()
    if not confirmed:
        return _confirm(
            request,
            place,
            what="day",
            day=listed,
            action=f"{place.base}/calendar/days/{day.isoformat()}/remove",
        )
    await remove_calendar_day(session, place.target.slug, day=day, actor=place.actor)
    return Redirect(f"{place.base}/calendar?saved=removed", status_code=303)


# Where: the console ------------------------------------------------------------------------------
@asynccontextmanager
async def _console(
    request: HttpRequest, db: Database, user: UserSession, slug: str
) -> AsyncIterator[tuple[AsyncSession, Place]]:
    """The tenant named by the console URL, and one transaction in its schema."""
    if len(slug) > 31:
        raise NotFoundException()
    async with db.platform_session() as lookup:
        target = await load_tenant(lookup, slug)
    if target is None:
        raise NotFoundException()
    async with db.tenant_session(target) as session:
        yield (
            session,
            Place(
                target=target,
                base=f"/tenants/{slug}/settings",
                layout="admin",
                actor=Actor.platform_admin(user.personal_id, address=client_address(request)),
            ),
        )


_CONSOLE_OPTS: dict[str, Any] = {"guards": [requires_platform_admin], "include_in_schema": False}


@get(f"{CONSOLE}/appearance", name="console_appearance", **_CONSOLE_OPTS)
async def console_appearance(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
) -> Response[str]:
    async with _console(request, db, user, slug) as (session, place):
        return await _theme_page(request, session, place)


@get(f"{CONSOLE}/appearance/preview", name="console_appearance_preview", **_CONSOLE_OPTS)
async def console_appearance_preview(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    primary: FromQuery[str] = "",
    accent: FromQuery[str] = "",
) -> Response[str]:
    async with _console(request, db, user, slug) as (_, place):
        return _preview_response(request, place, primary, accent)


@post(f"{CONSOLE}/appearance/colours", name="console_appearance_colours", **_CONSOLE_OPTS)
async def console_appearance_colours(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    data: FormData,
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _colours(request, session, place, data)


@post(f"{CONSOLE}/appearance/agency-code", name="console_appearance_agency", **_CONSOLE_OPTS)
async def console_appearance_agency(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    data: FormData,
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _agency(request, session, place, data)


@post(
    f"{CONSOLE}/appearance/logo",
    name="console_appearance_logo",
    request_max_body_size=LOGO_REQUEST_LIMIT,
    **_CONSOLE_OPTS,
)
async def console_appearance_logo(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    slug: FromPath[str],
    data: MultipartData,
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _logo(request, session, storage, place, data)


@get(f"{CONSOLE}/appearance/logo/remove", name="console_appearance_logo_confirm", **_CONSOLE_OPTS)
async def console_appearance_logo_confirm(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    slug: FromPath[str],
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _logo_remove(request, session, storage, place, confirmed=False)


@post(f"{CONSOLE}/appearance/logo/remove", name="console_appearance_logo_remove", **_CONSOLE_OPTS)
async def console_appearance_logo_remove(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    slug: FromPath[str],
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _logo_remove(request, session, storage, place, confirmed=True)


@get(f"{CONSOLE}/appearance/logo/{{name:str}}", name="console_appearance_logo_file", **_CONSOLE_OPTS)
async def console_appearance_logo_file(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    slug: FromPath[str],
    name: FromPath[str],
) -> Response[bytes]:
    """The logo as the console shows it: the page's image policy allows its own host only."""
    async with _console(request, db, user, slug) as (_, place):
        return await _stored_logo(storage, place.target, name, cache="private, max-age=300")


@get(f"{CONSOLE}/calendar", name="console_calendar", **_CONSOLE_OPTS)
async def console_calendar(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
) -> Response[str]:
    async with _console(request, db, user, slug) as (_, place):
        return _calendar_page(request, place)


@post(f"{CONSOLE}/calendar/days", name="console_calendar_add", **_CONSOLE_OPTS)
async def console_calendar_add(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    data: FormData,
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _add_day(request, session, place, data)


@get(f"{CONSOLE}/calendar/days/{{day:str}}/remove", name="console_calendar_confirm", **_CONSOLE_OPTS)
async def console_calendar_confirm(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    day: FromPath[str],
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _remove_day(request, session, place, day, confirmed=False)


@post(f"{CONSOLE}/calendar/days/{{day:str}}/remove", name="console_calendar_remove", **_CONSOLE_OPTS)
async def console_calendar_remove(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    day: FromPath[str],
) -> Response[Any]:
    async with _console(request, db, user, slug) as (session, place):
        return await _remove_day(request, session, place, day, confirmed=True)


# Where: /manage ---------------------------------------------------------------------------------
async def _manage(request: HttpRequest, session: AsyncSession, tenant: Tenant, user: UserSession) -> Place:
    # Read fresh rather than from the host cache: the form must show what is stored now.
    target = await load_tenant(session, tenant.slug)
    if target is None:
        raise NotFoundException()
    return Place(
        target=target,
        base=MANAGE,
        layout="manage",
        actor=Actor.tenant_admin(user.personal_id, address=client_address(request)),
    )


_MANAGE_OPTS: dict[str, Any] = {"guards": [requires_tenant_admin], "include_in_schema": False}


@get(f"{MANAGE}/appearance", name="manage_appearance", **_MANAGE_OPTS)
async def manage_appearance(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
) -> Response[str]:
    return await _theme_page(request, db_session, await _manage(request, db_session, tenant, user))


@get(f"{MANAGE}/appearance/preview", name="manage_appearance_preview", **_MANAGE_OPTS)
async def manage_appearance_preview(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    primary: FromQuery[str] = "",
    accent: FromQuery[str] = "",
) -> Response[str]:
    return _preview_response(request, await _manage(request, db_session, tenant, user), primary, accent)


@post(f"{MANAGE}/appearance/colours", name="manage_appearance_colours", **_MANAGE_OPTS)
async def manage_appearance_colours(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    return await _colours(request, db_session, await _manage(request, db_session, tenant, user), data)


@post(f"{MANAGE}/appearance/agency-code", name="manage_appearance_agency", **_MANAGE_OPTS)
async def manage_appearance_agency(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    return await _agency(request, db_session, await _manage(request, db_session, tenant, user), data)


@post(
    f"{MANAGE}/appearance/logo",
    name="manage_appearance_logo",
    request_max_body_size=LOGO_REQUEST_LIMIT,
    **_MANAGE_OPTS,
)
async def manage_appearance_logo(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    data: MultipartData,
) -> Response[Any]:
    place = await _manage(request, db_session, tenant, user)
    return await _logo(request, db_session, storage, place, data)


@get(f"{MANAGE}/appearance/logo/remove", name="manage_appearance_logo_confirm", **_MANAGE_OPTS)
async def manage_appearance_logo_confirm(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
) -> Response[Any]:
    place = await _manage(request, db_session, tenant, user)
    return await _logo_remove(request, db_session, storage, place, confirmed=False)


@post(f"{MANAGE}/appearance/logo/remove", name="manage_appearance_logo_remove", **_MANAGE_OPTS)
async def manage_appearance_logo_remove(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
) -> Response[Any]:
    place = await _manage(request, db_session, tenant, user)
    return await _logo_remove(request, db_session, storage, place, confirmed=True)


@get(f"{MANAGE}/calendar", name="manage_calendar", **_MANAGE_OPTS)
async def manage_calendar(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
) -> Response[str]:
    return _calendar_page(request, await _manage(request, db_session, tenant, user))


@post(f"{MANAGE}/calendar/days", name="manage_calendar_add", **_MANAGE_OPTS)
async def manage_calendar_add(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    return await _add_day(request, db_session, await _manage(request, db_session, tenant, user), data)


@get(f"{MANAGE}/calendar/days/{{day:str}}/remove", name="manage_calendar_confirm", **_MANAGE_OPTS)
async def manage_calendar_confirm(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    day: FromPath[str],
) -> Response[Any]:
    place = await _manage(request, db_session, tenant, user)
    return await _remove_day(request, db_session, place, day, confirmed=False)


@post(f"{MANAGE}/calendar/days/{{day:str}}/remove", name="manage_calendar_remove", **_MANAGE_OPTS)
async def manage_calendar_remove(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    day: FromPath[str],
) -> Response[Any]:
    place = await _manage(request, db_session, tenant, user)
    return await _remove_day(request, db_session, place, day, confirmed=True)


# The public logo ---------------------------------------------------------------------------------
# On the tenant's own host (another portal's host has another branding, so finds nothing), at a
# URL named by the content's SHA-256: a new logo is a new URL, so browsers and proxies may keep
# this one for a year. Outside the CSRF middleware, which would otherwise set its cookie on a
# response that shared caches keep.
@get(
    "/branding/logo/{name:str}",
    name="branding_logo",
    include_in_schema=False,
    opt={"exclude_from_csrf": True},
)
async def branding_logo(
    tenant: NamedDependency[Tenant], storage: NamedDependency[Storage], name: FromPath[str]
) -> Response[bytes]:
    return await _stored_logo(storage, tenant, name, cache="public, max-age=31536000, immutable")


def _preview_response(request: HttpRequest, place: Place, primary: str, accent: str) -> Response[str]:
    return page(
        request,
        "admin/appearance_preview.html",
        target=place.target,
        preview=_preview(request, primary[:KEPT_MAX], accent[:KEPT_MAX]),
    )


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [
    console_appearance,
    console_appearance_preview,
    console_appearance_colours,
    console_appearance_agency,
    console_appearance_logo,
    console_appearance_logo_confirm,
    console_appearance_logo_remove,
    console_appearance_logo_file,
    console_calendar,
    console_calendar_add,
    console_calendar_confirm,
    console_calendar_remove,
]
MANAGE_HANDLERS: list[HTTPRouteHandler] = [
    manage_appearance,
    manage_appearance_preview,
    manage_appearance_colours,
    manage_appearance_agency,
    manage_appearance_logo,
    manage_appearance_logo_confirm,
    manage_appearance_logo_remove,
    manage_calendar,
    manage_calendar_add,
    manage_calendar_confirm,
    manage_calendar_remove,
    branding_logo,
]
