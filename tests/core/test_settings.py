from __future__ import annotations

from pathlib import Path

import pytest

from motcua.core.settings import SettingsError, load_settings

PROD = {
    "MOTCUA_ENV": "production",
    "MOTCUA_OIDC_ISSUER": "https://eid.example.vn",
    "MOTCUA_OIDC_CLIENT_ID": "motcua",
    "MOTCUA_OIDC_CLIENT_SECRET": "s" * 40,
    "MOTCUA_SMTP_URL": "smtps://mailer:pw@smtp.example.vn",
    "MOTCUA_DATABASE_URL": "postgresql://app:pw@db/motcua",
    "MOTCUA_REDIS_URL": "redis://cache:6379/0",
    "MOTCUA_PLATFORM_DOMAIN": "dichvucong.example.vn",
    "MOTCUA_SECRET_KEY": "k" * 40,
}


def test_a_complete_production_configuration_loads() -> None:
    settings = load_settings(PROD)
    assert settings.is_production
    assert settings.platform_domain == "dichvucong.example.vn"
    assert settings.console_host == "admin.dichvucong.example.vn"
    assert settings.dev_services is False
    assert settings.cookie_secure is True


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("MOTCUA_DATABASE_URL", "MOTCUA_DATABASE_URL: required in production"),
        ("MOTCUA_REDIS_URL", "MOTCUA_REDIS_URL: required in production"),
        ("MOTCUA_PLATFORM_DOMAIN", "MOTCUA_PLATFORM_DOMAIN: required in production"),
        ("MOTCUA_SECRET_KEY", "MOTCUA_SECRET_KEY: required in production"),
        ("MOTCUA_OIDC_ISSUER", "MOTCUA_OIDC_ISSUER: required in production"),
        ("MOTCUA_OIDC_CLIENT_SECRET", "MOTCUA_OIDC_CLIENT_SECRET: required in production"),
    ],
)
def test_production_names_the_missing_variable(missing: str, message: str) -> None:
    env = {k: v for k, v in PROD.items() if k != missing}
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings(env)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MOTCUA_PORT", "eighty", "MOTCUA_PORT: expected a whole number"),
        ("MOTCUA_PORT", "70000", "MOTCUA_PORT: must be between"),
        ("MOTCUA_DATABASE_URL", "mysql://x/y", "MOTCUA_DATABASE_URL: must be a postgresql:// URL"),
        ("MOTCUA_REDIS_URL", "http://x", "MOTCUA_REDIS_URL: must be a redis://"),
        ("MOTCUA_PLATFORM_DOMAIN", "bad_domain!", "MOTCUA_PLATFORM_DOMAIN: not a valid domain"),
        ("MOTCUA_SECRET_KEY", "short", "MOTCUA_SECRET_KEY: required in production, at least 32"),
        ("MOTCUA_ENV", "staging", "MOTCUA_ENV: must be"),
        ("MOTCUA_DEV_SERVICES", "1", "MOTCUA_DEV_SERVICES: development stand-ins cannot run in production"),
        ("MOTCUA_DOMAIN_CACHE_TTL", "-1", "MOTCUA_DOMAIN_CACHE_TTL: must not be negative"),
        ("MOTCUA_OIDC_ISSUER", "http://eid.example.vn", "MOTCUA_OIDC_ISSUER: must use https in production"),
        ("MOTCUA_OIDC_ISSUER", "eid.example.vn", "MOTCUA_OIDC_ISSUER: must be an http"),
    ],
)
def test_wrong_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings({**PROD, name: value})


def test_development_defaults_need_nothing(tmp_path: Path) -> None:
    settings = load_settings({"MOTCUA_DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.platform_domain == "localhost"
    assert len(settings.secret_key) >= 32
    # The development secret is kept, so sessions survive a restart.
    assert load_settings({"MOTCUA_DATA_DIR": str(tmp_path)}).secret_key == settings.secret_key


def test_trusted_proxies_and_rate_limits_are_read_and_checked() -> None:
    settings = load_settings(
        {
            **PROD,
            "MOTCUA_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "MOTCUA_RATE_LIMITS": "login=5",
            "MOTCUA_TRACKING_RATE_LIMIT": "7",
        }
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32")
    assert settings.rate_limits == {"lookup": 7, "login": 5, "submit": 20, "api": 120}
    assert load_settings(PROD).trusted_proxies == ()  # nobody is believed unless named


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MOTCUA_TRUSTED_PROXIES", "10.0.0.0/8,nginx", "MOTCUA_TRUSTED_PROXIES: not an address or network"),
        ("MOTCUA_RATE_LIMITS", "logins=5", "MOTCUA_RATE_LIMITS: unknown budget 'logins'"),
        ("MOTCUA_RATE_LIMITS", "login=0", "MOTCUA_RATE_LIMITS: login needs a whole number from 1"),
        ("MOTCUA_RATE_LIMITS", "login=many", "MOTCUA_RATE_LIMITS: login needs a whole number from 1"),
    ],
)
def test_bad_proxy_or_limit_settings_stop_start_up_naming_the_variable(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**PROD, name: value})
