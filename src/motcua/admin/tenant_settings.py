"""A tenant's settings changed after onboarding: its domains, its own e-ID provider, its payment
account, its mail sender. One action per setting, used by the console, /manage/settings and the
CLI alike; each validates, writes with its platform audit row in one transaction, and tells the
in-process caches after the commit.

Who edits what ("where they belong to the locality"):

- Domains, the identity provider and the payment account are the platform's: a domain decides
  which portal a host serves (one wrong entry hijacks or breaks a portal), a provider's client
  secret is a credential of the platform's contract with the e-ID operator, and an account
  decides where citizens' money goes. Platform administrators change them in the console; a
  tenant administrator sees them read-only on /manage/settings.
- The mail sender's display name and reply-to address speak for the locality (its agency name,
  the mailbox its staff read): the tenant administrator changes them. The sending address itself
  stays the platform's, because it must be under a domain the platform's mail server may send
  for (SPF/DKIM), which only the console can vouch for.
- The payments on/off switch stays the tenant administrator's on /manage/payments (unchanged).

Messages of ``SettingsInputError`` are Vietnamese msgids: the pages show them through ``_()``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from motcua.core.audit import Actor, platform_entry
from motcua.core.db import Database
from motcua.core.digits import only_digits
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.models import IdentitySetting
from motcua.identity.services import IdentityNotConfiguredError, default_provider, set_identity_setting_on
from motcua.notifications.mailer import parse_mailbox
from motcua.notifications.services import reply_to_for, sender_for
from motcua.payments.services import update_payment_settings
from motcua.payments.settings import (
    MAX_PLATFORM_FEE_VND,
    PaymentSettings,
    PaymentSettingsError,
    parse_payment_settings,
    payment_settings_of,
)
from motcua.tenancy import events
from motcua.tenancy.models import Domain, TenantRecord
from motcua.tenancy.services import TenancyError, validate_host

MAX_DOMAINS = 20
NAME_ERROR = (
    "Nhập tên người gửi, không quá 100 ký tự, không có dấu ngoặc kép, dấu gạch chéo ngược hay dấu < >."
)
_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_:./-]+$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SettingsInputError(TenancyError):
    """What a person typed cannot be used: ``errors`` maps each form field to a Vietnamese
    message (a msgid). Nothing was changed."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# Reading ---------------------------------------------------------------------------------------
async def load_tenant(db: Database, slug: str) -> Tenant | None:
    """The tenant ``slug`` as stored now (never from a cache: a form must show what is saved)."""
    if len(slug) > 31:
        return None
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(f"SELECT {Tenant.COLUMNS} FROM platform.tenants WHERE slug = :s"), {"s": slug}
            )
        ).one_or_none()
    return None if row is None else Tenant.from_row(row)


@dataclass(frozen=True)
class IdentityView:
    own: bool  # the tenant's own provider (else the platform's)
    issuer: str
    client_id: str
    display_name: str
    scopes: str
    personal_id_claim: str


@dataclass(frozen=True)
class MailView:
    own: bool  # the tenant set its own sender (else the platform's MOTCUA_MAIL_FROM)
    name: str
    address: str
    reply_to: str | None


@dataclass(frozen=True)
class SettingsView:
    """Everything the settings pages show; never a secret."""

    implicit_domain: str
    domains: list[str]
    identity: IdentityView | None  # None: no provider at all (nobody can log in)
    payments: PaymentSettings
    mail: MailView
    mail_domains: list[str] = field(default_factory=list)


async def domains_of(db: Database, tenant: Tenant) -> list[str]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(Domain.host).where(Domain.tenant_id == tenant.id).order_by(Domain.host)
        )
        return list(rows.scalars())


async def settings_view(db: Database, settings: Settings, tenant: Tenant) -> SettingsView:
    domains = await domains_of(db, tenant)
    async with db.engine.connect() as conn:
        own = (
            await conn.execute(
                select(IdentitySetting.__table__).where(IdentitySetting.tenant_id == tenant.id)
            )
        ).one_or_none()
    identity: IdentityView | None
    if own is not None:
        identity = IdentityView(
            own=True,
            issuer=own.issuer,
            client_id=own.client_id,
            display_name=own.display_name,
            scopes=own.scopes,
            personal_id_claim=own.personal_id_claim,
        )
    else:
        try:
            default = default_provider(settings)
        except IdentityNotConfiguredError:
            identity = None
        else:
            identity = IdentityView(
                own=False,
                issuer=default.issuer,
                client_id=default.client_id,
                display_name=default.display_name,
                scopes=default.scopes,
                personal_id_claim=default.personal_id_claim,
            )
    name, address = sender_for(settings, tenant)
    return SettingsView(
        implicit_domain=f"{tenant.slug}.{settings.platform_domain}",
        domains=domains,
        identity=identity,
        payments=payment_settings_of(tenant),
        mail=MailView(
            own=bool(tenant.settings.get("mail_from")),
            name=name,
            address=address,
            reply_to=reply_to_for(tenant),
        ),
        mail_domains=_mail_domains(settings, domains),
    )


# Domains ---------------------------------------------------------------------------------------
async def add_domain(db: Database, settings: Settings, tenant: Tenant, host: str, *, actor: Actor) -> str:
    """Attach ``host`` to the tenant's portal. Refused: a malformed host, one under the platform
    domain (the platform's own hosts, other tenants' addresses), one already in use anywhere."""
    typed = (host or "").strip().lower().rstrip(".")
    if not typed:
        raise SettingsInputError({"host": "Nhập tên miền, ví dụ dichvucong.hanoi.gov.vn."})
    if len(typed) > 253:
        raise SettingsInputError({"host": "Tên miền dài quá 253 ký tự."})
    implicit = f"{tenant.slug}.{settings.platform_domain}"
    if typed == implicit:
        raise SettingsInputError({"host": "Địa chỉ này là địa chỉ mặc định của cổng, luôn hoạt động."})
    try:
        clean = validate_host(typed, slug=tenant.slug, platform_domain=settings.platform_domain)
    except TenancyError:
        if typed == settings.platform_domain or typed.endswith("." + settings.platform_domain):
            raise SettingsInputError(
                {"host": "Tên miền thuộc tên miền của nền tảng: chỉ địa chỉ mặc định của cổng được dùng."}
            ) from None
        raise SettingsInputError(
            {"host": "Tên miền không hợp lệ: chỉ gồm chữ thường, chữ số, dấu gạch ngang và dấu chấm."}
        ) from None
    async with db.engine.begin() as conn:
        # The tenant row locked: two additions at once cannot both pass the count.
        await conn.execute(select(TenantRecord.id).where(TenantRecord.id == tenant.id).with_for_update())
        count = await conn.scalar(
            select(func.count()).select_from(Domain).where(Domain.tenant_id == tenant.id)
        )
        if (count or 0) >= MAX_DOMAINS:
            raise SettingsInputError({"host": "Cổng đã có đủ 20 tên miền; hãy gỡ bớt trước khi thêm."})
        added = (
            await conn.execute(
                pg_insert(Domain)
                .values(host=clean, tenant_id=tenant.id)
                .on_conflict_do_nothing()
                .returning(Domain.host)
            )
        ).scalar_one_or_none()
        if added is None:
            owner = await conn.scalar(select(Domain.tenant_id).where(Domain.host == clean))
            # Whose it is stays unsaid: a tenant's addresses are no business of another's.
            if owner == tenant.id:
                raise SettingsInputError({"host": "Tên miền này đã được gắn với cổng."})
            raise SettingsInputError({"host": "Tên miền này đã được sử dụng."})
        await conn.execute(platform_entry("domain.added", actor=actor, tenant=tenant.slug, host=clean))
    events.tenants_changed()
    return clean


async def remove_domain(db: Database, tenant: Tenant, host: str, *, actor: Actor) -> str:
    """Detach ``host``: from the next request on it answers "no such portal"."""
    typed = (host or "").strip().lower().rstrip(".")[:253]
    async with db.engine.begin() as conn:
        removed = (
            await conn.execute(
                delete(Domain)
                .where(Domain.host == typed, Domain.tenant_id == tenant.id)
                .returning(Domain.host)
            )
        ).scalar_one_or_none()
        if removed is None:
            raise SettingsInputError({"host": "Tên miền này không gắn với cổng."})
        await conn.execute(platform_entry("domain.removed", actor=actor, tenant=tenant.slug, host=removed))
    events.tenants_changed()
    return removed


# Identity provider -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IdentityForm:
    issuer: str
    client_id: str
    client_secret: str  # blank on an edit: keep the stored one
    display_name: str
    scopes: str
    personal_id_claim: str


def _identity_errors(settings: Settings, form: IdentityForm, *, has_secret: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    issuer = form.issuer.strip()
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", issuer) or len(issuer) > 500:
        errors["issuer"] = "Địa chỉ nhà cung cấp phải là một địa chỉ http(s) đầy đủ, không quá 500 ký tự."
    elif settings.is_production and not issuer.startswith("https://"):
        errors["issuer"] = "Địa chỉ nhà cung cấp phải dùng https."
    client_id = form.client_id.strip()
    if not client_id or len(client_id) > 200 or not _TOKEN.match(client_id):
        errors["client_id"] = "Nhập mã ứng dụng (client id): không quá 200 ký tự, không có khoảng trắng."
    if form.client_secret and (len(form.client_secret) > 500 or _CONTROL.search(form.client_secret)):
        errors["client_secret"] = "Khóa bí mật không quá 500 ký tự, không có ký tự điều khiển."  # noqa: S105
    elif not form.client_secret and not has_secret:
        errors["client_secret"] = "Nhập khóa bí mật (client secret) do nhà cung cấp cấp."  # noqa: S105
    name = form.display_name.strip()
    if not name or len(name) > 200 or _CONTROL.search(name):
        errors["display_name"] = "Nhập tên hiển thị của nhà cung cấp, không quá 200 ký tự."
    scopes = form.scopes.split()
    if "openid" not in scopes or len(form.scopes) > 500 or not all(_TOKEN.match(s) for s in scopes):
        errors["scopes"] = "Phạm vi (scopes) phải có openid, cách nhau bằng dấu cách, không quá 500 ký tự."
    claim = form.personal_id_claim.strip()
    if not claim or len(claim) > 100 or not _TOKEN.match(claim):
        errors["personal_id_claim"] = "Nhập tên trường chứa số định danh, ví dụ personal_id."
    return errors


async def set_identity_provider(
    db: Database, settings: Settings, tenant: Tenant, form: IdentityForm, *, actor: Actor
) -> None:
    """The tenant's own e-ID provider; the secret is sealed at rest and kept when left blank."""
    async with db.engine.begin() as conn:
        has_secret = (
            await conn.scalar(
                select(IdentitySetting.tenant_id)
                .where(IdentitySetting.tenant_id == tenant.id)
                .with_for_update()
            )
            is not None
        )
        errors = _identity_errors(settings, form, has_secret=has_secret)
        if errors:
            raise SettingsInputError(errors)
        write = partial(
            set_identity_setting_on,
            settings=settings,
            tenant=tenant,
            issuer=form.issuer.strip(),
            client_id=form.client_id.strip(),
            client_secret=form.client_secret or None,
            scopes=" ".join(form.scopes.split()),
            personal_id_claim=form.personal_id_claim.strip(),
            display_name=form.display_name.strip(),
            actor=actor,
        )
        await conn.run_sync(write)
    events.tenants_changed()


# Payment account -------------------------------------------------------------------------------
async def set_payment_account(
    db: Database,
    tenant: Tenant,
    *,
    stripe_account: str,
    enabled: bool,
    platform_fee_vnd: str,
    actor: Actor,
) -> PaymentSettings:
    """The platform's side of a tenant's payments: where the money goes, the switch, the fee."""
    errors: dict[str, str] = {}
    account = stripe_account.strip()
    if account and not _ACCOUNT.match(account):
        errors["stripe_account"] = (
            "Mã tài khoản Stripe phải có dạng acct_… (chữ và số), ví dụ acct_1Nv0FGQ9RKHgCVdK."
        )
    fee_text = platform_fee_vnd.strip().replace(".", "").replace(",", "").replace(" ", "") or "0"
    if not only_digits(fee_text) or len(fee_text) > 9 or int(fee_text) > MAX_PLATFORM_FEE_VND:
        errors["platform_fee_vnd"] = "Phí nền tảng là số đồng, từ 0 đến 1.000.000."
    if enabled and not account and "stripe_account" not in errors:
        errors["stripe_account"] = "Cần mã tài khoản Stripe để bật thanh toán trực tuyến."
    if not errors and account:
        async with db.engine.connect() as conn:
            taken = await conn.scalar(
                text(
                    "SELECT 1 FROM platform.tenants "
                    "WHERE settings->'payments'->>'stripe_account' = :a AND id <> :i"
                ),
                {"a": account, "i": tenant.id},
            )
        if taken:
            errors["stripe_account"] = (
                "Tài khoản thanh toán này đang được một cổng dịch vụ công khác sử dụng."
            )
    if errors:
        raise SettingsInputError(errors)
    wanted = parse_payment_settings(
        {"stripe_account": account, "enabled": enabled, "platform_fee_vnd": fee_text}, where="Thanh toán"
    )
    try:
        # Audited ("payments.configured") and the caches told, by the payments domain itself.
        await update_payment_settings(db, tenant, wanted, actor=actor)
    except PaymentSettingsError:
        # Another tenant took the account between the check and the write (unique index).
        raise SettingsInputError(
            {"stripe_account": "Tài khoản thanh toán này đang được một cổng dịch vụ công khác sử dụng."}
        ) from None
    return wanted


# Mail sender -----------------------------------------------------------------------------------
def _mail_domains(settings: Settings, domains: list[str]) -> list[str]:
    """Domains a sending address may be under: the platform's, the platform sender's and the
    tenant's own (whose DNS the console has checked when it attached them)."""
    platform_sender = parse_mailbox(settings.mail_from)[1].rpartition("@")[2].lower()
    return sorted({settings.platform_domain, platform_sender, *domains})


def _mail_errors(name: str, address: str, reply_to: str, allowed: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name or len(name) > 100 or _CONTROL.search(name) or any(c in name for c in '"\\<>'):
        errors["name"] = NAME_ERROR
    if not _EMAIL.match(address) or len(address) > 254:
        errors["address"] = "Địa chỉ gửi phải là một địa chỉ thư điện tử, ví dụ thongbao@hanoi.gov.vn."
    else:
        domain = address.rpartition("@")[2].lower()
        if not any(domain == d or domain.endswith("." + d) for d in allowed):
            errors["address"] = "Địa chỉ gửi phải thuộc tên miền của cổng hoặc của nền tảng."
    if reply_to and (not _EMAIL.match(reply_to) or len(reply_to) > 254):
        errors["reply_to"] = (
            "Địa chỉ nhận thư trả lời phải là một địa chỉ thư điện tử, ví dụ motcua@hanoi.gov.vn."
        )
    return errors


async def set_mail_sender(
    db: Database,
    settings: Settings,
    tenant: Tenant,
    *,
    name: str,
    reply_to: str,
    address: str | None = None,
    actor: Actor,
) -> tuple[str, str, str | None]:
    """The From name and address and the Reply-To of the tenant's notification emails.
    ``address`` None keeps the current sending address (tenant administrators cannot change it)."""
    name, reply_to = name.strip(), reply_to.strip()
    async with db.engine.begin() as conn:
        row = (
            await conn.execute(
                text(f"SELECT {Tenant.COLUMNS} FROM platform.tenants WHERE id = :i FOR UPDATE"),
                {"i": tenant.id},
            )
        ).one()
        current = Tenant.from_row(row)
        sending = (address if address is not None else sender_for(settings, current)[1]).strip()
        domains = list(
            (await conn.execute(select(Domain.host).where(Domain.tenant_id == tenant.id))).scalars()
        )
        errors = _mail_errors(name, sending, reply_to, _mail_domains(settings, domains))
        mailbox = f'"{name}" <{sending}>'
        if not errors and parse_mailbox(mailbox) != (name, sending):
            errors["name"] = NAME_ERROR
        if errors:
            raise SettingsInputError(errors)
        patch: dict[str, Any] = {"mail_from": mailbox}
        if reply_to:
            patch["mail_reply_to"] = reply_to
        await conn.execute(
            text(
                "UPDATE platform.tenants SET settings = (settings - 'mail_reply_to') || CAST(:p AS jsonb), "
                "updated_at = now() WHERE id = :i"
            ),
            {"p": json.dumps(patch), "i": tenant.id},
        )
        await conn.execute(
            platform_entry(
                "mail_sender.configured",
                actor=actor,
                tenant=tenant.slug,
                name=name,
                from_address=sending,
                reply_to=reply_to or None,
            )
        )
    events.tenants_changed()
    return name, sending, reply_to or None


__all__ = [
    "IdentityForm",
    "SettingsInputError",
    "SettingsView",
    "add_domain",
    "load_tenant",
    "remove_domain",
    "set_identity_provider",
    "set_mail_sender",
    "set_payment_account",
    "settings_view",
]
