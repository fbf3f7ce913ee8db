"""The notification settings (kept beside the notifications; tests/core covers the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.core.settings import SettingsError, SmtpServer, load_settings

PROD = {
    "MOTCUA_ENV": "production",
    "MOTCUA_OIDC_ISSUER": "https://eid.example.vn",
    "MOTCUA_OIDC_CLIENT_ID": "motcua",
    "MOTCUA_OIDC_CLIENT_SECRET": "s" * 40,
    "MOTCUA_DATABASE_URL": "postgresql://app:pw@db/motcua",
    "MOTCUA_REDIS_URL": "redis://cache:6379/0",
    "MOTCUA_PLATFORM_DOMAIN": "dichvucong.example.vn",
    "MOTCUA_SECRET_KEY": "k" * 40,
    "MOTCUA_SMTP_URL": "smtps://mailer:s3cret@smtp.example.vn",
}


def dev(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"MOTCUA_DATA_DIR": str(tmp_path), **env}


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(dev(tmp_path))
    assert settings.notifications_enabled is True
    assert settings.smtp is None
    assert settings.smtp_timeout == 5.0
    assert settings.mail_from == "Cổng dịch vụ công <no-reply@localhost>"
    assert settings.sms_provider == "log"
    assert settings.dev_smtp_port == 8025


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:8025", SmtpServer("127.0.0.1", 8025)),
        ("smtp://relay.example.vn", SmtpServer("relay.example.vn", 25)),
        (
            "smtp://user:pass@host.example.vn:587?starttls=1",
            SmtpServer("host.example.vn", 587, "starttls", "user", "pass"),
        ),
        ("smtp://host.example.vn?starttls=1", SmtpServer("host.example.vn", 587, "starttls")),
        (
            "smtps://mailer:s3cret@smtp.example.vn",
            SmtpServer("smtp.example.vn", 465, "tls", "mailer", "s3cret"),
        ),
        # Reserved characters in a password are percent-encoded in the URL.
        (
            "smtps://no-reply%40hanoi.example.vn:p%40ss%3Aw%2Frd@smtp.example.vn:2465/",
            SmtpServer("smtp.example.vn", 2465, "tls", "no-reply@hanoi.example.vn", "p@ss:w/rd"),
        ),
    ],
)
def test_smtp_urls_are_parsed(tmp_path: Path, url: str, expected: SmtpServer) -> None:
    assert load_settings(dev(tmp_path, MOTCUA_SMTP_URL=url)).smtp == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://smtp.example.vn", "must be an smtp:// or smtps:// URL"),
        ("smtp://", "names no host"),
        ("smtp://smtp.example.vn:99999", "not a valid URL"),
        ("smtp://smtp.example.vn:port", "not a valid URL"),
        ("smtp://smtp.example.vn/mail", "must not have a path"),
        ("smtp://smtp.example.vn?tls=1", "the only option is starttls"),
        ("smtp://smtp.example.vn?starttls=yes", "the only option is starttls"),
        ("smtps://smtp.example.vn?starttls=1", "smtps:// is already TLS"),
        ("smtp://:s3cret@smtp.example.vn", "a password needs a user name"),
    ],
)
def test_wrong_smtp_urls_name_the_variable_and_never_the_password(
    tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=f"^MOTCUA_SMTP_URL: {message}") as caught:
        load_settings(dev(tmp_path, MOTCUA_SMTP_URL=url))
    assert "s3cret" not in str(caught.value)


def test_the_password_stays_out_of_reprs_and_displays(tmp_path: Path) -> None:
    settings = load_settings(
        dev(tmp_path, MOTCUA_SMTP_URL="smtp://mailer:s3cret@smtp.example.vn:587?starttls=1")
    )
    assert settings.smtp is not None
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(settings.smtp)
    assert settings.smtp.display == "smtp://mailer@smtp.example.vn:587?starttls=1"


def test_production_needs_an_smtp_server_unless_notifications_are_off() -> None:
    assert load_settings(PROD).smtp == SmtpServer("smtp.example.vn", 465, "tls", "mailer", "s3cret")
    without = {k: v for k, v in PROD.items() if k != "MOTCUA_SMTP_URL"}
    with pytest.raises(SettingsError, match=r"^MOTCUA_SMTP_URL: required in production"):
        load_settings(without)
    off = load_settings({**without, "MOTCUA_NOTIFICATIONS": "0"})
    assert off.notifications_enabled is False and off.smtp is None


def test_production_refuses_a_password_in_clear() -> None:
    with pytest.raises(SettingsError, match=r"^MOTCUA_SMTP_URL: use smtps:// or \?starttls=1 in production"):
        load_settings({**PROD, "MOTCUA_SMTP_URL": "smtp://mailer:s3cret@smtp.example.vn"})
    # A relay without credentials (e.g. on the same private network) is the operator's call.
    assert load_settings({**PROD, "MOTCUA_SMTP_URL": "smtp://relay.internal"}).smtp == SmtpServer(
        "relay.internal", 25
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MOTCUA_NOTIFICATIONS", "yes", "MOTCUA_NOTIFICATIONS: must be 0 or 1"),
        ("MOTCUA_SMS_PROVIDER", "twilio", "MOTCUA_SMS_PROVIDER: must be log"),
        ("MOTCUA_MAIL_FROM", "Cổng dịch vụ công", "MOTCUA_MAIL_FROM: expected 'Name <address@domain>'"),
        ("MOTCUA_MAIL_FROM", "a@b\nBcc: c@d", "MOTCUA_MAIL_FROM: expected"),
        ("MOTCUA_DEV_SMTP_PORT", "0", "MOTCUA_DEV_SMTP_PORT: must be between 1 and 65535"),
        ("MOTCUA_SMTP_TIMEOUT", "-1", "MOTCUA_SMTP_TIMEOUT: must not be negative"),
    ],
)
def test_wrong_values_name_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings(dev(tmp_path, **{name: value}))


def test_values_are_read(tmp_path: Path) -> None:
    settings = load_settings(
        dev(
            tmp_path,
            MOTCUA_MAIL_FROM="Cổng DVC quốc gia <thongbao@dichvucong.example.vn>",
            MOTCUA_DEV_SMTP_PORT="2525",
            MOTCUA_SMTP_TIMEOUT="2.5",
            MOTCUA_NOTIFICATIONS="0",
        )
    )
    assert settings.mail_from == "Cổng DVC quốc gia <thongbao@dichvucong.example.vn>"
    assert (settings.dev_smtp_port, settings.smtp_timeout, settings.notifications_enabled) == (
        2525,
        2.5,
        False,
    )
