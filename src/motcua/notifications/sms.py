"""SMS behind a provider interface. The only provider for now logs the message with the phone
number masked (``MOTCUA_SMS_PROVIDER=log``); an operator's gateway fits the same ``send``."""

from __future__ import annotations

import logging
import re
from typing import Protocol

from motcua.core.settings import Settings

log = logging.getLogger(__name__)


class SmsProvider(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


def normalise_phone(phone: str) -> str:
    """Vietnamese numbers as people write them: ``+84 912 345 678`` → ``0912345678``."""
    digits = re.sub(r"[\s.()-]", "", phone)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{8,10}", digits):
        raise ValueError("not a Vietnamese phone number")
    return digits


def mask_phone(phone: str) -> str:
    """``0912345678`` → ``09******78``: enough to tell numbers apart in a log, no more."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


class LoggingSmsProvider:
    """Sends nothing: writes ``SMS to 09******78: …`` to the log (development, and the default)."""

    async def send(self, phone: str, text: str) -> None:
        number = normalise_phone(phone)
        log.info("SMS to %s: %s", mask_phone(number), text)


def sms_provider(settings: Settings) -> SmsProvider:
    # Settings accept only "log" today; a real gateway adds its branch here.
    if settings.sms_provider == "log":
        return LoggingSmsProvider()
    raise ValueError(f"unknown SMS provider {settings.sms_provider!r}")
