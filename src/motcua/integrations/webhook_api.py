"""The systems' own webhook subscriptions: ``/api/v1/webhooks`` (scope ``webhooks``).

A client sees and changes only its own subscriptions; another client's subscription is a 404,
exactly like one that does not exist. Every call is audited (``api.called``), a refused one in
a transaction of its own since the call's transaction is rolled back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    RequestBody,
    Schema,
)
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import Database
from motcua.core.digits import row_id
from motcua.core.messages import Message
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.integrations.auth import (
    PROBLEM_MEDIA_TYPE,
    ProblemError,
    audit_refused,
    authenticate,
    called,
    client_actor,
    http_problem_response,
    require_scope,
)
from motcua.integrations.models import WebhookSubscription
from motcua.integrations.openapi import (
    CREATE_WEBHOOK_ID,
    DELETE_WEBHOOK_ID,
    DELETE_WEBHOOK_LINK,
    LIST_WEBHOOKS_ID,
    documented,
)
from motcua.integrations.webhooks import (
    EVENT_TYPE,
    READ_SCOPE,
    SECRET_PREFIX,
    URL_MAX,
    WEBHOOKS_SCOPE,
    SubscriptionNotFoundError,
    WebhookInputError,
    create_subscription,
    disable_subscription,
    subscriptions,
)

HttpRequest = Request[Any, Any, Any]
BODY_LIMIT = 8 * 1024
_API_OPTS: dict[str, Any] = {
    "exception_handlers": {HTTPException: http_problem_response},
    "opt": {"exclude_from_csrf": True},
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def view(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "all_dossiers": subscription.all_dossiers,
        "active": subscription.disabled_at is None,
        "created_at": _iso(subscription.created_at),
        "disabled_at": _iso(subscription.disabled_at),
    }


def parse_create(raw: bytes) -> tuple[str, bool]:
    """``{"url": ..., "all_dossiers": false}``, or a problem naming every field at fault."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400,
            detail=Message("Nội dung JSON không đọc được."),
            errors={"body": Message("JSON không hợp lệ.")},
        ) from None
    if not isinstance(body, dict):
        raise ProblemError(422, errors={"body": Message("Phải là một đối tượng JSON.")})
    errors: dict[str, str] = {}
    for key in list(body)[:20]:
        if key not in ("url", "all_dossiers"):
            errors[str(key)[:60]] = Message("Trường này không được hỗ trợ.")
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        errors["url"] = Message("Trường này là bắt buộc và phải là một chuỗi ký tự.")
    elif len(url) > URL_MAX:
        errors["url"] = Message("Dài tối đa %(n)s ký tự.", n=URL_MAX)
    all_dossiers = body.get("all_dossiers", False)
    if not isinstance(all_dossiers, bool):
        errors["all_dossiers"] = Message("Phải là true hoặc false.")
    if errors:
        raise ProblemError(422, errors=errors)
    assert isinstance(url, str)
    return url, bool(all_dossiers)


def _webhook_id(raw: str) -> int:
    found = row_id(raw)
    if found is None:
        raise ProblemError(404, detail=Message("Không có đăng ký nhận sự kiện với mã này."))
    return found


# OpenAPI ------------------------------------------------------------------------------------------
S = OpenAPIType
_DATE_TIME = Schema(type=S.STRING, format="date-time")  # type: ignore[arg-type]
_WEBHOOK_PROPERTIES: dict[str, Schema | Reference] = {
    "id": Schema(type=S.INTEGER, description="The subscription's id (used to stop it)."),
    "url": Schema(type=S.STRING, max_length=URL_MAX),
    "all_dossiers": Schema(
        type=S.BOOLEAN, description="Every dossier of the portal, not only this client's."
    ),
    "active": Schema(type=S.BOOLEAN),
    "created_at": _DATE_TIME,
    "disabled_at": Schema(type=[S.STRING, S.NULL], format="date-time"),  # type: ignore[arg-type]
}
_WEBHOOK = Schema(type=S.OBJECT, required=list(_WEBHOOK_PROPERTIES), properties=_WEBHOOK_PROPERTIES)
_EXAMPLE = {
    "id": 12,
    "url": "https://dichvucong.gov.vn/webhooks/motcua",
    "all_dossiers": False,
    "active": True,
    "created_at": "2026-01-15T09:30:00+00:00",
    "disabled_at": None,
}
_SECRET_EXAMPLE = SECRET_PREFIX + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw7bG5dkGc3Lk="
CREATE_BODY = RequestBody(
    required=True,
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=S.OBJECT,
                required=["url"],
                additional_properties=False,
                properties={
                    "url": Schema(
                        type=S.STRING,
                        min_length=1,
                        max_length=URL_MAX,
                        description="https:// in production; no user:password; not a private network.",
                    ),
                    "all_dossiers": Schema(
                        type=S.BOOLEAN, default=False, description="Needs the dossiers:read scope."
                    ),
                },
            ),
            example={"url": "https://dichvucong.gov.vn/webhooks/motcua", "all_dossiers": False},
        )
    },
)
CREATED = Schema(
    type=S.OBJECT,
    required=[*_WEBHOOK_PROPERTIES, "secret"],
    properties={
        **_WEBHOOK_PROPERTIES,
        "secret": Schema(
            type=S.STRING,
            pattern="^whsec_",
            description="The Standard Webhooks signing secret: shown only in this answer.",
        ),
    },
)
LISTED = Schema(
    type=S.OBJECT, required=["webhooks"], properties={"webhooks": Schema(type=S.ARRAY, items=_WEBHOOK)}
)
# What a receiver gets: the body of each event (signed over "{webhook-id}.{webhook-timestamp}.{body}").
EVENT_EXAMPLE = {
    "type": EVENT_TYPE,
    "timestamp": "2026-01-15T02:30:00Z",
    "data": {
        "code": "000.00.01.H26-260115-0001",
        "external_id": "DVCQG-2026-000123",
        "status": "accepted",
        "status_label": "Được tiếp nhận",
        "previous_status": "submitted",
        "at": "2026-01-15T02:30:00Z",
        "due_at": "2026-01-20T10:00:00Z",
    },
}

_WORDS = {
    400: "The request could not be read (malformed JSON, a NUL character).",
    401: "No token, or a token that is invalid, expired, of another portal or of a revoked client.",
    403: "The token lacks the scope this operation needs.",
    404: "No such subscription of this client.",
    413: "The request is too large.",
    415: "The body is not application/json.",
    422: "Invalid fields, each named in `errors`.",
    429: "Too many requests from this client.",
}


def _errors(*statuses: int) -> dict[str, OpenAPIResponse | Reference]:
    challenge: dict[str, OpenAPIHeader | Reference] = {
        "WWW-Authenticate": OpenAPIHeader(schema=Schema(type=S.STRING), description="RFC 6750 challenge.")
    }
    retry: dict[str, OpenAPIHeader | Reference] = {
        "Retry-After": OpenAPIHeader(schema=Schema(type=S.STRING), description="Seconds to wait.")
    }
    headers = {401: challenge, 403: challenge, 429: retry}
    return {
        str(status): OpenAPIResponse(
            description=_WORDS[status],
            headers=headers.get(status),
            content={
                PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
            },
        )
        for status in statuses
    }


@post(
    "/api/v1/webhooks",
    tags=["webhooks"],
    summary="Subscribe a URL to the status changes of dossiers",
    description=(
        "Registers a URL that receives a `dossier.status_changed` event (Standard Webhooks: headers "
        "`webhook-id`, `webhook-timestamp`, `webhook-signature`) each time a dossier this client "
        "submitted changes status — or any dossier of the portal with `all_dossiers`, which also "
        "needs the `dossiers:read` scope. The answer holds the signing `secret` (`whsec_…`); it is "
        "shown only here. Events of one dossier arrive in order; a receiver that does not answer "
        "2xx is retried with exponential backoff for 24 hours; redirects are not followed. In "
        "production the URL must be https and must not point to a private network.\n\n"
        f"An event's body: `{json.dumps(EVENT_EXAMPLE, ensure_ascii=False)}`"
    ),
    operation_class=documented(
        request_body=CREATE_BODY,
        responses={
            "201": OpenAPIResponse(
                description="The subscription, with its signing secret (shown once).",
                headers={"Location": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING))},
                content={
                    "application/json": OpenAPIMediaType(
                        schema=CREATED, example={**_EXAMPLE, "secret": _SECRET_EXAMPLE}
                    )
                },
                links=DELETE_WEBHOOK_LINK,
            ),
            **_errors(400, 401, 403, 413, 415, 422, 429),
        },
    ),
    operation_id=CREATE_WEBHOOK_ID,
    security=[{"oauth2": [WEBHOOKS_SCOPE]}],
    request_max_body_size=BODY_LIMIT,
    status_code=201,
    **_API_OPTS,
)
async def create_webhook(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    client = await authenticate(request, db_session)
    try:
        require_scope(client, WEBHOOKS_SCOPE)
        if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
            raise ProblemError(415, detail=Message("Gửi application/json."))
        url, all_dossiers = parse_create(await request.body())
        if all_dossiers and READ_SCOPE not in client.scopes:
            raise ProblemError(
                403,
                detail=Message("Access token thiếu phạm vi (scope) %(scope)s.", scope=READ_SCOPE),
                errors={"all_dossiers": "Cần phạm vi dossiers:read để nhận sự kiện của mọi hồ sơ."},
            )
        try:
            created = await create_subscription(
                db_session,
                settings,
                client_id=client.id,
                url=url,
                all_dossiers=all_dossiers,
                actor=client_actor(client, request),
            )
        except WebhookInputError as exc:
            raise ProblemError(422, errors=exc.errors) from None
        subscription = created.subscription
        await db_session.execute(called(client, request, 201, subscription_id=subscription.id))
        return Response(
            {**view(subscription), "secret": created.secret},
            status_code=201,
            headers={"Location": f"/api/v1/webhooks/{subscription.id}", "Cache-Control": "no-store"},
        )
    except ProblemError as exc:
        await audit_refused(db, tenant, client, request, exc.status)
        raise


@get(
    "/api/v1/webhooks",
    tags=["webhooks"],
    summary="This client's webhook subscriptions",
    description="Every subscription of the calling client, active ones first (secrets are not shown again).",
    operation_class=documented(
        responses={
            "200": OpenAPIResponse(
                description="The subscriptions.",
                content={
                    "application/json": OpenAPIMediaType(schema=LISTED, example={"webhooks": [_EXAMPLE]})
                },
            ),
            **_errors(400, 401, 403, 429),
        },
    ),
    operation_id=LIST_WEBHOOKS_ID,
    security=[{"oauth2": [WEBHOOKS_SCOPE]}],
    **_API_OPTS,
)
async def list_webhooks(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
) -> Response[Any]:
    client = await authenticate(request, db_session)
    try:
        require_scope(client, WEBHOOKS_SCOPE)
        found = await subscriptions(db_session, client_id=client.id)
        await db_session.execute(called(client, request, 200))
        return Response({"webhooks": [view(s) for s in found]})
    except ProblemError as exc:
        await audit_refused(db, tenant, client, request, exc.status)
        raise


@delete(
    "/api/v1/webhooks/{webhook_id:str}",
    tags=["webhooks"],
    summary="Stop a webhook subscription",
    description=(
        "Disables the subscription: nothing more is sent to its URL, and what was still waiting is "
        "dropped. Disabling one already disabled changes nothing."
    ),
    operation_class=documented(
        responses={
            "204": OpenAPIResponse(description="Disabled."),
            **_errors(400, 401, 403, 404, 429),
        },
    ),
    operation_id=DELETE_WEBHOOK_ID,
    security=[{"oauth2": [WEBHOOKS_SCOPE]}],
    status_code=204,
    **_API_OPTS,
)
async def delete_webhook(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
    webhook_id: FromPath[str],
) -> Response[None]:
    client = await authenticate(request, db_session)
    try:
        require_scope(client, WEBHOOKS_SCOPE)
        number = _webhook_id(webhook_id)
        try:
            await disable_subscription(
                db_session, number, actor=client_actor(client, request), client_id=client.id
            )
        except SubscriptionNotFoundError:
            raise ProblemError(404, detail=Message("Không có đăng ký nhận sự kiện với mã này.")) from None
        await db_session.execute(called(client, request, 204, subscription_id=number))
        return Response(None, status_code=204)
    except ProblemError as exc:
        await audit_refused(db, tenant, client, request, exc.status)
        raise


HANDLERS: list[HTTPRouteHandler] = [create_webhook, list_webhooks, delete_webhook]
