"""/manage/reports on a tenant with dossiers of known outcomes (built through the real actions,
as in test_indicators): the exact figures on the page, the list of dossiers behind each figure
as long as the figure, the CSV and XLSX exports with the same numbers, publishing a month
through the browser form (frozen afterwards while the current month moves), the refusals, and
every other role and tenant kept out."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import Channel
from motcua.reporting.jobs import refresh
from motcua.reporting.periods import VIETNAM, Period
from tests.admin.conftest import Browser, csrf_of, signed_in
from tests.conftest import MakeTenant, asgi_transport
from tests.reporting.test_indicators import BUSINESS, COPY, INFO, Desk

__all__ = ["signed_in"]  # the signed-in browser fixture, used here
REPORTS = "/manage/reports"
# The current month of the data set below, whatever day the test runs (see test_indicators).
CURRENT = {
    "received": 4,
    "received_online": 2,
    "received_offline": 2,
    "online_by_citizen": 1,
    "with_fees": 3,
    "paid_online": 1,
    "not_paid_online": 2,
    "digitised": 1,
    "not_digitised": 3,
    "finished": 2,
    "finished_on_time": 1,
    "finished_late": 1,
    "withdrawn": 1,
    "refused": 1,
    "in_process": 2,
    "overdue": 1,
}


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _cell(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|dd|strong)>', page, re.S)
    assert match is not None, element_id
    return _text(match.group(1))


def _row(page: str, heading: str) -> list[str]:
    """The cells of the table row whose header starts with ``heading``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        head = re.search(r"<th scope=\"row\">(.*?)</th>", row, re.S)
        if head and _text(head.group(1)).startswith(heading):
            return [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    raise AssertionError(heading)


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx(body: bytes) -> list[list[str]]:
    """The first sheet's rows as text (shared strings resolved), enough to compare figures."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        strings = [
            "".join(t.text or "" for t in si.iterfind(".//m:t", ns))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml"))  # noqa: S314 - our own export.iterfind("m:si", ns)
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))  # noqa: S314 - our own export
    rows: list[list[str]] = []
    for row in sheet.iterfind(".//m:row", ns):
        cells: dict[int, str] = {}
        for c in row.iterfind("m:c", ns):
            value = c.findtext("m:v", "", ns)
            column = ord(re.sub(r"\d", "", c.get("r", "A"))[-1]) - ord("A")  # tables here stay within A–Z
            cells[column] = strings[int(value)] if c.get("t") == "s" else value
        rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
    return rows


async def _build(desk: Desk, now: datetime) -> dict[str, int]:
    """The data set of test_indicators: four dossiers last month, four this month."""
    month = Period.current_month(now)
    previous = month.previous()
    ids = {
        "p1": await desk.receive(
            "2.000001", Channel.ONLINE, previous.end - timedelta(minutes=30), personally=True
        ),
        "p2": await desk.receive("2.000002", Channel.POSTAL, previous.start + timedelta(hours=1)),
        "p3": await desk.receive("2.000002", Channel.IN_PERSON, previous.start + timedelta(hours=2)),
        "p4": await desk.receive(
            "2.000001", Channel.ONLINE, previous.start + timedelta(hours=3), personally=True
        ),
        "m1": await desk.receive(
            "2.000001",
            Channel.ONLINE,
            max(now - timedelta(minutes=1), month.start),
            personally=True,
            scanned=True,
        ),
        "m2": await desk.receive("2.000001", Channel.NATIONAL_PORTAL, now),
        "m3": await desk.receive("2.000002", Channel.IN_PERSON, now),
        "m4": await desk.receive(
            "2.000001", Channel.IN_PERSON, min(month.start + timedelta(minutes=30), now)
        ),
    }
    await desk.finish(ids["m1"], deliver=True)  # on time
    await desk.pay_online(ids["m1"])
    await desk.rate(ids["m1"], 5)
    await desk.finish(ids["p2"], deliver=True)  # late
    await desk.act(ids["m2"], Action.REFUSE, reason="Thiếu giấy tờ")
    await desk.act(ids["m3"], Action.ACCEPT)  # in process, not yet due
    await desk.act(ids["p3"], Action.ACCEPT)  # in process and overdue
    await desk.withdraw(ids["p4"])
    await desk.pay_at_desk(ids["m4"])
    return ids


def _published(engine: Engine, tenant: Tenant) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f'SELECT period, published_by FROM "{tenant.schema}".reporting_published'))
        return [(r.period, r.published_by) for r in rows]


async def test_figures_lists_exports_and_publishing(
    make_tenant: MakeTenant, live_settings: Settings, engine: Engine, signed_in: Browser
) -> None:
    tenant = make_tenant(procedures=[COPY, BUSINESS, INFO])
    db = Database(live_settings.database_url or "", pool_size=2)
    desk = Desk(db, tenant)
    now = datetime.now(VIETNAM)
    month = Period.current_month(now)
    previous = month.previous()
    try:
        await _build(desk, now)
        await refresh(tenant.slug, db=db)
        admin = await signed_in(tenant, role="tenant_admin", name="Lê Thị Hoa")

        # The page: the current month by default, every figure exact.
        page = await admin.get(REPORTS)
        assert page.status_code == 200, page.text[:500]
        body = page.text
        assert f"{month.label}" in body and "Tạm tính" in _cell(body, "period-status")
        assert {key: _cell(body, f"count-{key}") for key in CURRENT} == {
            k: str(v) for k, v in CURRENT.items()
        }
        assert _row(body, "Tỷ lệ hồ sơ giải quyết đúng hạn") == ["1 ÷ 2", "50%"]
        assert _row(body, "Tỷ lệ thanh toán trực tuyến") == ["1 ÷ 3", "33,33%"]
        assert _row(body, "Tỷ lệ hồ sơ trực tuyến do người dân tự nộp") == ["1 ÷ 2", "50%"]
        assert _row(body, "Điểm đánh giá trung bình") == ["5 ÷ 1", "5 / 5"]
        # 14,63 + 10 + 12 + 7,41 + 6,88 + 12 (one rating, 5: satisfied 100%; no feedback: 0).
        assert _cell(body, "index-total") == "62,92"
        assert "1 ÷ 3 = 33,33%; 33,33% &lt; 45% → 33,33% ÷ 45% × 10 = 7,41 điểm" in body
        # Drill-down rows: channels in words, never codes.
        assert _row(body, "Trực tiếp tại Bộ phận Một cửa")[:4] == ["2", "0", "0", "0"]
        assert _row(body, "Qua dịch vụ bưu chính công ích")[:4] == ["0", "0", "1", "1"]
        assert _row(body, "2.000002 — Đăng ký hộ kinh doanh")[:4] == ["1", "0", "1", "1"]
        assert _row(body, "Kinh doanh")[:4] == ["1", "0", "1", "1"]
        # The trend: twelve months, this one last.
        assert _row(body, month.label)[:4] == ["50%", "50%", "33,33%", "62,92"]
        assert _row(body, previous.label)[:3] == ["chưa có số liệu", "50%", "0%"]
        # A month with no dossiers: no data, never a division by zero.
        empty = (await admin.get(REPORTS, params={"ky": "2001-01"})).text
        assert _row(empty, "Tỷ lệ hồ sơ giải quyết đúng hạn") == ["0 ÷ 0", "chưa có số liệu"]

        # The list behind each figure is as long as the figure.
        for key, expected in CURRENT.items():
            listed = await admin.get(f"{REPORTS}/dossiers", params={"ky": month.key, "chi-tieu": key})
            assert listed.status_code == 200, (key, listed.text[:300])
            assert (_cell(listed.text, "list-total"), _cell(listed.text, "figure-value")) == (
                str(expected),
                str(expected),
            ), key
            assert listed.text.count('href="/officer/dossiers/') == expected, key
        late = (
            await admin.get(f"{REPORTS}/dossiers", params={"ky": month.key, "chi-tieu": "finished_late"})
        ).text
        assert "Qua dịch vụ bưu chính công ích" in late and "Đã trả kết quả" in late
        for scope, expected in (({"kenh": "1"}, 2), ({"linh-vuc": "Hộ tịch"}, 3)):
            listed = await admin.get(
                f"{REPORTS}/dossiers", params={"ky": month.key, "chi-tieu": "received", **scope}
            )
            assert (_cell(listed.text, "list-total"), _cell(listed.text, "figure-value")) == (
                str(expected),
                str(expected),
            ), scope
        year_list = await admin.get(
            f"{REPORTS}/dossiers", params={"ky": str(previous.year), "chi-tieu": "received_online"}
        )
        assert _cell(year_list.text, "list-total") == _cell(year_list.text, "figure-value")

        # Exports: the same numbers.
        csv_file = await admin.get(f"{REPORTS}/export.csv", params={"ky": month.key})
        assert csv_file.headers["content-disposition"] == f'attachment; filename="chi-tieu-{month.key}.csv"'
        rows = {(r["Phạm vi"], r["Mã chỉ tiêu"]): r for r in _csv(csv_file.content)}
        assert rows[("Toàn cổng", "received")]["Số lượng"] == "4"
        assert rows[("Toàn cổng", "not_paid_online")]["Số lượng"] == "2"
        on_time = rows[("Toàn cổng", "on_time_rate")]
        assert (on_time["Tử số"], on_time["Mẫu số"], on_time["Tỷ lệ"]) == ("1", "2", "0.5")
        assert rows[("Chỉ số Quyết định 766", "total")]["Điểm"] == "62.92"
        xlsx_file = await admin.get(f"{REPORTS}/export.xlsx", params={"ky": month.key})
        assert xlsx_file.headers["content-disposition"] == f'attachment; filename="chi-tieu-{month.key}.xlsx"'
        sheet = _xlsx(xlsx_file.content)
        assert sheet[0][:2] == ["Kỳ", "Phạm vi"]
        by_key = {(r[1], r[3]): r for r in sheet[1:]}
        assert by_key[("Toàn cổng", "received")][5] == "4"
        assert by_key[("Toàn cổng", "on_time_rate")][6:9] == ["1", "2", "0.5"]
        assert by_key[("Chỉ số Quyết định 766", "total")][10] == "62.92"
        for key in ("finished_late", "not_digitised"):
            params = {"ky": month.key, "chi-tieu": key}
            listed_csv = await admin.get(f"{REPORTS}/dossiers.csv", params=params)
            assert len(_csv(listed_csv.content)) == CURRENT[key]
            assert "attachment; filename=" in listed_csv.headers["content-disposition"]
            listed_xlsx = await admin.get(f"{REPORTS}/dossiers.xlsx", params=params)
            assert len(_xlsx(listed_xlsx.content)) == CURRENT[key] + 1  # and the header

        # Publishing last month through the confirmation page's form.
        assert (
            f'href="{REPORTS}/publish?ky={previous.key}"'
            in (await admin.get(REPORTS, params={"ky": previous.key})).text
        )
        confirm = f"{REPORTS}/publish?ky={previous.key}"
        token = await csrf_of(admin, confirm)
        assert "Không thể hoàn tác" in (await admin.get(confirm)).text
        done = await admin.post(f"{REPORTS}/publish", data={"_csrf_token": token, "ky": previous.key})
        assert done.status_code == 303
        assert done.headers["location"] == f"{REPORTS}?ky={previous.key}&done=published"
        shown = await admin.get(done.headers["location"])
        assert "Đã công bố số liệu" in shown.text
        assert "Lê Thị Hoa" in _cell(shown.text, "period-status")
        assert _published(engine, tenant) == [(previous.key, "Lê Thị Hoa")]

        # Refusals: again, the unfinished current month, a quarter; each says why.
        for period, reason in (
            (previous.key, "đã được công bố"),
            (month.key, "chưa kết thúc"),
            (f"{previous.year - 1}-Q4", "Chỉ công bố được số liệu theo tháng"),
        ):
            refused = await admin.post(f"{REPORTS}/publish", data={"_csrf_token": token, "ky": period})
            assert refused.status_code == 409, period
            assert 'role="alert"' in refused.text and reason in refused.text, period
        # Without the CSRF token: refused before anything runs.
        assert (await admin.post(f"{REPORTS}/publish", data={"ky": month.key})).status_code == 403
        # Hostile period values: 400, nothing published.
        for hostile in ("2026-10'; DROP TABLE dossiers; --", "<script>", "9999-99", "2026-Q9", "x" * 5000):
            for path in ("", "/dossiers", "/export.csv", "/publish"):
                answer = await admin.get(REPORTS + path, params={"ky": hostile, "chi-tieu": "received"})
                assert answer.status_code == 400, (path, hostile)
                assert "<script>" not in answer.text
            posted = await admin.post(f"{REPORTS}/publish", data={"_csrf_token": token, "ky": hostile})
            assert posted.status_code == 400
        for params in ({"chi-tieu": "nothing"}, {"chi-tieu": "received", "kenh": "9"}, {"trang": "0"}):
            answer = await admin.get(f"{REPORTS}/dossiers", params={"ky": month.key, **params})
            assert answer.status_code == 400, params
        assert _published(engine, tenant) == [(previous.key, "Lê Thị Hoa")]

        # A later dossier of last month: the published month does not move; this month does.
        await desk.receive("2.000002", Channel.IN_PERSON, previous.start + timedelta(hours=5))
        await desk.receive("2.000002", Channel.ONLINE, now)
        await refresh(tenant.slug, db=db)
        frozen = (await admin.get(REPORTS, params={"ky": previous.key})).text
        assert _cell(frozen, "count-received") == "4"
        assert "Đã công bố" in _cell(frozen, "period-status")
        assert f'href="{REPORTS}/publish' not in frozen
        moving = (await admin.get(REPORTS)).text
        assert _cell(moving, "count-received") == "5"
        assert _cell(moving, "count-received_online") == "3"
    finally:
        await db.dispose()


async def test_only_this_tenants_administrators_see_its_reports(
    make_tenant: MakeTenant, live_settings: Settings, signed_in: Browser, app: Litestar
) -> None:
    tenant, other = make_tenant(procedures=[COPY]), make_tenant(procedures=[COPY])
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        desk = Desk(db, tenant)
        now = datetime.now(VIETNAM)
        dossier_id = await desk.receive("2.000001", Channel.ONLINE, now, personally=True)
        await refresh(tenant.slug, db=db)
        async with db.tenant_session(tenant) as session:
            code = (
                await session.execute(text("SELECT code FROM dossiers WHERE id = :i"), {"i": dossier_id})
            ).scalar_one()
    finally:
        await db.dispose()
    month = Period.current_month(now).key
    previous = Period.current_month(now).previous().key
    paths: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", REPORTS, {"ky": month}),
        ("GET", f"{REPORTS}/dossiers", {"ky": month, "chi-tieu": "received"}),
        ("GET", f"{REPORTS}/export.csv", {"ky": month}),
        ("GET", f"{REPORTS}/export.xlsx", {"ky": month}),
        ("GET", f"{REPORTS}/dossiers.csv", {"ky": month, "chi-tieu": "received"}),
        ("GET", f"{REPORTS}/dossiers.xlsx", {"ky": month, "chi-tieu": "received"}),
        ("GET", f"{REPORTS}/publish", {"ky": previous}),
        ("POST", f"{REPORTS}/publish", {"ky": previous}),
    ]
    host = f"http://{tenant.slug}.localhost"
    anonymous = httpx.AsyncClient(transport=asgi_transport(app), base_url=host)
    browsers = {
        "anonymous": anonymous,
        "citizen": await signed_in(tenant, role="citizen"),
        "officer": await signed_in(tenant, role="officer"),
        "other tenant's admin": await signed_in(other, role="tenant_admin"),
        "console": await signed_in(None, role="platform_admin"),
    }
    try:
        for who, browser in browsers.items():
            for method, path, params in paths:
                if method == "POST":
                    response = await browser.post(host + path, data=params)
                else:
                    response = await browser.get(host + path, params=params)
                # Signed in here without the role: 403. No session on this host (another
                # tenant's or the console's cookie is not sent here): the login page, or the
                # CSRF check refusing a form from nowhere.
                if who in ("citizen", "officer"):
                    expected: tuple[int, ...] = (403,)
                else:
                    expected = (303, 401, 403) if method == "POST" else (303,)
                assert response.status_code in expected, (who, method, path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login"), (who, path)
                assert code not in response.text, (who, path)
    finally:
        await anonymous.aclose()
    admin_of_other = await signed_in(other, role="tenant_admin")
    own = await admin_of_other.get(REPORTS)
    assert own.status_code == 200 and _cell(own.text, "count-received") == "0"
    listed = await admin_of_other.get(f"{REPORTS}/dossiers", params={"ky": month, "chi-tieu": "received"})
    assert _cell(listed.text, "list-total") == "0" and code not in listed.text
    assert (
        code
        not in (
            await admin_of_other.get(f"{REPORTS}/dossiers.csv", params={"ky": month, "chi-tieu": "received"})
        ).text
    )
