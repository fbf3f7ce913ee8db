"""API clients: tokens by client credentials (Basic and post), refused credentials, scopes,
rotation and revocation taking effect at once, tenants kept apart, the /manage/integrations
pages and their audit rows."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
from joserfc import jwt
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.integrations import tokens
from motcua.integrations.tokens import LIFETIME_SECONDS
from tests.admin.conftest import Browser
from tests.conftest import MakeTenant
from tests.integrations.conftest import Host, Register, Registered, token_of

READ = "/api/v1/dossiers/NO-SUCH-CODE"


def _audit(engine: Engine, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f'SELECT actor, detail FROM "{tenant.schema}".audit_log WHERE action = :a ORDER BY id'),
            {"a": action},
        ).all()
    return [{"actor": r.actor, **r.detail} for r in rows]


async def test_token_by_basic_and_by_post_is_a_jwt_of_this_tenant(
    make_tenant: MakeTenant, register: Register, host: Host, live_settings: Settings, engine: Engine
) -> None:
    tenant = make_tenant()
    client = await register(tenant, scopes=("dossiers:intake", "dossiers:read"))
    http = host(tenant)
    by_basic = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": client.basic}
    )
    assert by_basic.status_code == 200, by_basic.text
    assert by_basic.headers["cache-control"] == "no-store"
    body = by_basic.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == LIFETIME_SECONDS
    assert body["scope"] == "dossiers:intake dossiers:read"
    claims = tokens.verify(live_settings.secret_key, tenant.slug, body["access_token"])
    assert claims is not None and claims.client_id == client.client_id
    raw = jwt.decode(body["access_token"], tokens._key(live_settings.secret_key, tenant.slug)).claims
    assert raw["iss"] == tokens.issuer(tenant.slug) and raw["tenant"] == tenant.slug
    assert raw["exp"] - raw["iat"] == LIFETIME_SECONDS and raw["jti"]

    by_post = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
        },
    )
    assert by_post.status_code == 200, by_post.text
    # The token works on the API (404: no such dossier, but authenticated and authorised).
    read = await http.get(READ, headers={"Authorization": f"Bearer {by_post.json()['access_token']}"})
    assert read.status_code == 404
    assert read.headers["content-type"].startswith("application/problem+json")
    issued = _audit(engine, tenant, "api.token_issued")
    assert [row["client_id"] for row in issued] == [client.client_id] * 2
    assert issued[0]["actor"] == f"system:api-{client.client_id}"


async def test_wrong_secret_unknown_client_and_unsupported_grant_are_refused(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    tenant = make_tenant()
    client = await register(tenant)
    http = host(tenant)
    wrong = "Basic " + base64.b64encode(f"{client.client_id}:not-the-secret".encode()).decode()
    refused = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": wrong}
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in refused.text

    unknown = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "mc_nobody", "client_secret": "x" * 43},
    )
    assert unknown.status_code in (400, 401) and unknown.json()["error"] == "invalid_client"

    grant = await http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "a"},
        headers={"Authorization": client.basic},
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"

    missing = await http.post("/oauth/token", data={}, headers={"Authorization": client.basic})
    assert missing.status_code == 400 and missing.json()["error"] == "unsupported_grant_type"
    assert [r["client_id"] for r in _audit(engine, tenant, "api.token_refused")] == [client.client_id] * 3


async def test_scope_can_be_narrowed_never_widened(
    make_tenant: MakeTenant, register: Register, host: Host
) -> None:
    tenant = make_tenant()
    client = await register(tenant, scopes=("dossiers:intake", "dossiers:read"))
    http = host(tenant)
    token = await token_of(http, client, scope="dossiers:intake")
    read = await http.get(READ, headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 403
    assert read.json()["status"] == 403
    assert 'error="insufficient_scope"' in read.headers["www-authenticate"]
    wider = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "dossiers:read webhooks"},
        headers={"Authorization": client.basic},
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    unknown = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        headers={"Authorization": client.basic},
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_scope"


async def test_a_token_and_credentials_of_one_tenant_are_refused_on_another(
    make_tenant: MakeTenant, register: Register, host: Host
) -> None:
    hanoi, danang = make_tenant(), make_tenant()
    client = await register(hanoi)
    token = await token_of(host(hanoi), client)
    on_danang = host(danang)
    read = await on_danang.get(READ, headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 401
    assert read.headers["www-authenticate"].startswith(f'Bearer realm="{danang.slug}", error="invalid_token"')
    again = await on_danang.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": client.basic}
    )
    assert again.status_code == 401


async def test_missing_or_malformed_bearer_tokens_get_a_401_challenge(
    make_tenant: MakeTenant, host: Host
) -> None:
    tenant = make_tenant()
    http = host(tenant)
    bare = await http.get(READ)
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == f'Bearer realm="{tenant.slug}"'
    assert bare.json()["type"] == "urn:motcua:problem:unauthorized"
    for value in ("Bearer", "Bearer not.a.jwt", "Basic abc", "Bearer " + "a" * 5000):
        response = await http.get(READ, headers={"Authorization": value})
        assert response.status_code == 401, value


async def _admin_form(
    browser: httpx.AsyncClient, data: dict[str, Any], path: str = "/manage/integrations"
) -> httpx.Response:
    from tests.admin.conftest import csrf_of

    token = await csrf_of(browser, "/manage/integrations/new")
    return await browser.post(path, data={"_csrf_token": token, **data})


def _secret_of(page: str) -> tuple[str, str]:
    client_id = re.search(r"<code>(mc_[^<]+)</code>", page)
    secret = re.search(r"<code data-secret>([^<]+)</code>", page)
    assert client_id and secret, page[:2000]
    return client_id.group(1), secret.group(1)


async def test_an_administrator_registers_rotates_and_revokes_a_client(
    make_tenant: MakeTenant, signed_in: Browser, host: Host, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    listed = await admin.get("/manage/integrations")
    assert listed.status_code == 200 and 'href="/manage/integrations/new"' in listed.text
    created = await _admin_form(
        admin,
        {
            "name": "Cổng DVC quốc gia",
            "source_system": "dvcqg",
            "scopes": ["dossiers:intake", "dossiers:read"],
        },
    )
    assert created.status_code == 201, created.text[:3000]
    assert created.headers["cache-control"] == "no-store"
    client_id, secret = _secret_of(created.text)
    registered = Registered(tenant, client_id, secret, 0)
    http = host(tenant)
    old_token = await token_of(http, registered)
    # The secret is never shown again.
    assert secret not in (await admin.get("/manage/integrations")).text

    confirm = await admin.get(f"/manage/integrations/{client_id}/rotate")
    assert confirm.status_code == 200 and "Đổi khóa bí mật?" in confirm.text
    assert (await http.get(READ, headers={"Authorization": f"Bearer {old_token}"})).status_code == 404
    rotated = await _admin_form(admin, {}, f"/manage/integrations/{client_id}/rotate")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    _, new_secret = _secret_of(rotated.text)
    assert new_secret != secret
    # The old token and the old secret stop at once; the new secret works.
    assert (await http.get(READ, headers={"Authorization": f"Bearer {old_token}"})).status_code == 401
    old_again = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": registered.basic}
    )
    assert old_again.status_code == 401
    new_token = await token_of(http, Registered(tenant, client_id, new_secret, 0))
    assert (await http.get(READ, headers={"Authorization": f"Bearer {new_token}"})).status_code == 404

    assert (await admin.get(f"/manage/integrations/{client_id}/revoke")).status_code == 200
    revoked = await _admin_form(admin, {}, f"/manage/integrations/{client_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/manage/integrations?done=revoked"
    assert (await http.get(READ, headers={"Authorization": f"Bearer {new_token}"})).status_code == 401
    assert (await admin.get(f"/manage/integrations/{client_id}/rotate")).status_code == 404
    again = await _admin_form(admin, {}, f"/manage/integrations/{client_id}/revoke")
    assert again.headers["location"] == "/manage/integrations?done=already_revoked"

    for action in ("api_client.registered", "api_client.rotated", "api_client.revoked"):
        rows = _audit(engine, tenant, action)
        assert len(rows) == 1, action
        assert rows[0]["client_id"] == client_id
        assert rows[0]["actor"].startswith("tenant_admin:") and rows[0]["address"]
    with engine.connect() as conn:
        stored = conn.execute(
            text(f'SELECT secret_hash FROM "{tenant.schema}".api_clients WHERE client_id = :c'),
            {"c": client_id},
        ).scalar_one()
    assert new_secret not in stored and len(stored) == 64


async def test_a_bad_registration_names_each_field_keeps_what_was_typed_and_changes_nothing(
    make_tenant: MakeTenant, signed_in: Browser, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    response = await _admin_form(
        admin, {"name": "x" * 300, "source_system": "DVC QG!", "scopes": ["root", "dossiers:read"]}
    )
    assert response.status_code == 400
    assert 'href="#name"' in response.text and 'href="#source_system"' in response.text
    assert 'href="#scope-0"' in response.text
    assert 'value="DVC QG!"' in response.text
    empty = await _admin_form(admin, {"name": "  ", "source_system": ""})
    assert empty.status_code == 400 and "Chọn ít nhất một quyền truy cập." in empty.text
    assert 'value="dossiers:read" checked' not in empty.text
    with engine.connect() as conn:
        count = conn.execute(text(f'SELECT count(*) FROM "{tenant.schema}".api_clients')).scalar_one()
    assert count == 0
    assert _audit(engine, tenant, "api_client.registered") == []


async def test_only_this_tenants_administrators_reach_the_pages(
    make_tenant: MakeTenant, signed_in: Browser, register: Register, app: Any
) -> None:
    from tests.conftest import asgi_transport

    tenant, other = make_tenant(), make_tenant()
    client = await register(tenant)
    paths = [
        ("GET", "/manage/integrations"),
        ("GET", "/manage/integrations/new"),
        ("POST", "/manage/integrations"),
        ("GET", f"/manage/integrations/{client.client_id}/rotate"),
        ("POST", f"/manage/integrations/{client.client_id}/rotate"),
        ("GET", f"/manage/integrations/{client.client_id}/revoke"),
        ("POST", f"/manage/integrations/{client.client_id}/revoke"),
    ]
    anonymous = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost")
    browsers = {
        "anonymous": anonymous,
        "citizen": await signed_in(tenant, role="citizen"),
        "officer": await signed_in(tenant, role="officer"),
        "other tenant's admin": await signed_in(other, role="tenant_admin"),
        "console": await signed_in(None, role="platform_admin"),
    }
    try:
        for who, browser in browsers.items():
            for method, path in paths:
                if who == "other tenant's admin":
                    # Their own session, sent to this tenant's host: it is not valid here.
                    url = f"http://{tenant.slug}.localhost{path}"
                elif who == "console":
                    url = f"http://{tenant.slug}.localhost{path}"
                else:
                    url = path
                data = {"name": "X", "source_system": "abc", "scopes": "dossiers:read"}
                response = await browser.request(method, url, data=data if method == "POST" else None)
                assert response.status_code in (303, 401, 403), (who, method, path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login"), (who, path)
    finally:
        await anonymous.aclose()
    admin_of_other = await signed_in(other, role="tenant_admin")
    # On their own portal, this tenant's client does not exist.
    assert (await admin_of_other.get(f"/manage/integrations/{client.client_id}/rotate")).status_code == 404
    listing = await admin_of_other.get("/manage/integrations")
    assert client.client_id not in listing.text
