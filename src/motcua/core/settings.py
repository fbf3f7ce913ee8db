"""Typed settings read from ``MOTCUA_*`` environment variables.

A wrong value stops start-up with one line naming the variable (``SettingsError``); the CLI
prints it and exits non-zero instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from motcua.core.digits import only_digits

Environment = Literal["development", "test", "production"]

# The repository root: migrations/, themes/ and tenants/ live beside src/.
PROJECT_ROOT = Path(__file__).resolve().parents[3]

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


DEFAULT_RATE_LIMITS = {"lookup": 30, "login": 20, "submit": 20, "api": 120}


class SettingsError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


SmtpSecurity = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, parsed from ``MOTCUA_SMTP_URL``; the password never appears in a repr."""

    host: str
    port: int
    security: SmtpSecurity = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL without the password, for logs and messages."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        user = f"{self.username}@" if self.username else ""
        query = "?starttls=1" if self.security == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{query}"


StorageBackend = Literal["filesystem", "s3"]

_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Bucket:
    """An S3-compatible bucket, from ``MOTCUA_S3_*``; the secret never appears in a repr.

    No endpoint means AWS itself; no keys means boto3's own chain (environment, instance or
    pod role), which is what a managed cloud prefers to long-lived keys."""

    bucket: str
    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    env: Environment = "development"
    database_url: str | None = None
    redis_url: str | None = None
    platform_domain: str = "localhost"
    secret_key: str = ""
    data_dir: Path = PROJECT_ROOT / ".motcua"
    root: Path = PROJECT_ROOT
    # Shared catalogue files a new tenant can start from (default: tenants/catalog/).
    catalogue_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = 1
    db_pool_size: int = 10
    migrate_parallelism: int = 4
    domain_cache_ttl: float = 30.0
    catalog_cache_ttl: float = 30.0
    log_level: str = "INFO"
    # One JSON object per line (production) or text for a person (development); core/logging.py.
    log_format: Literal["json", "text"] = "text"
    # If set, /metrics on the console host asks for "Authorization: Bearer <token>" (core/metrics.py).
    metrics_token: str = ""
    # A job worker container serves its job metrics on this port (0: off; core/metrics.py).
    worker_metrics_port: int = 0
    dev_services: bool = True
    # Platform-wide e-ID issuer; a tenant's own identity setting wins over it. In development
    # with dev services on and no issuer configured, the built-in development e-ID provider.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_personal_id_claim: str = "personal_id"
    oidc_scopes: str = "openid profile email phone address personal_id"
    oidc_timeout: float = 5.0
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    cookie_secure: bool = False
    tracking_rate_limit: int = 30  # public tracking lookups per client address per minute
    # Requests per client address per minute, by budget (core.ratelimit): "lookup" is
    # tracking_rate_limit; the others from MOTCUA_RATE_LIMITS.
    rate_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Reverse proxies allowed to say who the client is (X-Forwarded-For): addresses or networks.
    trusted_proxies: tuple[str, ...] = ()
    # Notifications: mail over SMTP (MOTCUA_SMTP_URL), SMS through a provider. With dev services
    # on and no SMTP URL, `motcua run` starts a local mail catcher on dev_smtp_port.
    notifications_enabled: bool = True
    smtp: SmtpServer | None = None
    smtp_timeout: float = 5.0
    mail_from: str = "Cổng dịch vụ công <no-reply@localhost>"
    sms_provider: Literal["log"] = "log"
    dev_smtp_port: int = 8025
    # A worker silent for this long is presumed dead and its unfinished messages are handed
    # to another worker (Dramatiq's Redis heartbeat).
    job_heartbeat_timeout_ms: int = 60_000
    # Out of a million broker commands, how many also sweep dead workers' messages back.
    job_maintenance_chance: int = 1_000
    # Stripe (Connect platform account). The API base is only ever changed for the local
    # stand-in (development and tests); production talks to Stripe itself.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str | None = None
    # Days an archived tenant is kept before it may be deleted (a mistaken archive can be undone).
    tenant_delete_grace_days: int = 30
    # Where documents, results, slips and receipts are kept (dossiers.backends): the folder
    # data_dir/files, or an S3-compatible bucket shared by every web and worker process. The
    # bucket is read whenever MOTCUA_S3_BUCKET is set, so `motcua storage move` can reach it
    # while the filesystem is still in use.
    storage: StorageBackend = "filesystem"
    s3: S3Bucket | None = None
    # Signed documents (motcua.signing): "local" = the development CA's keys under data_dir/signing
    # (refused in production), "pkcs11" = a hardware token or HSM. Trust roots: CA certificate files
    # (the national root CA in production); a timestamp authority (RFC 3161) makes signatures B-T.
    signing_backend: Literal["local", "pkcs11"] = "local"
    signing_trust_roots: tuple[Path, ...] = ()
    signing_tsa_url: str | None = None
    signing_pkcs11_module: str | None = None
    signing_pkcs11_token: str = ""
    signing_pkcs11_pin: str = field(default="", repr=False)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def console_host(self) -> str:
        return f"admin.{self.platform_domain}"

    @property
    def dev_eid_host(self) -> str:
        return f"eid.{self.platform_domain}"

    @property
    def dev_eid_issuer(self) -> str:
        return f"http://{self.dev_eid_host}:{self.port}"

    @property
    def themes_dir(self) -> Path:
        return self.root / "themes"

    @property
    def tenants_dir(self) -> Path:
        return self.root / "tenants"

    @property
    def catalogues_dir(self) -> Path:
        return self.catalogue_dir or self.tenants_dir / "catalog"

    @property
    def migrations_dir(self) -> Path:
        return self.root / "migrations"

    def with_urls(self, database_url: str, redis_url: str) -> Settings:
        return replace(self, database_url=database_url, redis_url=redis_url)


def _rate_limits(env: Mapping[str, str]) -> dict[str, int]:
    """``MOTCUA_RATE_LIMITS=login=20,submit=20,api=120``: any budget left out keeps its default."""
    limits = dict(DEFAULT_RATE_LIMITS)
    limits["lookup"] = _int(env, "MOTCUA_TRACKING_RATE_LIMIT", 30, minimum=1, maximum=10_000_000)
    for item in filter(None, (p.strip() for p in env.get("MOTCUA_RATE_LIMITS", "").split(","))):
        name, _, raw = item.partition("=")
        if name.strip() not in DEFAULT_RATE_LIMITS:
            known = ", ".join(sorted(DEFAULT_RATE_LIMITS))
            raise SettingsError(f"MOTCUA_RATE_LIMITS: unknown budget {name.strip()!r} (known: {known})")
        if not only_digits(raw.strip()) or not 1 <= int(raw) <= 10_000_000:
            raise SettingsError(
                f"MOTCUA_RATE_LIMITS: {name.strip()} needs a whole number from 1, got {raw!r}"
            )
        limits[name.strip()] = int(raw)
    return limits


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """``MOTCUA_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1``: only these may set the client address."""
    networks = []
    for item in filter(None, (p.strip() for p in env.get("MOTCUA_TRUSTED_PROXIES", "").split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"MOTCUA_TRUSTED_PROXIES: not an address or network: {item!r}") from None
    return tuple(networks)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}: must be between {minimum} and {maximum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name}: must not be negative, got {raw!r}")
    return value


def _database_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("MOTCUA_DATABASE_URL") or None
    if raw is None:
        return None
    if not re.match(r"^postgres(ql)?(\+\w+)?://", raw):
        raise SettingsError("MOTCUA_DATABASE_URL: must be a postgresql:// URL")
    return raw


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("MOTCUA_REDIS_URL") or None
    if raw is None:
        return None
    if not re.match(r"^(redis|rediss|unix)://", raw):
        raise SettingsError("MOTCUA_REDIS_URL: must be a redis://, rediss:// or unix:// URL")
    return raw


def _platform_domain(env: Mapping[str, str]) -> str:
    raw = (env.get("MOTCUA_PLATFORM_DOMAIN") or "localhost").strip().lower().rstrip(".")
    if not all(_HOST_LABEL.match(label) for label in raw.split(".")):
        raise SettingsError(f"MOTCUA_PLATFORM_DOMAIN: not a valid domain name: {raw!r}")
    return raw


def _smtp_url(env: Mapping[str, str], *, production: bool) -> SmtpServer | None:
    # Messages never quote the URL: it may carry the password.
    name = "MOTCUA_SMTP_URL"
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise SettingsError(f"{name}: not a valid URL (bad host or port)") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(f"{name}: must be an smtp:// or smtps:// URL")
    if not parts.hostname:
        raise SettingsError(f"{name}: names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise SettingsError(f"{name}: must not have a path, e.g. smtp://user:pass@host:587?starttls=1")
    try:
        query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
    except ValueError:
        raise SettingsError(f"{name}: the query must be ?starttls=0 or ?starttls=1") from None
    if set(query) - {"starttls"} or query.get("starttls", "0") not in ("0", "1"):
        raise SettingsError(f"{name}: the only option is starttls=0 or starttls=1")
    starttls = query.get("starttls") == "1"
    if parts.scheme == "smtps" and starttls:
        raise SettingsError(f"{name}: smtps:// is already TLS; starttls=1 is for smtp://")
    security: SmtpSecurity = "tls" if parts.scheme == "smtps" else "starttls" if starttls else "none"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise SettingsError(f"{name}: a password needs a user name (smtp://user:pass@host)")
    if production and password and security == "none":
        raise SettingsError(f"{name}: use smtps:// or ?starttls=1 in production, not a password in clear")
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if security == "tls" else 587 if security == "starttls" else 25),
        security=security,
        username=username,
        password=password,
    )


def _mail_from(env: Mapping[str, str]) -> str:
    raw = (env.get("MOTCUA_MAIL_FROM") or "").strip() or "Cổng dịch vụ công <no-reply@localhost>"
    _, address = parseaddr(raw)
    if "\n" in raw or "\r" in raw or not re.match(r"^[^@\s<>]+@[^@\s<>]+$", address):
        raise SettingsError(f"MOTCUA_MAIL_FROM: expected 'Name <address@domain>', got {raw!r}")
    return raw


def _dev_secret(data_dir: Path) -> str:
    """A stable development secret kept in the data folder, so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def _stripe_api_base(env: Mapping[str, str], *, production: bool) -> str | None:
    raw = env.get("MOTCUA_STRIPE_API_BASE") or None
    if raw is None:
        return None
    if production:
        raise SettingsError("MOTCUA_STRIPE_API_BASE: the Stripe stand-in cannot be used in production")
    if not re.match(r"^https?://\S+$", raw):
        raise SettingsError("MOTCUA_STRIPE_API_BASE: must be an http(s) URL")
    return raw.rstrip("/")


def _storage(env: Mapping[str, str]) -> tuple[StorageBackend, S3Bucket | None]:
    backend = (env.get("MOTCUA_STORAGE") or "filesystem").strip()
    if backend not in ("filesystem", "s3"):
        raise SettingsError(f"MOTCUA_STORAGE: must be filesystem or s3, got {backend!r}")
    bucket = (env.get("MOTCUA_S3_BUCKET") or "").strip()
    if not bucket:
        if backend == "s3":
            raise SettingsError("MOTCUA_S3_BUCKET: required when MOTCUA_STORAGE=s3")
        for name in ("MOTCUA_S3_ENDPOINT_URL", "MOTCUA_S3_ACCESS_KEY_ID", "MOTCUA_S3_SECRET_ACCESS_KEY"):
            if env.get(name):
                raise SettingsError(f"{name}: set, but MOTCUA_S3_BUCKET is not; name the bucket too")
        return "filesystem", None
    if not _BUCKET.match(bucket):
        raise SettingsError(
            f"MOTCUA_S3_BUCKET: not a valid bucket name (3–63 lowercase letters, digits, dots, "
            f"hyphens), got {bucket!r}"
        )
    region = (env.get("MOTCUA_S3_REGION") or "us-east-1").strip()
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", region):
        raise SettingsError(f"MOTCUA_S3_REGION: not a region name like ap-southeast-1, got {region!r}")
    endpoint = (env.get("MOTCUA_S3_ENDPOINT_URL") or "").strip().rstrip("/") or None
    if endpoint is not None:
        # Messages never quote the URL: it could carry credentials.
        try:
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise SettingsError("MOTCUA_S3_ENDPOINT_URL: not a valid URL (bad host or port)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                "MOTCUA_S3_ENDPOINT_URL: must be an http(s):// URL, e.g. https://s3.example.vn"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise SettingsError(
                "MOTCUA_S3_ENDPOINT_URL: only scheme, host, port and path; keys go in "
                "MOTCUA_S3_ACCESS_KEY_ID and MOTCUA_S3_SECRET_ACCESS_KEY"
            )
    key_id = (env.get("MOTCUA_S3_ACCESS_KEY_ID") or "").strip() or None
    secret = env.get("MOTCUA_S3_SECRET_ACCESS_KEY") or None
    if (key_id is None) != (secret is None):
        raise SettingsError(
            "MOTCUA_S3_ACCESS_KEY_ID and MOTCUA_S3_SECRET_ACCESS_KEY: set both, or neither to use "
            "the environment's own credentials (instance or pod role)"
        )
    s3 = S3Bucket(
        bucket=bucket, region=region, endpoint_url=endpoint, access_key_id=key_id, secret_access_key=secret
    )
    return ("s3" if backend == "s3" else "filesystem"), s3


def _signing_backend(env: Mapping[str, str], *, production: bool) -> Literal["local", "pkcs11"]:
    backend = env.get("MOTCUA_SIGNING_BACKEND") or ("pkcs11" if production else "local")
    if backend not in ("local", "pkcs11"):
        raise SettingsError(f"MOTCUA_SIGNING_BACKEND: must be local or pkcs11, got {backend!r}")
    if production and backend == "local":
        raise SettingsError(
            "MOTCUA_SIGNING_BACKEND: the development signing keys cannot be used in production"
        )
    return backend  # type: ignore[return-value]


def _optional_dir(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]).resolve() if env.get(name) else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    mode = env.get("MOTCUA_ENV", "development")
    if mode not in ("development", "test", "production"):
        raise SettingsError(f"MOTCUA_ENV: must be development, test or production, got {mode!r}")
    root = Path(env["MOTCUA_ROOT"]).resolve() if env.get("MOTCUA_ROOT") else PROJECT_ROOT
    data_dir = Path(env.get("MOTCUA_DATA_DIR") or root / ".motcua").resolve()
    database_url = _database_url(env)
    redis_url = _redis_url(env)
    production = mode == "production"
    secret = env.get("MOTCUA_SECRET_KEY", "")
    if production:
        # Production never starts embedded services nor invents a secret.
        if database_url is None:
            raise SettingsError("MOTCUA_DATABASE_URL: required in production")
        if redis_url is None:
            raise SettingsError("MOTCUA_REDIS_URL: required in production")
        if "MOTCUA_PLATFORM_DOMAIN" not in env:
            raise SettingsError("MOTCUA_PLATFORM_DOMAIN: required in production")
        if len(secret) < 32:
            raise SettingsError("MOTCUA_SECRET_KEY: required in production, at least 32 characters")
    elif secret and len(secret) < 32:
        raise SettingsError("MOTCUA_SECRET_KEY: must be at least 32 characters")
    elif not secret:
        secret = _dev_secret(data_dir)
    log_level = env.get("MOTCUA_LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"MOTCUA_LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    log_format = env.get("MOTCUA_LOG_FORMAT") or ("json" if production else "text")
    if log_format not in ("json", "text"):
        raise SettingsError(f"MOTCUA_LOG_FORMAT: must be json or text, got {log_format!r}")
    dev_services = env.get("MOTCUA_DEV_SERVICES", "0" if production else "1")
    if dev_services not in ("0", "1"):
        raise SettingsError("MOTCUA_DEV_SERVICES: must be 0 or 1")
    if production and dev_services == "1":
        raise SettingsError("MOTCUA_DEV_SERVICES: development stand-ins cannot run in production")
    oidc_issuer = (env.get("MOTCUA_OIDC_ISSUER") or "").rstrip("/") or None
    if oidc_issuer is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", oidc_issuer):
        raise SettingsError("MOTCUA_OIDC_ISSUER: must be an http(s):// URL")
    if production:
        if oidc_issuer is None:
            raise SettingsError("MOTCUA_OIDC_ISSUER: required in production (the national e-ID issuer)")
        if not oidc_issuer.startswith("https://"):
            raise SettingsError("MOTCUA_OIDC_ISSUER: must use https in production")
        for name in ("MOTCUA_OIDC_CLIENT_ID", "MOTCUA_OIDC_CLIENT_SECRET"):
            if not env.get(name):
                raise SettingsError(f"{name}: required in production")
    claim = env.get("MOTCUA_OIDC_PERSONAL_ID_CLAIM") or "personal_id"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_:.-]{0,99}$", claim):
        raise SettingsError("MOTCUA_OIDC_PERSONAL_ID_CLAIM: not a valid claim name")
    cookie_secure = env.get("MOTCUA_COOKIE_SECURE", "1" if production else "0")
    if cookie_secure not in ("0", "1"):
        raise SettingsError("MOTCUA_COOKIE_SECURE: must be 0 or 1")
    notifications = env.get("MOTCUA_NOTIFICATIONS", "1")
    if notifications not in ("0", "1"):
        raise SettingsError("MOTCUA_NOTIFICATIONS: must be 0 or 1")
    smtp = _smtp_url(env, production=production)
    sms_provider = env.get("MOTCUA_SMS_PROVIDER") or "log"
    if sms_provider != "log":
        raise SettingsError(f"MOTCUA_SMS_PROVIDER: must be log, got {sms_provider!r}")
    storage, s3 = _storage(env)
    settings = Settings(
        env=mode,  # type: ignore[arg-type]
        database_url=database_url,
        redis_url=redis_url,
        platform_domain=_platform_domain(env),
        secret_key=secret,
        data_dir=data_dir,
        root=root,
        catalogue_dir=_optional_dir(env, "MOTCUA_CATALOGUE_DIR"),
        host=env.get("MOTCUA_HOST", "127.0.0.1"),
        port=_int(env, "MOTCUA_PORT", 8000, minimum=1, maximum=65535),
        web_workers=_int(env, "MOTCUA_WEB_WORKERS", 1, minimum=1, maximum=64),
        db_pool_size=_int(env, "MOTCUA_DB_POOL_SIZE", 10, minimum=1, maximum=200),
        migrate_parallelism=_int(env, "MOTCUA_MIGRATE_PARALLELISM", 4, minimum=1, maximum=32),
        # Changes reach every process at once through Redis (core/invalidation.py): the TTL only
        # bounds staleness when a publish is lost. Short ones cost throughput over many hosts
        # (a refill per host per TTL per worker: 40 % of the home page over 1,000 hosts at 30 s).
        domain_cache_ttl=_float(env, "MOTCUA_DOMAIN_CACHE_TTL", 300.0),
        catalog_cache_ttl=_float(env, "MOTCUA_CATALOG_CACHE_TTL", 300.0),
        log_level=log_level,
        log_format=log_format,  # type: ignore[arg-type]
        metrics_token=env.get("MOTCUA_METRICS_TOKEN", ""),
        worker_metrics_port=_int(env, "MOTCUA_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535),
        dev_services=dev_services == "1",
        oidc_issuer=oidc_issuer,
        oidc_client_id=env.get("MOTCUA_OIDC_CLIENT_ID", ""),
        oidc_client_secret=env.get("MOTCUA_OIDC_CLIENT_SECRET", ""),
        oidc_personal_id_claim=claim,
        oidc_scopes=env.get("MOTCUA_OIDC_SCOPES") or "openid profile email phone address personal_id",
        oidc_timeout=_float(env, "MOTCUA_OIDC_TIMEOUT", 5.0),
        session_idle_seconds=_int(env, "MOTCUA_SESSION_IDLE_SECONDS", 1800, minimum=60, maximum=86400),
        session_absolute_seconds=_int(
            env, "MOTCUA_SESSION_ABSOLUTE_SECONDS", 43200, minimum=300, maximum=7 * 86400
        ),
        cookie_secure=cookie_secure == "1",
        tracking_rate_limit=_int(env, "MOTCUA_TRACKING_RATE_LIMIT", 30, minimum=1, maximum=10_000_000),
        rate_limits=_rate_limits(env),
        trusted_proxies=_trusted_proxies(env),
        notifications_enabled=notifications == "1",
        smtp=smtp,
        smtp_timeout=_float(env, "MOTCUA_SMTP_TIMEOUT", 5.0),
        mail_from=_mail_from(env),
        sms_provider="log",
        dev_smtp_port=_int(env, "MOTCUA_DEV_SMTP_PORT", 8025, minimum=1, maximum=65535),
        job_heartbeat_timeout_ms=_int(
            env, "MOTCUA_JOB_HEARTBEAT_TIMEOUT_MS", 60_000, minimum=1_000, maximum=3_600_000
        ),
        stripe_secret_key=env.get("MOTCUA_STRIPE_SECRET_KEY", ""),
        stripe_webhook_secret=env.get("MOTCUA_STRIPE_WEBHOOK_SECRET", ""),
        stripe_api_base=_stripe_api_base(env, production=production),
        job_maintenance_chance=_int(
            env, "MOTCUA_JOB_MAINTENANCE_CHANCE", 1_000, minimum=1, maximum=1_000_000
        ),
        tenant_delete_grace_days=_int(env, "MOTCUA_TENANT_DELETE_GRACE_DAYS", 30, minimum=0, maximum=3650),
        storage=storage,
        s3=s3,
        signing_backend=_signing_backend(env, production=production),
        signing_trust_roots=tuple(
            Path(p) for p in (env.get("MOTCUA_SIGNING_TRUST_ROOTS") or "").split(os.pathsep) if p
        ),
        signing_tsa_url=env.get("MOTCUA_SIGNING_TSA_URL") or None,
        signing_pkcs11_module=env.get("MOTCUA_SIGNING_PKCS11_MODULE") or None,
        signing_pkcs11_token=env.get("MOTCUA_SIGNING_PKCS11_TOKEN", ""),
        signing_pkcs11_pin=env.get("MOTCUA_SIGNING_PKCS11_PIN", ""),
    )
    # Checked last, so a wrong value elsewhere is named first.
    if production and settings.notifications_enabled and settings.smtp is None:
        raise SettingsError("MOTCUA_SMTP_URL: required in production (or set MOTCUA_NOTIFICATIONS=0)")
    return settings
