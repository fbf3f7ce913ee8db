"""Notification emails, one template per event, overridable per tenant theme, in the
recipient's language (Vietnamese unless they chose another when they logged in).

``notifications/<event>.txt`` renders the plain-text email: its **first line is the subject**,
then a blank line, then the body (the package templates extend ``notifications/_base.txt``,
which does this). The HTML alternative is ``notifications/<event>.html`` when a theme or the
package has one, else ``notifications/_layout.html`` around the text body. Loaders, first match
wins: ``themes/<tenant theme>/templates/`` → ``themes/default/templates/`` → the package.

Text templates are not autoescaped, HTML ones are; undefined variables raise (StrictUndefined),
so a typo in a template fails the job loudly instead of mailing a citizen a blank. Their texts
are Vietnamese msgids (``{{ _("Hồ sơ %(code)s đã được tiếp nhận")|format(code=dossier_code) }}``)
translated with the UI's catalogue (``core.theming.translations``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, term_filter, translations

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_THEME = "default"


class NotificationEvent(enum.StrEnum):
    DOSSIER_SUBMITTED = "dossier_submitted"
    DOSSIER_ACCEPTED = "dossier_accepted"
    DOSSIER_REFUSED = "dossier_refused"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REFUNDED = "payment_refunded"
    DOSSIER_PROCESSED = "dossier_processed"
    RESULT_DELIVERED = "result_delivered"
    DOSSIER_WITHDRAWN = "dossier_withdrawn"
    APOLOGY_ISSUED = "apology_issued"
    DEADLINE_DUE_SOON = "deadline_due_soon"  # to the officers handling the dossier
    DEADLINE_OVERDUE = "deadline_overdue"  # to the officers and the tenant administrators
    DEADLINE_AT_RISK = "deadline_at_risk"  # to the leaders of the unit holding the dossier


# Events addressed to staff rather than to the applicant.
STAFF_EVENTS = frozenset(
    {
        NotificationEvent.DEADLINE_DUE_SOON,
        NotificationEvent.DEADLINE_OVERDUE,
        NotificationEvent.DEADLINE_AT_RISK,
    }
)

E = NotificationEvent
# What each event cannot be written without (checked before rendering).
_REQUIRED: dict[NotificationEvent, tuple[str, ...]] = {
    E.DOSSIER_REFUSED: ("reason",),
    E.SUPPLEMENT_REQUESTED: ("reason",),
    E.PAYMENT_REQUESTED: ("fee_vnd",),
    E.PAYMENT_RECEIVED: ("fee_vnd", "receipt", "receipt_id"),
    E.PAYMENT_REFUNDED: ("fee_vnd", "reason"),
    E.APOLOGY_ISSUED: ("reason", "new_due_at"),
    E.DEADLINE_DUE_SOON: ("due_at",),
    E.DEADLINE_OVERDUE: ("due_at",),
    E.DEADLINE_AT_RISK: ("due_at",),
}


def format_due(moment: datetime, lang: str = DEFAULT_LANGUAGE) -> str:
    """``17:00 ngày 25/11/2026`` (``17:00 on 25/11/2026`` in English) in Vietnam time, whatever
    zone the value carries."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("notification times must be timezone-aware")
    local = moment.astimezone(VIETNAM)
    if lang == "en":
        return f"{local:%H:%M} on {local:%d/%m/%Y}"
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def format_vnd(amount: int) -> str:
    """50000 → ``50.000 ₫``."""
    return f"{amount:,}".replace(",", ".") + " ₫"


@dataclass(frozen=True)
class DossierNotice:
    """What a notification says about one dossier (plain values: the job reads the row)."""

    code: str
    procedure_name: str
    status_label: str
    applicant_name: str = ""
    due_at: datetime | None = None
    reason: str | None = None
    # Documents to supply, or other items the message lists.
    items: tuple[str, ...] = ()
    fee_vnd: int | None = None
    # The new promised date of an apology letter.
    new_due_at: datetime | None = None
    # The receipt of a payment: "BL2026 số 0000042", and its id for the link.
    receipt: str | None = None
    receipt_id: int | None = None
    # The recipient's language (core.theming.LANGUAGES).
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class MailTemplates:
    """One Jinja environment per theme and language, built once: templates compile once per
    process."""

    def __init__(self, themes_dir: Path, *, auto_reload: bool = False) -> None:
        self.themes_dir = themes_dir
        self.auto_reload = auto_reload
        self._envs: dict[tuple[str, str], Environment] = {}

    def env(self, theme: str = DEFAULT_THEME, lang: str = DEFAULT_LANGUAGE) -> Environment:
        if theme != DEFAULT_THEME and not (self.themes_dir / theme).is_dir():
            theme = DEFAULT_THEME
        if lang not in LANGUAGES:
            lang = DEFAULT_LANGUAGE
        env = self._envs.get((theme, lang))
        if env is None:
            env = self._envs[theme, lang] = self._build(theme, lang)
        return env

    def _build(self, theme: str, lang: str) -> Environment:
        loaders: list[Any] = []
        for name in dict.fromkeys((theme, DEFAULT_THEME)):
            folder = self.themes_dir / name / "templates"
            if folder.is_dir():
                loaders.append(FileSystemLoader(folder))
        loaders.append(PackageLoader("motcua", "templates"))
        env = Environment(
            loader=ChoiceLoader(loaders),
            # HTML is escaped; plain text is not (it is never read as markup).
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            auto_reload=self.auto_reload,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.i18n"],
        )
        t = translations(lang)
        env.install_gettext_translations(t, newstyle=False)  # type: ignore[attr-defined]
        env.globals["lang"] = lang
        env.filters["vnd"] = format_vnd
        env.filters["due"] = partial(format_due, lang=lang)
        # Dossier statuses keep their legal Vietnamese label, the translation beside it.
        env.filters["term"] = term_filter(t.gettext)
        return env

    def render(
        self, tenant: Tenant, event: NotificationEvent, notice: DossierNotice, *, portal_url: str
    ) -> RenderedEmail:
        missing = [name for name in _REQUIRED.get(event, ()) if getattr(notice, name) in (None, "", ())]
        if missing:
            raise ValueError(f"notification {event} needs {', '.join(missing)}")
        context = notification_context(tenant, event, notice, portal_url=portal_url)
        env = self.env(tenant.theme, notice.language)
        rendered = env.get_template(f"notifications/{event}.txt").render(context)
        first, _, rest = rendered.lstrip("\n").partition("\n")
        subject = " ".join(first.split())
        if not subject:
            raise ValueError(f"template notifications/{event}.txt renders no subject on its first line")
        text = rest.strip("\n") + "\n"
        try:
            html_template = env.get_template(f"notifications/{event}.html")
        except TemplateNotFound:
            html_template = env.get_template("notifications/_layout.html")
        # The text body's paragraphs, each a list of lines (lists and details keep their breaks).
        paragraphs = [p.strip("\n").split("\n") for p in text.split("\n\n") if p.strip()]
        html = html_template.render(context, subject=subject, paragraphs=paragraphs)
        return RenderedEmail(subject=subject, text=text, html=html)


def notification_context(
    tenant: Tenant, event: NotificationEvent, notice: DossierNotice, *, portal_url: str
) -> dict[str, Any]:
    """Every variable a template may use, always present (None when it does not apply)."""
    portal = portal_url.rstrip("/")
    return {
        "event": str(event),
        "to_staff": event in STAFF_EVENTS,
        "tenant_name": tenant.name,
        "portal_url": portal,
        "tracking_url": f"{portal}/tracking?code={quote(notice.code, safe='')}",
        # The applicant's own page (after login) and the officer's page of the dossier.
        "dossier_url": f"{portal}/my/dossiers/{quote(notice.code, safe='')}",
        "officer_url": f"{portal}/officer/dossiers/{quote(notice.code, safe='')}",
        "dossier_code": notice.code,
        "procedure_name": notice.procedure_name,
        "status_label": notice.status_label,
        "applicant_name": notice.applicant_name or None,
        "due_date": format_due(notice.due_at, notice.language) if notice.due_at is not None else None,
        "new_due_date": (
            format_due(notice.new_due_at, notice.language) if notice.new_due_at is not None else None
        ),
        "reason": notice.reason or None,
        "items": list(notice.items),
        "fee": format_vnd(notice.fee_vnd) if notice.fee_vnd is not None else None,
        "receipt": notice.receipt,
        "receipt_url": f"{portal}/receipts/{notice.receipt_id}" if notice.receipt_id is not None else None,
    }


@lru_cache(maxsize=8)
def mail_templates(themes_dir: Path) -> MailTemplates:
    """The process's templates for a themes folder (``settings.themes_dir``)."""
    return MailTemplates(themes_dir)
