"""The indicators cut by receiving unit (issue 18): a province with its service centre and two
communes, dossiers of known outcomes received at each (built through the real actions, as in
test_indicators), the rollup job run directly. By unit, the figures add up to the total; a unit
filter shows that unit's dossiers only, on the staff page, its lists, its exports and the public
API; a dossier without a receiving unit, and feedback about no dossier, count for the service
centre; an unknown unit, or another tenant's, is refused with a message and changes nothing; and
only this tenant's administrators see any of it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from alembic import command as alembic_command
from alembic.config import Config
from litestar import Litestar
from sqlalchemy import Engine, select

from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import Channel, Dossier
from motcua.organisation.models import Unit
from motcua.organisation.services import add_unit
from motcua.reporting.indicators import compute_indicators, public_view
from motcua.reporting.jobs import refresh
from motcua.reporting.models import COUNTERS
from motcua.reporting.periods import VIETNAM, Period
from motcua.tenancy.migrate import migrate_tenant_schema
from tests.admin.conftest import Browser, signed_in
from tests.conftest import asgi_transport, unique_slug
from tests.reporting.test_indicators import BUSINESS, COPY, INFO, Desk
from tests.reporting.test_manage_reports import _cell, _csv, _row

__all__ = ["signed_in"]
REPORTS = "/manage/reports"
ADMIN = Actor.tenant_admin("001080000009")


@dataclass(frozen=True)
class Province:
    tenant: Tenant
    other: Tenant  # another tenant, with more units than this one
    root: int
    a: int
    b: int
    foreign: int  # a unit id of the other tenant that this one does not have
    codes: dict[str, str]  # dossier key → code


async def _units(db: Database, tenant: Tenant, names: list[str], prefix: str) -> tuple[int, list[int]]:
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        added = []
        for n, name in enumerate(names, start=1):
            unit = await add_unit(
                session,
                parent_id=root.id,
                kind="commune",
                name=name,
                agency_code=f"000.00.{prefix}{n}.H98",
                actor=ADMIN,
            )
            added.append(unit.id)
        return root.id, added


async def _received_at(db: Database, tenant: Tenant, dossier_id: int, unit_id: int | None) -> str:
    """Routing stands in here: the dossier is put at the desk the story needs, outside the
    internal workflow (no deciding unit), so that one officer can finish it."""
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        dossier.receiving_unit_id, dossier.deciding_unit_id = unit_id, None
        return dossier.code


def _tenant(engine: Engine, live_settings: Settings, procedures: list[dict[str, Any]]) -> Tenant:
    spec = build_spec(slug=unique_slug(), name="Tỉnh thử nghiệm chỉ tiêu theo đơn vị", procedures=procedures)
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


@pytest.fixture(scope="module")
async def province(engine: Engine, live_settings: Settings) -> Province:
    tenant = _tenant(engine, live_settings, [COPY, BUSINESS, INFO])
    other = _tenant(engine, live_settings, [COPY])
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        root, (a, b) = await _units(db, tenant, ["Xã An Thử", "Xã Bình Thử"], "7")
        # The other tenant's units: ids beyond this tenant's (each schema has its own sequence).
        _root, others = await _units(db, other, [f"Xã Khác {n}" for n in range(1, 6)], "8")
        now = datetime.now(VIETNAM)
        desk = Desk(db, tenant)
        ids = {
            "r1": await desk.receive("2.000001", Channel.IN_PERSON, now),
            "a1": await desk.receive("2.000001", Channel.ONLINE, now, personally=True, scanned=True),
            "a2": await desk.receive("2.000001", Channel.NATIONAL_PORTAL, now),
            "a3": await desk.receive("2.000002", Channel.ONLINE, now, personally=True),
            "b1": await desk.receive("2.000002", Channel.IN_PERSON, now),
            "b2": await desk.receive("2.000001", Channel.POSTAL, now),
        }
        units = {"r1": None, "a1": a, "a2": a, "a3": a, "b1": b, "b2": b}
        codes = {key: await _received_at(db, tenant, ids[key], units[key]) for key in ids}
        await desk.finish(ids["a1"], deliver=True)  # on time: due tomorrow
        await desk.rate(ids["a1"], 5)
        await desk.act(ids["a2"], Action.REFUSE, reason="Thiếu giấy tờ")
        await desk.act(ids["b1"], Action.ACCEPT)  # in process
        await desk.feedback(ids["a1"], answer=True)  # commune A's
        await desk.feedback(None, answer=False)  # about no dossier: the service centre's
        # Another tenant's dossier, received at one of its communes: never counted here.
        other_desk = Desk(db, other)
        other_id = await other_desk.receive("2.000001", Channel.IN_PERSON, now)
        await _received_at(db, other, other_id, others[0])
        assert await refresh(tenant.slug, db=db) > 0
        assert await refresh(other.slug, db=db) > 0
    finally:
        await db.dispose()
    assert others[-1] > max(root, a, b)
    return Province(tenant, other, root, a, b, others[-1], codes)


def _counts(figures: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = figures["counts"]
    return counts


async def test_figures_by_unit_add_up_and_a_unit_filter_shows_its_own(
    province: Province, live_settings: Settings
) -> None:
    db = Database(live_settings.database_url or "", pool_size=2)
    month = Period.current_month(datetime.now(VIETNAM))
    try:
        async with db.tenant_session(province.tenant) as session:
            whole = await compute_indicators(session, month)
            of_a = await compute_indicators(session, month, unit_id=province.a)
            of_root = await compute_indicators(session, month, unit_id=province.root)
    finally:
        await db.dispose()
    rows = {row["unit_id"]: row for row in whole["by_unit"]}
    # Every unit, by name, in the tree's order: the service centre first, then its communes.
    assert list(rows) == [province.root, province.a, province.b]
    assert [rows[u]["name"] for u in rows][1:] == ["Xã An Thử", "Xã Bình Thử"]
    # By unit, every counter adds up to the total.
    for counter in COUNTERS:
        if counter.startswith("rating_") and counter != "rating_sum":
            continue
        assert sum(_counts(r)[counter] for r in rows.values()) == _counts(whole["total"])[counter], counter
    received = {u: _counts(r)["received"] for u, r in rows.items()}
    assert received == {province.root: 1, province.a: 3, province.b: 2}
    # Feedback about no dossier is the service centre's; about a1, commune A's.
    assert {u: _counts(r)["feedback"] for u, r in rows.items()} == {
        province.root: 1,
        province.a: 1,
        province.b: 0,
    }

    # Commune A alone: its three dossiers and nothing else.
    assert of_a["unit"] == {"unit_id": province.a, "name": "Xã An Thử", "agency_code": "000.00.71.H98"}
    assert [r["unit_id"] for r in of_a["by_unit"]] == [province.a]
    assert _counts(of_a["total"]) == _counts(rows[province.a])
    assert {
        k: _counts(of_a["total"])[k] for k in ("received", "finished", "refused", "ratings", "feedback")
    } == {
        "received": 3,
        "finished": 1,
        "refused": 1,
        "ratings": 1,
        "feedback": 1,
    }
    assert of_a["total"]["rates"]["online_dossier_rate"] == {"numerator": 3, "denominator": 3, "ratio": 1.0}
    assert of_a["in_process"] is not None and of_a["in_process"]["in_process"] == 0
    assert whole["in_process"] is not None and whole["in_process"]["in_process"] == 1
    channels = {r["channel"]: _counts(r)["received"] for r in of_a["by_channel"]}
    assert channels == {1: 0, 2: 2, 3: 0, 4: 1}  # channel 0 (feedback about no dossier) is elsewhere
    # The dossier received before units were recorded is the service centre's.
    assert _counts(of_root["total"])["received"] == 1

    # In public, by unit as elsewhere: every count from 1 to 4 is suppressed, and the rates
    # that would give one back.
    view = public_view(whole)
    for row in view["by_unit"]:
        assert all(v is None or v == 0 or v >= 5 for k, v in _counts(row).items() if k != "rating_levels")
    commune_a = next(r for r in view["by_unit"] if r["unit_id"] == province.a)
    assert commune_a["rates"]["online_dossier_rate"]["suppressed"] is True


def _codes(page: str) -> set[str]:
    return set(re.findall(r"\b000\.00\.[0-9A-Z.]+-\d{6}-\d{4}\b", page))


async def test_the_staff_pages_lists_and_exports_cut_by_unit(
    province: Province, signed_in: Browser, app: Litestar
) -> None:
    month = Period.current_month(datetime.now(VIETNAM)).key
    admin = await signed_in(province.tenant, role="tenant_admin", name="Lê Thị Hoa")
    whole = await admin.get(REPORTS, params={"ky": month})
    assert whole.status_code == 200, whole.text[:300]
    # The filter: a <select> of the units by name, "all units" first, nothing chosen yet.
    select_html = whole.text.split('<select id="don-vi" name="don-vi">', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\d*)"', select_html) == [
        "",
        *(str(u) for u in (province.root, province.a, province.b)),
    ]
    assert "Xã An Thử" in select_html and 'value="" selected' in select_html
    # The "by unit" table, each unit's figures linked to its dossiers.
    assert _row(whole.text, "Xã An Thử")[:4] == ["3", "3", "1", "0"]
    assert _row(whole.text, "Xã Bình Thử")[:4] == ["2", "0", "0", "0"]
    assert f"chi-tieu=received&amp;don-vi={province.a}" in whole.text

    page = await admin.get(REPORTS, params={"ky": month, "don-vi": str(province.a)})
    assert page.status_code == 200
    assert "Xã An Thử" in page.text.split("</h1>", 1)[0]
    assert f'<option value="{province.a}" selected>' in page.text
    assert _cell(page.text, "count-received") == "3"
    assert _cell(page.text, "count-refused") == "1"
    assert _cell(page.text, "count-in_process") == "0"
    # Each figure links to the list of the unit's dossiers, as long as the figure.
    listed = await admin.get(
        f"{REPORTS}/dossiers", params={"ky": month, "chi-tieu": "received", "don-vi": str(province.a)}
    )
    assert listed.status_code == 200
    assert _cell(listed.text, "list-total") == "3" and _cell(listed.text, "figure-value") == "3"
    assert _codes(listed.text) == {province.codes[k] for k in ("a1", "a2", "a3")}
    at_root = await admin.get(
        f"{REPORTS}/dossiers", params={"ky": month, "chi-tieu": "received", "don-vi": str(province.root)}
    )
    assert _codes(at_root.text) == {province.codes["r1"]}
    in_process = await admin.get(
        f"{REPORTS}/dossiers", params={"ky": month, "chi-tieu": "in_process", "don-vi": str(province.b)}
    )
    assert _cell(in_process.text, "list-total") == "1" and _cell(in_process.text, "figure-value") == "1"
    assert _codes(in_process.text) == {province.codes["b1"]}
    # The exports: the unit's figures, and its list.
    exported = _csv(
        (await admin.get(f"{REPORTS}/export.csv", params={"ky": month, "don-vi": str(province.a)})).content
    )
    received = next(r for r in exported if r["Mã chỉ tiêu"] == "received")
    assert (received["Phạm vi"], received["Lĩnh vực, thủ tục, kênh hoặc đơn vị"], received["Số lượng"]) == (
        "Đơn vị tiếp nhận",
        "Xã An Thử",
        "3",
    )
    everything = _csv((await admin.get(f"{REPORTS}/export.csv", params={"ky": month})).content)
    by_unit = {
        r["Lĩnh vực, thủ tục, kênh hoặc đơn vị"]: r["Số lượng"]
        for r in everything
        if r["Phạm vi"] == "Đơn vị tiếp nhận" and r["Mã chỉ tiêu"] == "received"
    }
    assert by_unit["Xã An Thử"] == "3" and by_unit["Xã Bình Thử"] == "2"
    dossiers_csv = await admin.get(
        f"{REPORTS}/dossiers.csv", params={"ky": month, "chi-tieu": "received", "don-vi": str(province.b)}
    )
    assert {r["Mã hồ sơ"] for r in _csv(dossiers_csv.content)} == {province.codes["b1"], province.codes["b2"]}

    # An unknown unit, another tenant's, or a hostile value: 400 with a message, nothing shown.
    for value in (str(province.foreign), "99999999", "-1", "1 OR 1=1", "9" * 40, "\u0000"):
        for path, extra in (
            (REPORTS, {}),
            (f"{REPORTS}/dossiers", {"chi-tieu": "received"}),
            (f"{REPORTS}/export.csv", {}),
            (f"{REPORTS}/dossiers.csv", {"chi-tieu": "received"}),
        ):
            refused = await admin.get(path, params={"ky": month, "don-vi": value, **extra})
            assert refused.status_code == 400, (path, value, refused.status_code)
            assert not _codes(refused.text), (path, value)
            if "\u0000" not in value:
                assert "Không có đơn vị này" in refused.text, (path, value)
    # The other tenant's administrator, with this tenant's unit ids: their own figures only.
    other_admin = await signed_in(province.other, role="tenant_admin")
    theirs = await other_admin.get(
        f"{REPORTS}/dossiers", params={"ky": month, "chi-tieu": "received", "don-vi": str(province.a)}
    )
    assert theirs.status_code == 200
    assert _cell(theirs.text, "list-total") in ("0", "1")  # their one dossier at most, never A's three


async def test_the_public_api_by_unit(province: Province, app: Litestar) -> None:
    month = Period.current_month(datetime.now(VIETNAM)).key
    async with httpx.AsyncClient(
        transport=asgi_transport(app), base_url=f"http://{province.tenant.slug}.localhost"
    ) as http:
        whole = (await http.get("/api/v1/statistics", params={"period": month})).json()
        assert [r["unit_id"] for r in whole["by_unit"]] == [province.root, province.a, province.b]
        assert whole["by_unit"][1]["counts"]["received"] is None  # 3: suppressed
        one = await http.get("/api/v1/statistics", params={"period": month, "unit": str(province.a)})
        assert one.status_code == 200
        body = one.json()
        assert body["provisional"] is True and body["unit"]["name"] == "Xã An Thử"
        assert [r["unit_id"] for r in body["by_unit"]] == [province.a]
        for bad in (str(province.foreign), "0", "-5", "abc", "9" * 30):
            refused = await http.get("/api/v1/statistics", params={"period": month, "unit": bad})
            assert refused.status_code in (400, 422), (bad, refused.status_code)
            assert refused.headers["content-type"].startswith("application/problem+json")


async def test_only_this_tenants_administrators_see_a_unit_cut(
    province: Province, signed_in: Browser, app: Litestar
) -> None:
    month = Period.current_month(datetime.now(VIETNAM)).key
    unit = str(province.a)
    paths: list[tuple[str, dict[str, str]]] = [
        (REPORTS, {"ky": month, "don-vi": unit}),
        (f"{REPORTS}/dossiers", {"ky": month, "chi-tieu": "received", "don-vi": unit}),
        (f"{REPORTS}/export.csv", {"ky": month, "don-vi": unit}),
        (f"{REPORTS}/export.xlsx", {"ky": month, "don-vi": unit}),
        (f"{REPORTS}/dossiers.csv", {"ky": month, "chi-tieu": "received", "don-vi": unit}),
        (f"{REPORTS}/dossiers.xlsx", {"ky": month, "chi-tieu": "received", "don-vi": unit}),
    ]
    host = f"http://{province.tenant.slug}.localhost"
    anonymous = httpx.AsyncClient(transport=asgi_transport(app), base_url=host)
    browsers = {
        "anonymous": anonymous,
        "citizen": await signed_in(province.tenant, role="citizen"),
        "officer": await signed_in(province.tenant, role="officer"),
        "other tenant's admin": await signed_in(province.other, role="tenant_admin"),
        "console": await signed_in(None, role="platform_admin"),
    }
    try:
        for who, browser in browsers.items():
            for path, params in paths:
                response = await browser.get(host + path, params=params)
                expected = (403,) if who in ("citizen", "officer") else (303,)
                assert response.status_code in expected, (who, path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login"), (who, path)
                assert not (_codes(response.text) & set(province.codes.values())), (who, path)
    finally:
        await anonymous.aclose()


async def test_the_migration_resets_the_rollups_and_the_job_rebuilds_them_by_unit(
    province: Province, engine: Engine, live_settings: Settings
) -> None:
    """Rollups are derived data: the migration that cuts them by unit (down, then up again, as
    on a tenant from before it) empties them, and the job's next run rebuilds every day."""
    db = Database(live_settings.database_url or "", pool_size=2)
    month = Period.current_month(datetime.now(VIETNAM))
    try:
        async with db.tenant_session(province.tenant) as session:
            before = await compute_indicators(session, month)
        with engine.begin() as conn:
            config = Config(str(live_settings.root / "alembic.ini"))
            config.set_main_option("script_location", str(live_settings.root / "migrations"))
            config.attributes.update(connection=conn, schema=province.tenant.schema)
            alembic_command.downgrade(config, "t0020")
        migrate_tenant_schema(engine, live_settings.root, province.tenant.schema)
        async with db.tenant_session(province.tenant) as session:
            emptied = await compute_indicators(session, month)
        assert _counts(emptied["total"])["received"] == 0
        assert await refresh(province.tenant.slug, db=db) > 0
        async with db.tenant_session(province.tenant) as session:
            after = await compute_indicators(session, month)
    finally:
        await db.dispose()
    for key in ("total", "by_field", "by_procedure", "by_channel", "by_unit"):
        assert after[key] == before[key], key
