"""The application factory: one Litestar app serves every tenant, the console and the platform."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import redis.asyncio as aioredis
from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, YamlRenderPlugin

from motcua.admin.routes import manage_router as admin_manage_router
from motcua.admin.routes import router as admin_router
from motcua.backoffice.routes import router as backoffice_router
from motcua.backoffice.services import officer_sees_dossier
from motcua.catalog.manage_pages import manage_router as catalog_manage_router
from motcua.catalog.routes import router as catalog_router
from motcua.catalog.services import CatalogCache
from motcua.core import invalidation, metrics, startgate, tracing
from motcua.core.broker import setup_broker
from motcua.core.db import Database
from motcua.core.dependencies import (
    DEPENDENCIES,
    bind_app_context,
    resolve_dependencies_in_order,
    singleton,
)
from motcua.core.fragments import FragmentCache
from motcua.core.logging import configure_logging
from motcua.core.observability import ObservedRequests
from motcua.core.security import derive_key
from motcua.core.settings import Settings, load_settings
from motcua.core.theming import Themes
from motcua.dev.eid_provider import SigningKey
from motcua.dev.eid_provider import router as dev_eid_router
from motcua.dev.mail_inbox import router as dev_mail_router
from motcua.dev.national_portal import router as dev_national_portal_router
from motcua.dev.timestamps import router as dev_tsa_router
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.paper_form_routes import router as paper_forms_router
from motcua.dossiers.routes import router as dossiers_router
from motcua.dossiers.services import count_my_dossiers
from motcua.feedback.routes import router as feedback_router
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.middleware import session_middleware, site_bound_csrf
from motcua.identity.oidc import OidcClient
from motcua.identity.routes import router as identity_router
from motcua.identity.services import current_roles
from motcua.identity.sessions import SessionStore
from motcua.integrations.auth import ProblemError, problem_response
from motcua.integrations.openapi import COMPONENTS as INTEGRATIONS_OPENAPI
from motcua.integrations.routes import router as integrations_router
from motcua.organisation.manage_pages import router as organisation_router
from motcua.payments.provider import StripeProvider
from motcua.payments.routes import router as payments_router
from motcua.payments.services import PaymentsPanel
from motcua.reporting.routes import router as reporting_router
from motcua.signing.routes import router as signing_router
from motcua.signing.services import Signing, load_signing_libraries
from motcua.tenancy import events
from motcua.tenancy.resolution import TenantResolver, tenant_middleware
from motcua.web.errors import EXCEPTION_HANDLERS
from motcua.web.headers import API_REFERENCE_VIEWER, SecurityHeaders
from motcua.web.requests import request_guard
from motcua.web.routes import router as web_router
from motcua.workflow.manage_pages import router as workflow_router
from motcua.workflow.pages import router as unit_pages_router

REQUEST_BODY_LIMIT = 1024 * 1024

ROUTERS = [
    web_router,
    catalog_router,
    # /manage/catalog: catalog sits beside identity, so the app hands it identity's guard.
    catalog_manage_router(requires_tenant_admin),
    admin_router,
    admin_manage_router,
    identity_router,
    organisation_router,
    workflow_router,
    unit_pages_router,
    dossiers_router,
    paper_forms_router,
    backoffice_router,
    feedback_router,
    payments_router,
    integrations_router,
    reporting_router,
    signing_router,
]


def routers_for(settings: Settings) -> list[Router]:
    # The development e-ID provider exists only where dev services are on (never in production).
    dev = [dev_eid_router, dev_mail_router, dev_national_portal_router, dev_tsa_router]
    return [*ROUTERS, *dev] if settings.dev_services else list(ROUTERS)


def create_app(settings: Settings) -> Litestar:
    if settings.database_url is None or settings.redis_url is None:
        raise RuntimeError("create_app needs database and Redis URLs (the CLI starts embedded ones)")
    configure_logging(settings)
    resolve_dependencies_in_order()
    # Web processes enqueue jobs (after commit), so they need the broker before any actor
    # module is imported.
    setup_broker(settings)
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    process_metrics = metrics.setup(settings)
    process_metrics.instrument_pool(db.engine)
    # Off unless the standard OTEL_* variables ask for it; nothing is imported otherwise.
    tracing.setup(settings)
    # Templates edited by hand show at the next reload in development only; elsewhere (tests,
    # benchmarks, production) a page never checks its templates' files, and its shared parts are
    # fragments rendered once per tenant and language (core.fragments).
    editing = settings.env == "development"
    fragments = None if editing else FragmentCache(settings.catalog_cache_ttl)
    themes = Themes(settings.themes_dir, auto_reload=editing, fragments=fragments)
    resolver = TenantResolver(
        db, settings.platform_domain, settings.domain_cache_ttl, dev_eid=settings.dev_services
    )
    catalog_cache = CatalogCache(settings.catalog_cache_ttl)
    events.subscribe(catalog_cache)
    if fragments is not None:
        events.subscribe(fragments)
    redis_client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2)
    sessions = SessionStore(
        redis_client,
        idle_seconds=settings.session_idle_seconds,
        absolute_seconds=settings.session_absolute_seconds,
    )
    oidc = OidcClient(redis_client, timeout=settings.oidc_timeout)
    payments = (
        StripeProvider(
            settings.stripe_secret_key, settings.stripe_webhook_secret, api_base=settings.stripe_api_base
        )
        if settings.stripe_secret_key
        else None
    )
    # App-wide objects reach handlers as dependencies, by parameter name (core/dependencies.py).
    singletons = {
        "settings": singleton(settings),
        "db": singleton(db),
        "themes": singleton(themes),
        "catalog_cache": singleton(catalog_cache),
        "redis": singleton(redis_client),
        "sessions": singleton(sessions),
        "oidc": singleton(oidc),
        "storage": singleton(storage_for_settings(settings)),
        # Signed documents: the keys, trust roots and timestamp authority; files in the same storage.
        "signing": singleton(Signing.for_settings(settings, storage_for_settings(settings))),
        "payments": singleton(payments),
        # The dossier pages' fees panel: an interface of dossiers, implemented by payments.
        "fees": singleton(PaymentsPanel(payments)),
        # The navigation's dossier count, read at login: an interface of identity, implemented by dossiers.
        "dossier_counter": singleton(count_my_dossiers),
        # Whether an officer's units hold a dossier (its receipts): an interface of payments,
        # implemented by the back office (workflow.scope).
        "staff_sees_dossier": singleton(officer_sees_dossier),
    }
    if settings.dev_services:
        singletons["dev_eid_key"] = singleton(SigningKey(settings))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The signing libraries load in a thread while the process waits at the gate, before a
        # citizen's first slip needs them; a broken import stops the start here, not that slip.
        loading = asyncio.get_running_loop().run_in_executor(None, load_signing_libraries)
        await startgate.wait()  # under `motcua run`: no request before its migrations and seeding end
        await loading
        # What start-up built (routes, the ORM's mappers, settings, signing libraries) lives as long as the
        # process: moved out of the collector's reach, so that the full collections a busy
        # worker runs every few hundred requests do not walk it again each time (they showed
        # as the slowest 1 % of requests).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await oidc.aclose()
            await redis_client.aclose()
            await db.dispose()

    app = Litestar(
        # /metrics, on the console host only (core/metrics.py).
        route_handlers=[*routers_for(settings), metrics.metrics_page],
        dependencies={**DEPENDENCIES, **singletons},
        middleware=[
            session_middleware(sessions, partial(current_roles, db)),
            # CSRF tokens are signed with a key of the site they were issued for (see
            # identity.middleware): a token from one portal is refused on another.
            site_bound_csrf(
                CSRFConfig(
                    secret=derive_key(settings.secret_key, "csrf").hex(),
                    cookie_name="motcua_csrf",
                    header_name="x-csrf-token",
                    cookie_secure=settings.cookie_secure,
                    cookie_httponly=True,
                    cookie_samesite="lax",
                    # Static files are cached publicly: they must never carry a cookie. The
                    # national-portal stand-in's webhook receiver is called by the worker, which
                    # carries no cookie: its requests are authenticated by their signature.
                    # Systems call /oauth/token and /api/ with credentials in headers, no cookie.
                    exclude=[
                        r"^/static/",
                        r"^/platform/dev/national-portal/events/",
                        # The development timestamp authority: RFC 3161 clients carry no cookie.
                        r"^/platform/dev/tsa$",
                        r"^/oauth/token$",
                        r"^/api/",
                    ],
                )
            ),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, ProblemError: problem_response},  # type: ignore[dict-item]
        # The second one applies other processes' tenant changes to this one's caches.
        lifespan=[lifespan, lambda _app: invalidation.listening(settings.redis_url or "")],
        openapi_config=OpenAPIConfig(
            title="motcua",
            version="1",
            path="/schema",
            components=INTEGRATIONS_OPENAPI,
            # Only the viewer the portal serves itself (no CDN, no web fonts, no favicon from
            # elsewhere: the page's policy allows none), and the description as JSON and YAML.
            render_plugins=[
                RedocRenderPlugin(
                    js_url=API_REFERENCE_VIEWER, google_fonts=False, favicon="", path=["/", "/redoc"]
                ),
                JsonRenderPlugin(),
                YamlRenderPlugin(),
            ],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=5),
        debug=False,
        # Logging is core/logging.py's (JSON or text, request ids, redaction): Litestar's default
        # would replace the root logger's handlers with its own; unhandled errors are logged by
        # web/errors.py.
        logging_config=None,
        # Forms, autosaves and webhooks are small: anything larger is refused (413) before it
        # is read. The document uploads raise their own ceiling (dossiers.UPLOAD_REQUEST_LIMIT)
        # and check each file against the tenant's limit (10 MB by default).
        request_max_body_size=REQUEST_BODY_LIMIT,
    )
    # Host → tenant must run before routing (the console and platform hosts are routed by a
    # path prefix), and Litestar middleware runs after it, per route: so the resolver wraps the
    # app's whole ASGI handler instead.
    app.asgi_handler = tenant_middleware(resolver, themes)(app.asgi_handler)
    # Before the tenant is resolved from the Host, the Host and the request's text are checked.
    app.asgi_handler = request_guard(
        partial(_refused_page, themes),
        body_limit=REQUEST_BODY_LIMIT,
        trusted_proxies=settings.trusted_proxies,
        api_paths=API_PATHS,
        render_problem=_refused_problem,
    )(app.asgi_handler)
    # Outermost, so the pages the middlewares above send themselves get the security headers too.
    app.asgi_handler = SecurityHeaders(app.asgi_handler, settings)
    # Around everything: each answer, refused ones too, gets a request id, an access line and
    # its latency in the metrics (core/observability.py); the trace span, if on, around that.
    app.asgi_handler = ObservedRequests(
        app.asgi_handler, secret_key=settings.secret_key, metrics=process_metrics
    )
    app.asgi_handler = tracing.wrap_asgi(app.asgi_handler)
    # Page rendering and exception handlers run outside dependency injection.
    bind_app_context(app, settings=settings, themes=themes, redis=redis_client)
    return app


def _refused_page(themes: Themes, status: int) -> str:
    return themes.render("web/bad_request.html", too_large=status == 413)


# Where systems, not people, call: a refused request is answered as the API answers errors.
API_PATHS = ("/api/", "/oauth/")
_REFUSED_DETAILS = {
    400: "Yêu cầu chứa nội dung không được chấp nhận (ký tự NUL hoặc tên máy chủ không hợp lệ).",
    413: "Yêu cầu vượt quá kích thước cho phép.",
}


def _refused_problem(status: int) -> str:
    return json.dumps(ProblemError(status, detail=_REFUSED_DETAILS.get(status)).body(), ensure_ascii=False)


def create_app_from_env() -> Litestar:
    """Entry point for ASGI servers (``uvicorn --factory motcua.app:create_app_from_env``)."""
    return create_app(load_settings())
