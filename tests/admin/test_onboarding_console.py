"""Onboarding from the console: the form, the job run by a real worker, its steps followed on the
tenant's page, a failure shown with its step and reason, and a retry that completes it."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.admin.localities import ministries, provinces
from motcua.core.settings import Settings
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import asgi_transport, unique_slug
from tests.workers import start_worker

GOOD_CATALOGUE = """
[[procedures]]
code = "1.000894"
name = "Đăng ký kết hôn"
field = "Hộ tịch"
level = "full"
processing_days = 3
"""
BAD_CATALOGUE = (
    GOOD_CATALOGUE
    + """
[[procedures]]
code = "1.000895"
name = "Thủ tục thiếu lĩnh vực"
level = "không có mức này"
"""
)


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "tinh.toml").write_text(GOOD_CATALOGUE, encoding="utf-8")
    return folder


@pytest.fixture
def worker(catalogue_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker("provisioning", env={"MOTCUA_CATALOGUE_DIR": str(catalogue_dir)})
    yield process
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
async def console(
    signed_in: Browser, live_settings: Settings, catalogue_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A platform administrator on a console whose settings name the test's catalogue folder."""
    from motcua.app import create_app

    app = create_app(replace(live_settings, catalogue_dir=catalogue_dir))
    base = await signed_in()
    async with httpx.AsyncClient(
        transport=asgi_transport(app), base_url="http://admin.localhost", follow_redirects=False
    ) as client:
        client.cookies = base.cookies
        yield client


def _form(slug: str, **changes: str) -> dict[str, str]:
    return {
        "slug": slug,
        "name": "Cổng Dịch vụ công tỉnh Thử Nghiệm",
        "locality": provinces()[1].key,
        "agency_code": "000.00.01.H99",
        "domains": "",
        "primary": "#0b5394",
        "accent": "#f1c232",
        "catalogue": "tinh",
        "first_admin": "",
        **changes,
    }


async def _wait_for(console: httpx.AsyncClient, slug: str, word: str) -> str:
    """Poll the progress fragment as the page does, until ``word`` shows (or give up)."""
    for _ in range(300):
        fragment = await console.get(f"/tenants/{slug}/progress")
        assert fragment.status_code == 200
        if word in fragment.text:
            return fragment.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{word!r} never showed: {fragment.text}")


async def test_a_platform_administrator_onboards_a_province_from_the_console(
    console: httpx.AsyncClient, worker: subprocess.Popen[bytes], engine: Engine
) -> None:
    form = await console.get("/tenants/new")
    assert form.status_code == 200
    # The maintained lists: the 34 provincial units since the 2025 merger, and the ministries.
    assert len(provinces()) == 34 and len(ministries()) == 17
    assert "Thành phố Hà Nội" in form.text and "Bộ Tư pháp" in form.text

    slug = unique_slug("ob")
    verdict = await console.get("/tenants/new/slug", params={"slug": slug})
    assert "dùng được" in verdict.text
    assert "error-message" in (await console.get("/tenants/new/slug", params={"slug": "admin"})).text

    token = await csrf_of(console, "/tenants/new")
    started = await console.post("/tenants/new", data={"_csrf_token": token, **_form(slug)})
    assert started.status_code == 303 and started.headers["location"] == f"/tenants/{slug}"
    page = await console.get(f"/tenants/{slug}")
    assert page.status_code == 200 and "Tiến trình khởi tạo" in page.text

    done = await _wait_for(console, slug, "Cổng đã mở")
    assert "hx-trigger" not in done  # the page stops asking once onboarding is over
    portal = httpx.AsyncClient(transport=console._transport, base_url=f"http://{slug}.localhost")
    async with portal:
        home = await portal.get("/")
        assert home.status_code == 200
        assert "Cổng Dịch vụ công tỉnh Thử Nghiệm" in home.text
        search = await portal.get("/procedures", params={"q": "kết hôn"})
        assert "Đăng ký kết hôn" in search.text
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, settings, schema_version FROM platform.tenants WHERE slug = :s"), {"s": slug}
        ).one()
        actions = conn.execute(
            text("SELECT action, actor FROM platform.audit_log WHERE tenant_slug = :s ORDER BY id"),
            {"s": slug},
        ).all()
    assert row.status == "active" and row.schema_version
    assert row.settings["locality"]["name"] == provinces()[1].name
    assert [a.action for a in actions][:1] == ["tenant.onboarding_started"]
    assert all(a.actor.startswith("platform_admin:") for a in actions if a.action.startswith("tenant."))

    # Onboarding the same slug again is refused at the form, nothing changes.
    again = await console.post("/tenants/new", data={"_csrf_token": token, **_form(slug)})
    assert again.status_code == 400 and "đã được dùng" in again.text


async def test_a_failed_onboarding_shows_its_step_and_reason_and_a_retry_completes_it(
    console: httpx.AsyncClient,
    worker: subprocess.Popen[bytes],
    catalogue_dir: Path,
    client: httpx.AsyncClient,
) -> None:
    (catalogue_dir / "tinh.toml").write_text(BAD_CATALOGUE, encoding="utf-8")
    slug = unique_slug("fail")
    token = await csrf_of(console, "/tenants/new")
    assert (await console.post("/tenants/new", data={"_csrf_token": token, **_form(slug)})).status_code == 303

    failed = await _wait_for(console, slug, "Khởi tạo không thành công")
    assert 'class="step-failed"' in failed
    assert "Nạp danh mục thủ tục" in re.search(r'class="step-failed">([^<]*)', failed).group(1)  # type: ignore[union-attr]
    assert "1.000895" in failed  # the reason names the procedure at fault
    # Never served half-made. (Asked of another app instance: this one's host cache would keep
    # the answer, and an ASGI test app runs no lifespan, so it hears no invalidation.)
    assert (await client.get("/", headers={"host": f"{slug}.localhost"})).status_code == 404
    portal = httpx.AsyncClient(transport=console._transport, base_url=f"http://{slug}.localhost")
    async with portal:
        (catalogue_dir / "tinh.toml").write_text(GOOD_CATALOGUE, encoding="utf-8")
        token = await csrf_of(console, f"/tenants/{slug}")
        retried = await console.post(f"/tenants/{slug}/retry", data={"_csrf_token": token})
        assert retried.status_code == 303
        await _wait_for(console, slug, "Cổng đã mở")
        assert (await portal.get("/")).status_code == 200
    # Retrying what has not failed is refused.
    refused = await console.post(f"/tenants/{slug}/retry", data={"_csrf_token": token})
    assert refused.status_code == 404


async def test_the_onboarding_form_refuses_bad_values_keeps_them_and_creates_nothing(
    console: httpx.AsyncClient, engine: Engine
) -> None:
    token = await csrf_of(console, "/tenants/new")
    slug = unique_slug("bad")
    bad = _form(
        slug.upper() + "!",
        name="",
        locality="province:99",
        agency_code="mã sai",
        domains="khong hop le\nadmin.localhost",
        primary="red",
        catalogue="../../etc/passwd",
        first_admin="123",
    )
    response = await console.post("/tenants/new", data={"_csrf_token": token, **bad})
    assert response.status_code == 400
    for field in (
        "slug",
        "name",
        "locality",
        "agency_code",
        "domains",
        "primary",
        "catalogue",
        "first_admin",
    ):
        assert f'href="#{field}"' in response.text, field
    assert "mã sai" in response.text and "khong hop le" in response.text  # kept as typed
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM platform.tenants WHERE slug ILIKE :s"), {"s": slug + "%"}
            ).scalar_one()
            == 0
        )
    reserved = await console.post("/tenants/new", data={"_csrf_token": token, **_form("new")})
    assert reserved.status_code == 400


async def test_onboarding_routes_refuse_everyone_but_platform_administrators(signed_in: Browser) -> None:
    stranger = await signed_in(role="none")
    for path in ("/tenants/new", "/tenants/new/slug?slug=abc"):
        assert (await stranger.get(path)).status_code == 403, path
    token = await csrf_of(stranger, "/")
    slug = unique_slug("no")
    refused = await stranger.post("/tenants/new", data={"_csrf_token": token, **_form(slug)})
    assert refused.status_code == 403
    async with httpx.AsyncClient(
        transport=stranger._transport, base_url="http://admin.localhost"
    ) as anonymous:
        assert (await anonymous.get("/tenants/new")).status_code in (302, 303, 401)
