"""An archived portal is read-only: every page says so with the reason, nothing can be changed
(no new dossier), and staff still sign in, read their queues and download files."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.tenancy.services import archive_tenant, resume_tenant, suspend_tenant
from tests.backoffice.test_workspace import _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf, sign_in
from tests.dossiers.test_journey import ANSWERS

__all__ = ["sign_in"]  # the citizens' browsers of tests/dossiers, a fixture here too

REASON = "Sáp nhập vào tỉnh Thử Nghiệm Mới"


def _dossiers(engine: Engine, schema: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {schema}.dossiers")).scalar_one())


async def test_an_archived_portal_is_read_only_with_a_notice_and_staff_still_read(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, client: httpx.AsyncClient
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    # Forms opened before the archive, sent after it.
    apply_token = await csrf(citizen, "/procedures/1.001193/apply")
    host = {"host": f"{tenant.slug}.localhost"}
    assert "archived-notice" not in (await client.get("/", headers=host)).text

    archive_tenant(engine, tenant.slug, actor=Actor.operator("test"), reason=REASON)

    home = await client.get("/", headers=host)
    assert home.status_code == 200
    assert 'data-testid="archived-notice"' in home.text and REASON in home.text
    tracked = await client.get("/tracking", params={"code": code}, headers=host)
    assert tracked.status_code == 200 and code in tracked.text and REASON in tracked.text

    # No new dossier: neither a form post nor an upload, nor an htmx draft save.
    before = _dossiers(engine, tenant.schema)
    refused = await citizen.post("/procedures/1.001193/apply", data={"_csrf_token": apply_token, **ANSWERS})
    assert refused.status_code == 409
    assert "Cổng dịch vụ công đã được lưu trữ" in refused.text and REASON in refused.text
    upload = await citizen.post(
        "/procedures/1.001193/apply/files/to-khai",
        data={"_csrf_token": apply_token},
        files={"file": ("tờ khai.pdf", PDF, "application/pdf")},
    )
    assert upload.status_code == 409
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await citizen.request(method, f"/my/dossiers/{code}")).status_code == 409
    assert _dossiers(engine, tenant.schema) == before

    # Staff still read their queues and the dossier, and download its files.
    queue = await officer.get("/officer")
    assert queue.status_code == 200 and code in queue.text
    workspace = await officer.get(f"/officer/dossiers/{code}")
    assert workspace.status_code == 200
    link = re.search(r'href="(/[^"]*files/[^"]+)"', workspace.text)
    assert link is not None, workspace.text[:2000]
    download = await officer.get(link.group(1))
    assert download.status_code == 200 and download.content == PDF
    # Their actions are refused like every other change.
    token = await csrf(officer, f"/officer/dossiers/{code}")
    act = await officer.post(f"/officer/dossiers/{code}/actions/accept", data={"_csrf_token": token})
    assert act.status_code == 409
    # The citizen still reads their own dossier; signing out works.
    assert (await citizen.get(f"/my/dossiers/{code}")).status_code == 200
    out = await citizen.post("/logout", data={"_csrf_token": await csrf(citizen, "/")})
    assert out.status_code == 303
    # The language switch works too (on the citizen's own browser: the session-wide client must
    # not keep a language cookie for the tests after this one).
    assert (await citizen.get("/lang/en", params={"next": "/"})).status_code in (302, 303)


async def test_a_suspended_portal_is_still_closed_and_an_active_one_has_no_notice(
    make_tenant: MakeTenant, engine: Engine, client: httpx.AsyncClient
) -> None:
    tenant = make_tenant()
    host = {"host": f"{tenant.slug}.localhost"}
    suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"), reason="Bảo trì")
    assert (await client.get("/", headers=host)).status_code == 503
    assert (await client.post("/login", headers=host)).status_code == 503
    resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    page = await client.get("/", headers=host)
    assert page.status_code == 200 and "archived-notice" not in page.text
