"""The console's ranking: every tenant by the Decision 766 index with words, not codes; sorting
by any column; exports with the page's numbers; one tenant's indicators and trend; publishing a
finished period (confirmed, audited, frozen by the database) and the platform's open data;
platform administrators only; hostile parameters change nothing; axe-core clean in a browser."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape

import httpx
import pytest
from litestar import Litestar
from playwright.async_api import Route, async_playwright
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from motcua.admin import ranking_pages
from motcua.core.settings import Settings
from motcua.dossiers.models import Channel
from motcua.reporting.jobs import refresh
from motcua.reporting.ranking import published_place
from tests.admin.conftest import CONSOLE, Browser, csrf_of
from tests.conftest import asgi_transport
from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.reporting.test_indicators import Desk
from tests.reporting.test_ranking import Ranked, build_ranked

PLATFORM = "http://localhost"


@pytest.fixture(scope="module")
async def ranked(engine: Engine, live_settings: Settings) -> AsyncIterator[Ranked]:
    built = await build_ranked(engine, live_settings, "(bảng điều khiển)")
    yield built
    await built.db.dispose()


def _visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _table_rows(html: str) -> list[list[str]]:
    """The ranking table's body rows as the text of their cells."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [_visible(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_the_ranking_page_sorts_exports_and_drills_down(
    signed_in: Browser, ranked: Ranked, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every tenant of the shared test database on one page (paging has its own test below).
    monkeypatch.setattr(ranking_pages, "PAGE_ROWS", 100_000)
    admin = await signed_in()
    key = ranked.period.key
    response = await admin.get("/ranking")  # the previous month by default
    assert response.status_code == 200
    assert f'<option value="{key}" selected>' in response.text
    assert 'aria-sort="ascending"' in response.text and 'aria-sort="none"' in response.text
    rows = {r[1]: r for r in _table_rows(response.text)}
    top, tie_a, tie_b, low, empty = (rows[t.name] for t in ranked.all)
    assert top[2:5] == ["Tỉnh, thành phố", "52 (tạm tính)", "18"] and top[-1] == "2"
    assert tie_a[2] == "Bộ, ngành" and tie_a[0] == tie_b[0] and int(top[0]) < int(tie_a[0]) < int(low[0])
    assert low[3] == "26 (tạm tính)" and low[6] == "8"  # online services: 33,33% ÷ 50% × 12
    assert empty[0] == "—" and empty[3] == "chưa có số liệu"
    names = list(rows)
    assert names.index(empty[1]) > max(names.index(r[1]) for r in (top, tie_a, tie_b, low))
    for slug in (t.slug for t in ranked.all):  # codes are links, never the label
        assert f">{slug}<" not in response.text

    # Sorted by dossiers received, most first; the header says so; the link flips it.
    by_received = await admin.get("/ranking", params={"ky": key, "sap-xep": "ho-so"})
    order = [r[1] for r in _table_rows(by_received.text)]
    assert order.index(ranked.tie_a.name) < order.index(ranked.low.name) < order.index(ranked.top.name)
    assert re.search(
        r'aria-sort="descending"><a href="\?ky=[^"]*sap-xep=ho-so&amp;thu-tu=tang"', by_received.text
    )
    ascending = await admin.get("/ranking", params={"ky": key, "sap-xep": "ho-so", "thu-tu": "tang"})
    order = [r[1] for r in _table_rows(ascending.text)]
    assert order.index(ranked.top.name) < order.index(ranked.tie_a.name) < order.index(ranked.empty.name)
    ministries = _visible((await admin.get("/ranking", params={"ky": key, "loai": "ministry"})).text)
    assert ranked.tie_a.name in ministries and ranked.top.name not in ministries

    # Hostile parameters: an unknown column or order is the default order; a bad period is a 400.
    default = _table_rows(response.text)
    for params in ({"sap-xep": "<script>", "thu-tu": "'; drop"}, {"sap-xep": "x" * 5000}, {"loai": "1=1"}):
        odd = await admin.get("/ranking", params={"ky": key, **params})
        assert odd.status_code == 200
        if "loai" not in params:
            assert _table_rows(odd.text) == default
    for bad in ("2026-13", "' OR 1=1 --", "9999", "x" * 300, "2026-Q5"):
        refused = await admin.get("/ranking", params={"ky": bad})
        assert refused.status_code == 400 and 'href="#ky"' in refused.text, bad
        assert (await admin.get("/ranking.csv", params={"ky": bad})).status_code == 400

    # The exports have the page's rows and numbers, in the page's order.
    exported = await admin.get("/ranking.csv", params={"ky": key, "sap-xep": "ho-so"})
    assert exported.status_code == 200 and exported.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["Địa phương"] for r in table] == [r[1] for r in _table_rows(by_received.text)]
    by_name = {r["Địa phương"]: r for r in table}
    assert by_name[ranked.top.name]["Điểm chỉ số (tối đa 100)"] == "52.0"
    assert by_name[ranked.top.name]["Số hóa hồ sơ, kết quả (tối đa 22)"] == "22.0"
    assert by_name[ranked.top.name]["Hạng"] == top[0] and by_name[ranked.tie_b.name]["Hạng"] == tie_b[0]
    assert by_name[ranked.tie_a.name]["Hồ sơ trực tuyến"] == "0.5"
    assert (
        by_name[ranked.empty.name]["Hạng"] == ""
        and by_name[ranked.empty.name]["Ghi chú"] == "Chưa có số liệu"
    )
    workbook = await admin.get("/ranking.xlsx", params={"ky": key})
    assert workbook.status_code == 200
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<v>52</v>" in sheet and "<v>26</v>" in sheet and ranked.low.name in strings

    # One tenant: its index with the working, its rates, and twelve months of trend.
    detail = await admin.get(f"/ranking/tenants/{ranked.low.slug}", params={"ky": key})
    assert detail.status_code == 200
    shown = _visible(detail.text)
    assert ranked.low.name in shown and f"Hạng {low[0]} trên" in shown
    assert "1 ÷ 3 = 33,33%; 33,33% < 50% → 33,33% ÷ 50% × 12 = 8 điểm" in shown
    assert "Diễn biến 12 tháng" in shown and shown.count("chưa có số liệu") >= 11
    missing = await admin.get("/ranking/tenants/khong-co", params={"ky": key})
    assert missing.status_code == 404
    assert (await admin.get(f"/ranking/tenants/{ranked.low.slug}", params={"ky": "20x"})).status_code == 400


async def test_the_ranking_pages_a_long_table(
    signed_in: Browser, ranked: Ranked, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking_pages, "PAGE_ROWS", 2)
    admin = await signed_in()
    key = ranked.period.key
    first = await admin.get("/ranking", params={"ky": key})
    pages = int(re.search(r"Trang 1 / (\d+)", first.text).group(1))  # type: ignore[union-attr]
    seen: list[str] = []  # each row by its link (names of test tenants repeat)
    for number in range(1, pages + 1):
        shown = await admin.get("/ranking", params={"ky": key, "trang": str(number)})
        links = re.findall(r'href="/ranking/tenants/([^"?]+)\?', shown.text)
        assert 1 <= len(links) <= 2
        seen += links
        assert ('rel="next"' in shown.text) == (number < pages)
    assert len(seen) == len(set(seen)) and {t.slug for t in ranked.all} <= set(seen)
    # Out of range or not a number: the nearest page, never an error.
    assert (await admin.get("/ranking", params={"ky": key, "trang": "999999"})).status_code == 200
    assert _table_rows((await admin.get("/ranking", params={"ky": key, "trang": "x"})).text) == _table_rows(
        first.text
    )


async def test_only_platform_administrators_reach_the_ranking(
    signed_in: Browser, ranked: Ranked, app: Litestar, engine: Engine
) -> None:
    paths = [
        "/ranking",
        "/ranking.csv",
        "/ranking.xlsx",
        f"/ranking/tenants/{ranked.top.slug}",
        f"/ranking/publish?ky={ranked.period.key}",
    ]
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=CONSOLE) as anonymous:
        for path in paths:
            response = await anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    stranger = await signed_in(role="none")  # signed in to the console, not an administrator
    for path in paths:
        response = await stranger.get(path)
        assert response.status_code == 403, path
        assert ranked.top.name not in response.text
    for role in ("tenant_admin", "officer", "citizen"):
        local = await signed_in(ranked.top, role=role)
        for path in paths:  # their session is their portal's; on the console they are nobody
            response = await local.get(CONSOLE + path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        token = await csrf_of(local, "/")
        posted = await local.post(
            CONSOLE + "/ranking/publish", data={"_csrf_token": token, "ky": ranked.period.key}
        )
        assert posted.status_code in (401, 403), role
        # On a tenant host the console's paths and the platform's open data do not exist.
        for path in (
            "/console/ranking",
            "/ranking",
            "/platform/open-data/ranking.json",
            "/open-data/ranking.csv",
        ):
            assert (await local.get(path)).status_code == 404, path
    with engine.connect() as conn:
        published = conn.execute(text("SELECT count(*) FROM platform.published_rankings")).scalar_one()
    assert published == 0  # none of this published anything


async def test_publishing_freezes_the_ranking_and_opens_it_as_data(
    signed_in: Browser, ranked: Ranked, engine: Engine, app: Litestar
) -> None:
    admin = await signed_in(name="Lê Thị Công Bố")
    key = ranked.period.key
    current = (await admin.get("/ranking", params={"ky": ranked.period.key})).text
    assert f'href="/ranking/publish?ky={key}"' in current
    places = {r[1]: r[0] for r in _table_rows(current)}

    confirm = await admin.get("/ranking/publish", params={"ky": key})
    assert confirm.status_code == 200 and "không sửa, không xóa được" in confirm.text
    token = await csrf_of(admin, f"/ranking/publish?ky={key}")
    # Refused, nothing published: no CSRF token, a period not yet over, a period that is not one.
    assert (await admin.post("/ranking/publish", data={"ky": key})).status_code == 403
    this_month = ranked.period.end.strftime("%Y-%m")
    unfinished = await admin.post("/ranking/publish", data={"_csrf_token": token, "ky": this_month})
    assert unfinished.status_code == 409 and "chưa kết thúc" in unfinished.text
    for bad in ("", "2026-13", "'; DELETE FROM platform.tenants; --"):
        assert (
            await admin.post("/ranking/publish", data={"_csrf_token": token, "ky": bad})
        ).status_code == 400
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=PLATFORM) as visitor:
        assert (await visitor.get("/open-data/ranking.json")).json()["rankings"] == []

        done = await admin.post("/ranking/publish", data={"_csrf_token": token, "ky": key})
        assert done.status_code == 303 and done.headers["location"] == f"/ranking?ky={key}&done=published"
        again = await admin.post("/ranking/publish", data={"_csrf_token": token, "ky": key})
        assert again.status_code == 409 and "đã được công bố" in again.text

        with engine.connect() as conn:
            audit = conn.execute(
                text("SELECT actor, detail FROM platform.audit_log WHERE action = 'ranking.published'")
            ).one()
        assert audit.actor.startswith("platform_admin:") and audit.detail["period"] == key
        assert audit.detail["address"]

        # Frozen: the database refuses changes, and later dossiers move only the live figures.
        for statement in (
            "UPDATE platform.published_rankings SET ranked = 1",
            "DELETE FROM platform.published_rankings",
        ):
            with pytest.raises(DBAPIError, match="frozen"), engine.begin() as conn:
                conn.execute(text(statement))
        desk = Desk(ranked.db, ranked.low)
        await desk.receive("2.000001", Channel.ONLINE, ranked.period.start + timedelta(days=3, hours=10))
        await refresh(ranked.low.slug, db=ranked.db)
        page = await admin.get("/ranking", params={"ky": key, "done": "published"})
        assert "Đã công bố bảng xếp hạng" in page.text and "Lê Thị Công Bố" in page.text
        assert f'href="/ranking/publish?ky={key}"' not in page.text
        frozen = {r[1]: r for r in _table_rows(page.text)}
        assert frozen[ranked.low.name][3] == "26"  # live: 2 of 4 online now, 30 points
        assert {name: r[0] for name, r in frozen.items()} == places

        # The tenant's public page reads its place from the published ranking.
        async with ranked.db.tenant_session(ranked.top, read_only=True) as session:
            place = await published_place(session, ranked.top.slug, key)
            assert await published_place(session, ranked.empty.slug, key) is None
            assert await published_place(session, ranked.top.slug, "2001-01") is None
        ranked_count = sum(1 for p in places.values() if p != "—")
        assert place == (int(places[ranked.top.name]), ranked_count)
        async with httpx.AsyncClient(
            transport=asgi_transport(app), base_url=f"http://{ranked.top.slug}.localhost"
        ) as citizen:
            shown = (await citizen.get("/thong-ke")).text
        assert f"hạng {place[0]} trên {ranked_count} địa phương" in shown

        # The platform host's open data lists it: places and points, names in words.
        data = (await visitor.get("/open-data/ranking.json")).json()
        assert [r["period"] for r in data["rankings"]] == [key]
        rows = {r["tenant"]: r for r in data["rankings"][0]["rows"]}
        assert rows[ranked.top.name]["place"] == place[0] and rows[ranked.top.name]["index_total"] == 52.0
        assert rows[ranked.tie_a.name]["kind"] == "Bộ, ngành"
        assert rows[ranked.empty.name]["place"] is None
        assert ranked.top.slug not in json.dumps(data)
        table = list(
            csv.DictReader(io.StringIO((await visitor.get("/open-data/ranking.csv")).text.lstrip("\ufeff")))
        )
        low_row = next(r for r in table if r["Địa phương"] == ranked.low.name)
        assert (low_row["Kỳ"], low_row["Điểm chỉ số (tối đa 100)"]) == (key, "26.0")


async def test_the_ranking_page_passes_axe_in_a_browser(signed_in: Browser, ranked: Ranked) -> None:
    admin = await signed_in()

    async def through_the_app(route: Route) -> None:
        # The browser's requests answered by the app in this process (no server to start).
        request = route.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "cookie")}
        response = await admin.request(request.method, request.url, headers=headers)
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        }
        await route.fulfill(status=response.status_code, headers=kept, body=response.content)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="vi-VN")
            await page.route("**/*", through_the_app)
            await page.goto(f"{CONSOLE}/ranking?ky={ranked.period.key}&sap-xep=diem")
            assert await page.locator("table.ranking tbody tr").count() >= 5
            await assert_accessible(page, "console ranking")
            await page.goto(f"{CONSOLE}/ranking/tenants/{ranked.top.slug}?ky={ranked.period.key}")
            await assert_accessible(page, "console ranking, one tenant")
        finally:
            await browser.close()
