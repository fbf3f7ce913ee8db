"""The development e-ID provider, driven over HTTP through the real app like a browser and an
OIDC client would: discovery, the authorization page and form, the token endpoint, userinfo,
logout, and the signing key kept across restarts."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
import stat
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from motcua.core.settings import Settings
from motcua.dev.eid_provider import signing_key_path
from motcua.dev.people import DEV_USERS
from motcua.identity.services import dev_client_credentials
from tests.conftest import asgi_transport

Client = httpx.AsyncClient

EID = {"host": "eid.localhost"}
ISSUER = "http://eid.localhost:8000"
REDIRECT_URI = "http://hanoi.localhost:8000/auth/callback"
CITIZEN = next(u for u in DEV_USERS if u.role_hint == "citizen")
ALL_SCOPES = "openid profile email phone address personal_id"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


def authorization_params(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "motcua-dev",
        "redirect_uri": REDIRECT_URI,
        "scope": ALL_SCOPES,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


class _FormParser(HTMLParser):
    """The hidden fields and submit buttons of the page's POST form, as a browser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []  # (name, value, text)
        self._button: tuple[str, str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("type") == "submit":
            self._button, self._text = (a.get("name", ""), a.get("value", "")), ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append((*self._button, self._text.strip()))
            self._button = None


def parse_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic_auth(settings: Settings, secret: str | None = None) -> tuple[str, str]:
    client_id, real_secret = dev_client_credentials(settings)
    return client_id, real_secret if secret is None else secret


async def open_authorization_page(client: Client, params: dict[str, str]) -> _FormParser:
    response = await client.get("/authorize", params=params, headers=EID, follow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    form = parse_form(response.text)
    assert form.action == "/authorize"
    return form


async def choose(client: Client, form: _FormParser, name: str, value: str) -> httpx.Response:
    assert (name, value) in {(n, v) for n, v, _ in form.buttons}
    return await client.post(
        "/authorize", data={**form.hidden, name: value}, headers=EID, follow_redirects=False
    )


async def sign_in(
    client: Client, *, scope: str = ALL_SCOPES, user_sub: str = CITIZEN.sub
) -> tuple[str, str, dict[str, str]]:
    """Browser part of the flow → (code, code_verifier, authorization parameters)."""
    verifier, challenge = pkce_pair()
    params = authorization_params(challenge, scope=scope)
    form = await open_authorization_page(client, params)
    response = await choose(client, form, "user", user_sub)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER
    return query["code"], verifier, params


async def exchange(
    client: Client,
    settings: Settings,
    code: str,
    verifier: str,
    *,
    redirect_uri: str = REDIRECT_URI,
    secret: str | None = None,
) -> httpx.Response:
    return await client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=basic_auth(settings, secret),
        headers=EID,
    )


async def jwks_of(client: Client) -> dict[str, Any]:
    response = await client.get("/jwks", headers=EID)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def key_set(jwks: Any) -> KeySet:
    return KeySet.import_key_set(jwks)


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


# --- discovery and keys ------------------------------------------------------------------------


async def test_discovery_document(client: Client) -> None:
    response = await client.get("/.well-known/openid-configuration", headers=EID)
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/authorize"
    assert doc["token_endpoint"] == ISSUER + "/token"
    assert doc["userinfo_endpoint"] == ISSUER + "/userinfo"
    assert doc["jwks_uri"] == ISSUER + "/jwks"
    assert doc["end_session_endpoint"] == ISSUER + "/logout"
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert set(doc["scopes_supported"]) == set(ALL_SCOPES.split())
    assert {"sub", "name", "personal_id", "email", "phone_number", "address", "birthdate"} <= set(
        doc["claims_supported"]
    )


async def test_jwks_publishes_only_the_public_rsa_key(client: Client) -> None:
    keys = (await jwks_of(client))["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["kid"] and key["use"] == "sig" and key["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 == 2048


# --- the full flow ------------------------------------------------------------------------------


async def test_authorization_page_lists_the_test_people(client: Client) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge)
    response = await client.get("/authorize", params=params, headers=EID)
    assert response.status_code == 200
    html = response.text
    assert "Đăng nhập bằng định danh điện tử (môi trường phát triển)" in html
    for person in DEV_USERS:
        assert person.name in html
        assert person.masked_personal_id in html
        assert person.personal_id not in html
    assert "001******345" in html
    assert "Công dân" in html and "Cán bộ một cửa" in html
    form = parse_form(html)
    assert form.hidden["_csrf_token"]
    assert {k: v for k, v in form.hidden.items() if k != "_csrf_token"} == params
    assert ("action", "cancel", "Hủy") in form.buttons
    assert {v for n, v, _ in form.buttons if n == "user"} == {u.sub for u in DEV_USERS}
    assert response.headers["x-frame-options"] == "DENY"


async def test_full_flow_yields_an_id_token_verified_by_the_jwks(
    client: Client, live_settings: Settings
) -> None:
    code, verifier, params = await sign_in(client)
    response = await exchange(client, live_settings, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert set(body["scope"].split()) == set(ALL_SCOPES.split())

    token = jwt.decode(body["id_token"], key_set(await jwks_of(client)), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == (await jwks_of(client))["keys"][0]["kid"]
    JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "motcua-dev"},
        nonce={"essential": True, "value": params["nonce"]},
        sub={"essential": True, "value": CITIZEN.sub},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    claims = token.claims
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["auth_time"] - claims["iat"]) < 60
    at_hash = _b64url(hashlib.sha256(body["access_token"].encode()).digest()[:16])
    assert claims["at_hash"] == at_hash
    # name and personal_id travel in the ID token; the rest only through userinfo.
    assert claims["name"] == CITIZEN.name
    assert claims["personal_id"] == CITIZEN.personal_id
    assert not {"email", "phone_number", "address", "birthdate", "gender"} & set(claims)

    info = await client.get("/userinfo", headers={**EID, "authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json() == {
        "sub": CITIZEN.sub,
        "name": CITIZEN.name,
        "birthdate": CITIZEN.birthdate.isoformat(),
        "gender": CITIZEN.gender,
        "email": CITIZEN.email,
        "email_verified": True,
        "phone_number": CITIZEN.phone_number,
        "phone_number_verified": True,
        "address": {"formatted": CITIZEN.address, "country": "VN"},
        "personal_id": CITIZEN.personal_id,
    }


async def test_claims_follow_the_granted_scopes(client: Client, live_settings: Settings) -> None:
    code, verifier, _ = await sign_in(client, scope="openid email")
    body = (await exchange(client, live_settings, code, verifier)).json()
    assert body["scope"] == "openid email"
    claims = jwt.decode(body["id_token"], key_set(await jwks_of(client))).claims
    assert "name" not in claims and "personal_id" not in claims
    info = await client.get("/userinfo", headers={**EID, "authorization": f"Bearer {body['access_token']}"})
    assert info.json() == {"sub": CITIZEN.sub, "email": CITIZEN.email, "email_verified": True}


async def test_client_secret_post_authenticates_too(client: Client, live_settings: Settings) -> None:
    code, verifier, _ = await sign_in(client)
    client_id, secret = dev_client_credentials(live_settings)
    response = await client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": secret,
        },
        headers=EID,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id_token"]


async def test_codes_are_kept_hashed_and_short_lived(client: Client, live_settings: Settings) -> None:
    code, _, _ = await sign_in(client)
    redis = aioredis.Redis.from_url(live_settings.redis_url or "")
    try:
        key = "dev-eid:code:" + hashlib.sha256(code.encode()).hexdigest()
        assert 0 < await redis.ttl(key) <= 60
        assert [k async for k in redis.scan_iter(match=f"*{code}*")] == []
    finally:
        await redis.aclose()


# --- token endpoint errors ------------------------------------------------------------------------


async def test_code_replay_is_invalid_grant_and_revokes_the_first_token(
    client: Client, live_settings: Settings
) -> None:
    code, verifier, _ = await sign_in(client)
    first = await exchange(client, live_settings, code, verifier)
    assert first.status_code == 200
    replay = await exchange(client, live_settings, code, verifier)
    assert_oauth_error(replay, "invalid_grant")
    info = await client.get(
        "/userinfo", headers={**EID, "authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert info.status_code == 401


async def test_wrong_code_verifier_is_invalid_grant_and_burns_the_code(
    client: Client, live_settings: Settings
) -> None:
    code, verifier, _ = await sign_in(client)
    wrong, _ = pkce_pair()
    assert_oauth_error(await exchange(client, live_settings, code, wrong), "invalid_grant")
    assert_oauth_error(await exchange(client, live_settings, code, verifier), "invalid_grant")


async def test_redirect_uri_must_match_the_authorization_request(
    client: Client, live_settings: Settings
) -> None:
    code, verifier, _ = await sign_in(client)
    other = "http://danang.localhost:8000/auth/callback"
    assert_oauth_error(
        await exchange(client, live_settings, code, verifier, redirect_uri=other), "invalid_grant"
    )


async def test_wrong_client_secret_is_invalid_client(client: Client, live_settings: Settings) -> None:
    code, verifier, _ = await sign_in(client)
    response = await exchange(client, live_settings, code, verifier, secret="not-the-secret")
    assert_oauth_error(response, "invalid_client", 401)
    assert response.headers["www-authenticate"].startswith("Basic")
    # A failed client authentication does not consume the code.
    assert (await exchange(client, live_settings, code, verifier)).status_code == 200


async def test_missing_client_authentication_is_invalid_client(client: Client) -> None:
    response = await client.post("/token", data={"grant_type": "authorization_code"}, headers=EID)
    assert_oauth_error(response, "invalid_client", 401)


async def test_other_grant_types_are_unsupported(client: Client, live_settings: Settings) -> None:
    response = await client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=basic_auth(live_settings),
        headers=EID,
    )
    assert_oauth_error(response, "unsupported_grant_type")


async def test_missing_code_verifier_is_invalid_request(client: Client, live_settings: Settings) -> None:
    code, _, _ = await sign_in(client)
    response = await client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=basic_auth(live_settings),
        headers=EID,
    )
    assert_oauth_error(response, "invalid_request")


# --- authorization endpoint errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/auth/callback",
        "http://hanoi.localhost.evil.example/auth/callback",
        "http://evil.example@hanoi.localhost:8000/auth/callback",
        "http://hanoi.localhost:8000/auth/callback/../../steal",
        "http://hanoi.localhost:8000/other",
        "http://hanoi.localhost:8000/auth/callback?next=https://evil.example",
        "http://localhost:8000/auth/callback",
        "javascript:alert(1)//hanoi.localhost/auth/callback",
    ],
)
async def test_unregistered_redirect_uri_shows_an_error_and_never_redirects(
    client: Client, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge, redirect_uri=redirect_uri)
    response = await client.get("/authorize", params=params, headers=EID, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text
    assert "<form" not in response.text


async def test_unknown_client_shows_an_error_and_never_redirects(client: Client) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge, client_id="someone-else")
    response = await client.get("/authorize", params=params, headers=EID, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "chưa được đăng ký" in response.text


async def test_registered_redirect_uris_cover_every_host_under_the_platform_domain(client: Client) -> None:
    _, challenge = pkce_pair()
    for uri in (
        "http://admin.localhost:8000/auth/callback",
        "https://danang.localhost/auth/callback",
        "http://so-tu-phap.hanoi.localhost:8000/auth/callback",
    ):
        await open_authorization_page(client, authorization_params(challenge, redirect_uri=uri))


async def test_cancel_redirects_with_access_denied(client: Client) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge)
    form = await open_authorization_page(client, params)
    response = await choose(client, form, "action", "cancel")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]
    assert "code" not in query


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"scope": "profile personal_id"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
async def test_invalid_requests_go_back_to_the_client_with_an_error(
    client: Client, overrides: dict[str, str | None], error: str
) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge, **overrides)
    response = await client.get("/authorize", params=params, headers=EID, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["state"] == params["state"]
    assert "code" not in query


async def test_missing_state_is_an_error_without_state(client: Client) -> None:
    _, challenge = pkce_pair()
    params = authorization_params(challenge, state=None)
    response = await client.get("/authorize", params=params, headers=EID, follow_redirects=False)
    assert response.status_code == 303
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request" and "state" not in query


async def test_posted_parameters_are_validated_again(client: Client) -> None:
    _, challenge = pkce_pair()
    form = await open_authorization_page(client, authorization_params(challenge))
    tampered = {**form.hidden, "redirect_uri": "https://evil.example/auth/callback", "user": CITIZEN.sub}
    response = await client.post("/authorize", data=tampered, headers=EID, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers
    dropped = {k: v for k, v in form.hidden.items() if k != "code_challenge"}
    response = await client.post(
        "/authorize", data={**dropped, "user": CITIZEN.sub}, headers=EID, follow_redirects=False
    )
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_the_authorization_form_needs_the_csrf_token(client: Client) -> None:
    _, challenge = pkce_pair()
    form = await open_authorization_page(client, authorization_params(challenge))
    without = {k: v for k, v in form.hidden.items() if k != "_csrf_token"}
    response = await client.post(
        "/authorize", data={**without, "user": CITIZEN.sub}, headers=EID, follow_redirects=False
    )
    assert response.status_code == 403
    assert "location" not in response.headers


# --- userinfo and logout --------------------------------------------------------------------------


async def test_userinfo_rejects_missing_and_unknown_tokens(client: Client) -> None:
    missing = await client.get("/userinfo", headers=EID)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    unknown = await client.get("/userinfo", headers={**EID, "authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]


async def test_logout_redirects_only_under_the_platform_domain(client: Client) -> None:
    allowed = await client.get(
        "/logout",
        params={
            "post_logout_redirect_uri": "http://hanoi.localhost:8000/",
            "state": "s1",
            "client_id": "motcua-dev",
        },
        headers=EID,
        follow_redirects=False,
    )
    assert allowed.status_code == 303
    assert allowed.headers["location"] == "http://hanoi.localhost:8000/?state=s1"
    foreign = await client.get(
        "/logout",
        params={"post_logout_redirect_uri": "https://evil.example/", "state": "s1"},
        headers=EID,
        follow_redirects=False,
    )
    assert foreign.status_code == 200
    assert "location" not in foreign.headers
    assert "Đã đăng xuất" in foreign.text


async def test_logout_with_an_id_token_hint(client: Client, live_settings: Settings) -> None:
    code, verifier, _ = await sign_in(client)
    id_token = (await exchange(client, live_settings, code, verifier)).json()["id_token"]
    target = "http://admin.localhost:8000/"
    response = await client.get(
        "/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": target},
        headers=EID,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == target
    forged = id_token[: id_token.rindex(".") + 1] + _b64url(b"\0" * 256)
    response = await client.get(
        "/logout",
        params={"id_token_hint": forged, "post_logout_redirect_uri": target},
        headers=EID,
        follow_redirects=False,
    )
    assert response.status_code == 200 and "Đã đăng xuất" in response.text


# --- restarts and production -------------------------------------------------------------------


async def test_signing_key_survives_a_restart(client: Client, live_settings: Settings) -> None:
    from motcua.app import create_app

    code, verifier, _ = await sign_in(client)
    id_token = (await exchange(client, live_settings, code, verifier)).json()["id_token"]
    kid = (await jwks_of(client))["keys"][0]["kid"]
    path = signing_key_path(live_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    transport = asgi_transport(create_app(live_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost.test") as restarted:
        keys = (await jwks_of(restarted))["keys"]
        assert [k["kid"] for k in keys] == [kid]
        claims = jwt.decode(id_token, key_set({"keys": keys})).claims
        assert claims["sub"] == CITIZEN.sub


async def test_without_dev_services_there_is_no_provider(live_settings: Settings) -> None:
    from motcua.app import create_app

    app = create_app(dataclasses.replace(live_settings, dev_services=False))
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://localhost.test") as plain:
        for path in ("/.well-known/openid-configuration", "/jwks", "/authorize"):
            response = await plain.get(path, headers=EID)
            assert response.status_code == 404
        assert (await plain.get("/dev-eid/jwks", headers={"host": "localhost"})).status_code == 404


# --- the test people --------------------------------------------------------------------------------


def test_test_people_have_well_formed_personal_ids() -> None:
    assert 6 <= len(DEV_USERS) <= 8
    assert len({u.sub for u in DEV_USERS}) == len(DEV_USERS)
    assert {u.role_hint for u in DEV_USERS} >= {"citizen", "officer"}
    for user in DEV_USERS:
        assert re.fullmatch(r"\d{12}", user.personal_id), user
        assert re.fullmatch(r"dev-[0-9a-f]{20}", user.sub) and user.personal_id not in user.sub
        century = 0 if user.birthdate.year < 2000 else 2
        assert int(user.personal_id[3]) == century + (user.gender == "female"), user
        assert user.personal_id[4:6] == f"{user.birthdate.year % 100:02d}", user
        assert user.personal_id[:3] in {"001", "031", "046", "048", "079", "092"}, user
        assert re.fullmatch(r"\+84\d{9}", user.phone_number), user
