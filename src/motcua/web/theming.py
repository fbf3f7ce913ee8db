"""Templates per tenant theme: tenant theme → default theme → package templates (ChoiceLoader).

One Jinja environment per theme, built once and kept: templates compile once per process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)

from motcua.tenancy.schemas import Tenant

DEFAULT_THEME = "default"


def format_vnd(amount: int) -> str:
    """50000 → "50.000 ₫" (Vietnamese groups thousands with dots; VND has no minor unit)."""
    return f"{amount:,}".replace(",", ".") + " ₫"


class Themes:
    def __init__(
        self, themes_dir: Path, *, static_prefix: str = "/static", auto_reload: bool = False
    ) -> None:
        self.themes_dir = themes_dir
        self.static_prefix = static_prefix
        self.auto_reload = auto_reload
        self._envs: dict[str, Environment] = {}

    def known(self, theme: str) -> bool:
        return theme == DEFAULT_THEME or (self.themes_dir / theme).is_dir()

    def env(self, theme: str = DEFAULT_THEME) -> Environment:
        env = self._envs.get(theme)
        if env is None:
            env = self._envs[theme] = self._build(theme)
        return env

    def _build(self, theme: str) -> Environment:
        loaders: list[Any] = []
        if theme != DEFAULT_THEME and (self.themes_dir / theme / "templates").is_dir():
            loaders.append(FileSystemLoader(self.themes_dir / theme / "templates"))
        default = FileSystemLoader(self.themes_dir / DEFAULT_THEME / "templates")
        loaders.append(default)
        # "default/home.html" lets a theme extend the default template it overrides.
        loaders.append(PrefixLoader({DEFAULT_THEME: default}))
        loaders.append(PackageLoader("motcua", "templates"))
        env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            auto_reload=self.auto_reload,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["vnd"] = format_vnd
        env.globals["static"] = self.static_url
        env.globals["theme_name"] = theme
        return env

    def static_url(self, path: str, theme: str = DEFAULT_THEME) -> str:
        return f"{self.static_prefix}/{theme}/{path}"

    def render(self, template: str, *, tenant: Tenant | None = None, **context: Any) -> str:
        theme = tenant.theme if tenant is not None and self.known(tenant.theme) else DEFAULT_THEME
        branding = {"primary": "#0b5394", "accent": "#f1c232", "logo": None}
        if tenant is not None:
            branding.update(tenant.branding)
        context.setdefault("user", None)
        context.setdefault("csrf_token", "")
        context.setdefault("site", "tenant" if tenant is not None else None)
        context.setdefault("request_path", "/")
        return self.env(theme).get_template(template).render(tenant=tenant, branding=branding, **context)
