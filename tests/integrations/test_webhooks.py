"""Webhook subscriptions: the URL rules (SSRF), the scopes, the /manage pages with their
authorisation and bad input, the delivery log with manual redelivery, and the clients' own API."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import Action
from motcua.integrations.delivery import send_due
from motcua.integrations.webhooks import WebhookInputError, url_problem
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import MakeTenant, asgi_transport
from tests.integrations.conftest import Host, Register, token_of
from tests.integrations.hooks_support import (
    SIMPLE,
    Receiver,
    act,
    db,
    deliveries,
    fan_out,
    new_client,
    receiver,
    statuses,
    submit,
    subscribe,
)

__all__ = ["db", "receiver"]

BASE = "/manage/integrations/webhooks"

REFUSED_IN_PRODUCTION = [
    "http://example.com/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://240.0.0.1/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "https://127.1/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
    "https://user:secret@example.com/hook",
    "https://example.com@10.0.0.1/hook",
    "ftp://example.com/hook",
    "https:///hook",
    "https://example.com/hook#part",
    "https://exa mple.com/hook",
    "https://example.com/" + "a" * 2000,
    "",
    "https://example.com:0/",
    "https://example.com:99999/",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", REFUSED_IN_PRODUCTION)
def test_internal_plain_or_malformed_urls_are_refused_in_production(url: str) -> None:
    assert url_problem(url, production=True) is not None


@pytest.mark.parametrize(
    "url",
    ["https://example.com/hook", "https://93.184.216.34:8443/hook?x=1", "https://dichvucong.gov.vn/webhooks"],
)
def test_public_https_urls_are_accepted_in_production(url: str) -> None:
    assert url_problem(url, production=True) is None


def test_outside_production_http_and_local_receivers_are_allowed_but_not_credentials() -> None:
    assert url_problem("http://127.0.0.1:8080/hook", production=False) is None
    assert url_problem("http://localhost/hook", production=False) is None
    assert url_problem("http://user:pw@localhost/hook", production=False) is not None
    assert url_problem("ftp://localhost/hook", production=False) is not None


def _count(engine: Engine, tenant: Tenant, table: str = "webhook_subscriptions") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.{table}")).scalar_one())


def _audit(engine: Engine, tenant: Tenant) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT action, actor FROM {tenant.schema}.audit_log "
                "WHERE action LIKE 'webhook.%' ORDER BY id"
            )
        ).all()
    return [(r.action, r.actor) for r in rows]


async def test_production_settings_refuse_internal_receivers_and_scopes_are_required(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    production = dataclasses.replace(live_settings, env="production")
    client = (await new_client(db, tenant)).client
    for url in ("http://example.com/hook", "https://10.0.0.7/hook", "https://127.0.0.1/hook"):
        with pytest.raises(WebhookInputError) as refused:
            await subscribe(db, tenant, production, client, url)
        assert set(refused.value.errors) == {"url"}
    no_scope = (await new_client(db, tenant, scopes=("dossiers:intake",), source="noscope")).client
    with pytest.raises(WebhookInputError) as refused:
        await subscribe(db, tenant, live_settings, no_scope, "https://example.com/hook")
    assert set(refused.value.errors) == {"client"}
    with pytest.raises(WebhookInputError) as refused:
        await subscribe(db, tenant, live_settings, client, "https://example.com/hook", all_dossiers=True)
    assert set(refused.value.errors) == {"all_dossiers"}
    assert _count(engine, tenant) == 0
    assert _audit(engine, tenant) == []
    created = await subscribe(db, tenant, production, client, "https://example.com/hook")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created.secret)
    with engine.connect() as conn:
        sealed = conn.execute(
            text(f"SELECT secret_sealed FROM {tenant.schema}.webhook_subscriptions")
        ).scalar_one()
    assert created.secret not in sealed and created.secret.removeprefix("whsec_") not in sealed


# The /manage pages --------------------------------------------------------------------------------
def _secret_of(page: httpx.Response) -> str:
    found = re.search(r"<code data-secret>(whsec_[^<]+)</code>", page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


async def test_an_administrator_subscribes_reads_the_log_redelivers_rotates_and_disables(
    make_tenant: MakeTenant,
    live_settings: Settings,
    db: Database,
    engine: Engine,
    receiver: Receiver,
    signed_in: Browser,
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    admin = await signed_in(tenant, role="tenant_admin")
    listing = await admin.get(BASE)
    assert listing.status_code == 200
    assert client.name in listing.text and "Chưa có địa chỉ nào nhận sự kiện." in listing.text

    token = await csrf_of(admin, BASE)
    made = await admin.post(
        BASE, data={"_csrf_token": token, "client": str(client.id), "url": receiver.url()}
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    secret = _secret_of(made)
    assert _count(engine, tenant) == 1
    # The secret is shown once: never on the list or the log.
    assert secret not in (await admin.get(BASE)).text

    code = await submit(db, tenant, client)
    await act(db, tenant, code, Action.ACCEPT)
    await fan_out(db, tenant, code)
    receiver.script["/hook"] = [204, 500]
    await send_due(db, tenant, live_settings)
    (sub_id,) = {r.id for r in _subscriptions(engine, tenant)}
    log = await admin.get(f"{BASE}/{sub_id}")
    assert log.status_code == 200
    assert code in log.text
    for words in (
        "Đã gửi thành công",
        "Đang chờ gửi",
        "Mã phản hồi HTTP 500",
        "Được tiếp nhận",
        "Mới đăng ký",
    ):
        assert words in log.text, words
    assert re.search(r"\d{2}:\d{2} \d{2}/\d{2}/\d{4}", log.text)  # Vietnam time, as people read it
    first, second = deliveries(engine, tenant, sub_id)
    # Only what is no longer waiting can be sent again.
    assert f"/deliveries/{first.id}/redeliver" in log.text
    assert f"/deliveries/{second.id}/redeliver" not in log.text
    waiting = await admin.post(
        f"{BASE}/{sub_id}/deliveries/{second.id}/redeliver", data={"_csrf_token": await csrf_of(admin, BASE)}
    )
    assert waiting.status_code == 409 and "Sự kiện này đang chờ gửi." in waiting.text

    # Manual redelivery: a new attempt of the same event id, once the waiting one is through.
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {tenant.schema}.webhook_deliveries SET next_attempt_at = now() WHERE id = :id"),
            {"id": second.id},
        )
    await send_due(db, tenant, live_settings)
    again = await admin.post(
        f"{BASE}/{sub_id}/deliveries/{first.id}/redeliver", data={"_csrf_token": await csrf_of(admin, BASE)}
    )
    assert again.status_code == 303 and again.headers["location"] == f"{BASE}/{sub_id}?saved=redelivered"
    await send_due(db, tenant, live_settings)
    calls = receiver.on("/hook")
    assert statuses(calls, secret) == ["submitted", "accepted", "accepted", "submitted"]
    assert calls[-1].event_id == calls[0].event_id

    # Rotation: a confirmation first, then a new secret that signs from the next attempt on.
    assert (await admin.get(f"{BASE}/{sub_id}/rotate")).status_code == 200
    rotated = await admin.post(f"{BASE}/{sub_id}/rotate", data={"_csrf_token": await csrf_of(admin, BASE)})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new_secret = _secret_of(rotated)
    assert new_secret != secret
    await act(db, tenant, code, Action.START)
    await fan_out(db, tenant, code)
    await send_due(db, tenant, live_settings)
    assert receiver.on("/hook")[-1].verified(new_secret)["data"]["status"] == "in_progress"

    # Disabling: confirmation, then nothing more is sent.
    confirm = await admin.get(f"{BASE}/{sub_id}/disable")
    assert confirm.status_code == 200 and "Tắt đăng ký" in confirm.text
    disabled = await admin.post(f"{BASE}/{sub_id}/disable", data={"_csrf_token": await csrf_of(admin, BASE)})
    assert disabled.status_code == 303
    assert "Đã tắt" in (await admin.get(disabled.headers["location"])).text
    await act(db, tenant, code, Action.FINISH)
    assert await fan_out(db, tenant, code) == 0
    assert len(receiver.on("/hook")) == 5

    actions = _audit(engine, tenant)
    assert [a for a, _ in actions] == [
        "webhook.created",
        "webhook.redelivered",
        "webhook.secret_rotated",
        "webhook.disabled",
    ]
    assert {actor for _, actor in actions} == {f"tenant_admin:{_personal_id(engine, tenant)}"}


def _subscriptions(engine: Engine, tenant: Tenant) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(text(f"SELECT id, url, disabled_at FROM {tenant.schema}.webhook_subscriptions"))
        )


def _personal_id(engine: Engine, tenant: Tenant) -> str:
    with engine.connect() as conn:
        actor = conn.execute(
            text(f"SELECT actor FROM {tenant.schema}.audit_log WHERE action = 'webhook.created'")
        ).scalar_one()
    return str(actor).split(":", 1)[1]


async def test_bad_input_shows_every_error_keeps_what_was_typed_and_changes_nothing(
    make_tenant: MakeTenant, live_settings: Settings, db: Database, engine: Engine, signed_in: Browser
) -> None:
    tenant = make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    reader_less = (await new_client(db, tenant, source="other")).client
    admin = await signed_in(tenant, role="tenant_admin")
    cases: list[tuple[dict[str, str], set[str]]] = [
        ({"client": "", "url": ""}, {"client", "url"}),
        ({"client": str(client.id), "url": "ftp://example.com/<b>hook</b>"}, {"url"}),
        ({"client": str(client.id), "url": "http://user:pw@example.com/"}, {"url"}),
        ({"client": "99999999999", "url": "https://example.com/"}, {"client"}),
        ({"client": "1; DROP TABLE x", "url": "https://example.com/"}, {"client"}),
        (
            {"client": str(reader_less.id), "url": "https://example.com/", "all_dossiers": "yes"},
            {"all_dossiers"},
        ),
        ({"client": str(client.id), "url": "https://example.com/" + "a" * 3000}, {"url"}),
    ]
    for form, fields in cases:
        page = await admin.post(BASE, data={"_csrf_token": await csrf_of(admin, BASE), **form})
        assert page.status_code == 400, form
        summary = re.search(r'id="error-summary".*?</div>', page.text, re.S)
        assert summary is not None
        assert set(re.findall(r'href="#([a-z_]+)"', summary.group(0))) == fields
        if "<b>" in form["url"]:
            assert 'value="ftp://example.com/&lt;b&gt;hook&lt;/b&gt;"' in page.text
        if form.get("all_dossiers"):
            assert 'name="all_dossiers" value="yes" checked' in page.text
    assert _count(engine, tenant) == 0
    assert _audit(engine, tenant) == []
    # Unknown subscriptions and deliveries: a page that says so.
    for path in (f"{BASE}/99999999", f"{BASE}/99999999/disable", f"{BASE}/99999999999999999999"):
        assert (await admin.get(path)).status_code in (400, 404)
    token = await csrf_of(admin, BASE)
    assert (await admin.post(f"{BASE}/99999999/disable", data={"_csrf_token": token})).status_code == 404
    assert (await admin.post(f"{BASE}/99999999/rotate", data={"_csrf_token": token})).status_code == 404
    assert (
        await admin.post(f"{BASE}/99999999/deliveries/1/redeliver", data={"_csrf_token": token})
    ).status_code == 404


async def test_the_pages_are_for_this_tenants_administrators_only(
    make_tenant: MakeTenant,
    live_settings: Settings,
    db: Database,
    engine: Engine,
    signed_in: Browser,
    app: Litestar,
    receiver: Receiver,
) -> None:
    tenant, other = make_tenant(procedures=[SIMPLE]), make_tenant(procedures=[SIMPLE])
    client = (await new_client(db, tenant)).client
    created = await subscribe(db, tenant, live_settings, client, receiver.url())
    sub = created.subscription.id
    code = await submit(db, tenant, client)
    await fan_out(db, tenant, code)
    await send_due(db, tenant, live_settings)
    (delivered,) = deliveries(engine, tenant, sub)
    portal = f"http://{tenant.slug}.localhost"
    gets = [BASE, f"{BASE}/{sub}", f"{BASE}/{sub}/disable", f"{BASE}/{sub}/rotate"]
    posts: list[tuple[str, dict[str, str]]] = [
        (BASE, {"client": str(client.id), "url": "https://example.com/hook"}),
        (f"{BASE}/{sub}/disable", {}),
        (f"{BASE}/{sub}/rotate", {}),
        (f"{BASE}/{sub}/deliveries/{delivered.id}/redeliver", {}),
    ]

    async def refused(browser: httpx.AsyncClient, token: str | None) -> None:
        for path in gets:
            response = await browser.get(f"{portal}{path}")
            assert response.status_code in (303, 401, 403), (path, response.status_code)
            assert created.secret not in response.text
        for path, form in posts:
            data = {**form, **({"_csrf_token": token} if token else {})}
            response = await browser.post(f"{portal}{path}", data=data)
            assert response.status_code in (401, 403), (path, response.status_code)

    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as anonymous:
        await refused(anonymous, None)
    for role in ("citizen", "officer"):
        member = await signed_in(tenant, role=role)
        await refused(member, await csrf_of(member, "/"))
    # An administrator of another tenant, even carrying their session cookie over to this host.
    foreign = await signed_in(other, role="tenant_admin")
    sid = foreign.cookies.get("motcua_session", domain=f"{other.slug}.localhost")
    assert sid
    token = await csrf_of(foreign, BASE)
    # On their own portal this tenant's subscription does not exist.
    assert (await foreign.get(f"{BASE}/{sub}")).status_code == 404
    foreign.cookies.set("motcua_session", sid, domain=f"{tenant.slug}.localhost")
    await refused(foreign, token)
    # A platform administrator's console session is no session on a portal.
    await refused(await signed_in(), None)

    rows = _subscriptions(engine, tenant)
    assert [(r.id, r.disabled_at) for r in rows] == [(sub, None)]
    assert [(r.status, r.attempts) for r in deliveries(engine, tenant, sub)] == [("delivered", 1)]
    assert _audit(engine, tenant) == [("webhook.created", "operator:test")]
    assert len(receiver.calls) == 1


# The clients' API -------------------------------------------------------------------------------------
def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_a_system_manages_its_own_subscriptions_through_the_api(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    tenant, other_tenant = make_tenant(procedures=[SIMPLE]), make_tenant()
    http = host(tenant)
    system = await register(tenant, scopes=("dossiers:intake", "webhooks"))
    auth = {"Authorization": f"Bearer {await token_of(http, system)}"}
    url = "https://receiver.example.com/motcua"

    anonymous = await http.post("/api/v1/webhooks", json={"url": url})
    _problem(anonymous, 401)
    assert "WWW-Authenticate" in anonymous.headers
    made = await http.post("/api/v1/webhooks", json={"url": url}, headers=auth)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"] == url and body["active"] is True and body["all_dossiers"] is False
    assert body["secret"].startswith("whsec_")
    assert made.headers["location"] == f"/api/v1/webhooks/{body['id']}"
    listed = await http.get("/api/v1/webhooks", headers=auth)
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["webhooks"]] == [body["id"]]
    assert "secret" not in listed.text

    # Every invalid field named; nothing created.
    bad = _problem(
        await http.post("/api/v1/webhooks", json={"url": "http://10.0.0.1/x", "x": 1}, headers=auth), 422
    )
    assert {e["field"] for e in bad["errors"]} == {"x"}
    bad = _problem(
        await http.post("/api/v1/webhooks", json={"url": 5, "all_dossiers": "yes"}, headers=auth), 422
    )
    assert {e["field"] for e in bad["errors"]} == {"url", "all_dossiers"}
    bad = _problem(
        await http.post("/api/v1/webhooks", json={"url": "https://u:p@example.com/"}, headers=auth), 422
    )
    assert {e["field"] for e in bad["errors"]} == {"url"}
    _problem(
        await http.post(
            "/api/v1/webhooks", content=b"{not json", headers={**auth, "content-type": "application/json"}
        ),
        400,
    )
    _problem(await http.post("/api/v1/webhooks", data={"url": url}, headers=auth), 415)
    _problem(await http.post("/api/v1/webhooks", json=[url], headers=auth), 422)
    # Every dossier needs the read scope too.
    _problem(await http.post("/api/v1/webhooks", json={"url": url, "all_dossiers": True}, headers=auth), 403)
    assert _count(engine, tenant) == 1

    # Scopes: a token without "webhooks" can do nothing here.
    narrow = {"Authorization": f"Bearer {await token_of(http, system, scope='dossiers:intake')}"}
    _problem(await http.post("/api/v1/webhooks", json={"url": url}, headers=narrow), 403)
    _problem(await http.get("/api/v1/webhooks", headers=narrow), 403)
    _problem(await http.delete(f"/api/v1/webhooks/{body['id']}", headers=narrow), 403)

    # Another client of the same tenant neither sees nor stops it; another tenant's token is refused.
    stranger = await register(tenant, scopes=("webhooks", "dossiers:read"), source_system="other")
    theirs = {"Authorization": f"Bearer {await token_of(http, stranger)}"}
    assert (await http.get("/api/v1/webhooks", headers=theirs)).json() == {"webhooks": []}
    _problem(await http.delete(f"/api/v1/webhooks/{body['id']}", headers=theirs), 404)
    every = await http.post("/api/v1/webhooks", json={"url": url, "all_dossiers": True}, headers=theirs)
    assert every.status_code == 201 and every.json()["all_dossiers"] is True
    foreign_http = host(other_tenant)
    foreign = await register(other_tenant, scopes=("webhooks",))
    foreign_auth = {"Authorization": f"Bearer {await token_of(foreign_http, foreign)}"}
    _problem(await http.get("/api/v1/webhooks", headers=foreign_auth), 401)
    _problem(await http.delete(f"/api/v1/webhooks/{body['id']}", headers=foreign_auth), 401)

    # Stopping: once, twice (nothing more changes), then an unknown id.
    assert (await http.delete(f"/api/v1/webhooks/{body['id']}", headers=auth)).status_code == 204
    assert (await http.delete(f"/api/v1/webhooks/{body['id']}", headers=auth)).status_code == 204
    _problem(await http.delete("/api/v1/webhooks/not-a-number", headers=auth), 404)
    # Digits of other kinds ("²", Arabic-Indic "٣") are not an id either: a 404, never a 500.
    _problem(await http.delete("/api/v1/webhooks/%C2%B2", headers=auth), 404)
    _problem(await http.delete("/api/v1/webhooks/%D9%A3", headers=auth), 404)
    _problem(await http.delete("/api/v1/webhooks/99999999", headers=auth), 404)
    (own,) = (await http.get("/api/v1/webhooks", headers=auth)).json()["webhooks"]
    assert own["active"] is False and own["disabled_at"]
    with engine.connect() as conn:
        audited = conn.execute(
            text(
                f"SELECT action, actor FROM {tenant.schema}.audit_log "
                "WHERE action IN ('webhook.created', 'webhook.disabled') ORDER BY id"
            )
        ).all()
    assert [(r.action, r.actor) for r in audited] == [
        ("webhook.created", f"system:api-{system.client_id}"),
        ("webhook.created", f"system:api-{stranger.client_id}"),
        ("webhook.disabled", f"system:api-{system.client_id}"),
    ]


async def test_the_openapi_document_describes_the_webhook_routes(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    from openapi_spec_validator import validate

    tenant = make_tenant()
    spec = (await client.get(f"http://{tenant.slug}.localhost/schema/openapi.json")).json()
    validate(spec)
    create = spec["paths"]["/api/v1/webhooks"]["post"]
    assert create["security"] == [{"oauth2": ["webhooks"]}]
    assert create["requestBody"]["content"]["application/json"]["example"]["url"].startswith("https://")
    assert create["responses"]["201"]["content"]["application/json"]["example"]["secret"].startswith("whsec_")
    assert {"201", "400", "401", "403", "415", "422"} <= set(create["responses"])
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "dossier.status_changed" in create["description"]
    assert set(spec["paths"]["/api/v1/webhooks"]) >= {"get", "post"}
    assert {"204", "404"} <= set(spec["paths"]["/api/v1/webhooks/{webhook_id}"]["delete"]["responses"])
