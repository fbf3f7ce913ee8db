"""Putting a notification together: the tenant's sender, the event's template, the mailer.

Jobs call ``send_notification`` with plain values read from the database and an idempotency key
that names the event (e.g. ``"hanoi:dossier:42:accepted"``): a retried job sends a message with
the same ``Message-ID``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.notifications.mailer import OutgoingEmail, parse_mailbox, send_email
from motcua.notifications.templates import DossierNotice, MailTemplates, NotificationEvent, mail_templates

log = logging.getLogger(__name__)


def sender_for(settings: Settings, tenant: Tenant) -> tuple[str, str]:
    """(display name, address): the tenant's ``mail_from`` setting, else ``MOTCUA_MAIL_FROM``.

    A tenant setting that is not a mailbox is logged and ignored (mail still goes out, from the
    platform's sender), so one mistyped setting does not silence a locality's notifications."""
    own = tenant.settings.get("mail_from")
    if isinstance(own, str) and own.strip():
        try:
            return parse_mailbox(own.strip())
        except ValueError:
            log.warning(
                "tenant %s: setting mail_from is not an email address; using MOTCUA_MAIL_FROM", tenant.slug
            )
    return parse_mailbox(settings.mail_from)


def reply_to_for(tenant: Tenant) -> str | None:
    """The tenant's ``mail_reply_to`` setting (the address a citizen's reply reaches), if it is
    one; the console and /manage/settings validate it, this only refuses to send a bad header."""
    own = tenant.settings.get("mail_reply_to")
    if not isinstance(own, str) or not own.strip():
        return None
    try:
        return parse_mailbox(own.strip())[1]
    except ValueError:
        log.warning("tenant %s: setting mail_reply_to is not an email address; left out", tenant.slug)
        return None


def build_email(
    settings: Settings,
    tenant: Tenant,
    event: NotificationEvent,
    notice: DossierNotice,
    to: Sequence[str],
    *,
    portal_url: str,
    idempotency_key: str,
    templates: MailTemplates | None = None,
) -> OutgoingEmail:
    rendered = (templates or mail_templates(settings.themes_dir)).render(
        tenant, event, notice, portal_url=portal_url
    )
    name, address = sender_for(settings, tenant)
    headers = {"X-Motcua-Tenant": tenant.slug, "X-Motcua-Event": str(event)}
    reply_to = reply_to_for(tenant)
    if reply_to is not None:
        headers["Reply-To"] = reply_to
    return OutgoingEmail(
        sender_address=address,
        sender_name=name,
        to=tuple(to),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=idempotency_key,
        headers=headers,
    )


async def send_notification(
    settings: Settings,
    tenant: Tenant,
    event: NotificationEvent,
    notice: DossierNotice,
    to: Sequence[str],
    *,
    portal_url: str,
    idempotency_key: str,
) -> bool:
    """Render and send; False (and nothing sent) when notifications are off or nobody has an
    address. Delivery failures raise ``DeliveryError`` for the job to retry."""
    if not settings.notifications_enabled:
        log.info("notifications are off (MOTCUA_NOTIFICATIONS=0): %s for %s not sent", event, notice.code)
        return False
    recipients = tuple(dict.fromkeys(a.strip() for a in to if a and a.strip()))
    if not recipients:
        return False
    message = build_email(
        settings, tenant, event, notice, recipients, portal_url=portal_url, idempotency_key=idempotency_key
    )
    await send_email(settings, message)
    return True
