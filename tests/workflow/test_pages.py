"""/officer/units (workflow.pages): the units a person works in, a unit's queue with its filters
and keyset pages, and the leader's view with the late risks; nobody else sees any of it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, select

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.identity.sessions import SESSION_COOKIE
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from motcua.workflow import pages
from motcua.workflow.services import advance, start_workflow
from tests.admin.conftest import Browser, new_personal_id
from tests.conftest import MakeTenant, asgi_transport, procedure, unique_slug

CALENDAR = WorkCalendar.from_config({})
ADMIN = Actor.tenant_admin("001080000009")
SPECIALIST_NAME = "Phạm Văn Chuyên"
LEADER_NAME = "Nguyễn Thị Lãnh"


@dataclass(frozen=True)
class World:
    tenant: Tenant
    department: int  # the unit under test
    other: int  # another unit of the same tenant
    leader: str
    specialist: str
    stranger: str  # a specialist of the other unit
    codes: list[str]  # the department's dossiers, n = 0…5
    other_code: str  # a dossier of the other unit


def _visible(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _codes(page: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', page)


@pytest.fixture(scope="module")
async def world(engine: Engine, live_settings: Settings) -> World:
    """Six dossiers at the department (two received forty days ago, so late; two at the
    specialist step), one at another unit, and the staff of both."""
    tenant = onboard_tenant(
        engine,
        live_settings,
        build_spec(
            slug=unique_slug(),
            name="Cổng thử nghiệm hàng đợi đơn vị",
            procedures=[procedure("2.000001", "Cấp giấy phép xây dựng", processing_days=10)],
        ),
        actor=Actor.operator("test"),
    )
    leader, specialist, stranger = new_personal_id(), new_personal_id(), new_personal_id()
    db = Database(live_settings.database_url or "", pool_size=2)
    async with db.tenant_session(tenant) as session:
        desk = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        department = await add_unit(
            session,
            parent_id=desk.id,
            kind="department",
            name="Sở Xây dựng thử nghiệm",
            agency_code="000.00.40.H98",
            actor=ADMIN,
        )
        other = await add_unit(
            session,
            parent_id=desk.id,
            kind="department",
            name="Sở Tài chính thử nghiệm",
            agency_code="000.00.41.H98",
            actor=ADMIN,
        )
        for unit, pid, name, role in (
            (department, leader, LEADER_NAME, "leader"),
            (department, specialist, SPECIALIST_NAME, "specialist"),
            (other, stranger, "Lê Văn Khác", "specialist"),
        ):
            await add_staff(session, unit, personal_id=pid, full_name=name, role=role, actor=ADMIN)
        desk_id, department_id, other_id = desk.id, department.id, other.id

    now = datetime.now(VIETNAM)
    codes: list[str] = []
    for n in range(7):
        at = now - timedelta(days=40) if n < 2 else now - timedelta(hours=1)
        async with db.tenant_session(tenant) as session:
            proc = await get_procedure(session, "2.000001")
            assert proc is not None
            outcome = await receive_dossier(
                session,
                tenant,
                procedure=proc,
                applicant=Applicant(personal_id=f"0011920{n:05d}", full_name=f"Trần Văn Nộp {n}"),
                data={},
                documents=[],
                channel=Channel.IN_PERSON,
                actor=Actor.operator("test"),
                now=at,
            )
            assert isinstance(outcome, Received), outcome
            dossier = await session.get(Dossier, outcome.dossier.id)
            assert dossier is not None
            await start_workflow(
                session,
                dossier,
                receiving_unit_id=desk_id,
                deciding_unit_id=other_id if n == 6 else department_id,
                at=at,
                calendar=CALENDAR,
            )
            step_at = at + timedelta(minutes=n + 1)
            await advance(
                session,
                dossier,
                at=step_at,
                calendar=CALENDAR,
                actor=Actor.officer(leader),
                assignee=specialist if n % 2 else None,
            )
            if n in (4, 5):
                await advance(
                    session,
                    dossier,
                    at=step_at,
                    calendar=CALENDAR,
                    actor=Actor.officer(leader),
                    assignee=specialist,
                )
            codes.append(dossier.code)
    await db.dispose()
    return World(tenant, department_id, other_id, leader, specialist, stranger, codes[:6], codes[6])


async def test_an_officer_sees_their_unit_and_works_through_its_queue(
    signed_in: Browser, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = await signed_in(world.tenant, role="officer", personal_id=world.specialist, name=SPECIALIST_NAME)
    units = await me.get("/officer/units")
    assert units.status_code == 200
    text = _visible(units.text)
    assert "Sở Xây dựng thử nghiệm" in text and "Chuyên viên xử lý" in text
    assert "Sở Tài chính thử nghiệm" not in text
    assert f"/officer/units/{world.department}/queue" in units.text
    assert "/workload" not in units.text  # a specialist has no leader's view
    assert re.search(r'data-count="open">6<', units.text)
    assert re.search(r'data-count="overdue"><strong class="tag tag-error">2<', units.text)

    url = f"/officer/units/{world.department}/queue"
    queue = await me.get(url)
    assert queue.status_code == 200
    shown = _codes(queue.text)
    assert sorted(shown) == sorted(world.codes) and world.other_code not in queue.text
    text = _visible(queue.text)
    # People and steps in words, never IDs or codes; both deadlines, the late ones tagged.
    assert SPECIALIST_NAME in text and "Chưa phân công" in text
    assert world.specialist not in text and "department" not in text
    assert "Chuyển đơn vị giải quyết" in text and "Chuyên viên thẩm định, dự thảo kết quả" in text
    assert queue.text.count('class="tag tag-error">Quá hạn<') == 2
    assert queue.text.count('class="tag tag-warn">Quá hạn bước<') >= 2
    assert f'href="/officer/dossiers/{world.codes[0]}"' in queue.text
    # The two late dossiers have the earliest step deadlines: first in the queue.
    assert set(shown[:2]) == set(world.codes[:2])

    mine = await me.get(url, params={"cua_toi": "1"})
    assert sorted(_codes(mine.text)) == sorted(world.codes[i] for i in (1, 3, 4, 5))
    assert "Chưa phân công" not in _visible(mine.text)
    specialist_step = await me.get(url, params={"buoc": "specialist"})
    assert sorted(_codes(specialist_step.text)) == sorted(world.codes[4:6])
    nothing = await me.get(url, params={"buoc": "delivery"})
    assert _codes(nothing.text) == [] and "Không có hồ sơ nào" in nothing.text

    # Keyset pages of four: "Trang sau" carries the last row's keyset; each dossier once.
    monkeypatch.setattr(pages, "QUEUE_PAGE", 4)
    first = await me.get(url)
    assert len(_codes(first.text)) == 4 and "Về trang đầu" not in first.text
    link = re.search(r'<a href="([^"]+)" rel="next">Trang sau</a>', first.text)
    assert link is not None
    second = await me.get(html.unescape(link.group(1)))
    assert second.status_code == 200 and "Về trang đầu" in second.text and 'rel="next"' not in second.text
    assert sorted(_codes(first.text) + _codes(second.text)) == sorted(world.codes)

    # A hand-edited link is a 400 page, never a 500.
    for params in (
        {"sau_han": "hôm qua", "sau_buoc": "1"},
        {"sau_han": "2026-12-01T08:00:00+07:00", "sau_buoc": "một"},
        {"sau_han": "2026-12-01T08:00:00", "sau_buoc": "1"},  # no offset
        {"sau_buoc": "12"},
        {"sau_han": "2026-12-01T08:00:00+07:00", "sau_buoc": "9" * 30},
        {"buoc": "castle"},
    ):
        bad = await me.get(url, params=params)
        assert bad.status_code == 400, params
        assert "Yêu cầu không hợp lệ" in bad.text and "Sở Xây dựng" not in bad.text

    # The leader's view is not the specialist's.
    refused = await me.get(f"/officer/units/{world.department}/workload")
    assert refused.status_code == 403 and "Trần Văn Nộp" not in refused.text


async def test_the_leader_sees_the_units_workload_and_the_dossiers_likely_to_be_late(
    signed_in: Browser, world: World
) -> None:
    leader = await signed_in(world.tenant, role="officer", personal_id=world.leader, name=LEADER_NAME)
    units = await leader.get("/officer/units")
    assert f'href="/officer/units/{world.department}/workload"' in units.text
    assert "Lãnh đạo" in _visible(units.text)
    page = await leader.get(f"/officer/units/{world.department}/workload")
    assert page.status_code == 200
    assert re.search(r'data-count="overdue"><strong class="tag tag-error">2<', page.text)
    assert re.search(r'data-count="unassigned">2<', page.text)
    text = _visible(page.text)
    assert "Chuyển đơn vị giải quyết 4" in " ".join(text.split())
    assert "Chuyên viên thẩm định, dự thảo kết quả 2" in " ".join(text.split())
    # Per officer by name: the specialist holds two at the department step and two of their own.
    assert f"{SPECIALIST_NAME} 4" in " ".join(text.split()) and world.specialist not in text
    # The late ones are certain to be late; highest risk first, in words and percent.
    risks = page.text.split('data-testid="risks"', 1)[1]
    listed = _codes(risks)
    assert set(listed[:2]) == set(world.codes[:2]) and world.other_code not in listed
    assert "100 %" in risks and "Nguy cơ trễ hạn cao" in risks
    # A unit where the leader holds no role, and one that does not exist: the same refusal.
    for unit_id in (world.other, 987654321):
        for tail in ("queue", "workload"):
            refused = await leader.get(f"/officer/units/{unit_id}/{tail}")
            assert refused.status_code == 403 and "Sở Tài chính thử nghiệm" not in refused.text


@pytest.mark.parametrize("who", ["anonymous", "citizen", "other_unit", "other_tenant_leader", "console"])
async def test_nobody_outside_the_unit_sees_anything_of_it(
    who: str,
    signed_in: Browser,
    world: World,
    make_tenant: MakeTenant,
    live_settings: Settings,
    app: Litestar,
) -> None:
    host = f"{world.tenant.slug}.localhost"
    if who == "anonymous":
        browser = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{host}")
    elif who == "citizen":
        browser = await signed_in(world.tenant, role="citizen")
    elif who == "other_unit":
        browser = await signed_in(
            world.tenant, role="officer", personal_id=world.stranger, name="Lê Văn Khác"
        )
    elif who == "other_tenant_leader":
        # A leader of the same-numbered unit of another tenant, with that session sent here.
        elsewhere = make_tenant()
        pid = new_personal_id()
        db = Database(live_settings.database_url or "", pool_size=1)
        async with db.tenant_session(elsewhere) as session:
            root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
            await add_staff(session, root, personal_id=pid, full_name="Kẻ Lạ", role="leader", actor=ADMIN)
        await db.dispose()
        browser = await signed_in(elsewhere, role="officer", personal_id=pid)
        session_id = browser.cookies.get(SESSION_COOKIE)
        assert session_id is not None
        browser.base_url = httpx.URL(f"http://{host}")
        browser.cookies.set(SESSION_COOKIE, session_id, domain=host)
    else:
        browser = await signed_in(None, role="platform_admin")
    secrets = ["Sở Xây dựng thử nghiệm", *world.codes, "Trần Văn Nộp"]
    try:
        listing = await browser.get("/officer/units")
        if who in ("citizen", "other_unit"):
            assert listing.status_code == 200
            if who == "citizen":
                assert "Bạn chưa có vai trò ở đơn vị nào" in listing.text
        else:
            assert listing.status_code in (303, 404), listing.status_code
        assert not [s for s in secrets if s in listing.text]
        for tail in ("queue", "workload", "queue?cua_toi=1&buoc=department"):
            response = await browser.get(f"/officer/units/{world.department}/{tail}")
            if who == "console":
                assert response.status_code == 404
            else:
                assert response.status_code in (303, 403), (tail, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login")
            assert not [s for s in secrets if s in response.text], (who, tail)
    finally:
        if who == "anonymous":
            await browser.aclose()
