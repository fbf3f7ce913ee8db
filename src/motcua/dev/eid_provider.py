"""Development e-ID provider: a small OpenID Connect provider standing in for the national
digital identity (VNeID) in development (``make run``) and tests.

It is a stand-in only. ``app.py`` registers this router only when ``settings.dev_services`` is
on, and the settings refuse dev services in production, so it can never answer there. It
answers on ``eid.<platform domain>`` (the tenant middleware moves those paths under
``/dev-eid``); its issuer is ``settings.dev_eid_issuer``.

Still, it behaves like a real provider so the app's OIDC client talks to it unchanged:
discovery, JWKS, authorization code flow with PKCE (S256, required), ``state`` and ``nonce``
required, one confidential client (``motcua-dev``) authenticated by ``client_secret_basic`` or
``client_secret_post``, RS256 ID tokens, userinfo, RP-initiated logout and RFC 6749 error
responses. There are no passwords: the authorization page lists the test people of
``motcua.dev.people`` and one click signs in as that person.

State: the RSA signing key is kept in ``<data dir>/dev-eid/signing-key.json`` (0600) so tokens
stay verifiable across restarts; authorization codes (60 s, single use) and access tokens
(10 min) live in Redis under ``dev-eid:``, stored by their SHA-256 so a Redis dump holds no
usable credential. Secrets, codes and tokens are never logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

import anyio.to_thread
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from litestar import Request, Router, get, post, route
from litestar.di import NamedDependency
from litestar.response import Redirect, Response
from redis.asyncio import Redis

from motcua.core.pages import page
from motcua.core.settings import Settings
from motcua.dev.people import DEV_USERS, DevUser, dev_user
from motcua.identity.services import DEV_CLIENT_ID as CLIENT_ID
from motcua.identity.services import dev_client_credentials

log = logging.getLogger(__name__)

HttpRequest = Request[Any, Any, Any]

CLIENT_NAME = "Cổng dịch vụ công Một cửa (môi trường phát triển)"
CODE_TTL = 60
ACCESS_TOKEN_TTL = 600
ID_TOKEN_TTL = 600
SCOPES = ("openid", "profile", "email", "phone", "address", "personal_id")
CLAIMS = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "birthdate",
    "gender",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "personal_id",
)
SCOPE_LABELS = {
    "openid": "mã định danh tài khoản",
    "profile": "họ tên, ngày sinh, giới tính",
    "email": "thư điện tử",
    "phone": "số điện thoại",
    "address": "địa chỉ",
    "personal_id": "số định danh cá nhân",
}

CODE_PREFIX = "dev-eid:code:"
USED_CODE_PREFIX = "dev-eid:used-code:"
TOKEN_PREFIX = "dev-eid:token:"  # noqa: S105 — a Redis key prefix, not a secret

# Parameters of an authorization request that the consent form carries as hidden fields.
AUTHORIZATION_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)
_MAX_PARAMETER_LENGTH = 2048
_CALLBACK_PATH = "/auth/callback"
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ---------------------------------------------------------------------------------------------
# Client, keys, discovery
# ---------------------------------------------------------------------------------------------


def signing_key_path(settings: Settings) -> Path:
    return settings.data_dir / "dev-eid" / "signing-key.json"


def load_signing_key(settings: Settings) -> RSAKey:
    """The provider's RSA-2048 signing key: read from the data folder, or made once and kept.

    Safe when several workers start together: the key is written to a private temporary file
    and hard-linked into place, so exactly one key wins and nobody reads a half-written file.
    """
    path = signing_key_path(settings)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    key.ensure_kid()  # RFC 7638 thumbprint: stable for this key, different for any other
    payload = json.dumps(key.as_dict(private=True)).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another worker was first: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> RSAKey:
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        key = RSAKey.import_key(data)
    except (JoseError, ValueError, TypeError) as exc:
        raise RuntimeError(f"{path}: not a usable signing key; delete it to make a new one") from exc
    if not key.is_private or not key.kid:
        raise RuntimeError(f"{path}: not a usable signing key; delete it to make a new one")
    return key


class SigningKey:
    """The signing key of one app, loaded (or made) on first use and kept; handlers get it as
    the ``dev_eid_key`` dependency, which ``app.py`` registers when dev services are on."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._key: RSAKey | None = None

    async def get(self) -> RSAKey:
        if self._key is None:
            self._key = await anyio.to_thread.run_sync(load_signing_key, self._settings)
        return self._key


def public_jwks(key: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def discovery_document(settings: Settings) -> dict[str, Any]:
    issuer = settings.dev_eid_issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "userinfo_endpoint": issuer + "/userinfo",
        "jwks_uri": issuer + "/jwks",
        "end_session_endpoint": issuer + "/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(SCOPES),
        "claims_supported": list(CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["vi"],
    }


# ---------------------------------------------------------------------------------------------
# Redirect URIs
# ---------------------------------------------------------------------------------------------


def _host_under(settings: Settings, uri: str, *, allow_bare_domain: bool) -> bool:
    """True when ``uri`` is a plain http(s) URL on the platform domain (or one of its subdomains)."""
    if not uri.isascii() or any(ch.isspace() or ch in '\\"<>' for ch in uri):
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.fragment or "@" in parts.netloc:
        return False
    host = (parts.hostname or "").rstrip(".")
    domain = settings.platform_domain
    if host == domain:
        return allow_bare_domain
    if not host.endswith("." + domain):
        return False
    return all(_HOST_LABEL.match(label) for label in host[: -len(domain) - 1].split("."))


def is_allowed_redirect_uri(settings: Settings, uri: str) -> bool:
    """``http(s)://<sub>.<platform domain>[:port]/auth/callback`` and nothing else (no query)."""
    if not _host_under(settings, uri, allow_bare_domain=False):
        return False
    parts = urlsplit(uri)
    return parts.path == _CALLBACK_PATH and not parts.query and not uri.endswith("?")


def is_allowed_post_logout_redirect_uri(settings: Settings, uri: str) -> bool:
    """Any http(s) URL whose host is the platform domain or under it."""
    return _host_under(settings, uri, allow_bare_domain=True)


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    if not query:
        return uri
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"


# ---------------------------------------------------------------------------------------------
# Authorization requests
# ---------------------------------------------------------------------------------------------


class _ShowError(Exception):
    """The client or its redirect URI cannot be trusted: show a page, never redirect."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _RedirectError(Exception):
    """An error the client learns about at its (validated) redirect URI."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True, slots=True)
class _AuthorizationRequest:
    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str
    scopes: tuple[str, ...]
    hidden: tuple[tuple[str, str], ...]


def _collect(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in items:
        if isinstance(value, str):
            params.setdefault(name, []).append(value)
    return params


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    """A parameter's value; None when absent or empty. Repeated → ValueError (RFC 6749 §3.1)."""
    values = params.get(name, [])
    if len(values) > 1:
        raise ValueError(name)
    value = values[0] if values else ""
    if len(value) > _MAX_PARAMETER_LENGTH:
        raise ValueError(name)
    return value or None


def _validate_authorization(settings: Settings, params: Mapping[str, list[str]]) -> _AuthorizationRequest:
    try:
        client_id = _one(params, "client_id")
        redirect_uri = _one(params, "redirect_uri")
    except ValueError:
        raise _ShowError("Tham số client_id hoặc redirect_uri bị lặp hoặc quá dài.") from None
    if client_id is None:
        raise _ShowError("Yêu cầu thiếu mã ứng dụng (client_id).")
    if client_id != CLIENT_ID:
        raise _ShowError("Ứng dụng yêu cầu đăng nhập chưa được đăng ký với nhà cung cấp định danh này.")
    if redirect_uri is None:
        raise _ShowError("Yêu cầu thiếu địa chỉ chuyển hướng (redirect_uri).")
    if not is_allowed_redirect_uri(settings, redirect_uri):
        raise _ShowError("Địa chỉ chuyển hướng (redirect_uri) không được đăng ký cho ứng dụng này.")

    raw_state = params.get("state", [])
    state = raw_state[0] if len(raw_state) == 1 and 0 < len(raw_state[0]) <= _MAX_PARAMETER_LENGTH else None

    def fail(error: str, description: str) -> _RedirectError:
        return _RedirectError(error, description, redirect_uri, state)

    try:
        values = {name: _one(params, name) for name in (*AUTHORIZATION_PARAMETERS, "prompt")}
    except ValueError as exc:
        raise fail("invalid_request", f"parameter {exc} repeated or too long") from None
    if "request" in params:
        raise fail("request_not_supported", "request objects are not supported")
    if "request_uri" in params:
        raise fail("request_uri_not_supported", "request_uri is not supported")
    response_type = values["response_type"]
    if response_type is None:
        raise fail("invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    requested = (values["scope"] or "").split()
    if "openid" not in requested:
        raise fail("invalid_scope", "scope must include openid")
    if state is None:
        raise fail("invalid_request", "state is required")
    nonce = values["nonce"]
    if nonce is None:
        raise fail("invalid_request", "nonce is required")
    code_challenge = values["code_challenge"]
    if code_challenge is None:
        raise fail("invalid_request", "code_challenge is required (PKCE)")
    if values["code_challenge_method"] != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not _S256_CHALLENGE.match(code_challenge):
        raise fail("invalid_request", "code_challenge is not a base64url SHA-256 digest")
    if "none" in (values["prompt"] or "").split():
        raise fail("login_required", "the development provider always asks whom to sign in as")
    scopes = tuple(s for s in SCOPES if s in requested)
    hidden = tuple((name, value) for name in AUTHORIZATION_PARAMETERS if (value := values[name]) is not None)
    return _AuthorizationRequest(redirect_uri, state, nonce, code_challenge, scopes, hidden)


def _message_page(
    request: HttpRequest, status: int, title: str, message: str, link: tuple[str, str] | None = None
) -> Response[str]:
    return page(
        request,
        "identity/dev_message.html",
        status_code=status,
        headers=_PAGE_HEADERS,
        title=title,
        message=message,
        link=link,
    )


def _error_redirect(exc: _RedirectError, issuer: str) -> Redirect:
    params = {"error": exc.error, "error_description": exc.description, "state": exc.state, "iss": issuer}
    return Redirect(_with_query(exc.redirect_uri, params), status_code=303, headers=_NO_STORE)


@get("/", include_in_schema=False)
async def index(request: HttpRequest) -> Response[str]:
    return _message_page(
        request,
        200,
        "Định danh điện tử (môi trường phát triển)",
        "Nhà cung cấp định danh giả lập, chỉ dùng khi phát triển và kiểm thử.",
        ("/.well-known/openid-configuration", "Tài liệu cấu hình OpenID Connect"),
    )


@get("/.well-known/openid-configuration", include_in_schema=False)
async def openid_configuration(settings: NamedDependency[Settings]) -> Response[dict[str, Any]]:
    return Response(discovery_document(settings), headers={"Cache-Control": "no-cache"})


@get("/jwks", include_in_schema=False)
async def jwks(dev_eid_key: NamedDependency[SigningKey]) -> Response[dict[str, Any]]:
    key = await dev_eid_key.get()
    return Response(
        public_jwks(key),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "no-cache"},
    )


@get("/authorize", include_in_schema=False)
async def authorize_form(
    request: HttpRequest, settings: NamedDependency[Settings]
) -> Response[str] | Redirect:
    try:
        auth = _validate_authorization(settings, _collect(request.query_params.multi_items()))
    except _ShowError as exc:
        return _message_page(request, 400, "Yêu cầu đăng nhập không hợp lệ", exc.message)
    except _RedirectError as exc:
        return _error_redirect(exc, settings.dev_eid_issuer)
    return page(
        request,
        "identity/dev_authorize.html",
        headers=_PAGE_HEADERS,
        client_name=CLIENT_NAME,
        scope_labels=[SCOPE_LABELS[s] for s in auth.scopes],
        hidden=auth.hidden,
        people=DEV_USERS,
    )


@post("/authorize", include_in_schema=False, status_code=303)
async def authorize_submit(
    request: HttpRequest, settings: NamedDependency[Settings], redis: NamedDependency[Redis]
) -> Response[str] | Redirect:
    form = _collect((await request.form()).multi_items())
    try:
        auth = _validate_authorization(settings, form)
    except _ShowError as exc:
        return _message_page(request, 400, "Yêu cầu đăng nhập không hợp lệ", exc.message)
    except _RedirectError as exc:
        return _error_redirect(exc, settings.dev_eid_issuer)
    issuer = settings.dev_eid_issuer
    if form.get("action") == ["cancel"]:
        params = {"error": "access_denied", "error_description": "the user cancelled", "state": auth.state}
        return Redirect(
            _with_query(auth.redirect_uri, {**params, "iss": issuer}), status_code=303, headers=_NO_STORE
        )
    chosen = form.get("user", [])
    user = dev_user(chosen[0]) if len(chosen) == 1 else None
    if user is None:
        return _message_page(
            request, 400, "Yêu cầu đăng nhập không hợp lệ", "Chưa chọn người dùng thử nghiệm hợp lệ."
        )
    code = secrets.token_urlsafe(32)
    record = {
        "client_id": CLIENT_ID,
        "redirect_uri": auth.redirect_uri,
        "code_challenge": auth.code_challenge,
        "nonce": auth.nonce,
        "scope": " ".join(auth.scopes),
        "sub": user.sub,
        "auth_time": int(time.time()),
    }
    await redis.set(CODE_PREFIX + _digest(code), json.dumps(record), ex=CODE_TTL)
    log.info("dev e-ID: %s signed in for client %s", user.sub, CLIENT_ID)
    return Redirect(
        _with_query(auth.redirect_uri, {"code": code, "state": auth.state, "iss": issuer}),
        status_code=303,
        headers=_NO_STORE,
    )


# ---------------------------------------------------------------------------------------------
# Token and userinfo (back channel)
# ---------------------------------------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _oauth_error(
    error: str, description: str, status: int = 400, headers: Mapping[str, str] | None = None
) -> Response[dict[str, str]]:
    return Response(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
    )


def _invalid_client(description: str) -> Response[dict[str, str]]:
    return _oauth_error(
        "invalid_client", description, 401, {"WWW-Authenticate": 'Basic realm="dev-eid", charset="UTF-8"'}
    )


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``Authorization: Basic`` → (client_id, secret), each form-urlencoded (RFC 6749 §2.3.1)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _claims_for(user: DevUser, scopes: Iterable[str], *, id_token: bool) -> dict[str, Any]:
    """Profile claims by scope. The ID token carries only ``name`` and ``personal_id``; the rest
    (birthdate, gender, email, phone, address) comes from userinfo alone, so a client must use both."""
    granted = set(scopes)
    claims: dict[str, Any] = {}
    if "profile" in granted:
        claims["name"] = user.name
        if not id_token:
            claims["birthdate"] = user.birthdate.isoformat()
            claims["gender"] = user.gender
    if not id_token:
        if "email" in granted:
            claims["email"] = user.email
            claims["email_verified"] = True
        if "phone" in granted:
            claims["phone_number"] = user.phone_number
            claims["phone_number_verified"] = True
        if "address" in granted:
            claims["address"] = {"formatted": user.address, "country": "VN"}
    if "personal_id" in granted:
        claims["personal_id"] = user.personal_id
    return claims


@post("/token", include_in_schema=False, status_code=200, opt={"exclude_from_csrf": True})
async def token(
    request: HttpRequest,
    settings: NamedDependency[Settings],
    redis: NamedDependency[Redis],
    dev_eid_key: NamedDependency[SigningKey],
) -> Response[dict[str, Any]]:
    params = _collect((await request.form()).multi_items())
    try:
        values = {
            name: _one(params, name)
            for name in ("grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret")
        }
    except ValueError as exc:
        return _oauth_error("invalid_request", f"parameter {exc} repeated or too long")

    # Client authentication: exactly one method (RFC 6749 §2.3).
    header = request.headers.get("authorization")
    if header is not None:
        basic = _basic_credentials(header)
        if basic is None:
            return _invalid_client("unsupported or malformed Authorization header")
        if values["client_secret"] is not None:
            return _oauth_error("invalid_request", "use one client authentication method, not two")
        if values["client_id"] is not None and values["client_id"] != basic[0]:
            return _oauth_error("invalid_request", "client_id does not match the authenticated client")
        client_id, client_secret = basic
    elif values["client_id"] is not None and values["client_secret"] is not None:
        client_id, client_secret = values["client_id"], values["client_secret"]
    else:
        return _invalid_client("client authentication is required")
    expected_id, expected_secret = dev_client_credentials(settings)
    # Both compared in constant time, and both always compared.
    if not (_equal(client_id, expected_id) & _equal(client_secret, expected_secret)):
        return _invalid_client("client authentication failed")

    grant_type = values["grant_type"]
    if grant_type is None:
        return _oauth_error("invalid_request", "grant_type is required")
    if grant_type != "authorization_code":
        return _oauth_error("unsupported_grant_type", "only authorization_code is supported")
    code, redirect_uri, verifier = values["code"], values["redirect_uri"], values["code_verifier"]
    if code is None or redirect_uri is None:
        return _oauth_error("invalid_request", "code and redirect_uri are required")
    if verifier is None or not _CODE_VERIFIER.match(verifier):
        return _oauth_error("invalid_request", "code_verifier is required (43-128 unreserved characters)")

    code_key = _digest(code)
    raw = await redis.getdel(CODE_PREFIX + code_key)
    if raw is None:
        # A replayed code revokes what its first use issued (RFC 6749 §4.1.2).
        issued = await redis.getdel(USED_CODE_PREFIX + code_key)
        if issued is not None:
            await redis.delete(TOKEN_PREFIX + (issued.decode() if isinstance(issued, bytes) else issued))
            log.warning("dev e-ID: an authorization code was replayed; its access token is revoked")
        return _oauth_error("invalid_grant", "the authorization code is invalid, expired or already used")
    record: dict[str, Any] = json.loads(raw)
    if record["client_id"] != client_id:
        return _oauth_error("invalid_grant", "the authorization code was issued to another client")
    if record["redirect_uri"] != redirect_uri:
        return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
    if not _equal(_b64url(hashlib.sha256(verifier.encode("ascii")).digest()), record["code_challenge"]):
        return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
    user = dev_user(record["sub"])
    if user is None:
        return _oauth_error("invalid_grant", "the signed-in test person no longer exists")

    scopes: list[str] = record["scope"].split()
    access_token = secrets.token_urlsafe(32)
    token_key = _digest(access_token)
    grant = {"sub": user.sub, "scope": record["scope"], "client_id": client_id}
    await redis.set(TOKEN_PREFIX + token_key, json.dumps(grant), ex=ACCESS_TOKEN_TTL)
    await redis.set(USED_CODE_PREFIX + code_key, token_key, ex=ACCESS_TOKEN_TTL)

    key = await dev_eid_key.get()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.dev_eid_issuer,
        "sub": user.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + ID_TOKEN_TTL,
        "auth_time": record["auth_time"],
        "nonce": record["nonce"],
        "at_hash": _b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
        **_claims_for(user, scopes, id_token=True),
    }
    id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])
    log.info("dev e-ID: tokens issued to %s for %s", client_id, user.sub)
    return Response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "id_token": id_token,
            "scope": record["scope"],
        },
        headers=_NO_STORE,
    )


@route(
    "/userinfo",
    http_method=["GET", "POST"],
    include_in_schema=False,
    status_code=200,
    opt={"exclude_from_csrf": True},
)
async def userinfo(request: HttpRequest, redis: NamedDependency[Redis]) -> Response[dict[str, Any]]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        # No credentials at all: a bare challenge (RFC 6750 §3.1).
        return Response(
            {"error": "invalid_request", "error_description": "a bearer access token is required"},
            status_code=401,
            headers={**_NO_STORE, "WWW-Authenticate": 'Bearer realm="dev-eid"'},
        )
    raw = await redis.get(TOKEN_PREFIX + _digest(value.strip()))
    grant: dict[str, Any] | None = json.loads(raw) if raw is not None else None
    user = dev_user(grant["sub"]) if grant is not None else None
    if grant is None or user is None:
        return Response(
            {"error": "invalid_token", "error_description": "the access token is invalid or expired"},
            status_code=401,
            headers={
                **_NO_STORE,
                "WWW-Authenticate": 'Bearer realm="dev-eid", error="invalid_token", '
                'error_description="the access token is invalid or expired"',
            },
        )
    claims = {"sub": user.sub, **_claims_for(user, grant["scope"].split(), id_token=False)}
    return Response(claims, headers=_NO_STORE)


# ---------------------------------------------------------------------------------------------
# Logout
# ---------------------------------------------------------------------------------------------


def _id_token_hint_ok(settings: Settings, key: RSAKey, hint: str, client_id: str | None) -> bool:
    """Signed by us for our client (an expired hint is still a fine hint)."""
    try:
        claims = jwt.decode(hint, key, algorithms=["RS256"]).claims
    except (JoseError, ValueError):
        return False
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return (
        claims.get("iss") == settings.dev_eid_issuer
        and CLIENT_ID in audiences
        and (client_id is None or client_id in audiences)
    )


@route(
    "/logout",
    http_method=["GET", "POST"],
    include_in_schema=False,
    status_code=200,
    opt={"exclude_from_csrf": True},  # nothing to protect: the provider keeps no session
)
async def logout(
    request: HttpRequest, settings: NamedDependency[Settings], dev_eid_key: NamedDependency[SigningKey]
) -> Response[str] | Redirect:
    if request.method == "POST":
        params = _collect((await request.form()).multi_items())
    else:
        params = _collect(request.query_params.multi_items())
    try:
        hint = _one(params, "id_token_hint")
        target = _one(params, "post_logout_redirect_uri")
        state = _one(params, "state")
        client_id = _one(params, "client_id")
    except ValueError:
        hint = target = state = client_id = None
    trusted = client_id in (None, CLIENT_ID)
    if trusted and hint is not None:
        trusted = _id_token_hint_ok(settings, await dev_eid_key.get(), hint, client_id)
    if target is not None and trusted and is_allowed_post_logout_redirect_uri(settings, target):
        return Redirect(_with_query(target, {"state": state}), status_code=303, headers=_NO_STORE)
    return _message_page(
        request,
        200,
        "Đã đăng xuất",
        "Bạn đã đăng xuất khỏi định danh điện tử (môi trường phát triển). Có thể đóng cửa sổ này.",
    )


router = Router(
    path="/dev-eid",
    route_handlers=[
        index,
        openid_configuration,
        jwks,
        authorize_form,
        authorize_submit,
        token,
        userinfo,
        logout,
    ],
)
