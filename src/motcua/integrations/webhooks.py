"""Webhook subscriptions of API clients, and the deliveries a dossier's status change makes.

A subscription belongs to one API client and needs its ``webhooks`` scope; it hears of the
dossiers that client submitted, or of every dossier of the tenant (``all_dossiers``, which also
needs ``dossiers:read``: it is a read of dossiers the client did not send). Its signing secret
follows Standard Webhooks (``whsec_`` + base64 of 32 random bytes): shown once, sealed at rest.

Deliveries are made from the dossier's own history, not from the event that woke the job: each
status change (a ``dossier_history`` row whose status differs from the one before) becomes one
delivery per matching subscription, with an event id derived from the tenant, the subscription
and that history row. So a redelivered or late message inserts nothing twice, and two changes
whose messages arrive out of order are still recorded, and sent, in the order they happened.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor, tenant_entry
from motcua.core.db import locked
from motcua.core.security import SecretBox
from motcua.core.settings import Settings
from motcua.dossiers.models import Dossier, DossierHistory, DossierStatus
from motcua.integrations.models import ApiClientRow, WebhookDelivery, WebhookSubscription

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
EVENT_TYPE = "dossier.status_changed"
URL_MAX = 2000
# A client needs few receivers; the limit bounds what one client can make the platform send.
SUBSCRIPTIONS_PER_CLIENT = 10
WEBHOOKS_SCOPE = "webhooks"
READ_SCOPE = "dossiers:read"


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# What people read of a delivery's status.
DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING: "Đang chờ gửi",
    DeliveryStatus.DELIVERED: "Đã gửi thành công",
    DeliveryStatus.FAILED: "Gửi không thành công",
}


class WebhookInputError(Exception):
    """What was asked cannot be done: ``errors`` maps each field (``client``, ``url``,
    ``all_dossiers``) to a Vietnamese message (a msgid). Nothing was changed."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SubscriptionNotFoundError(LookupError):
    pass


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: the decoded bytes, as Standard Webhooks signs."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


# Where a webhook may be sent -------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
# A host made only of digits, dots and hex is an IPv4 address in one of the legacy spellings
# ("2130706433", "0x7f.1", "127.1") that resolvers accept and ipaddress does not.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IpAddress) -> bool:
    """A globally reachable unicast address: never private, loopback, link-local, shared
    (100.64/10), reserved, unspecified or multicast; IPv4 mapped into IPv6 judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def ip_literal(host: str) -> IpAddress | None:
    """The address a URL's host names directly, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


NOT_PUBLIC = "Địa chỉ trỏ tới một mạng nội bộ hoặc dành riêng; hãy dùng địa chỉ công khai trên Internet."


def url_problem(raw: str, *, production: bool) -> str | None:
    """Why ``raw`` cannot receive webhooks, or None. In production only https, and never a host
    inside a private network (SSRF); the addresses a name resolves to are checked again at each
    delivery (``integrations.delivery``), since DNS can change after this check."""
    url = raw.strip()
    if not url:
        return "Nhập địa chỉ nhận sự kiện (URL)."
    if len(url) > URL_MAX:
        return "Địa chỉ nhận sự kiện dài tối đa 2000 ký tự."
    if _CONTROL.search(url):
        return "Địa chỉ nhận sự kiện không được chứa khoảng trắng hay ký tự điều khiển."
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return "Địa chỉ nhận sự kiện không hợp lệ."
    scheme = parts.scheme.lower()
    if scheme != "https" and (production or scheme != "http"):
        return "Địa chỉ nhận sự kiện phải bắt đầu bằng https://."
    if "@" in parts.netloc:
        return "Địa chỉ nhận sự kiện không được chứa tên đăng nhập hay mật khẩu."
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "Địa chỉ nhận sự kiện thiếu tên máy chủ."
    if port == 0:
        return "Địa chỉ nhận sự kiện không hợp lệ."
    if parts.fragment:
        return "Địa chỉ nhận sự kiện không được có phần sau dấu #."
    if production:
        literal = ip_literal(host)
        if literal is not None and not is_public(literal):
            return NOT_PUBLIC
        if host == "localhost" or host.endswith(".localhost"):
            return NOT_PUBLIC
    return None


# Subscriptions -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Created:
    subscription: WebhookSubscription
    # Shown once, to whoever created the subscription; only its sealed form is kept.
    secret: str


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key)


def open_secret(settings: Settings, subscription: WebhookSubscription) -> str:
    return _box(settings).open(subscription.secret_sealed)


async def active_clients(session: AsyncSession) -> list[ApiClientRow]:
    """The clients a subscription can be made for (not revoked), by name."""
    rows = await session.scalars(
        select(ApiClientRow)
        .where(ApiClientRow.revoked_at.is_(None))
        .order_by(ApiClientRow.name, ApiClientRow.id)
    )
    return list(rows)


async def create_subscription(
    session: AsyncSession,
    settings: Settings,
    *,
    client_id: int | None,
    url: str,
    all_dossiers: bool,
    actor: Actor,
) -> Created:
    """Subscribe the API client (its row id) to status changes; every error at once."""
    errors: dict[str, str] = {}
    client = None
    if client_id is not None:
        # Locked: two concurrent creations for one client cannot both pass the count below.
        client = await locked(session, ApiClientRow, client_id)
    if client is None or client.revoked_at is not None:
        errors["client"] = "Chọn hệ thống được đăng ký nhận sự kiện."
    else:
        scopes = set(client.scopes or [])
        if WEBHOOKS_SCOPE not in scopes:
            errors["client"] = "Hệ thống này chưa được cấp quyền nhận sự kiện (webhooks)."
        elif all_dossiers and READ_SCOPE not in scopes:
            errors["all_dossiers"] = (
                "Hệ thống này chưa được cấp quyền đọc hồ sơ (dossiers:read), nên chỉ nhận được "
                "sự kiện của hồ sơ do chính nó nộp."
            )
        else:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookSubscription)
                .where(WebhookSubscription.client_id == client.id, WebhookSubscription.disabled_at.is_(None))
            )
            if (count or 0) >= SUBSCRIPTIONS_PER_CLIENT:
                errors["client"] = "Mỗi hệ thống có tối đa 10 địa chỉ nhận sự kiện đang hoạt động."
    problem = url_problem(url, production=settings.is_production)
    if problem:
        errors["url"] = problem
    if errors:
        raise WebhookInputError(errors)
    assert client is not None
    secret = new_secret()
    subscription = WebhookSubscription(
        client_id=client.id,
        url=url.strip(),
        secret_sealed=_box(settings).seal(secret),
        all_dossiers=all_dossiers,
    )
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)
    await session.execute(
        tenant_entry(
            "webhook.created",
            actor=actor,
            subscription_id=subscription.id,
            client_id=client.client_id,
            url=subscription.url,
            all_dossiers=all_dossiers,
        )
    )
    return Created(subscription, secret)


async def subscription_of(
    session: AsyncSession, subscription_id: int, *, client_id: int | None = None, lock: bool = False
) -> WebhookSubscription:
    """The subscription; with ``client_id``, only if that client owns it (a client never learns
    whether another client's subscription exists)."""
    if not 0 < subscription_id < 2**63:
        raise SubscriptionNotFoundError(subscription_id)
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if client_id is not None:
        query = query.where(WebhookSubscription.client_id == client_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = await session.scalar(query)
    if found is None:
        raise SubscriptionNotFoundError(subscription_id)
    return found


async def subscriptions(session: AsyncSession, *, client_id: int | None = None) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).order_by(
        WebhookSubscription.disabled_at.is_not(None), WebhookSubscription.id.desc()
    )
    if client_id is not None:
        query = query.where(WebhookSubscription.client_id == client_id)
    return list(await session.scalars(query))


async def disable_subscription(
    session: AsyncSession, subscription_id: int, *, actor: Actor, client_id: int | None = None
) -> bool:
    """Stop sending to this subscription; what was still waiting is marked failed, so nothing
    lingers. False when it was already disabled (nothing changes)."""
    subscription = await subscription_of(session, subscription_id, client_id=client_id, lock=True)
    if subscription.disabled_at is not None:
        return False
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription.id)
        .values(disabled_at=func.now())
    )
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, last_error="Đăng ký nhận sự kiện đã bị tắt.")
    )
    await session.execute(
        tenant_entry("webhook.disabled", actor=actor, subscription_id=subscription.id, url=subscription.url)
    )
    await session.refresh(subscription)
    return True


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    subscription_id: int,
    *,
    actor: Actor,
    client_id: int | None = None,
) -> str:
    """A new signing secret, used from the next attempt on (what is waiting is signed with it)."""
    subscription = await subscription_of(session, subscription_id, client_id=client_id, lock=True)
    if subscription.disabled_at is not None:
        raise WebhookInputError({"subscription": "Đăng ký nhận sự kiện đã bị tắt."})
    secret = new_secret()
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription.id)
        .values(secret_sealed=_box(settings).seal(secret))
    )
    await session.execute(
        tenant_entry("webhook.secret_rotated", actor=actor, subscription_id=subscription.id)
    )
    await session.refresh(subscription)
    return secret


async def deliveries_of(session: AsyncSession, subscription_id: int, *, limit: int = 100) -> list[Any]:
    """The newest deliveries of a subscription with their dossier's code, for the log."""
    rows = await session.execute(
        select(WebhookDelivery, Dossier.code)
        .join(Dossier, Dossier.id == WebhookDelivery.dossier_id)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def redeliver(
    session: AsyncSession, subscription_id: int, delivery_id: int, *, actor: Actor
) -> WebhookDelivery:
    """Send a delivered or failed event again, under the same event id (the receiver's
    idempotency key), at once. Its 24 hours of retries are counted from when it was made, so a
    late redelivery is tried once."""
    subscription = await subscription_of(session, subscription_id)
    if subscription.disabled_at is not None:
        raise WebhookInputError({"delivery": "Đăng ký nhận sự kiện đã bị tắt."})
    if not 0 < delivery_id < 2**63:
        raise SubscriptionNotFoundError(delivery_id)
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if delivery is None:
        raise SubscriptionNotFoundError(delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        raise WebhookInputError({"delivery": "Sự kiện này đang chờ gửi."})
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(status=DeliveryStatus.PENDING, next_attempt_at=func.now())
    )
    await session.execute(
        tenant_entry(
            "webhook.redelivered",
            actor=actor,
            subscription_id=subscription.id,
            event_id=delivery.event_id,
        )
    )
    await session.refresh(delivery)
    return delivery


# From a status change to deliveries ----------------------------------------------------------------
def event_id(tenant: str, subscription_id: int, history_id: int) -> str:
    """The Standard Webhooks message id of one status change for one subscription: the same on
    every retry and redelivery, distinct across tenants."""
    digest = hashlib.sha256(f"{tenant}:{subscription_id}:{history_id}".encode()).hexdigest()
    return f"msg_{digest[:40]}"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def status_payload(dossier: Dossier, change: DossierHistory) -> dict[str, Any]:
    """The body of one ``dossier.status_changed`` event (Standard Webhooks: type, timestamp,
    data)."""
    return {
        "type": EVENT_TYPE,
        "timestamp": _iso(change.at),
        "data": {
            "code": dossier.code,
            "external_id": dossier.external_id,
            "status": change.to_status,
            "status_label": DossierStatus(change.to_status).label,
            "previous_status": change.from_status,
            "at": _iso(change.at),
            "due_at": _iso(dossier.due_at),
        },
    }


async def record_status_changes(session: AsyncSession, tenant: str, code: str) -> int:
    """Insert a pending delivery of every status change of dossier ``code`` not recorded yet
    for each subscription that hears of it; returns how many were inserted."""
    if not await session.scalar(
        select(func.count()).select_from(WebhookSubscription).where(WebhookSubscription.disabled_at.is_(None))
    ):
        return 0  # most tenants have none: one cheap query
    dossier = await session.scalar(select(Dossier).where(Dossier.code == code[:80]))
    if dossier is None:
        return 0
    # One fan-out per dossier at a time, so deliveries get ids in the order of the changes.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"webhooks:{tenant}:{dossier.id}"},
    )
    matching = list(
        await session.scalars(
            select(WebhookSubscription)
            .join(ApiClientRow, ApiClientRow.id == WebhookSubscription.client_id)
            .where(
                WebhookSubscription.disabled_at.is_(None),
                ApiClientRow.revoked_at.is_(None),
                or_(
                    WebhookSubscription.all_dossiers.is_(True),
                    WebhookSubscription.client_id == dossier.intake_client_id,
                ),
            )
            .order_by(WebhookSubscription.id)
        )
    )
    if not matching:
        return 0
    changes = list(
        await session.scalars(
            select(DossierHistory)
            .where(
                DossierHistory.dossier_id == dossier.id,
                or_(
                    DossierHistory.from_status.is_(None),
                    DossierHistory.from_status != DossierHistory.to_status,
                ),
            )
            .order_by(DossierHistory.id)
        )
    )
    known = set(
        await session.scalars(
            select(WebhookDelivery.event_id).where(WebhookDelivery.dossier_id == dossier.id)
        )
    )
    inserted = 0
    for subscription in matching:
        for change in changes:
            if change.at < subscription.created_at:
                continue  # a new subscription hears of what happens from then on
            if event_id(tenant, subscription.id, change.id) in known:
                continue
            result = await session.execute(
                pg_insert(WebhookDelivery)
                .values(
                    subscription_id=subscription.id,
                    dossier_id=dossier.id,
                    event_id=event_id(tenant, subscription.id, change.id),
                    event_type=EVENT_TYPE,
                    payload=status_payload(dossier, change),
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(WebhookDelivery.id)
            )
            if result.scalar_one_or_none() is not None:
                inserted += 1
    return inserted
