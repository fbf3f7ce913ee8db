"""A tenant's settings changed from the browser: domains, identity provider (with its test
login), payment account, mail sender. Each change is seen in effect, bad input changes nothing,
and every route refuses whoever it is not for."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.cli import main
from motcua.core.security import SecretBox
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.notifications.services import send_notification
from motcua.notifications.templates import DossierNotice, NotificationEvent
from motcua.tenancy.services import get_tenant
from tests.admin.conftest import CONSOLE, Browser, csrf_of, new_personal_id
from tests.conftest import MakeTenant, asgi_transport
from tests.identity.rogue_provider import CLIENT_ID, CLIENT_SECRET, PERSON, RogueProvider
from tests.notifications.conftest import SmtpFixture, smtp_server

__all__ = ["smtp_server"]  # the SMTP catcher fixture, used here


def _host() -> str:
    return f"dvc{uuid.uuid4().hex[:10]}.example.vn"


def _domains(engine: Engine, tenant: Tenant) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT host FROM platform.domains WHERE tenant_id = :i ORDER BY host"), {"i": tenant.id}
            ).scalars()
        )


def _audit(engine: Engine, slug: str, action: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT actor, detail FROM platform.audit_log "
                    "WHERE tenant_slug = :s AND action = :a ORDER BY id"
                ),
                {"s": slug, "a": action},
            ).all()
        )


def _settings_of(engine: Engine, tenant: Tenant) -> dict[str, Any]:
    fresh = get_tenant(engine, tenant.slug)
    assert fresh is not None
    return fresh.settings


async def _post(
    client: httpx.AsyncClient, form_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = await csrf_of(client, form_path)
    return await client.post(action, data={"_csrf_token": token, **data})


def _assert_refused(response: httpx.Response, *fields: str) -> None:
    """The GOV.UK pattern: a 4xx, an error summary linking to each field, the fields marked."""
    assert response.status_code == 400, response.text[:1000]
    assert 'id="error-summary"' in response.text
    for name in fields:
        assert f'href="#{name}"' in response.text, name
        assert f'id="{name}-error"' in response.text, name
    assert 'aria-invalid="true"' in response.text


async def _get_portal(app: Litestar, host: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=asgi_transport(app)) as browser:
        return await browser.get(f"http://{host}/")


# Domains ---------------------------------------------------------------------------------------
async def test_a_domain_added_serves_the_portal_and_a_removed_one_answers_no_portal(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant = make_tenant(name="Tỉnh Tên Miền")
    admin_id = new_personal_id()
    admin = await signed_in(personal_id=admin_id)
    host = _host()
    assert (await _get_portal(app, host)).status_code == 404

    base = f"/tenants/{tenant.slug}/settings"
    added = await _post(admin, f"{base}/domains", f"{base}/domains", {"host": host.upper() + "."})
    assert added.status_code == 303
    assert added.headers["location"] == f"{base}?saved=domain_added"
    assert _domains(engine, tenant) == [host]
    summary = await admin.get(base)
    assert summary.status_code == 200 and host in summary.text
    assert f"{base}/appearance" in summary.text and f"{base}/calendar" in summary.text
    portal = await _get_portal(app, host)
    assert portal.status_code == 200 and "Tỉnh Tên Miền" in portal.text

    confirm = await admin.get(f"{base}/domains/remove", params={"host": host})
    assert confirm.status_code == 200 and host in confirm.text
    assert _domains(engine, tenant) == [host]  # asking is not removing
    removed = await _post(
        admin, f"{base}/domains/remove?host={host}", f"{base}/domains/remove", {"host": host}
    )
    assert removed.status_code == 303
    assert _domains(engine, tenant) == []
    gone = await _get_portal(app, host)
    assert gone.status_code == 404 and "Không có cổng dịch vụ công tại địa chỉ này" in gone.text

    (added_row,) = _audit(engine, tenant.slug, "domain.added")
    (removed_row,) = _audit(engine, tenant.slug, "domain.removed")
    for row in (added_row, removed_row):
        assert row.actor == f"platform_admin:{admin_id}"
        assert row.detail["host"] == host and row.detail["address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Nhập tên miền"),
        ("not a host!", "Tên miền không hợp lệ"),
        ("x" * 300 + ".vn", "253 ký tự"),
        ("localhost", "tên miền của nền tảng"),
        ("admin.localhost", "tên miền của nền tảng"),
        ("someone-else.localhost", "tên miền của nền tảng"),
    ],
)
async def test_bad_domains_are_refused_with_what_was_typed(
    typed: str, says: str, signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    base = f"/tenants/{tenant.slug}/settings/domains"
    response = await _post(admin, base, base, {"host": typed})
    _assert_refused(response, "host")
    assert says in response.text
    assert f'value="{typed}"' in response.text
    assert _domains(engine, tenant) == []


async def test_a_domain_of_another_tenant_is_refused_without_naming_it(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    taken = _host()
    other = make_tenant(name="Tỉnh Đã Có Tên Miền", domains=[taken])
    tenant = make_tenant()
    admin = await signed_in()
    base = f"/tenants/{tenant.slug}/settings/domains"
    response = await _post(admin, base, base, {"host": taken})
    _assert_refused(response, "host")
    assert "đã được sử dụng" in response.text
    assert other.name not in response.text and other.slug not in response.text
    assert _domains(engine, tenant) == [] and _domains(engine, other) == [taken]
    # Removing another tenant's domain through this tenant's page changes nothing either.
    remove = f"{base}/remove"
    assert (await admin.get(remove, params={"host": taken})).status_code == 404
    response = await _post(admin, base, remove, {"host": taken})
    assert response.status_code == 400
    assert _domains(engine, other) == [taken]


# Identity provider -----------------------------------------------------------------------------
def _identity_form(issuer: str, secret: str = CLIENT_SECRET, **more: str) -> dict[str, str]:
    return {
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "display_name": "Định danh thử",
        "scopes": "openid profile personal_id",
        "personal_id_claim": "personal_id",
        **more,
    }


def _sealed_secret(engine: Engine, settings: Settings, tenant: Tenant) -> str:
    with engine.connect() as conn:
        sealed = conn.execute(
            text("SELECT client_secret_sealed FROM platform.identity_settings WHERE tenant_id = :i"),
            {"i": tenant.id},
        ).scalar_one()
    assert CLIENT_SECRET not in sealed
    return SecretBox(settings.secret_key).open(sealed)


async def _test_login(admin: httpx.AsyncClient, slug: str) -> httpx.Response:
    """Press "test login", let the provider answer, follow the callback back to the page."""
    page = f"/tenants/{slug}/settings/identity"
    start = await _post(admin, page, f"{page}/test", {})
    if start.status_code != 303:
        return start  # the provider failed before the browser was sent there
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    assert callback.startswith(f"{CONSOLE}/auth/callback?")
    done = await admin.get(callback)
    assert done.status_code == 303, done.text[:500]
    # A test login signs nobody in.
    assert "motcua_session" not in done.headers.get("set-cookie", "")
    assert done.headers["location"].startswith(page + "?outcome=")
    return await admin.get(done.headers["location"])


@pytest.fixture
def rogue() -> Any:
    provider = RogueProvider().start()
    yield provider
    provider.stop()


async def test_the_identity_provider_is_saved_sealed_and_works_in_a_test_login(
    signed_in: Browser,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
    rogue: RogueProvider,
    app: Litestar,
) -> None:
    tenant = make_tenant()
    admin_id = new_personal_id()
    admin = await signed_in(personal_id=admin_id)
    page = f"/tenants/{tenant.slug}/settings/identity"
    saved = await _post(admin, page, page, _identity_form(rogue.issuer))
    assert saved.status_code == 303
    assert _sealed_secret(engine, live_settings, tenant) == CLIENT_SECRET
    shown = await admin.get(page)
    assert rogue.issuer in shown.text and CLIENT_SECRET not in shown.text

    # An edit with the secret left blank keeps it.
    kept = await _post(admin, page, page, _identity_form(rogue.issuer, secret="", display_name="Tên mới"))
    assert kept.status_code == 303
    assert _sealed_secret(engine, live_settings, tenant) == CLIENT_SECRET
    assert "Tên mới" in (await admin.get(f"/tenants/{tenant.slug}/settings")).text

    result = await _test_login(admin, tenant.slug)
    assert 'data-trial="ok"' in result.text, result.text[:2000]
    assert PERSON["personal_id"][:3] + "******" + PERSON["personal_id"][-3:] in result.text
    assert PERSON["personal_id"] not in result.text
    with engine.connect() as conn:
        citizens = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.citizens")).scalar_one()
    assert citizens == 0  # nobody was recorded as having logged in

    # The portal's next login goes to this provider.
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as browser:
        login = await browser.get(f"http://{tenant.slug}.localhost/login")
    assert login.status_code == 302 and login.headers["location"].startswith(rogue.issuer)

    rows = _audit(engine, tenant.slug, "identity.configured")
    assert [r.detail["secret_changed"] for r in rows] == [True, False]
    assert all(r.actor == f"platform_admin:{admin_id}" and r.detail["address"] == "127.0.0.1" for r in rows)
    assert all(CLIENT_SECRET not in str(r.detail) for r in rows)


async def test_a_wrong_secret_a_missing_claim_and_a_dead_provider_fail_clearly(
    signed_in: Browser, make_tenant: MakeTenant, rogue: RogueProvider
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    page = f"/tenants/{tenant.slug}/settings/identity"
    assert (
        await _post(admin, page, page, _identity_form(rogue.issuer, secret="wrong-secret"))
    ).status_code == 303
    wrong = await _test_login(admin, tenant.slug)
    assert 'data-trial="failed"' in wrong.text and "client secret sai" in wrong.text

    assert (await _post(admin, page, page, _identity_form(rogue.issuer))).status_code == 303
    rogue.fault = "no_personal_id"
    missing = await _test_login(admin, tenant.slug)
    assert 'data-trial="failed"' in missing.text and "không trả về số định danh cá nhân" in missing.text

    dead = "http://127.0.0.1:9"  # discard port: nothing answers
    assert (await _post(admin, page, page, _identity_form(dead))).status_code == 303
    unreachable = await _test_login(admin, tenant.slug)
    assert unreachable.status_code == 200
    assert 'data-trial="failed"' in unreachable.text and "discovery" in unreachable.text


async def test_bad_identity_input_is_refused_and_the_secret_never_echoed(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    page = f"/tenants/{tenant.slug}/settings/identity"
    typed = {
        "issuer": "ftp://eid.example",
        "client_id": "has space",
        "client_secret": "",
        "display_name": "",
        "scopes": "profile",
        "personal_id_claim": "x" * 101,
    }
    response = await _post(admin, page, page, typed)
    _assert_refused(
        response, "issuer", "client_id", "client_secret", "display_name", "scopes", "personal_id_claim"
    )
    assert 'value="ftp://eid.example"' in response.text and 'value="has space"' in response.text
    with_secret = await _post(admin, page, page, {**typed, "client_secret": "s3cret-typed-value"})
    assert with_secret.status_code == 400 and "s3cret-typed-value" not in with_secret.text
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM platform.identity_settings WHERE tenant_id = :i"), {"i": tenant.id}
        ).scalar_one()
    assert count == 0
    assert _audit(engine, tenant.slug, "identity.configured") == []


# Payment account -------------------------------------------------------------------------------
async def test_the_payment_account_is_set_and_an_account_of_another_tenant_refused(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, other = make_tenant(), make_tenant()
    admin = await signed_in()
    account = "acct_" + uuid.uuid4().hex[:16]
    page = f"/tenants/{tenant.slug}/settings/payments"
    saved = await _post(
        admin, page, page, {"stripe_account": account, "enabled": "on", "platform_fee_vnd": "2.000"}
    )
    assert saved.status_code == 303
    assert _settings_of(engine, tenant)["payments"] == {
        "enabled": True,
        "stripe_account": account,
        "platform_fee_vnd": 2000,
    }
    (row,) = _audit(engine, tenant.slug, "payments.configured")
    assert row.actor.startswith("platform_admin:") and row.detail["address"] == "127.0.0.1"

    other_page = f"/tenants/{other.slug}/settings/payments"
    taken = await _post(admin, other_page, other_page, {"stripe_account": account, "platform_fee_vnd": "0"})
    _assert_refused(taken, "stripe_account")
    assert "khác sử dụng" in taken.text and tenant.slug not in taken.text
    assert "payments" not in _settings_of(engine, other)


async def test_bad_payment_input_is_refused(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    page = f"/tenants/{tenant.slug}/settings/payments"
    response = await _post(admin, page, page, {"stripe_account": "acct!x", "platform_fee_vnd": "nhiều"})
    _assert_refused(response, "stripe_account", "platform_fee_vnd")
    assert 'value="acct!x"' in response.text and 'value="nhiều"' in response.text
    switched_on_without_account = await _post(admin, page, page, {"enabled": "on", "platform_fee_vnd": "0"})
    _assert_refused(switched_on_without_account, "stripe_account")
    assert "payments" not in _settings_of(engine, tenant)


# Mail sender -----------------------------------------------------------------------------------
async def _send_one(smtp_server: SmtpFixture, tmp_path: Path, engine: Engine, tenant: Tenant) -> Any:
    fresh = get_tenant(engine, tenant.slug)
    assert fresh is not None
    sent = await send_notification(
        smtp_server.settings(tmp_path),
        fresh,
        NotificationEvent.DOSSIER_ACCEPTED,
        DossierNotice(
            code="000.00.00.H01-260101-0001", procedure_name="Đăng ký khai sinh", status_label="Đã tiếp nhận"
        ),
        ["congdan@example.vn"],
        portal_url=f"http://{tenant.slug}.localhost",
        idempotency_key=f"{tenant.slug}:test:{uuid.uuid4().hex}",
    )
    assert sent
    return smtp_server.collector.received[-1].message


async def test_the_mail_sender_shows_in_the_next_email(
    signed_in: Browser,
    make_tenant: MakeTenant,
    engine: Engine,
    smtp_server: SmtpFixture,
    tmp_path: Path,
) -> None:
    own = _host()
    tenant = make_tenant(domains=[own])
    admin = await signed_in()
    page = f"/tenants/{tenant.slug}/settings/mail"
    saved = await _post(
        admin,
        page,
        page,
        {"name": "Sở Tư pháp, tỉnh Hà Nam", "address": f"thongbao@{own}", "reply_to": "motcua@hanam.gov.vn"},
    )
    assert saved.status_code == 303
    message = await _send_one(smtp_server, tmp_path, engine, tenant)
    assert message["From"].addresses[0].display_name == "Sở Tư pháp, tỉnh Hà Nam"
    assert message["From"].addresses[0].addr_spec == f"thongbao@{own}"
    assert str(message["Reply-To"]) == "motcua@hanam.gov.vn"

    # The tenant administrator changes the name and the reply-to, never the sending address.
    tenant_admin_id = new_personal_id()
    tenant_admin = await signed_in(tenant, role="tenant_admin", personal_id=tenant_admin_id)
    summary = await tenant_admin.get("/manage/settings")
    assert summary.status_code == 200
    assert own in summary.text and "/manage/settings/appearance" in summary.text
    assert "/manage/settings/calendar" in summary.text and "/manage/payments" in summary.text
    saved = await _post(
        tenant_admin,
        "/manage/settings/mail",
        "/manage/settings/mail",
        {"name": "Bộ phận Một cửa Hà Nam", "reply_to": "", "address": "evil@attacker.example"},
    )
    assert saved.status_code == 303
    message = await _send_one(smtp_server, tmp_path, engine, tenant)
    assert message["From"].addresses[0].display_name == "Bộ phận Một cửa Hà Nam"
    assert message["From"].addresses[0].addr_spec == f"thongbao@{own}"
    assert message["Reply-To"] is None

    rows = _audit(engine, tenant.slug, "mail_sender.configured")
    assert [r.actor.split(":")[0] for r in rows] == ["platform_admin", "tenant_admin"]
    assert rows[1].actor == f"tenant_admin:{tenant_admin_id}" and rows[1].detail["address"] == "127.0.0.1"
    assert rows[1].detail["from_address"] == f"thongbao@{own}"


async def test_bad_mail_sender_input_is_refused_on_both_sides(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    page = f"/tenants/{tenant.slug}/settings/mail"
    typed = {"name": 'Cổng <script>"', "address": "thongbao@attacker.example", "reply_to": "không phải thư"}
    response = await _post(admin, page, page, typed)
    _assert_refused(response, "name", "address", "reply_to")
    assert 'value="thongbao@attacker.example"' in response.text and 'value="không phải thư"' in response.text
    assert "&lt;script&gt;" in response.text and '<script>"' not in response.text

    tenant_admin = await signed_in(tenant, role="tenant_admin")
    response = await _post(
        tenant_admin, "/manage/settings/mail", "/manage/settings/mail", {"name": "", "reply_to": "x@"}
    )
    _assert_refused(response, "name", "reply_to")
    assert 'value="x@"' in response.text
    assert "mail_from" not in _settings_of(engine, tenant)
    assert _audit(engine, tenant.slug, "mail_sender.configured") == []


# Authorisation ---------------------------------------------------------------------------------
CONSOLE_GETS = ["", "/domains", "/identity", "/payments", "/mail"]
CONSOLE_POSTS = ["/domains", "/domains/remove", "/identity", "/identity/test", "/payments", "/mail"]
HOSTILE = {
    "host": "hijack.example.vn",
    "issuer": "http://evil.example",
    "client_id": "x",
    "client_secret": "x",
    "display_name": "x",
    "scopes": "openid",
    "personal_id_claim": "sub",
    "stripe_account": "acct_evil",
    "platform_fee_vnd": "0",
    "name": "Kẻ lạ",
    "address": "no-reply@localhost",
    "reply_to": "evil@attacker.example",
}


def _unchanged(engine: Engine, tenant: Tenant) -> None:
    assert _domains(engine, tenant) == []
    assert "mail_from" not in _settings_of(engine, tenant) and "payments" not in _settings_of(engine, tenant)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT count(*) FROM platform.audit_log WHERE tenant_slug = :s "
                "AND action <> 'tenant.activated' AND action NOT LIKE 'tenant.onboarding%'"
            ),
            {"s": tenant.slug},
        ).scalar_one()
    assert rows == 0


async def _refused_everywhere(client: httpx.AsyncClient, base: str, token: str | None) -> None:
    for path in CONSOLE_GETS:
        response = await client.get(f"{base}{path}")
        assert response.status_code in (303, 403, 404), (path, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login")
    for path in CONSOLE_POSTS:
        data = {**HOSTILE, **({"_csrf_token": token} if token else {})}
        response = await client.post(f"{base}{path}", data=data)
        assert response.status_code in (403, 404), (path, response.status_code)


async def test_console_settings_routes_are_for_platform_administrators_only(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant = make_tenant()
    base = f"{CONSOLE}/tenants/{tenant.slug}/settings"
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as anonymous:
        await _refused_everywhere(anonymous, base, None)
    # Signed in to the console, but not an administrator of it.
    stranger = await signed_in(role="none")
    await _refused_everywhere(stranger, base, await csrf_of(stranger, f"{CONSOLE}/"))
    # Staff of the tenant itself: their sessions belong to the portal, not the console.
    for role in ("citizen", "officer", "tenant_admin"):
        member = await signed_in(tenant, role=role)
        await _refused_everywhere(member, base, None)
        # ...and the console's paths do not exist on the portal's host.
        await _refused_everywhere(
            member, f"/console/tenants/{tenant.slug}/settings", await csrf_of(member, "/")
        )
    _unchanged(engine, tenant)
    # An unknown tenant is a 404 for the platform administrator too.
    admin = await signed_in()
    assert (await admin.get(f"/tenants/no-such-{uuid.uuid4().hex[:6]}/settings")).status_code == 404


async def test_manage_settings_routes_are_for_this_tenants_administrators_only(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant, other = make_tenant(), make_tenant()
    portal = f"http://{tenant.slug}.localhost"
    gets = ["/manage/settings", "/manage/settings/mail"]

    async def refused(client: httpx.AsyncClient, token: str | None) -> None:
        for path in gets:
            response = await client.get(f"{portal}{path}")
            assert response.status_code in (303, 403), (path, response.status_code)
        data = {**HOSTILE, **({"_csrf_token": token} if token else {})}
        response = await client.post(f"{portal}/manage/settings/mail", data=data)
        assert response.status_code == 403

    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as anonymous:
        await refused(anonymous, None)
    for role in ("citizen", "officer"):
        member = await signed_in(tenant, role=role)
        await refused(member, await csrf_of(member, "/"))
    # An administrator of another tenant, even carrying their session cookie over to this host.
    foreign = await signed_in(other, role="tenant_admin")
    sid = foreign.cookies.get("motcua_session", domain=f"{other.slug}.localhost")
    assert sid
    token = await csrf_of(foreign, "/manage/settings")
    foreign.cookies.set("motcua_session", sid, domain=f"{tenant.slug}.localhost")
    await refused(foreign, token)
    # A platform administrator's console session is no session on a portal.
    platform_admin = await signed_in()
    await refused(platform_admin, None)
    _unchanged(engine, tenant)

    own = await signed_in(tenant, role="tenant_admin")
    assert (await own.get("/manage/settings")).status_code == 200
    assert (await own.get("/manage/settings/mail")).status_code == 200


# Command line ----------------------------------------------------------------------------------
def test_the_cli_mirrors_domains_and_mail_sender(
    make_tenant: MakeTenant, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = make_tenant()
    host = _host()
    assert main(["tenants", "domains", tenant.slug, "--add", host]) == 0
    assert _domains(engine, tenant) == [host]
    assert main(["tenants", "domains", tenant.slug, "--add", "admin.localhost"]) == 1
    assert (
        main(["tenants", "mail", tenant.slug, "--name", "Cổng Hà Nam", "--reply-to", "motcua@hanam.gov.vn"])
        == 0
    )
    assert _settings_of(engine, tenant)["mail_reply_to"] == "motcua@hanam.gov.vn"
    assert main(["tenants", "domains", tenant.slug, "--remove", host]) == 0
    assert _domains(engine, tenant) == []
    out, err = capsys.readouterr()
    assert f"{host} now serves tenant {tenant.slug}" in out and "tên miền của nền tảng" in err
    assert [r.actor for r in _audit(engine, tenant.slug, "domain.added")] == ["operator:cli"]
