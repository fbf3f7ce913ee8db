"""The OpenID Connect client: authorization code flow with PKCE (S256), Authlib for the OAuth
exchange, joserfc for ID token verification.

``state`` and ``nonce`` are kept server-side in Redis and consumed once (GETDEL), and the
state is bound to the browser that started the login by a short-lived cookie, so a callback
URL replayed or carried to another browser is refused. Discovery documents and JWKS are cached
per issuer; a token signed with an unknown ``kid`` triggers one JWKS refetch (key rotation).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import redis.asyncio as aioredis
from authlib.integrations.base_client import OAuthError

with warnings.catch_warnings():
    # Authlib announces on import that its httpx integration will move to a package named
    # httpx2; the integration works as it is, and the announcement would otherwise be printed
    # by every command that loads the job actors (`motcua tenants list` included).
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from motcua.core.security import digest

log = logging.getLogger(__name__)

PERSONAL_ID = re.compile(r"^\d{12}$")
ALGORITHMS = ["RS256", "PS256", "ES256"]
_STATE_PREFIX = "oidc:state:"
_TRIAL_PREFIX = "oidc:trial:"
STATE_TTL = 600
LOGIN_COOKIE = "motcua_login"


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    personal_id_claim: str
    display_name: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"ProviderConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


class LoginError(Exception):
    """A login that cannot complete; ``code`` selects the page shown to the person."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PendingLogin:
    site: str
    issuer: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_path: str
    browser: str
    # A test login from the settings pages: the slug of the tenant whose provider is tried.
    # Its callback signs nobody in (identity.routes); None for every real login.
    tested_tenant: str | None = None


@dataclass(frozen=True)
class TrialOutcome:
    """How a test login of ``tenant``'s provider ended: ``masked_personal_id`` when it worked,
    else the ``LoginError`` code and detail, for the settings page to explain."""

    tenant: str
    ok: bool
    masked_personal_id: str = ""
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    personal_id: str
    claims: dict[str, Any]
    id_token: str
    end_session_endpoint: str | None


class LoopbackNames(httpx.AsyncBaseTransport):
    """Resolves ``*.localhost`` to the loopback address, as browsers do (RFC 6761), so the
    development e-ID provider at ``eid.localhost`` is reachable from the server too."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.host.endswith(".localhost"):
            return await self.inner.handle_async_request(request)
        # A copy goes to the socket; the original request (and so cookie handling and
        # redirects) keeps the real host name, and the Host header is unchanged.
        loopback = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1"),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self.inner.handle_async_request(loopback)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class OidcClient:
    METADATA_TTL = 3600.0

    def __init__(self, redis: aioredis.Redis, *, timeout: float) -> None:
        self.redis = redis
        self.timeout = timeout
        self.transport = LoopbackNames()
        self.http = httpx.AsyncClient(transport=self.transport, timeout=timeout)
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, KeySet]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    # Provider documents ------------------------------------------------------------------------
    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url, headers={"accept": "application/json"})
        except httpx.TimeoutException:
            raise LoginError("unreachable", f"{what}: timed out") from None
        except httpx.HTTPError as exc:
            raise LoginError("unreachable", f"{what}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LoginError("unreachable", f"{what}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise LoginError("unreachable", f"{what}: not JSON") from None
        if not isinstance(data, dict):
            raise LoginError("unreachable", f"{what}: not a JSON object")
        return data

    async def metadata(self, issuer: str) -> dict[str, Any]:
        cached = self._metadata.get(issuer)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        data = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
        if data.get("issuer") != issuer:
            raise LoginError("unreachable", "discovery: issuer does not match")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise LoginError("unreachable", f"discovery: no {key}")
        self._metadata[issuer] = (time.monotonic() + self.METADATA_TTL, data)
        return data

    async def _keys(self, issuer: str, *, refresh: bool = False) -> KeySet:
        # No throttle on refresh: ID tokens only ever come from the provider's own token
        # endpoint over the back channel, so an unknown kid cannot be forced on us by a browser.
        cached = self._jwks.get(issuer)
        now = time.monotonic()
        if cached is not None and not refresh:
            return cached[1]
        meta = await self.metadata(issuer)
        data = await self._get_json(meta["jwks_uri"], "jwks")
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError):
            raise LoginError("unreachable", "jwks: unusable key set") from None
        self._jwks[issuer] = (now, keys)
        return keys

    # Login -------------------------------------------------------------------------------------
    def _oauth(self, provider: ProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope=provider.scopes,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            code_challenge_method="S256",
            transport=self.transport,
            timeout=self.timeout,
        )

    async def begin(
        self,
        provider: ProviderConfig,
        *,
        site: str,
        redirect_uri: str,
        next_path: str,
        tested_tenant: str | None = None,
    ) -> tuple[str, str]:
        """Returns the provider URL to send the browser to, and the browser-binding value to
        put in the login cookie."""
        meta = await self.metadata(provider.issuer)
        state = secrets.token_urlsafe(32)
        pending = PendingLogin(
            site=site,
            issuer=provider.issuer,
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            redirect_uri=redirect_uri,
            next_path=next_path,
            browser=secrets.token_urlsafe(24),
            tested_tenant=tested_tenant,
        )
        stored = {**pending.__dict__, "browser": digest(pending.browser)}
        await self.redis.set(_STATE_PREFIX + digest(state), json.dumps(stored), ex=STATE_TTL)
        client = self._oauth(provider, redirect_uri)
        try:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"],
                state=state,
                nonce=pending.nonce,
                code_verifier=pending.code_verifier,
            )
        finally:
            await client.aclose()
        return url, pending.browser

    async def take_pending(self, state: str | None, browser: str | None, site: str) -> PendingLogin:
        """Consume the login started with this state: single use, same browser, same site."""
        if not state or len(state) > 200:
            raise LoginError("state", "missing state")
        raw = await self.redis.getdel(_STATE_PREFIX + digest(state))
        if raw is None:
            raise LoginError("state", "unknown, expired or already used state")
        data = json.loads(raw)
        if not browser or digest(browser) != data["browser"]:
            raise LoginError("state", "state started in another browser")
        if data["site"] != site:
            raise LoginError("state", "state started on another portal")
        return PendingLogin(**data)

    async def keep_trial_outcome(self, outcome: TrialOutcome) -> str:
        """Store a test login's outcome for the settings page the browser is sent back to; the
        returned reference is unguessable and the page also checks whose outcome it is."""
        ref = secrets.token_urlsafe(24)
        await self.redis.set(_TRIAL_PREFIX + digest(ref), json.dumps(outcome.__dict__), ex=STATE_TTL)
        return ref

    async def trial_outcome(self, ref: str | None) -> TrialOutcome | None:
        if not ref or len(ref) > 100:
            return None
        raw = await self.redis.get(_TRIAL_PREFIX + digest(ref))
        return None if raw is None else TrialOutcome(**json.loads(raw))

    async def finish(self, provider: ProviderConfig, pending: PendingLogin, code: str) -> VerifiedIdentity:
        if provider.issuer != pending.issuer:
            raise LoginError("state", "identity provider changed during login")
        meta = await self.metadata(provider.issuer)
        client = self._oauth(provider, pending.redirect_uri)
        try:
            token = await client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
            )
        except OAuthError as exc:
            raise LoginError("token", f"token endpoint refused: {exc.error}") from None
        except httpx.TimeoutException:
            raise LoginError("unreachable", "token endpoint timed out") from None
        except httpx.HTTPError as exc:
            raise LoginError("unreachable", f"token endpoint: {type(exc).__name__}") from None
        except ValueError:
            raise LoginError("token", "token endpoint answered with something that is not a token") from None
        finally:
            await client.aclose()
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginError("token", "no id_token in the token response")
        claims = await self.verify_id_token(provider, id_token, nonce=pending.nonce)
        access_token = token.get("access_token")
        merged = dict(claims)
        if meta.get("userinfo_endpoint") and access_token:
            # Providers keep scope claims (address, contact, birth date — used to prefill forms)
            # out of the ID token; userinfo has them. The ID token's own claims win on conflict.
            userinfo = await self._userinfo(meta["userinfo_endpoint"], str(access_token), claims["sub"])
            merged = {**userinfo, **claims}
        personal_id = merged.get(provider.personal_id_claim)
        if personal_id is None:
            raise LoginError("personal_id", f"claim {provider.personal_id_claim!r} not provided")
        if not isinstance(personal_id, str) or not PERSONAL_ID.match(personal_id):
            raise LoginError("personal_id", "personal ID is not 12 digits")
        return VerifiedIdentity(
            issuer=provider.issuer,
            subject=claims["sub"],
            personal_id=personal_id,
            claims=merged,
            id_token=id_token,
            end_session_endpoint=meta.get("end_session_endpoint"),
        )

    async def verify_id_token(self, provider: ProviderConfig, id_token: str, *, nonce: str) -> dict[str, Any]:
        try:
            header = _b64json(id_token.split(".")[0])
        except (ValueError, IndexError):
            raise LoginError("token", "id_token is not a JWT") from None
        kid = header.get("kid")
        keys = await self._keys(provider.issuer)
        if kid is not None and not any(k.kid == kid for k in keys):
            keys = await self._keys(provider.issuer, refresh=True)
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except JoseError as exc:
            raise LoginError("token", f"id_token signature: {type(exc).__name__}") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(token.claims)
        except ExpiredTokenError:
            raise LoginError("token", "id_token expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            claim = str(getattr(exc, "claim", "")) or str(exc)
            if "aud" in claim:
                raise LoginError("audience", "id_token is meant for another client") from None
            if "nonce" in claim:
                raise LoginError("token", "id_token nonce does not match") from None
            raise LoginError("token", f"id_token claim: {claim}") from None
        # With several audiences, the authorized party must be us (OIDC Core 3.1.3.7).
        aud = token.claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and token.claims.get("azp") != provider.client_id:
            raise LoginError("audience", "id_token azp is not this client")
        return dict(token.claims)

    async def _userinfo(self, endpoint: str, access_token: str, subject: str) -> dict[str, Any]:
        try:
            response = await self.http.get(endpoint, headers={"authorization": f"Bearer {access_token}"})
        except httpx.TimeoutException:
            raise LoginError("unreachable", "userinfo timed out") from None
        except httpx.HTTPError as exc:
            raise LoginError("unreachable", f"userinfo: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LoginError("token", f"userinfo: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise LoginError("token", "userinfo is not JSON") from None
        if not isinstance(data, dict) or data.get("sub") != subject:
            # OIDC Core 5.3.2: a userinfo response for another subject must not be used.
            raise LoginError("token", "userinfo subject does not match the id_token")
        return data

    async def logout_url(
        self,
        end_session_endpoint: str,
        *,
        id_token: str | None,
        client_id: str,
        post_logout_redirect_uri: str,
    ) -> str:
        params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": client_id}
        if id_token:
            params["id_token_hint"] = id_token
        separator = "&" if "?" in end_session_endpoint else "?"
        return end_session_endpoint + separator + urlencode(params)
