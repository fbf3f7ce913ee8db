"""The deployment files as the tests read them: infra/compose.yaml with its ``${…}`` filled from
stand-in values (what infra/.env holds in a real deployment), the Kubernetes manifests, and the
settings production start-up requires, found by asking ``load_settings`` itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from motcua.core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"

# What an operator puts in infra/.env (infra/.env.example lists the same names): stand-ins of
# the right shape, nothing real.
ENV_FILE_VALUES = {
    "PLATFORM_DOMAIN": "dichvucong.example.vn",
    "SECRET_KEY": "s" * 48,
    "POSTGRES_PASSWORD": "pgpassword",
    "REDIS_PASSWORD": "redispassword",
    "OIDC_ISSUER": "https://eid.example.invalid",
    "OIDC_CLIENT_ID": "motcua-platform",
    "OIDC_CLIENT_SECRET": "oidc-client-secret",
    "SMTP_URL": "smtps://motcua:mailpassword@mail.example.invalid",
    "MAIL_FROM": "Cổng dịch vụ công <no-reply@dichvucong.example.vn>",
    "MINIO_ROOT_USER": "motcua",
    "MINIO_ROOT_PASSWORD": "miniopassword",
    "STRIPE_SECRET_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
}

# The app's own services in compose (the others are PostgreSQL, Redis, MinIO and nginx).
APP_SERVICES = ("migrate", "web", "worker", "scheduler")

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's interpolation: ``${X}``, ``${X:-default}``, ``${X:?error}`` and ``$$``."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if name in values and values[name] != "":
            return values[name]
        if kind == "-":
            return rest
        if kind == "?":
            raise KeyError(f"${{{name}}}: {rest} (add it to tests/deployment.py's ENV_FILE_VALUES)")
        return values.get(name, "")

    return _VARIABLE.sub(one, value).replace("$$", "$")


def compose() -> dict[str, Any]:
    (document,) = documents(INFRA / "compose.yaml")
    return document


def compose_environment(service: str) -> dict[str, str]:
    """A compose service's environment as its container gets it."""
    raw = compose()["services"][service].get("environment") or {}
    return {name: interpolate(str(value), ENV_FILE_VALUES) for name, value in raw.items()}


def required_settings(environment: dict[str, str]) -> set[str]:
    """The variables production start-up cannot do without, among those ``environment`` sets:
    each one left out in turn, ``load_settings`` refuses to start. ``environment`` itself must
    start (so a required setting it lacks fails here, named by the settings' own message)."""
    load_settings(environment)
    required = {"MOTCUA_ENV"}  # without it the process is a development one, not a failed start
    for name in environment:
        try:
            load_settings({k: v for k, v in environment.items() if k != name})
        except SettingsError:
            required.add(name)
    return required


def containerfile() -> list[tuple[str, str]]:
    """The image's instructions, continuation lines joined: (INSTRUCTION, arguments)."""
    text = (INFRA / "Containerfile").read_text(encoding="utf-8")
    joined = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    )
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def image_environment() -> dict[str, str]:
    """The ``ENV`` the image sets (``ENV A=1 B=2`` form)."""
    env: dict[str, str] = {}
    for instruction, arguments in containerfile():
        if instruction == "ENV":
            env.update(item.split("=", 1) for item in arguments.split())  # type: ignore[misc]
    return env


def kubernetes() -> list[dict[str, Any]]:
    """Every object of infra/k8s/*.yaml (custom-domains/ holds per-domain examples)."""
    return [d for path in sorted((INFRA / "k8s").glob("*.yaml")) for d in documents(path)]
