"""A locality's payment settings, kept in its tenant record under ``settings.payments``.

Under Stripe Connect direct charges the locality is the merchant: its connected-account id is
all the platform needs (the API key and the webhook secret are the platform's, from the
environment). The account id is no secret, so nothing here needs sealing; a gateway that gives
each locality its own secret would seal it with ``core.security.SecretBox`` like the identity
settings do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from motcua.core.digits import only_digits
from motcua.core.messages import Message
from motcua.core.tenant import Tenant
from motcua.identity.models import N_

_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
MAX_PLATFORM_FEE_VND = 1_000_000


MAX_AMOUNT_VND = 1_000_000_000_000


def parse_amount_vnd(raw: str | None, *, what: str) -> int | None:
    """An amount typed by a person, in whole đồng: "20.000", "20000" and "20.000 ₫" alike;
    blank is None. Anything else is refused with what to type instead."""
    from motcua.dossiers.lifecycle import DossierError

    text = (raw or "").strip().replace(".", "").replace(",", "").replace(" ", "").removesuffix("₫")
    if not text:
        return None
    if not only_digits(text):
        raise DossierError(Message("%(what)s phải là số đồng, ví dụ 20.000.", what=Message(what)))
    amount = int(text)
    if not 0 < amount <= MAX_AMOUNT_VND:
        raise DossierError(
            Message(
                "%(what)s phải lớn hơn 0 và không quá %(max)s đồng.",
                what=Message(what),
                max=f"{MAX_AMOUNT_VND:,}".replace(",", "."),
            )
        )
    return amount


class PaymentSettingsError(ValueError):
    """A setting the form must show back with what to fix (Vietnamese). ``str()`` names where it
    was read (a tenant file, the CLI); ``message`` is the sentence alone, which pages translate,
    and ``field`` the form field it is about."""

    def __init__(self, text: str, *, message: str | None = None, field: str = "stripe_account") -> None:
        super().__init__(text)
        self.message = message or text
        self.field = field


@dataclass(frozen=True)
class PaymentSettings:
    enabled: bool
    stripe_account: str | None
    platform_fee_vnd: int  # taken by the platform from each online payment (application fee)

    @property
    def online(self) -> bool:
        return self.enabled and self.stripe_account is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "stripe_account": self.stripe_account,
            "platform_fee_vnd": self.platform_fee_vnd,
        }


def payment_settings_of(tenant: Tenant) -> PaymentSettings:
    raw = tenant.settings.get("payments") or {}
    account = raw.get("stripe_account")
    return PaymentSettings(
        # A tenant record from before the switch existed took payments once it had an account.
        enabled=bool(raw.get("enabled", True)),
        stripe_account=str(account) if account else None,
        platform_fee_vnd=int(raw.get("platform_fee_vnd") or 0),
    )


def parse_payment_settings(raw: dict[str, Any], *, where: str = "payments") -> PaymentSettings:
    """Validate settings from a form, a tenant file or the CLI; errors name the field."""
    account = str(raw.get("stripe_account") or "").strip() or None
    if account is not None and not _ACCOUNT.match(account):
        raise PaymentSettingsError(
            f"{where}: mã tài khoản Stripe phải có dạng acct_… (chữ và số), ví dụ acct_1Nv0FGQ9RKHgCVdK.",
            message=N_("Mã tài khoản Stripe phải có dạng acct_… (chữ và số), ví dụ acct_1Nv0FGQ9RKHgCVdK."),
        )
    fee_raw = raw.get("platform_fee_vnd", 0)
    try:
        fee = int(str(fee_raw).strip().replace(".", "").replace(",", "") or 0)
    except ValueError:
        raise PaymentSettingsError(
            f"{where}: phí nền tảng phải là số đồng (số nguyên).",
            message=N_("Phí nền tảng là số đồng, từ 0 đến 1.000.000."),
            field="platform_fee_vnd",
        ) from None
    if not 0 <= fee <= MAX_PLATFORM_FEE_VND:
        raise PaymentSettingsError(
            f"{where}: phí nền tảng phải từ 0 đến {MAX_PLATFORM_FEE_VND:,} đồng.",
            message=N_("Phí nền tảng là số đồng, từ 0 đến 1.000.000."),
            field="platform_fee_vnd",
        )
    enabled = raw.get("enabled", False)
    if isinstance(enabled, str):
        enabled = enabled.lower() in ("1", "true", "on", "yes")
    if enabled and account is None:
        raise PaymentSettingsError(
            f"{where}: cần mã tài khoản Stripe để bật thanh toán trực tuyến.",
            message=N_("Cần mã tài khoản Stripe để bật thanh toán trực tuyến."),
        )
    return PaymentSettings(enabled=bool(enabled), stripe_account=account, platform_fee_vnd=fee)
