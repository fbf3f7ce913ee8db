from __future__ import annotations

import logging
from pathlib import Path

import pytest

from motcua.core.settings import Settings
from motcua.notifications.sms import (
    LoggingSmsProvider,
    SmsProvider,
    mask_phone,
    normalise_phone,
    sms_provider,
)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("0912345678", "09******78"), ("02438253535", "02*******35"), ("123", "***")],
)
def test_numbers_are_masked(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    "phone", ["0912345678", "0912 345 678", "+84 912 345 678", "84912345678", "091.234.5678"]
)
def test_numbers_are_normalised(phone: str) -> None:
    assert normalise_phone(phone) == "0912345678"


@pytest.mark.parametrize("phone", ["", "12345", "+1 202 555 0100", "09123456789012", "091234567a"])
def test_what_is_not_a_vietnamese_number_is_refused(phone: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(phone)


async def test_the_logging_provider_logs_the_text_with_the_number_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider: SmsProvider = LoggingSmsProvider()
    with caplog.at_level(logging.INFO, logger="motcua.notifications.sms"):
        await provider.send("+84 912 345 678", "Hồ sơ H26-0001 đã có kết quả.")
    assert "SMS to 09******78: Hồ sơ H26-0001 đã có kết quả." in caplog.messages
    assert "912345678" not in caplog.text and "912 345 678" not in caplog.text


def test_the_configured_provider_is_the_logging_one(tmp_path: Path) -> None:
    assert isinstance(sms_provider(Settings(env="test", data_dir=tmp_path)), LoggingSmsProvider)
