"""Structure guards: things that silently rot when nobody checks them."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

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


def _named_in_source(call: str, position: int, keyword: str) -> set[str]:
    """Constant arguments given to ``call`` (by position or keyword) anywhere in src/motcua."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name != call:
                continue
            values = [k.value for k in node.keywords if k.arg == keyword]
            if 0 <= position < len(node.args):
                values.append(node.args[position])
            found.update(v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return found


def worker_declarations() -> tuple[set[str], set[str]]:
    """(queues, actors) that a real worker process declares, from a fresh interpreter that only
    does what ``dramatiq motcua.worker`` does: import the worker module."""
    script = (
        "import json, motcua.worker as w; b = w.broker; "
        "print(json.dumps([sorted(b.get_declared_queues()), sorted(b.get_declared_actors())]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    queues, actors = json.loads(out.stdout.strip().splitlines()[-1])
    return set(queues), set(actors)


def test_every_queue_and_actor_named_in_the_code_is_served_by_the_worker(live_settings: Settings) -> None:
    # Queue and actor names are strings in decorators, event subscriptions (the outbox stores
    # them) and periodic jobs: a typo, or a module the worker does not load, would leave
    # messages in Redis that no process ever takes. (The check this replaced asked the test
    # process's own broker, which declares a queue for every actor it is shown: it could not fail.)
    queues, actors = worker_declarations()
    named_queues = _named_in_source("actor", -1, "queue_name") | _named_in_source(
        "Subscriber", 1, "queue_name"
    )
    named_actors = (
        _named_in_source("Subscriber", 0, "actor_name")
        | _named_in_source("actor", -1, "actor_name")
        | _named_in_source("PeriodicJob", 2, "actor_name")
    )
    assert {"notifications", "payments", "provisioning", "deadlines"} <= named_queues
    assert {"notify_citizen", "file_receipt", "deadline_scan"} <= named_actors
    assert named_queues - queues == set()
    assert named_actors - actors == set()


def test_the_worker_check_tells_a_missing_queue(live_settings: Settings) -> None:
    queues, actors = worker_declarations()
    assert "notifications" in queues and "notify_citizen" in actors
    assert {"notifications", "no-such-queue"} - queues == {"no-such-queue"}


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


def _doc(project_root: Path) -> str:
    return (project_root / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_architecture_doc_names_only_folders_that_exist(project_root: Path) -> None:
    pattern = r"`((?:src/motcua|themes|tenants|migrations|infra|bench|tests)[\w/.-]*)/`"
    named = set(re.findall(pattern, _doc(project_root)))
    assert named, "docs/architecture.md names no folders"
    missing = sorted(n for n in named if not (project_root / n).is_dir())
    assert missing == []


def package_entries(doc: str) -> dict[str, set[str]]:
    """``{package: modules named in its entry}`` from the doc's folder list."""
    folders = doc.split("## Folders", 1)[1].split("\n## ", 1)[0]
    entries: dict[str, set[str]] = {}
    for block in re.split(r"\n- ", folders):
        head = re.match(r"`src/motcua/(\w+)/`", block.lstrip("- "))
        if head:
            entries[head.group(1)] = set(re.findall(r"`(\w+)\.py`", block))
    return entries


def _modules(package: str) -> set[str]:
    return {m.stem for m in (SRC / package).glob("*.py") if m.stem != "__init__"}


def test_architecture_doc_lists_every_package_and_every_module(project_root: Path) -> None:
    # Every package has an entry naming each of its modules and no module that is gone: a new
    # module is a deliberate act the doc records. (This replaced a list of allowed file names
    # that had grown to hold every existing file, so it could not fail.)
    python_packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    # Folders of data (templates, translations) have entries too, without modules.
    entries = {k: v for k, v in package_entries(_doc(project_root)).items() if k in python_packages or v}
    assert set(entries) == python_packages
    for package, named in entries.items():
        assert named == _modules(package), package


def test_the_doc_check_tells_a_module_that_is_gone() -> None:
    doc = "## Folders\n- `src/motcua/core/` — settings (`settings.py`) and `ghost.py`.\n## Next\n"
    assert package_entries(doc) == {"core": {"settings", "ghost"}}
    assert package_entries(doc)["core"] - _modules("core") == {"ghost"}


def test_app_factory_builds(live_settings: Settings) -> None:
    from motcua.app import create_app

    assert isinstance(create_app(live_settings), Litestar)


def test_audit_rows_are_written_one_way() -> None:
    # Every audit row goes through core.audit's builders: one typed actor, one shape of row.
    writers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"insert\((PlatformAudit|TenantAudit)\)", path.read_text(encoding="utf-8"))
    )
    assert writers == ["core/audit.py"]


# Libraries a process loads with its first document signed or checked, or with files in a
# bucket, not at start: together about a fifth of importing the application (~0.8 s of every
# worker and scheduler process's start, and of each worker a test starts).
LOADED_ON_FIRST_USE = ("pyhanko", "pyhanko_certvalidator", "aiohttp", "boto3", "botocore")


def test_the_app_and_the_actors_import_no_signing_or_bucket_library() -> None:
    script = (
        "import importlib, sys\n"
        "import motcua.app, motcua.cli\n"
        "from motcua.core.broker import ACTOR_MODULES\n"
        "for name in ACTOR_MODULES: importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "motcua" in loaded.stdout.split()
    assert sorted(set(LOADED_ON_FIRST_USE) & set(loaded.stdout.split())) == []


def test_the_web_process_loads_the_signing_libraries_it_left_out_at_start() -> None:
    # The app's lifespan calls this while the process waits at the start gate: a name that is no
    # longer a module would stop every web process's start, so it is checked here first.
    from motcua.signing.services import LIBRARY_MODULES, load_signing_libraries

    load_signing_libraries()
    assert set(LIBRARY_MODULES) <= set(sys.modules)
    assert set(LOADED_ON_FIRST_USE) - {"boto3", "botocore"} <= {name.split(".")[0] for name in sys.modules}
