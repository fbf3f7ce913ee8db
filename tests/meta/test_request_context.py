"""Request context through dependency injection only.

Handlers get their tenant, user, settings, storage… as Litestar dependencies; only
``core/dependencies.py`` reads request state (``request.state``, ``connection.state``,
``scope["state"]``) or application state (``app.state``, ``request.app.state``). The two ASGI
middlewares that put the tenant, the site and the user into the scope state may write it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import motcua

SRC = Path(motcua.__file__).parent

ALLOWED = {
    "core/dependencies.py",  # the one reader
    "tenancy/resolution.py",  # writes tenant and site into the scope state
    "identity/middleware.py",  # writes the signed-in user into the scope state
}

# ``.state`` on these names (or on any ``.app``) is request or application state. Other
# ``state`` attributes are unrelated (the OAuth ``state`` of a login, ``exc.state``).
_HOLDERS = {"request", "connection", "app", "socket", "websocket"}


def _is_state_holder(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _HOLDERS
    return isinstance(node, ast.Attribute) and node.attr == "app"


def _is_scope(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "scope") or (
        isinstance(node, ast.Attribute) and node.attr == "scope"
    )


def _is_state_key(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "state"


def _is_state_access(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):  # request.state, connection.state, app.state, x.app.state
        return node.attr == "state" and _is_state_holder(node.value)
    if isinstance(node, ast.Subscript):  # scope["state"]
        return _is_scope(node.value) and _is_state_key(node.slice)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # scope.setdefault("state", …)
        return (
            node.func.attr in ("get", "setdefault", "pop")
            and _is_scope(node.func.value)
            and bool(node.args)
            and _is_state_key(node.args[0])
        )
    return False


def state_accesses(source: str, filename: str = "<source>") -> list[str]:
    """Every read or write of request or application state in ``source``, as ``file:line: code``."""
    found = sorted(
        (node.lineno, ast.unparse(node))
        for node in ast.walk(ast.parse(source, filename))
        if isinstance(node, ast.expr) and _is_state_access(node)
    )
    return [f"{filename}:{line}: {code}" for line, code in found]


def test_only_core_dependencies_reads_request_or_app_state() -> None:
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name not in ALLOWED:
            offenders += state_accesses(path.read_text(encoding="utf-8"), name)
    assert offenders == [], "take these as dependencies (core/dependencies.py) instead"


def test_the_allowed_modules_exist() -> None:
    # A renamed module would silently stop being checked for what it may do.
    for name in ALLOWED:
        assert (SRC / name).is_file(), name


def test_the_checker_sees_request_and_app_state() -> None:
    source = (
        "def handler(request, connection, scope):\n"
        "    user = request.state.user\n"
        "    tenant = connection.state.get('tenant')\n"
        "    settings = request.app.state.settings\n"
        "    state = scope['state']\n"
        "    scope.setdefault('state', {})\n"
        "    return user, tenant, settings, state\n"
        "def factory(app):\n"
        "    app.state.db = None\n"
    )
    assert state_accesses(source, "wrong.py") == [
        "wrong.py:2: request.state",
        "wrong.py:3: connection.state",
        "wrong.py:4: request.app.state",
        "wrong.py:5: scope['state']",
        "wrong.py:6: scope.setdefault('state', {})",
        "wrong.py:9: app.state",
    ]


def test_the_checker_leaves_other_state_attributes_alone() -> None:
    source = (
        "def authorize(auth, exc, self, params):\n"
        "    self.state = auth.state\n"
        "    return {'state': exc.state}, params.get('state')\n"
    )
    assert state_accesses(source) == []
