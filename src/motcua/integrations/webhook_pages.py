"""Webhook subscriptions and their delivery log: /manage/integrations/webhooks (the tenant's
administrators). The systems' own API for the same actions is ``webhook_api``."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.digits import row_id
from motcua.core.pages import FormData, HttpRequest, client_address, not_found_page, page
from motcua.core.settings import Settings
from motcua.identity.guards import requires_tenant_admin
from motcua.identity.sessions import UserSession
from motcua.integrations.models import ApiClientRow, WebhookSubscription
from motcua.integrations.webhooks import (
    DELIVERY_STATUS_LABELS,
    READ_SCOPE,
    URL_MAX,
    WEBHOOKS_SCOPE,
    SubscriptionNotFoundError,
    WebhookInputError,
    active_clients,
    create_subscription,
    deliveries_of,
    disable_subscription,
    redeliver,
    rotate_secret,
    subscription_of,
    subscriptions,
)

BASE = "/manage/integrations/webhooks"
NOT_FOUND = "Không tìm thấy đăng ký nhận sự kiện này."

# What a done action says on the subscription's page (``?saved=`` takes only these keys).
SAVED = {
    "disabled": "Đã tắt đăng ký nhận sự kiện. Không sự kiện nào được gửi tới địa chỉ này nữa.",
    "already_disabled": "Đăng ký này đã được tắt trước đó; không có gì thay đổi.",
    "redelivered": "Sự kiện sẽ được gửi lại trong giây lát, với cùng mã sự kiện.",
}


def _text(data: dict[str, Any], name: str, limit: int = 200) -> str:
    value = data.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _row_id(raw: str) -> int | None:
    return row_id(raw)


def _actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.tenant_admin(user.personal_id, address=client_address(request))


def _no_store(response: Response[Any]) -> Response[Any]:
    # Pages that show a secret must not be kept by a browser or a proxy.
    response.headers["cache-control"] = "no-store"
    return response


async def _clients_by_id(session: AsyncSession) -> dict[int, ApiClientRow]:
    return {row.id: row for row in await session.scalars(select(ApiClientRow))}


async def _list_page(
    request: HttpRequest,
    session: AsyncSession,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "integrations/webhooks_list.html",
        status_code=status_code,
        subscriptions=await subscriptions(session),
        clients=await _clients_by_id(session),
        choices=await active_clients(session),
        errors=errors or {},
        form=form or {},
        url_max=URL_MAX,
        webhooks_scope=WEBHOOKS_SCOPE,
        read_scope=READ_SCOPE,
    )


@get(BASE, guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_list(request: HttpRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
    return await _list_page(request, db_session)


@post(BASE, guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_create(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    typed = {
        "client": _text(data, "client", 20),
        "url": _text(data, "url", URL_MAX + 1),
        "all_dossiers": "yes" if _text(data, "all_dossiers") == "yes" else "",
    }
    try:
        created = await create_subscription(
            db_session,
            settings,
            client_id=_row_id(typed["client"]),
            url=typed["url"],
            all_dossiers=bool(typed["all_dossiers"]),
            actor=_actor(request, user),
        )
    except WebhookInputError as exc:
        return await _list_page(request, db_session, errors=exc.errors, form=typed, status_code=400)
    return await _secret_page(request, db_session, created.subscription, created.secret, created=True)


async def _secret_page(
    request: HttpRequest,
    session: AsyncSession,
    subscription: WebhookSubscription,
    secret: str,
    *,
    created: bool,
) -> Response[str]:
    clients = await _clients_by_id(session)
    return _no_store(
        page(
            request,
            "integrations/webhooks_secret.html",
            subscription=subscription,
            client=clients.get(subscription.client_id),
            secret=secret,
            created=created,
        )
    )


async def _subscription(session: AsyncSession, subscription_id: int) -> WebhookSubscription | None:
    try:
        return await subscription_of(session, subscription_id)
    except SubscriptionNotFoundError:
        return None


async def _detail_page(
    request: HttpRequest,
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    clients = await _clients_by_id(session)
    return page(
        request,
        "integrations/webhooks_detail.html",
        status_code=status_code,
        subscription=subscription,
        client=clients.get(subscription.client_id),
        deliveries=await deliveries_of(session, subscription.id),
        status_labels=DELIVERY_STATUS_LABELS,
        saved=SAVED.get(request.query_params.get("saved") or ""),
        errors=errors or {},
    )


@get(BASE + "/{subscription_id:int}", guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_detail(
    request: HttpRequest, subscription_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> Response[str]:
    subscription = await _subscription(db_session, subscription_id)
    if subscription is None:
        return not_found_page(request, NOT_FOUND)
    return await _detail_page(request, db_session, subscription)


async def _confirm_page(
    request: HttpRequest, session: AsyncSession, subscription_id: int, action: str
) -> Response[Any]:
    subscription = await _subscription(session, subscription_id)
    if subscription is None:
        return not_found_page(request, NOT_FOUND)
    if subscription.disabled_at is not None:
        return Redirect(f"{BASE}/{subscription.id}?saved=already_disabled", status_code=303)
    clients = await _clients_by_id(session)
    return page(
        request,
        "integrations/webhooks_confirm.html",
        subscription=subscription,
        client=clients.get(subscription.client_id),
        action=action,
    )


@get(BASE + "/{subscription_id:int}/disable", guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_confirm_disable(
    request: HttpRequest, subscription_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> Response[Any]:
    return await _confirm_page(request, db_session, subscription_id, "disable")


@post(BASE + "/{subscription_id:int}/disable", guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_disable(
    request: HttpRequest,
    subscription_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
) -> Response[Any]:
    try:
        changed = await disable_subscription(db_session, subscription_id, actor=_actor(request, user))
    except SubscriptionNotFoundError:
        return not_found_page(request, NOT_FOUND)
    saved = "disabled" if changed else "already_disabled"
    return Redirect(f"{BASE}/{subscription_id}?saved={saved}", status_code=303)


@get(BASE + "/{subscription_id:int}/rotate", guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_confirm_rotate(
    request: HttpRequest, subscription_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> Response[Any]:
    return await _confirm_page(request, db_session, subscription_id, "rotate")


@post(BASE + "/{subscription_id:int}/rotate", guards=[requires_tenant_admin], include_in_schema=False)
async def webhooks_rotate(
    request: HttpRequest,
    subscription_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
) -> Response[Any]:
    try:
        secret = await rotate_secret(db_session, settings, subscription_id, actor=_actor(request, user))
    except SubscriptionNotFoundError:
        return not_found_page(request, NOT_FOUND)
    except WebhookInputError:
        return Redirect(f"{BASE}/{subscription_id}?saved=already_disabled", status_code=303)
    subscription = await subscription_of(db_session, subscription_id)
    return await _secret_page(request, db_session, subscription, secret, created=False)


@post(
    BASE + "/{subscription_id:int}/deliveries/{delivery_id:int}/redeliver",
    guards=[requires_tenant_admin],
    include_in_schema=False,
)
async def webhooks_redeliver(
    request: HttpRequest,
    subscription_id: FromPath[int],
    delivery_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
) -> Response[Any]:
    try:
        await redeliver(db_session, subscription_id, delivery_id, actor=_actor(request, user))
    except SubscriptionNotFoundError:
        return not_found_page(request, "Không tìm thấy sự kiện này.")
    except WebhookInputError as exc:
        subscription = await subscription_of(db_session, subscription_id)
        return await _detail_page(request, db_session, subscription, errors=exc.errors, status_code=409)
    return Redirect(f"{BASE}/{subscription_id}?saved=redelivered", status_code=303)


HANDLERS: list[HTTPRouteHandler] = [
    webhooks_list,
    webhooks_create,
    webhooks_detail,
    webhooks_confirm_disable,
    webhooks_disable,
    webhooks_confirm_rotate,
    webhooks_rotate,
    webhooks_redeliver,
]
