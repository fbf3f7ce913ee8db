"""The public statistics page /thong-ke and open data, on two tenants with dossiers of known
outcomes built through the real actions (test_indicators.Desk): the page, the CSV, the JSON and
GET /api/v1/statistics agree on every number; a rare case (one refused dossier, two late ones)
and the applicant's name and personal ID never appear; bad and hostile periods get 400 and
change nothing; each host shows only its own figures; a period without data says so; and the
page passes axe-core in a real browser, in Vietnamese and in English."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from litestar import Litestar
from playwright.async_api import Route, async_playwright
from sqlalchemy import Engine, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import Channel
from motcua.reporting.jobs import refresh
from motcua.reporting.open_data import ALL_FIELDS, INDEX_KEY
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.publishing import publish_period
from tests.conftest import MakeTenant, asgi_transport, unique_slug
from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.reporting.test_indicators import BUSINESS, COPY, INFO, OFFICER, Desk

APPLICANT = "Trần Văn Bình"  # the name test_indicators.Desk gives every applicant
PERSONAL_ID_PREFIX = "0011900"  # ...and the start of every personal ID it makes up
PUBLISHER = "Lê Thị Công Bố"
# Counts of procedures (the catalogue) are public by design (indicators.public_view).
CATALOGUE_RATES = {"full_online_rate", "online_with_dossiers_rate"}


@dataclass(frozen=True)
class World:
    a: Tenant
    b: Tenant
    month: Period
    previous: Period
    year: Period


def _onboard(engine: Engine, settings: Settings, name: str) -> Tenant:
    spec = build_spec(
        slug=unique_slug("st"),
        name=name,
        kind="province",
        domains=[],
        theme="default",
        procedures=[COPY, BUSINESS, INFO],
    )
    return onboard_tenant(engine, settings, spec, actor=Actor.operator("test"))


@pytest.fixture(scope="module")
async def world(engine: Engine, live_settings: Settings) -> World:
    """Tenant A: last month 6 desk dossiers (published), this month 7 online ones (paid online,
    scanned, 6 finished on time, 5 rated), 6 at the desk, 1 refused, and 2 of last month's
    finished late this month. Tenant B: 5 online dossiers this month."""
    now = datetime.now(VIETNAM)
    month = Period.current_month(now)
    previous = month.previous()
    a = _onboard(engine, live_settings, "Tỉnh Thống Kê A")
    b = _onboard(engine, live_settings, "Tỉnh Thống Kê B")
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        desk = Desk(db, a)
        earlier = [
            await desk.receive("2.000002", Channel.IN_PERSON, previous.start + timedelta(hours=h))
            for h in range(1, 7)
        ]
        online = [
            await desk.receive("2.000001", Channel.ONLINE, now, personally=True, scanned=True)
            for _ in range(7)
        ]
        for _ in range(6):
            await desk.receive("2.000002", Channel.IN_PERSON, now)
        refused = await desk.receive("2.000002", Channel.IN_PERSON, now)
        await desk.act(refused, Action.REFUSE, reason="Thiếu giấy tờ")
        for dossier in online:
            await desk.pay_online(dossier)
        for i, dossier in enumerate(online[:6]):
            await desk.finish(dossier, deliver=i < 5)  # due tomorrow: on time
        for dossier in online[:5]:
            await desk.rate(dossier, 5)
        await refresh(a.slug, db=db)
        async with db.tenant_session(a) as session:
            await publish_period(session, a, previous, actor=OFFICER, name=PUBLISHER)
        for dossier in earlier[:2]:
            await desk.finish(dossier)  # due weeks ago: late, finished this month
        await refresh(a.slug, db=db)

        other = Desk(db, b)
        for _ in range(5):
            await other.receive("2.000001", Channel.ONLINE, now, personally=True)
        await refresh(b.slug, db=db)
    finally:
        await db.dispose()
    return World(a, b, month, previous, Period(now.year, "year", 0))


# Reading the page -------------------------------------------------------------------------------
Cell = float | None


class _Figures(HTMLParser):
    """The page's figures: {section period: {table: {row key: {cell: value}}}} from the
    ``<data value>`` of each cell (None where the page says the figure is not shown), plus the
    trend table's rows and each criterion's working."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, dict[str, dict[str, Cell]]]] = {}
        self.trend: dict[str, list[Cell]] = {}
        self.working: dict[str, dict[str, str]] = {}
        self.period = self.table = self.row = self.cell = ""
        self.in_working = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-period"):
            self.period = a["data-period"] or ""
            self.sections[self.period] = {}
            self.working[self.period] = {}
        elif tag == "table":
            self.table = a.get("data-table") or ""
            if self.table != "trend":
                self.sections[self.period][self.table] = {}
        elif tag == "tr" and self.table == "trend" and a.get("data-period"):
            self.row = a["data-period"] or ""
            self.trend[self.row] = []
        elif tag == "tr" and a.get("data-key"):
            self.row = a["data-key"] or ""
            self.sections[self.period][self.table][self.row] = {}
        elif a.get("data-cell"):
            self.cell = a["data-cell"] or ""
        elif tag == "span" and a.get("class") == "working":
            self.in_working = True
        if tag == "data" or (tag == "span" and a.get("data-missing")):
            value = float(a["value"] or "") if tag == "data" else None
            if self.table == "trend":
                self.trend[self.row].append(value)
            elif self.table and self.cell and self.row:
                self.sections[self.period][self.table][self.row][self.cell] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.period = ""
        elif tag == "table":
            self.table = ""
        elif tag == "tr":
            self.row = ""
        elif tag == "td":
            self.cell = ""
        elif tag == "span":
            self.in_working = False

    def handle_data(self, data: str) -> None:
        if self.in_working:
            self.working[self.period][self.row] = self.working[self.period].get(self.row, "") + data


def _figures(html: str) -> _Figures:
    parser = _Figures()
    parser.feed(html)
    return parser


def _num(value: Any) -> Cell:
    return None if value is None or value == "" else float(value)


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def _http(app: Litestar, tenant: Tenant) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost")


def _assert_section_matches_api(section: dict[str, dict[str, dict[str, Cell]]], api: dict[str, Any]) -> None:
    rates = api["total"]["rates"]
    assert set(section["rates"]) == set(rates)
    for key, rate in rates.items():
        shown = section["rates"][key]
        assert shown == {
            "ratio": _num(rate["ratio"]),
            "numerator": _num(rate["numerator"]),
            "denominator": _num(rate["denominator"]),
        }, key
    counts = {k: v for k, v in api["total"]["counts"].items() if k in section["counts"]}
    if api["in_process"] is not None:
        counts |= {k: api["in_process"][k] for k in ("in_process", "overdue")}
    assert len(counts) == len(section["counts"]) >= 14
    assert {k: v["value"] for k, v in section["counts"].items()} == {k: _num(v) for k, v in counts.items()}
    index = section["index"]
    for group in api["index"]["groups"]:
        assert index[group["key"]]["points"] == _num(group["points"]), group["key"]
        for criterion in group["criteria"]:
            row = f"{group['key']}.{criterion['indicator']}"
            assert index[row]["points"] == _num(criterion["points"]), row


async def test_the_page_the_csv_the_json_and_the_api_agree(app: Litestar, world: World) -> None:
    async with await _http(app, world.a) as http:
        pages = {
            world.month.key: await http.get("/thong-ke"),
            world.previous.key: await http.get("/thong-ke", params={"ky": world.previous.key}),
        }
        api = {
            p.key: (await http.get("/api/v1/statistics", params={"period": p.key})).json()
            for p in (world.month, world.previous, world.year)
        }
        csv_answer = await http.get("/open-data/indicators.csv")
        json_answer = await http.get("/open-data/indicators.json")

    home = pages[world.month.key]
    assert home.status_code == 200
    assert home.headers["cache-control"] == "public, max-age=60"
    assert "Cookie" in home.headers["vary"]
    assert "Tạm tính" in home.text
    shown = _figures(home.text)
    assert set(shown.sections) == {world.month.key, world.year.key}
    _assert_section_matches_api(shown.sections[world.month.key], api[world.month.key])
    _assert_section_matches_api(shown.sections[world.year.key], api[world.year.key])
    # The working beside each figure is the API's, word for word.
    for period in (world.month.key, world.year.key):
        for group in api[period]["index"]["groups"]:
            for criterion in group["criteria"]:
                key = f"{group['key']}.{criterion['indicator']}"
                assert shown.working[period][key] == criterion["working"], key
    # The trend: this month (provisional) and last month (published) as the API has them.
    for period in (world.month.key, world.previous.key):
        rates = api[period]["total"]["rates"]
        assert shown.trend[period] == [
            None if rates[k].get("suppressed") else _num(rates[k]["ratio"])
            for k in ("on_time_rate", "online_dossier_rate", "online_payment_rate")
        ] + [_num(api[period]["index"]["total"])]
    assert len(shown.trend) == 12
    assert 'role="img"' in home.text and '<title id="trend-rates-title">' in home.text
    # Some figures are shown, some are not.
    month = shown.sections[world.month.key]
    assert month["counts"]["received"]["value"] == 14
    assert month["rates"]["online_dossier_rate"]["ratio"] == 0.5
    assert month["counts"]["refused"]["value"] is None

    published = pages[world.previous.key]
    assert published.status_code == 200
    assert api[world.previous.key]["provisional"] is False
    assert (
        f"bởi {PUBLISHER}" in published.text and f'href="/thong-ke?ky={world.previous.key}"' in published.text
    )
    _assert_section_matches_api(
        _figures(published.text).sections[world.previous.key], api[world.previous.key]
    )

    # Open data: the same numbers, per field too.
    assert csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_answer.headers["content-disposition"] == f'attachment; filename="{world.a.slug}-chi-so.csv"'
    assert json_answer.headers["content-type"].startswith("application/json")
    csv_rows = _csv(csv_answer.content)
    json_rows = json_answer.json()["rows"]
    assert len(csv_rows) == len(json_rows) > 0
    assert {r["period"] for r in json_rows} == {world.month.key, world.previous.key}
    for chosen in (world.month, world.previous):
        body = api[chosen.key]
        expected_fields = {ALL_FIELDS: body["total"]} | {f["field"]: f for f in body["by_field"]}
        current = chosen == world.month
        for rows, provisional in ((json_rows, current), (csv_rows, str(current))):
            mine = [r for r in rows if r["period"] == chosen.key]
            assert {r["provisional"] for r in mine} == {provisional}
            assert {r["field"] for r in mine} == set(expected_fields)
            for row in mine:
                if row["indicator"] == INDEX_KEY:
                    assert (row["field"], _num(row["numerator"])) == (ALL_FIELDS, body["index"]["total"])
                    continue
                rate = expected_fields[row["field"]]["rates"][row["indicator"]]
                assert (_num(row["numerator"]), _num(row["denominator"]), _num(row["ratio"])) == (
                    _num(rate["numerator"]),
                    _num(rate["denominator"]),
                    _num(rate["ratio"]),
                ), row


def _small_counts_in_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r["indicator"] not in CATALOGUE_RATES | {INDEX_KEY}
        and any((n := _num(r[k])) is not None and 0 < n < 5 for k in ("numerator", "denominator"))
    ]


async def test_a_rare_case_and_personal_data_never_appear(app: Litestar, world: World) -> None:
    async with await _http(app, world.a) as http:
        answers = {
            "vi": await http.get("/thong-ke"),
            "en": await http.get("/thong-ke", cookies={"motcua_lang": "en"}),
            "published": await http.get("/thong-ke", params={"ky": world.previous.key}),
            "csv": await http.get("/open-data/indicators.csv"),
            "json": await http.get("/open-data/indicators.json"),
            "jsonld": await http.get("/open-data/catalog.jsonld"),
        }
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        assert APPLICANT not in answer.text and PERSONAL_ID_PREFIX not in answer.text, name
    for name in ("vi", "en", "published"):
        shown = _figures(answers[name].text)
        for period, tables in shown.sections.items():
            small = [
                (period, table, key, cell, value)
                for table in ("counts", "rates")
                for key, cells in tables[table].items()
                if key not in CATALOGUE_RATES
                for cell, value in cells.items()
                if cell != "ratio" and value is not None and 0 < value < 5
            ]
            assert small == [], name
        if name == "published":
            continue
        # The one refused and the two late dossiers of this month: not shown, and said so.
        month = shown.sections[world.month.key]
        assert month["counts"]["refused"] == {"value": None}
        assert month["counts"]["finished_late"] == {"value": None}
        assert month["rates"]["on_time_rate"]["ratio"] is None
    assert 'data-missing="suppressed">Không công bố<' in answers["vi"].text
    assert _small_counts_in_rows(_csv(answers["csv"].content)) == []
    assert _small_counts_in_rows(answers["json"].json()["rows"]) == []
    # The catalogue describes; it holds no figure at all.
    numbers = re.findall(r":\s*-?\d", answers["jsonld"].text)
    assert numbers == []


async def test_bad_and_hostile_periods_get_400_and_change_nothing(
    app: Litestar, world: World, engine: Engine
) -> None:
    def state() -> tuple[Any, ...]:
        with engine.connect() as conn:
            schema = world.a.schema
            return tuple(
                conn.execute(text(f"SELECT count(*) FROM {schema}.{table}")).scalar_one()
                for table in ("reporting_published", "reporting_days", "audit_log", "dossiers")
            )

    before = state()
    async with await _http(app, world.a) as http:
        bad = await http.get("/thong-ke", params={"ky": "2026-13"})
        assert bad.status_code == 400
        assert 'class="notice notice-error error-summary"' in bad.text
        assert "Tháng của kỳ báo cáo phải từ 01 đến 12." in bad.text
        assert '<a href="#ky">' in bad.text and 'id="ky"' in bad.text
        for hostile in ("9" * 5000, "2026-10'; DROP TABLE reporting_published; --", "<script>x</script>"):
            answer = await http.get("/thong-ke", params={"ky": hostile})
            assert answer.status_code == 400, hostile[:40]
            assert "<script>x" not in answer.text
        assert (await http.get("/thong-ke?ky=2026%0010")).status_code == 400
        # A period without dossiers: said in words, no division by zero.
        empty = await http.get("/thong-ke", params={"ky": "2001-01"})
        assert empty.status_code == 200
        assert "Chưa có số liệu cho kỳ này." in empty.text
        assert _figures(empty.text).sections["2001-01"]["rates"]["on_time_rate"]["ratio"] is None
    assert state() == before


async def test_each_host_shows_its_own_figures(app: Litestar, world: World, make_tenant: MakeTenant) -> None:
    received = {}
    for tenant in (world.a, world.b):
        async with await _http(app, tenant) as http:
            shown = _figures((await http.get("/thong-ke")).text)
            api = (await http.get("/api/v1/statistics")).json()
            rows = (await http.get("/open-data/indicators.json")).json()
        _assert_section_matches_api(shown.sections[world.month.key], api)
        received[tenant.slug] = shown.sections[world.month.key]["counts"]["received"]["value"]
        assert rows["publisher"] == tenant.name
    assert received == {world.a.slug: 14, world.b.slug: 5}
    # A new portal whose rollups never ran: the page says there is no data yet.
    fresh = make_tenant()
    async with await _http(app, fresh) as http:
        page = await http.get("/thong-ke")
        assert page.status_code == 200 and "Chưa có số liệu cho kỳ này." in page.text
        assert "Chưa có kỳ nào được công bố." in page.text
        assert (await http.get("/open-data/indicators.csv")).status_code == 200


async def test_the_catalogue_describes_the_open_data(app: Litestar, world: World) -> None:
    async with await _http(app, world.a) as http:
        answer = await http.get("/open-data/catalog.jsonld")
    assert answer.headers["content-type"].startswith("application/ld+json")
    body = answer.json()
    assert set(body["@context"]) >= {"dcat", "dct", "foaf", "vcard"}
    (dataset,) = body["dcat:dataset"]
    assert dataset["dct:publisher"] == {
        "@id": f"http://{world.a.slug}.localhost/#publisher",
        "@type": "foaf:Organization",
        "foaf:name": world.a.name,
    }
    assert {t["@language"] for t in dataset["dct:title"]} == {"vi", "en"}
    assert dataset["dct:license"] == {"@id": "https://creativecommons.org/licenses/by/4.0/"}
    assert dataset["dct:temporal"]["dcat:startDate"]["@value"] == world.previous.first_day.isoformat()
    assert dataset["dct:temporal"]["dcat:endDate"]["@value"] == world.month.last_day.isoformat()
    assert {
        (d["dcat:downloadURL"]["@id"], d["dcat:mediaType"]["@id"].rsplit("/", 2)[-2:][1])
        for d in dataset["dcat:distribution"]
    } == {
        (f"http://{world.a.slug}.localhost/open-data/indicators.csv", "csv"),
        (f"http://{world.a.slug}.localhost/open-data/indicators.json", "json"),
    }


async def test_the_page_passes_axe_in_a_real_browser(app: Litestar, world: World) -> None:
    """Chromium renders the page as served by the app in this process (requests answered
    through Playwright's routing), in Vietnamese and in English, and with the error summary."""
    base = f"http://{world.a.slug}.localhost"
    async with httpx.AsyncClient(transport=asgi_transport(app)) as http, async_playwright() as pw:

        async def serve(route: Route) -> None:
            request = route.request
            headers = {k: v for k, v in (await request.all_headers()).items() if not k.startswith(":")}
            answer = await http.request(request.method, request.url, headers=headers)
            await route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.content)

        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(locale="vi-VN")
            await context.route("**/*", serve)
            page = await context.new_page()
            await page.goto(base + "/thong-ke")
            assert await page.locator("svg[role=img] title").count() == 2
            await assert_accessible(page, "statistics page")
            await page.goto(base + "/thong-ke?ky=2026-13")
            await assert_accessible(page, "statistics page, error summary")
            await context.add_cookies([{"name": "motcua_lang", "value": "en", "url": base}])
            await page.goto(base + "/thong-ke")
            assert await page.locator("html[lang=en]").count() == 1
            await assert_accessible(page, "statistics page (en)")
        finally:
            await browser.close()
