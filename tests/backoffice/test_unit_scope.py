"""Officers see and act only on the dossiers of their units (workflow.scope), and drive the
dossier's internal workflow from the workspace (backoffice.steps).

One province with its service centre, two communes and a department. A commune's dossier is
invisible to the other commune and to the department until it is transferred there; every
/officer route that names a dossier (or one of its files) answers 404 for it, the same as for a
code that does not exist, and changes nothing. The tenant-wide officer without a unit role
works on the service centre's dossiers; another tenant's officer sees nothing."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.admin.services import build_spec, onboard_tenant
from motcua.backoffice.services import SUMMARIES
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.services import record_file
from motcua.dossiers.storage import StoredObject
from motcua.dossiers.uploads import validate_upload
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit, remove_staff
from tests.admin.conftest import Browser, new_personal_id, signed_in
from tests.conftest import MakeTenant, procedure, unique_slug
from tests.dossiers.conftest import PDF

__all__ = ["signed_in"]

ADMIN = Actor.tenant_admin("001080000009")
UNKNOWN = "000.00.99.X99-260101-9999"


@dataclass(frozen=True)
class Province:
    tenant: Tenant
    root: int
    commune_a: int
    commune_b: int
    department: int
    staff: dict[str, str]  # role in the story → personal ID
    a_code: str  # received and decided at commune A
    b_code: str  # received and decided at commune B
    root_code: str  # received before units were recorded: the service centre's
    a_file: str  # a file of commune A's dossier


NAMES = {
    "reception_a": "Lê Thị Tiếp",
    "leader_a": "Phạm Văn Xã",
    "reception_b": "Võ Thị Bê",
    "leader_d": "Nguyễn Thị Lãnh",
    "specialist_d": "Trần Văn Chuyên",
    "specialist_d2": "Đỗ Thị Hai",
}


async def _received(session: AsyncSession, tenant: Tenant, n: int, code: str = "2.000001") -> Dossier:
    proc = await get_procedure(session, code)
    assert proc is not None
    outcome = await receive_dossier(
        session,
        tenant,
        procedure=proc,
        applicant=Applicant(personal_id=f"0011930{n:05d}", full_name=f"Hoàng Văn Nộp {n}"),
        data={},
        documents=[],
        channel=Channel.IN_PERSON,
        actor=Actor.operator("test"),
    )
    assert isinstance(outcome, Received), outcome
    return outcome.dossier


@pytest.fixture(scope="module")
async def province(engine: Engine, live_settings: Settings) -> Province:
    tenant = onboard_tenant(
        engine,
        live_settings,
        build_spec(
            slug=unique_slug(),
            name="Tỉnh thử nghiệm phạm vi đơn vị",
            procedures=[
                procedure("2.000001", "Đăng ký khai sinh", processing_days=10),
                # No dossier yet: the last test gives it one at commune A only.
                procedure("2.000002", "Cấp bản sao trích lục hộ tịch", processing_days=3),
            ],
        ),
        actor=Actor.operator("test"),
    )
    staff = {key: new_personal_id() for key in NAMES} | {"plain": new_personal_id()}
    db = Database(live_settings.database_url or "", pool_size=2)
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        units = {}
        for key, kind, name, agency in (
            ("a", "commune", "Xã Thử Nghiệm A", "000.00.51.H97"),
            ("b", "commune", "Xã Thử Nghiệm B", "000.00.52.H97"),
            ("d", "department", "Sở Tư pháp thử nghiệm", "000.00.53.H97"),
        ):
            units[key] = await add_unit(
                session, parent_id=root.id, kind=kind, name=name, agency_code=agency, actor=ADMIN
            )
        for key, (unit, role) in {
            "reception_a": (units["a"], "reception"),
            "leader_a": (units["a"], "leader"),
            "reception_b": (units["b"], "reception"),
            "leader_d": (units["d"], "leader"),
            "specialist_d": (units["d"], "specialist"),
            "specialist_d2": (units["d"], "specialist"),
        }.items():
            await add_staff(
                session, unit, personal_id=staff[key], full_name=NAMES[key], role=role, actor=ADMIN
            )
        ids = {k: u.id for k, u in units.items()}
        root_id = root.id
        # Routing (the organisation's job at submission) stands in here: each dossier is put
        # where the story needs it, whatever the procedure's route says.
        codes = []
        for n, (receiving, deciding) in enumerate(((ids["a"], ids["a"]), (ids["b"], ids["b"]), (None, None))):
            dossier = await _received(session, tenant, n)
            dossier.receiving_unit_id, dossier.deciding_unit_id = receiving, deciding
            codes.append((dossier.code, dossier.id, dossier.citizen_id))

        async def chunks() -> AsyncIterator[bytes]:
            yield PDF

        upload = await validate_upload(chunks(), max_bytes=1 << 20, filename="to-khai.pdf")
        stored = StoredObject(
            key=f"test/{uuid.uuid4().hex}",
            size=len(PDF),
            sha256=hashlib.sha256(PDF).hexdigest(),
            media_type="application/pdf",
        )
        file = await record_file(
            session, upload, stored, citizen_id=codes[0][2], document_code="to-khai", dossier_id=codes[0][1]
        )
        file_id = file.id
    await db.dispose()
    return Province(
        tenant,
        root_id,
        ids["a"],
        ids["b"],
        ids["d"],
        staff,
        codes[0][0],
        codes[1][0],
        codes[2][0],
        file_id,
    )


async def _as(signed_in: Browser, province: Province, who: str) -> httpx.AsyncClient:
    return await signed_in(
        province.tenant, role="officer", personal_id=province.staff[who], name=NAMES.get(who, "Cán bộ chung")
    )


def _token(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found is not None, page[:300]
    return found.group(1)


def _fields(page: str) -> dict[str, str]:
    """The hidden fields of the workspace's forms: the token, the dossier's version, the step."""
    fields = {"_csrf_token": _token(page)}
    version = re.search(r'name="version" value="(\d+)"', page)
    step = re.search(r'data-step-id="(\d+)"', page)
    if version:
        fields["version"] = version.group(1)
    if step:
        fields["step"] = step.group(1)
    return fields


def _error(page: str) -> str:
    """The workspace's error message, for an assertion's explanation."""
    return page.split('id="action-error"', 1)[-1].split("</div>", 1)[0]


def _codes(page: str) -> set[str]:
    return set(re.findall(r"/officer/dossiers/([0-9A-Z.]+-\d{6}-\d{4})", page))


def _state(engine: Engine, tenant: Tenant, code: str) -> tuple[object, ...]:
    """What a refused request must leave as it was: the dossier row and its steps."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT status, version, assigned_to, due_at FROM {tenant.schema}.dossiers WHERE code = :c"
            ),
            {"c": code},
        ).one()
        steps = conn.execute(
            text(
                f"SELECT count(*) FROM {tenant.schema}.dossier_steps s "
                f"JOIN {tenant.schema}.dossiers d ON d.id = s.dossier_id WHERE d.code = :c"
            ),
            {"c": code},
        ).scalar_one()
        return (*row, steps)


def _officer_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every route of the app that names a dossier or a file under /officer: (method, path)."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if route.path.startswith("/officer") and ("{code" in route.path or "{file_id" in route.path):
            for method in sorted(set(route.methods) - {"OPTIONS", "HEAD"}):
                found.append((str(method), route.path))
    return found


def _url(path: str, code: str, file_id: str) -> str:
    filled = {
        "code": code,
        "file_id": file_id,
        "action": "accept",
        "verb": "advance",
        "payment_id": "1",
        "document_id": "x",
    }
    return re.sub(r"\{(\w+):\w+\}", lambda m: filled[m.group(1)], path)


async def test_an_officer_reaches_no_dossier_outside_their_units(
    signed_in: Browser, province: Province, engine: Engine, app: Litestar, make_tenant: MakeTenant
) -> None:
    routes = _officer_routes(app)
    # The walk covers the workspace, its actions and steps, the files and the slip.
    paths = {p for _, p in routes}
    assert {"/officer/dossiers/{code:str}", "/officer/files/{file_id:str}"} <= paths
    assert any("/steps/" in p for p in paths) and any("/refund" in p for p in paths)

    reception_b = await _as(signed_in, province, "reception_b")
    leader_d = await _as(signed_in, province, "leader_d")
    plain = await _as(signed_in, province, "plain")
    stranger = await signed_in(make_tenant(), role="officer", personal_id=province.staff["reception_b"])

    # Queues: each their own.
    assert _codes((await reception_b.get("/officer")).text) == {province.b_code}
    assert _codes((await leader_d.get("/officer")).text) == set()  # nothing transferred yet
    assert _codes((await plain.get("/officer")).text) == {province.root_code}
    assert _codes((await stranger.get("/officer")).text) == set()
    # Counts are the officer's too (cached per unit scope, never another's).
    for browser, waiting in ((reception_b, 1), (leader_d, 0), (plain, 1), (stranger, 0)):
        assert f'data-queue-count="new">({waiting})<' in (await browser.get("/officer")).text

    before = _state(engine, province.tenant, province.a_code)
    for browser, token_page in (
        (reception_b, f"/officer/dossiers/{province.b_code}"),
        (leader_d, "/officer/units"),
        (plain, f"/officer/dossiers/{province.root_code}"),
        (stranger, "/officer"),
    ):
        token = _token((await browser.get(token_page)).text)
        for method, path in routes:
            for code, file_id in ((province.a_code, province.a_file), (UNKNOWN, "0" * 32)):
                url = _url(path, code, file_id)
                if method == "GET":
                    answer = await browser.get(url)
                else:
                    answer = await browser.post(
                        url,
                        data={"_csrf_token": token, "version": "1", "step": "1", "confirm": "yes", "to": "1"},
                    )
                assert answer.status_code == 404, (method, url, answer.status_code)
                # The answer is the same as for a code that does not exist: it names nothing of it.
                assert "Hoàng Văn Nộp" not in answer.text and "Xã Thử Nghiệm A" not in answer.text
    assert _state(engine, province.tenant, province.a_code) == before

    # Their own: reachable.
    assert (await reception_b.get(f"/officer/dossiers/{province.b_code}")).status_code == 200
    assert (await plain.get(f"/officer/dossiers/{province.root_code}")).status_code == 200
    assert (await plain.get(f"/officer/dossiers/{province.root_code}/slip.pdf")).status_code == 200
    # The tenant-wide officer without a unit role acts on the service centre's dossiers.
    page = (await plain.get(f"/officer/dossiers/{province.root_code}")).text
    accepted = await plain.post(f"/officer/dossiers/{province.root_code}/actions/accept", data=_fields(page))
    assert accepted.status_code == 303
    assert _state(engine, province.tenant, province.root_code)[0] == "accepted"


async def test_a_dossier_goes_from_the_commune_desk_to_the_department_and_back_with_its_journey(
    signed_in: Browser, province: Province, engine: Engine, live_settings: Settings
) -> None:
    code = province.a_code
    url = f"/officer/dossiers/{code}"
    reception_a = await _as(signed_in, province, "reception_a")
    leader_a = await _as(signed_in, province, "leader_a")
    leader_d = await _as(signed_in, province, "leader_d")
    specialist_d = await _as(signed_in, province, "specialist_d")
    reception_b = await _as(signed_in, province, "reception_b")

    async def post(browser: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
        page = (await browser.get(url)).text
        return await browser.post(f"{url}/{path}", data={**_fields(page), **fields})

    # The commune's desk accepts: the reception step closes and the deciding step opens there.
    assert (await post(reception_a, "actions/accept")).status_code == 303
    page = (await reception_a.get(url)).text
    assert 'data-step-kind="department"' in page and "Xã Thử Nghiệm A" in page
    assert 'data-testid="step-due"' in page and "Hạn giải quyết" in page
    # Reception holds no role for the deciding step: nothing to act on, and a forged POST fails.
    assert 'data-step-action="advance"' not in page and 'data-step-panel="transfer"' not in page
    before = _state(engine, province.tenant, code)
    refused = await post(reception_a, "steps/advance")
    assert refused.status_code == 409 and "Bạn không có vai trò" in refused.text
    assert _state(engine, province.tenant, code) == before

    # The commune's leader transfers it to the department: only with the confirmation and a reason.
    page = (await leader_a.get(url)).text
    assert 'data-step-panel="transfer"' in page
    unconfirmed = await leader_a.post(
        f"{url}/steps/transfer",
        data={**_fields(page), "to_unit": str(province.department), "reason": "Thuộc thẩm quyền của Sở"},
    )
    assert unconfirmed.status_code == 409 and _state(engine, province.tenant, code) == before
    assert (await leader_d.get(url)).status_code == 404
    moved = await post(
        leader_a,
        "steps/transfer",
        to_unit=str(province.department),
        reason="Thuộc thẩm quyền của Sở",
        confirm="yes",
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"{url}?done=step_transfer"
    assert "Đã chuyển hồ sơ" in (await leader_a.get(moved.headers["location"])).text

    # Now the department sees it, in its queue and its workspace; the other commune still not.
    assert code in _codes((await leader_d.get("/officer?queue=in_progress")).text)
    assert (await reception_b.get(url)).status_code == 404
    page = (await leader_d.get(url)).text
    assert "Sở Tư pháp thử nghiệm" in page and 'data-step-action="advance"' in page
    # The picker offers the department's staff by name, nobody else's.
    picker = page.split('data-testid="officer-picker"', 1)[1].split("</select>", 1)[0]
    assert NAMES["specialist_d"] in picker and NAMES["specialist_d2"] in picker
    assert NAMES["reception_a"] not in picker and NAMES["leader_a"] not in picker
    choice = re.search(rf'<option value="(\d+)"[^>]*>{NAMES["specialist_d"]}', picker)
    assert choice is not None
    assert (await post(leader_d, "assign", to=choice.group(1))).status_code == 303
    stale_step = _fields((await leader_d.get(url)).text)["step"]
    assert (await post(leader_d, "steps/advance")).status_code == 303  # → the specialist
    # A page shown before the step moved is refused as stale, nothing changes.
    before = _state(engine, province.tenant, code)
    token = _token((await leader_d.get(url)).text)
    stale = await leader_d.post(
        f"{url}/steps/ask_opinion",
        data={
            "_csrf_token": token,
            "step": stale_step,
            "units": str(province.root),
            "question": "?",
            "hours": "8",
        },
    )
    assert stale.status_code == 409 and "bước khác" in stale.text, _error(stale.text)
    assert _state(engine, province.tenant, code) == before

    # The specialist prepares; asks commune B's opinion, which B then sees and answers.
    assert (await post(specialist_d, "actions/start")).status_code == 303
    asked = await post(
        specialist_d,
        "steps/ask_opinion",
        units=str(province.commune_b),
        question="Xác nhận cư trú",
        hours="8",
    )
    assert asked.status_code == 303
    page = (await reception_b.get(url)).text
    assert 'data-testid="opinion-to-answer"' in page
    opinion = re.search(r'name="opinion" value="(\d+)"', page)
    assert opinion is not None
    waiting = await post(specialist_d, "steps/advance")
    assert waiting.status_code == 409 and "chờ ý kiến" in waiting.text
    answered = await reception_b.post(
        f"{url}/steps/answer_opinion",
        data={"_csrf_token": _token(page), "opinion": opinion.group(1), "answer": "Đúng, đang cư trú tại xã"},
    )
    assert answered.status_code == 303
    assert (await post(specialist_d, "steps/advance")).status_code == 303  # → the leader

    # The leader sends it back once with a reason, then approves.
    page = (await leader_d.get(url)).text
    assert 'data-step-kind="leader"' in page and 'data-step-panel="send_back"' in page
    assert (await post(leader_d, "steps/send_back", reason="")).status_code == 409
    assert (await post(leader_d, "steps/send_back", reason="Bổ sung căn cứ pháp lý")).status_code == 303
    page = (await specialist_d.get(url)).text
    assert 'data-step-kind="specialist"' in page
    assert (await post(specialist_d, "steps/advance")).status_code == 303
    assert (await post(leader_d, "steps/advance")).status_code == 303  # approved → back to the desk

    # The desk returns and delivers; the journey shows every step, its unit and who, by name.
    page = (await reception_a.get(url)).text
    assert 'data-step-kind="return"' in page
    assert (await post(reception_a, "steps/advance")).status_code == 303
    assert (await post(reception_a, "steps/advance")).status_code == 303
    page = (await reception_a.get(url)).text
    assert 'data-testid="current-step"' not in page
    journey = html.unescape(page.split('data-testid="journey"', 1)[1].split("</table>", 1)[0])
    assert journey.count('data-testid="journey-row"') == 9
    for name in (NAMES["reception_a"], NAMES["leader_a"], NAMES["leader_d"], NAMES["specialist_d"]):
        assert name in journey
    assert "Thuộc thẩm quyền của Sở" in journey and "Bổ sung căn cứ pháp lý" in journey
    assert "Chuyển đơn vị khác giải quyết" in journey and "Trả lại bước trước" in journey
    # The specialist the leader picked holds the specialist's steps (sent back: to them again).
    assert journey.count(f"Phụ trách: {NAMES['specialist_d']}") >= 2
    assert not re.search(r"\b\d{12}\b", journey)  # names, never personal ID numbers
    assert "Đúng, đang cư trú tại xã" in page and NAMES["reception_b"] in page

    # A role taken away closes the unit's dossiers at the next click (roles are read per request).
    db = Database(live_settings.database_url or "", pool_size=1)
    async with db.tenant_session(province.tenant) as session:
        unit_b = await session.get(Unit, province.commune_b)
        assert unit_b is not None
        await remove_staff(
            session, unit_b, personal_id=province.staff["reception_b"], role="reception", actor=ADMIN
        )
    await db.dispose()
    assert (await reception_b.get(url)).status_code == 404


def _procedure_choices(page: str) -> set[str]:
    """The procedure filter's choices on the officer queue (the empty "every procedure" aside)."""
    select_box = page.split('name="procedure"', 1)[1].split("</select>", 1)[0]
    return {code for code in re.findall(r'<option value="([^"]*)"', select_box) if code}


async def test_the_procedure_filter_offers_only_procedures_with_dossiers_of_the_officers_units(
    signed_in: Browser, province: Province, live_settings: Settings
) -> None:
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(province.tenant) as session:
            dossier = await _received(session, province.tenant, 90, code="2.000002")
            dossier.receiving_unit_id = dossier.deciding_unit_id = province.commune_a
    finally:
        await db.dispose()
    # The counts and the filter's choices are kept a few seconds per scope; this process's own
    # actions clear them, a row written straight to the database does not.
    SUMMARIES.invalidate(province.tenant.schema)

    reception_a = await _as(signed_in, province, "reception_a")
    reception_b = await _as(signed_in, province, "reception_b")
    assert _procedure_choices((await reception_a.get("/officer")).text) == {"2.000001", "2.000002"}
    # Commune B has a birth registration of its own and nothing of the other procedure: the
    # list does not show what commune A is handling.
    page = (await reception_b.get("/officer")).text
    assert _procedure_choices(page) == {"2.000001"}
    assert "Cấp bản sao trích lục hộ tịch" not in page
    # A procedure chosen still leaves the others of the officer's units to choose from.
    chosen = (await reception_a.get("/officer?procedure=2.000002")).text
    assert _procedure_choices(chosen) == {"2.000001", "2.000002"}
