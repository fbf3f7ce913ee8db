"""/manage/jobs: the background jobs of this tenant that failed after every retry, in words, for
its administrators only."""

from __future__ import annotations

import httpx
from litestar import Litestar
from sqlalchemy import Engine

from motcua.backoffice.services import JOB_LABELS
from motcua.core.audit import Actor, platform_entry
from motcua.core.tenant import Tenant
from tests.admin.conftest import Browser, signed_in
from tests.conftest import MakeTenant, asgi_transport
from tests.meta.test_structure import worker_declarations

__all__ = ["signed_in"]  # the signed-in browser fixture, used here


def _failed(engine: Engine, tenant: Tenant, actor_name: str, error: str) -> None:
    """A failure as the worker records it (motcua.core.broker) after the last retry."""
    with engine.begin() as conn:
        conn.execute(
            platform_entry(
                "job.failed",
                actor=Actor.system("worker"),
                tenant=tenant.slug,
                detail={"actor": actor_name, "message_id": "m-1", "error": error},
            )
        )


async def test_failed_jobs_are_shown_in_words_in_each_language(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant, other = make_tenant(), make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    empty = await admin.get("/manage/jobs")
    assert empty.status_code == 200
    assert "Không có công việc nền nào bị lỗi." in empty.text

    _failed(engine, tenant, "notify_citizen", "DeliveryError: 550 mailbox unavailable")
    _failed(engine, tenant, "some_retired_job", "RuntimeError: gone")
    _failed(engine, other, "deadline_scan", "RuntimeError: elsewhere")
    page = await admin.get("/manage/jobs")
    assert page.status_code == 200
    assert "Gửi thông báo cho người dân" in page.text
    assert "Công việc nền khác" in page.text  # a job this version no longer knows
    assert "DeliveryError: 550 mailbox unavailable" in page.text  # the technical detail stays
    assert "notify_citizen" not in page.text and "some_retired_job" not in page.text
    assert "elsewhere" not in page.text  # another tenant's failures are not this one's

    await admin.get("/lang/en", params={"next": "/manage/jobs"})
    english = await admin.get("/manage/jobs")
    assert "<h1>Failed background jobs</h1>" in english.text
    assert "Notify the citizen" in english.text
    assert "Gửi thông báo" not in english.text


async def test_failed_jobs_are_for_this_tenants_administrators_only(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant, other = make_tenant(), make_tenant()
    _failed(engine, tenant, "notify_citizen", "DeliveryError: secret detail")
    url = f"http://{tenant.slug}.localhost/manage/jobs"

    async def refused(client: httpx.AsyncClient) -> None:
        response = await client.get(url)
        assert response.status_code in (303, 403)
        assert "secret detail" not in response.text

    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as anonymous:
        await refused(anonymous)
    for role in ("citizen", "officer"):
        await refused(await signed_in(tenant, role=role))
    # An administrator of another tenant, even carrying their session cookie over to this host.
    foreign = await signed_in(other, role="tenant_admin")
    assert (await foreign.get("/manage/jobs")).status_code == 200
    sid = foreign.cookies.get("motcua_session", domain=f"{other.slug}.localhost")
    assert sid
    foreign.cookies.set("motcua_session", sid, domain=f"{tenant.slug}.localhost")
    await refused(foreign)
    # A platform administrator's console session is no session on a portal.
    await refused(await signed_in())


def test_every_job_the_worker_runs_has_words() -> None:
    _, actors = worker_declarations()
    assert actors - set(JOB_LABELS) == set()
