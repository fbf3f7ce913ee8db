"""Structure guards: things that silently rot when nobody checks them."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import dramatiq
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from jinja2 import Environment
from litestar import Litestar, Router

import motcua
from motcua.app import ROUTERS
from motcua.core.broker import ACTOR_MODULES
from motcua.core.settings import Settings
from motcua.core.theming import Themes

SRC = Path(motcua.__file__).parent
DOMAINS = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def test_one_alembic_head_per_branch(project_root: Path) -> None:
    script = ScriptDirectory.from_config(Config(str(project_root / "alembic.ini")))
    heads = script.get_heads()
    branches = {next(iter(script.get_revision(h).branch_labels)) for h in heads}
    assert len(heads) == 2
    assert branches == {"platform", "tenant"}


def test_every_domain_router_is_registered(live_settings: Settings) -> None:
    from motcua.app import routers_for

    # Development stand-ins (dev e-ID, mail inbox) are registered only with dev services on.
    registered = {id(r) for r in routers_for(live_settings)}
    assert live_settings.dev_services
    for name in DOMAINS:
        try:
            routes = importlib.import_module(f"motcua.{name}.routes")
        except ModuleNotFoundError:
            continue
        router = getattr(routes, "router", None)
        assert isinstance(router, Router), f"motcua.{name}.routes exports no `router`"
        assert id(router) in registered, f"motcua.{name}.routes.router is not registered by app.routers_for"
    assert ROUTERS


def test_every_actor_module_is_loaded_by_the_worker() -> None:
    declaring = {
        "motcua." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        for path in SRC.rglob("*.py")
        if "@dramatiq.actor" in path.read_text(encoding="utf-8")
    }
    assert declaring
    assert declaring <= set(ACTOR_MODULES)


def test_every_actor_queue_is_consumed_by_the_worker_broker(live_settings: Settings) -> None:
    for module in ACTOR_MODULES:
        importlib.import_module(module)
    broker = dramatiq.get_broker()
    for name in broker.get_declared_actors():
        actor = broker.get_actor(name)
        assert actor.queue_name in broker.get_declared_queues(), name


def _all_templates(themes: Themes) -> list[str]:
    env: Environment = themes.env("default")
    return [t for t in env.list_templates() if t.endswith(".html") and not t.startswith("default/")]


def test_every_template_parses_in_every_theme(project_root: Path) -> None:
    themes = Themes(project_root / "themes")
    names = [p.name for p in (project_root / "themes").iterdir() if p.is_dir()]
    for theme in names:
        env = themes.env(theme)
        for template in _all_templates(themes):
            env.get_template(template)  # raises on a syntax error or a missing parent


def test_architecture_doc_names_only_folders_that_exist(project_root: Path) -> None:
    doc = (project_root / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:src/motcua|themes|tenants|migrations|infra|bench|tests)[\w/.-]*)/`", doc))
    assert named, "docs/architecture.md names no folders"
    missing = sorted(n for n in named if not (project_root / n).is_dir())
    assert missing == []


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_packages_use_the_house_file_names(name: str) -> None:
    allowed = {
        "__init__",
        "models",
        "services",
        "schemas",
        "routes",
        "jobs",
        "resolution",
        "migrate",
        "events",
        "text",
        "theming",
        "errors",
        "settings",
        "db",
        "cli",
        "logging",
        "embedded",
        "broker",
        "dependencies",
        "security",
        "pages",
        "oidc",
        "sessions",
        "guards",
        "middleware",
        "devprovider",
        "dev_users",
        "deadlines",
        "slip",
        "uploads",
        "storage",
        "forms",
        "lifecycle",
        "provider",
        "standin",
        "mailer",
        "sms",
        "templates",
        "mailcatcher",
        "scheduler",
        "receipts",
        "refunds",
        "reports",
    }
    for module in (SRC / name).glob("*.py"):
        assert module.stem in allowed, f"{module} — add new module names deliberately"


def test_app_factory_builds(live_settings: Settings) -> None:
    from motcua.app import create_app

    assert isinstance(create_app(live_settings), Litestar)
