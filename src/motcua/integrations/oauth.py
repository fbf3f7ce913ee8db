"""The token endpoint: Authlib's authorization server (RFC 6749 §4.4, client credentials) adapted
to Litestar.

Authlib has no Litestar integration, and its server is synchronous while our database is not, so
the adapter works in two steps: the handler reads the form and loads the one client the request
names (HTTP Basic or ``client_id`` in the body) asynchronously, then hands Authlib a request
object and a server whose ``query_client`` answers from that preloaded row. Authlib does the
protocol: grant type, client authentication (``client_secret_basic``, ``client_secret_post``),
scope checks and RFC 6749 §5.2 error bodies; the access token is ours (integrations.tokens).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from litestar.response import Response

from motcua.integrations.auth import SCOPES
from motcua.integrations.clients import secret_matches
from motcua.integrations.models import ApiClientRow
from motcua.integrations.tokens import LIFETIME_SECONDS

AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of one active API client."""

    def __init__(self, row: ApiClientRow) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(secret_matches(str(client_secret), self.row.secret_hash))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = list(self.row.scopes)
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: Mapping[str, list[str]]) -> None:
        self._datalist = defaultdict(list, {k: list(v) for k, v in form.items()})
        self._data = {k: v[0] for k, v in form.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class LitestarOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An already-read Litestar request as Authlib wants it."""

    def __init__(self, *, method: str, uri: str, headers: Mapping[str, str], form: Mapping[str, list[str]]):
        super().__init__(method=method, uri=uri, headers=headers)
        self._form = {k: v[0] for k, v in form.items() if v}
        self.payload = _Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        # A client may narrow its scopes, never widen them (RFC 6749 §3.3).
        requested = scope_to_list(self.request.payload.scope) or []
        allowed = set(self.request.client.row.scopes)
        if not set(requested) <= allowed:
            raise InvalidScopeError()


TokenMaker = Callable[[ApiClientRow, list[str]], str]


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server: knows only the client that request named."""

    def __init__(self, client: ApiClientRow | None, make_token: TokenMaker) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._client = client
        self._make_token = make_token
        self.issued: tuple[ApiClientRow, list[str]] | None = None
        self.register_grant(_ClientCredentials)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        if self._client is not None and client_id == self._client.client_id:
            return RegisteredClient(self._client)
        return None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: the token is a signed JWT, checked against the client row on use."""

    def _generate(
        self,
        grant_type: str,
        client: RegisteredClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        scopes = scope_to_list(client.get_allowed_scope(scope)) or []
        self.issued = (client.row, scopes)
        return {
            "access_token": self._make_token(client.row, scopes),
            "token_type": "Bearer",
            "expires_in": LIFETIME_SECONDS,
            "scope": " ".join(scopes),
        }

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response[Any]:
        content = body if isinstance(body, str) else json.dumps(body)
        merged = {k: v for k, v in headers if k.lower() != "content-type"}
        # RFC 6749 §5.1: token responses are never cached.
        merged.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
        return Response(content, status_code=status, media_type="application/json", headers=merged)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for framework signals: nothing listens here."""


def named_client_id(headers: Mapping[str, str], form: Mapping[str, list[str]]) -> str | None:
    """The client id the request names (HTTP Basic first, as Authlib tries it first)."""
    basic_id, _secret = extract_basic_authorization(headers)
    if basic_id:
        return str(basic_id)
    values = form.get("client_id") or []
    return values[0] if values else None
