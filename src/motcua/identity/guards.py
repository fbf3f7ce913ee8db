"""Route guards. A role is only ever read from the session of the current site, so a role in
one tenant grants nothing in another (sessions are bound to their site)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from motcua.core.dependencies import user_of
from motcua.identity.models import Role
from motcua.identity.sessions import UserSession


def _user(connection: ASGIConnection[Any, Any, Any, Any]) -> UserSession:
    user = user_of(connection)
    if not isinstance(user, UserSession):
        raise NotAuthorizedException("login required")
    return user


def requires_login(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _user(connection)


def _requires(role: Role) -> Any:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not _user(connection).has(role):
            raise PermissionDeniedException(f"requires {role}")

    guard.__name__ = f"requires_{role.value}"
    return guard


requires_officer = _requires(Role.OFFICER)
requires_tenant_admin = _requires(Role.TENANT_ADMIN)
requires_platform_admin = _requires(Role.PLATFORM_ADMIN)
