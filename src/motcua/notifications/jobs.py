"""Notification jobs: tell the citizen of every change they can see, and the officers of
deadlines. They subscribe to the domains' typed events (``core.events``), which carry every
value a message needs, so this package imports no domain's models. The email's Message-ID comes
from the event's key on every retry, and a sent key is remembered, so at-least-once delivery
does not mean twice in effect."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import dramatiq
import redis.asyncio as aioredis

from motcua.core.events import DeadlineEvent, DossierEvent, Subscriber, subscribe
from motcua.core.jobs import job_database, load_tenant
from motcua.core.settings import Settings, load_settings
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, term_filter, translations
from motcua.notifications.services import send_notification
from motcua.notifications.sms import normalise_phone, sms_provider
from motcua.notifications.templates import DossierNotice, NotificationEvent

log = logging.getLogger(__name__)
SENT_TTL = 30 * 24 * 3600


def portal_url(settings: Settings, tenant: Tenant) -> str:
    if settings.is_production:
        return f"https://{tenant.slug}.{settings.platform_domain}"
    return f"http://{tenant.slug}.{settings.platform_domain}:{settings.port}"


async def _once(settings: Settings, key: str) -> bool:
    """True when ``key`` was not sent before (checked, not yet marked)."""
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        return not await client.exists(f"notified:{key}")
    finally:
        await client.aclose()


async def _mark(settings: Settings, key: str) -> None:
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        await client.set(f"notified:{key}", "1", ex=SENT_TTL)
    finally:
        await client.aclose()


def _notice(event: DossierEvent | DeadlineEvent) -> DossierNotice:
    extra: dict[str, object] = {}
    if isinstance(event, DossierEvent):
        extra = {
            "reason": event.reason,
            "items": event.items,
            "fee_vnd": event.fee_vnd,
            "new_due_at": event.new_due_at,
            "receipt": event.receipt,
            "receipt_id": event.receipt_id,
            "language": event.language,
        }
    return DossierNotice(
        code=event.code,
        procedure_name=event.procedure_name,
        status_label=event.status_label,
        applicant_name=event.applicant_name,
        due_at=event.due_at,
        **extra,  # type: ignore[arg-type]
    )


def sms_text(tenant: Tenant, notice: DossierNotice) -> str:
    """ "Tỉnh X: hồ sơ 000.00…-0001 — Được tiếp nhận", in the applicant's language (the status
    keeps its legal Vietnamese label, with the translation beside it)."""
    t = translations(notice.language if notice.language in LANGUAGES else DEFAULT_LANGUAGE)
    return t.gettext("%(tenant)s: hồ sơ %(code)s — %(status)s") % {
        "tenant": tenant.name,
        "code": notice.code,
        "status": term_filter(t.gettext)(notice.status_label),
    }


NOTIFY_CITIZEN = Subscriber("notify_citizen", "notifications")
NOTIFY_DEADLINE = Subscriber("notify_deadline", "notifications")


@dramatiq.actor(
    actor_name=NOTIFY_CITIZEN.actor_name,
    queue_name=NOTIFY_CITIZEN.queue_name,
    max_retries=8,
    min_backoff=2000,
    max_backoff=600_000,
)
async def notify_citizen(tenant: str, event: dict[str, Any]) -> None:
    """Tell the applicant of a change to their dossier, by email and SMS (a ``DossierEvent``)."""
    settings = load_settings()
    happened = DossierEvent.from_payload(event)
    full_key = f"{tenant}:{happened.key}"
    if not await _once(settings, full_key):
        return
    record = await load_tenant(job_database(), tenant)
    chosen = NotificationEvent(happened.kind)
    notice = _notice(happened)
    if happened.email:
        await send_notification(
            settings,
            record,
            chosen,
            notice,
            [happened.email],
            portal_url=portal_url(settings, record),
            idempotency_key=full_key,
        )
    if happened.phone and settings.notifications_enabled:
        # A short text as well: many citizens read SMS, not email (status and code only).
        try:
            await sms_provider(settings).send(normalise_phone(happened.phone), sms_text(record, notice))
        except ValueError:
            log.warning("dossier %s: the citizen's phone number is not usable for SMS", notice.code)
    await _mark(settings, full_key)


@dramatiq.actor(
    actor_name=NOTIFY_DEADLINE.actor_name,
    queue_name=NOTIFY_DEADLINE.queue_name,
    max_retries=8,
    min_backoff=2000,
    max_backoff=600_000,
)
async def notify_deadline(tenant: str, event: dict[str, Any]) -> None:
    """Tell the staff a ``DeadlineEvent`` names that a dossier is due soon or late."""
    settings = load_settings()
    happened = DeadlineEvent.from_payload(event)
    key = f"{tenant}:{happened.key}"
    if not await _once(settings, key):
        return
    record = await load_tenant(job_database(), tenant)
    kind = DEADLINE_NOTICES.get(happened.kind, NotificationEvent.DEADLINE_OVERDUE)
    # One message per language, each staff member reading theirs (Vietnamese unless they last
    # logged in in another); the Vietnamese one keeps the event's own key.
    notice = _notice(happened)
    for language, emails in staff_by_language(happened).items():
        await send_notification(
            settings,
            record,
            kind,
            replace(notice, language=language),
            emails,
            portal_url=portal_url(settings, record),
            idempotency_key=key if language == DEFAULT_LANGUAGE else f"{key}:{language}",
        )
    await _mark(settings, key)


def staff_by_language(event: DeadlineEvent) -> dict[str, list[str]]:
    """The event's e-mail addresses grouped by their owner's language (an unknown language, or
    none carried, is Vietnamese)."""
    groups: dict[str, list[str]] = {}
    for index, email in enumerate(event.emails):
        language = event.languages[index] if index < len(event.languages) else DEFAULT_LANGUAGE
        groups.setdefault(language if language in LANGUAGES else DEFAULT_LANGUAGE, []).append(email)
    return groups


# The e-mail of each kind of deadline notice (any other kind is a late one).
DEADLINE_NOTICES = {
    "due_soon": NotificationEvent.DEADLINE_DUE_SOON,
    # To the leaders of the unit holding a dossier likely to be late (backoffice.risk_notices).
    "high_risk": NotificationEvent.DEADLINE_AT_RISK,
}


subscribe(DossierEvent, NOTIFY_CITIZEN)
subscribe(DeadlineEvent, NOTIFY_DEADLINE)
