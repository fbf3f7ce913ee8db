"""/manage/catalog through the real app: add, edit, publish, unpublish, templates, imports,
audit rows, and who may do any of it."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.sessions import SESSION_COOKIE
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import MakeTenant, asgi_transport, procedure
from tests.dossiers.conftest import PDF

NEW = {
    "code": "2.002160",
    "name": "Cấp bản sao trích lục hộ tịch",
    "field": "Hộ tịch",
    "agency": "Ủy ban nhân dân cấp xã",
    "agency_code": "",
    "level": "full",
    "processing_days": "1",
    "processing_unit": "working_days",
    "description": "Cấp bản sao trích lục từ sổ hộ tịch.",
    "channel-online": "1",
    "channel-online-days": "1",
    "channel-online-unit": "working_days",
    "fees-0-name": "Phí cấp bản sao",
    "fees-0-amount_vnd": "8.000",
    "fees-0-exempt": "Miễn cho hộ nghèo",
    "fees-1-name": "",
    "fees-1-amount_vnd": "",
    "documents-0-code": "to-khai",
    "documents-0-name": "Tờ khai cấp bản sao trích lục",
    "documents-0-kind": "original",
    "documents-0-copies": "1",
    "documents-0-required": "1",
    "results": "Bản sao trích lục hộ tịch",
    "legal_basis": "Luật Hộ tịch số 60/2014/QH13\nNghị định số 123/2015/NĐ-CP",
}


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _published(engine: Engine, tenant: Tenant, code: str) -> bool | None:
    with engine.connect() as conn:
        value = conn.execute(
            text(f"SELECT published FROM {tenant.schema}.procedures WHERE code = :c"), {"c": code}
        ).scalar()
    return None if value is None else bool(value)


def _row(engine: Engine, tenant: Tenant, code: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(text(f"SELECT * FROM {tenant.schema}.procedures WHERE code = :c"), {"c": code})
            .mappings()
            .one_or_none()
        )
    return None if row is None else dict(row)


def _audit(engine: Engine, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT actor, detail FROM {tenant.schema}.audit_log WHERE action = :a ORDER BY id"),
            {"a": action},
        ).all()
    return [{"actor": r.actor, **r.detail} for r in rows]


async def _admin(signed_in: Browser, tenant: Tenant) -> tuple[httpx.AsyncClient, str]:
    browser = await signed_in(tenant, role="tenant_admin")
    return browser, await csrf_of(browser, "/manage/catalog/new")


async def test_add_publish_shows_on_the_public_pages_and_unpublish_hides_it(
    signed_in: Browser, make_tenant: MakeTenant, client: httpx.AsyncClient, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    admin, token = await _admin(signed_in, tenant)
    host = {"host": f"{tenant.slug}.localhost"}
    # Warm the public caches first: the change must show anyway (catalog_changed after commit).
    assert (await client.get("/procedures", headers=host)).status_code == 200
    assert (await client.get("/procedures/2.002160", headers=host)).status_code == 404

    added = await admin.post("/manage/catalog/new", data={"_csrf_token": token, **NEW})
    assert added.status_code == 303, added.text[:3000]
    assert added.headers["location"] == "/manage/catalog/2.002160?done=added"
    row = _row(engine, tenant, "2.002160")
    assert row is not None and row["published"] is False and row["fee_vnd"] == 8000
    assert row["fees"] == [{"name": "Phí cấp bản sao", "amount_vnd": 8000, "exempt": "Miễn cho hộ nghèo"}]
    assert row["documents"][0]["required"] is True
    assert row["legal_basis"] == ["Luật Hộ tịch số 60/2014/QH13", "Nghị định số 123/2015/NĐ-CP"]
    detail = await admin.get(added.headers["location"])
    assert "Đã thêm thủ tục" in detail.text and 'role="status"' in detail.text
    assert "Chưa công bố" in detail.text
    # Unpublished: not on the public pages yet.
    assert "2.002160" not in (await client.get("/procedures", headers=host)).text
    assert (await client.get("/procedures/2.002160", headers=host)).status_code == 404

    confirm = await admin.get("/manage/catalog/2.002160/publish")
    assert confirm.status_code == 200 and "Công bố thủ tục “Cấp bản sao trích lục hộ tịch”?" in confirm.text
    published = await admin.post("/manage/catalog/2.002160/publish", data={"_csrf_token": token})
    assert published.status_code == 303
    assert "Đã công bố thủ tục" in (await admin.get(published.headers["location"])).text
    assert _published(engine, tenant, "2.002160") is True
    search = await client.get("/procedures", params={"q": "trich luc"}, headers=host)
    assert '<a href="/procedures/2.002160">Cấp bản sao trích lục hộ tịch</a>' in search.text
    page = await client.get("/procedures/2.002160", headers=host)
    assert page.status_code == 200 and "Phí cấp bản sao" in page.text and "Miễn cho hộ nghèo" in page.text

    unpublished = await admin.post("/manage/catalog/2.002160/unpublish", data={"_csrf_token": token})
    assert unpublished.status_code == 303
    assert "2.002160" not in (await client.get("/procedures", params={"q": "trich luc"}, headers=host)).text
    gone = await client.get("/procedures/2.002160", headers=host)
    assert gone.status_code == 404 and "Không có thủ tục mã 2.002160" in gone.text
    api = await client.get("/api/v1/procedures", params={"q": "trich luc"}, headers=host)
    assert api.json()["total"] == 0

    for action in ("catalog.procedure_added", "catalog.procedure_published", "catalog.procedure_unpublished"):
        rows = _audit(engine, tenant, action)
        assert len(rows) == 1 and rows[0]["code"] == "2.002160"
        assert rows[0]["actor"].startswith("tenant_admin:")


async def test_the_list_searches_and_filters_by_state(signed_in: Browser, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(
        procedures=[procedure("1.001193", "Đăng ký khai sinh"), procedure("1.000656", "Đăng ký khai tử")]
    )
    admin, token = await _admin(signed_in, tenant)
    await admin.post("/manage/catalog/new", data={"_csrf_token": token, **NEW})
    listing = await admin.get("/manage/catalog")
    assert listing.status_code == 200
    assert "Đăng ký khai sinh" in listing.text and "Cấp bản sao trích lục hộ tịch" in listing.text
    drafts = await admin.get("/manage/catalog", params={"state": "unpublished"})
    assert "Cấp bản sao trích lục hộ tịch" in drafts.text and "Đăng ký khai sinh" not in drafts.text
    found = await admin.get("/manage/catalog", params={"q": "khai tu"})
    assert "Đăng ký khai tử" in found.text and "Đăng ký khai sinh" not in found.text


async def test_bad_values_are_refused_with_the_summary_and_kept(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh", processing_days=3)])
    admin, token = await _admin(signed_in, tenant)
    before = _row(engine, tenant, "1.001193")
    bad = {
        **NEW,
        "name": "",
        "processing_days": "ba ngày",
        "fees-0-amount_vnd": "tám nghìn",
        "documents-0-code": "Tờ Khai",
        "level": "everything",
    }
    edited = await admin.post("/manage/catalog/1.001193/edit", data={"_csrf_token": token, **bad})
    assert edited.status_code == 400
    assert "error-summary" in edited.text
    for anchor in ("name", "processing_days", "fees-0-amount_vnd", "documents-0-code", "level"):
        assert f'href="#{anchor}"' in edited.text
        assert f'id="{anchor}"' in edited.text
    assert "Nhập tên thủ tục." in edited.text
    assert "Thời hạn phải là số nguyên từ 0 đến 3650." in edited.text
    assert 'value="ba ngày"' in edited.text and 'value="tám nghìn"' in edited.text
    assert 'value="Tờ Khai"' in edited.text
    assert _row(engine, tenant, "1.001193") == before
    assert _audit(engine, tenant, "catalog.procedure_edited") == []

    # Adding with a code that exists, or a malformed one: refused, nothing added.
    taken = await admin.post("/manage/catalog/new", data={"_csrf_token": token, **NEW, "code": "1.001193"})
    assert taken.status_code == 400 and "Đã có thủ tục mang mã này." in taken.text
    malformed = await admin.post("/manage/catalog/new", data={"_csrf_token": token, **NEW, "code": "abc"})
    assert malformed.status_code == 400 and 'href="#code"' in malformed.text
    assert 'value="abc"' in malformed.text
    too_long = await admin.post("/manage/catalog/new", data={"_csrf_token": token, **NEW, "name": "x" * 400})
    assert too_long.status_code == 400 and "Không được dài quá 300 ký tự." in too_long.text
    assert _row(engine, tenant, "abc") is None
    assert _audit(engine, tenant, "catalog.procedure_added") == []


async def test_edit_saves_every_field_and_audits_what_changed(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    admin, token = await _admin(signed_in, tenant)
    form = await admin.get("/manage/catalog/1.001193/edit")
    assert form.status_code == 200 and 'value="Đăng ký khai sinh"' in form.text
    # "Add another" re-shows the form with one more group and saves nothing.
    more = await admin.post(
        "/manage/catalog/1.001193/edit", data={"_csrf_token": token, **NEW, "more": "fees"}
    )
    assert more.status_code == 200 and 'id="fees-2-name"' in more.text
    assert _audit(engine, tenant, "catalog.procedure_edited") == []
    saved = await admin.post(
        "/manage/catalog/1.001193/edit", data={"_csrf_token": token, **NEW, "code": "9.999999"}
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/manage/catalog/1.001193?done=edited"
    row = _row(engine, tenant, "1.001193")
    assert row is not None and row["name"] == "Cấp bản sao trích lục hộ tịch"  # the code stays
    assert row["channels"] == [{"kind": "online", "days": 1, "unit": "working_days"}]
    assert row["published"] is True and row["form_version"] == 1
    assert _row(engine, tenant, "9.999999") is None
    [entry] = _audit(engine, tenant, "catalog.procedure_edited")
    assert entry["code"] == "1.001193" and "name" in entry["changed"] and "fees" in entry["changed"]
    same = await admin.post("/manage/catalog/1.001193/edit", data={"_csrf_token": token, **NEW})
    assert same.headers["location"].endswith("done=unchanged")
    assert len(_audit(engine, tenant, "catalog.procedure_edited")) == 1


async def test_document_templates_are_checked_and_downloadable(
    signed_in: Browser, make_tenant: MakeTenant, client: httpx.AsyncClient, engine: Engine
) -> None:
    tenant = make_tenant(
        procedures=[
            procedure(
                "1.001193",
                "Đăng ký khai sinh",
                documents=[
                    {
                        "code": "to-khai",
                        "name": "Tờ khai đăng ký khai sinh",
                        "kind": "original",
                        "copies": 1,
                        "required": True,
                    }
                ],
            )
        ]
    )
    admin, token = await _admin(signed_in, tenant)
    host = {"host": f"{tenant.slug}.localhost"}
    url = "/manage/catalog/1.001193/templates/to-khai"
    fake = await admin.post(
        url, data={"_csrf_token": token}, files={"file": ("mau.pdf", b"<html>x</html>", "application/pdf")}
    )
    assert fake.status_code == 400 and "Tệp mẫu phải là PDF hoặc Word (DOCX)." in fake.text
    assert 'href="#template-to-khai"' in fake.text
    big = await admin.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("mau.pdf", PDF + b"0" * (5 * 1024 * 1024), "application/pdf")},
    )
    assert big.status_code in (400, 413)
    assert (await client.get("/procedures/1.001193/templates/to-khai", headers=host)).status_code == 404

    ok = await admin.post(
        url, data={"_csrf_token": token}, files={"file": ("Tờ khai mẫu.pdf", PDF, "application/pdf")}
    )
    assert ok.status_code == 303, ok.text[:2000]
    page = await client.get("/procedures/1.001193", headers=host)
    assert 'href="/procedures/1.001193/templates/to-khai"' in page.text
    download = await client.get("/procedures/1.001193/templates/to-khai", headers=host)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]

    word = await admin.post(
        url, data={"_csrf_token": token}, files={"file": ("mau.docx", _docx(), "application/octet-stream")}
    )
    assert word.status_code == 303
    download = await client.get("/procedures/1.001193/templates/to-khai", headers=host)
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    with engine.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.procedure_templates")).scalar()
    assert count == 1  # the replaced file is gone
    assert len(_audit(engine, tenant, "catalog.template_attached")) == 2

    removed = await admin.post(url + "/remove", data={"_csrf_token": token})
    assert removed.status_code == 303
    assert (await client.get("/procedures/1.001193/templates/to-khai", headers=host)).status_code == 404


CSV_GOOD = (
    "code,name,field,level,processing_days,fees,documents,channels,legal_basis\n"
    '2.002160,Cấp bản sao trích lục hộ tịch,Hộ tịch,Toàn trình,1,"Phí cấp bản sao|8.000|Miễn cho hộ nghèo",'
    '"to-khai|Tờ khai|original|1|bắt buộc",online:1; in_person:1,Luật Hộ tịch số 60/2014/QH13\n'
    "1.001193,Đăng ký khai sinh (sửa),Hộ tịch,full,2,,,,\n"
)


async def _import_csv(admin: httpx.AsyncClient, token: str, content: bytes) -> httpx.Response:
    return await admin.post(
        "/manage/catalog/import/csv",
        data={"_csrf_token": token},
        files={"file": ("danh-muc.csv", content, "text/csv")},
    )


async def test_csv_import_previews_then_applies(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    birth = procedure("1.001193", "Đăng ký khai sinh", fields=[{"name": "a", "label": "A"}])
    tenant = make_tenant(procedures=[birth])
    admin, token = await _admin(signed_in, tenant)
    preview = await _import_csv(admin, token, "\ufeff".encode() + CSV_GOOD.encode())
    assert preview.status_code == 200, preview.text[:3000]
    assert "Sẽ thêm 1 thủ tục, cập nhật 1 thủ tục" in preview.text
    assert "Cấp bản sao trích lục hộ tịch" in preview.text
    assert _row(engine, tenant, "2.002160") is None  # a preview writes nothing
    payload = re.search(r'name="payload" value="([^"]+)"', preview.text)
    assert payload is not None
    done = await admin.post(
        "/manage/catalog/import/confirm",
        data={"_csrf_token": token, "source": "csv", "shared": "", "payload": payload.group(1)},
    )
    assert done.status_code == 303 and "done=imported&added=1&changed=1" in done.headers["location"]
    row = _row(engine, tenant, "2.002160")
    assert row is not None and row["published"] is False and row["level"] == "full"
    assert row["fees"] == [{"name": "Phí cấp bản sao", "amount_vnd": 8000, "exempt": "Miễn cho hộ nghèo"}]
    assert [c["kind"] for c in row["channels"]] == ["online", "in_person"]
    updated = _row(engine, tenant, "1.001193")
    # Columns the file has replace; the form (no "fields" column) and the state stay.
    assert updated is not None and updated["name"] == "Đăng ký khai sinh (sửa)"
    assert updated["processing_days"] == 2 and updated["published"] is True
    assert updated["form_version"] == 1 and updated["form_fields"] == [{"name": "a", "label": "A"}]
    [entry] = _audit(engine, tenant, "catalog.imported")
    assert entry["added"] == ["2.002160"] and entry["changed"] == ["1.001193"]


async def test_a_bad_csv_imports_nothing_and_lists_every_error(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    admin, token = await _admin(signed_in, tenant)
    before = _row(engine, tenant, "1.001193")
    bad = (
        "code,name,field,processing_days,fees\n"
        "2.002160,Cấp bản sao,Hộ tịch,1,\n"  # good, but the file has bad rows: not imported
        "1.001193,,Hộ tịch,mười,\n"
        "3.000001,Thủ tục khác,Hộ tịch,1,Lệ phí|âm\n"
    )
    response = await _import_csv(admin, token, bad.encode())
    assert response.status_code == 400
    assert "error-summary" in response.text and "Chưa thủ tục nào được nhập." in response.text
    rows = re.findall(r"<tr id=\"import-error-\d+\"><td>(\d+)</td><td>([a-z_]+)", response.text)
    assert ("3", "name") in rows and ("3", "processing_days") in rows and ("4", "fees") in rows
    assert _row(engine, tenant, "2.002160") is None and _row(engine, tenant, "1.001193") == before
    unknown = await _import_csv(admin, token, b"code,ten\n1.001193,x\n")
    assert unknown.status_code == 400 and "Cột này không có trong định dạng." in unknown.text
    latin = await _import_csv(admin, token, "code,name\n1.001193,Đăng\n".encode("utf-16"))
    assert latin.status_code == 400 and "UTF-8" in latin.text
    forged = await admin.post(
        "/manage/catalog/import/confirm",
        data={"_csrf_token": token, "source": "csv", "payload": "%%%not base64"},
    )
    assert forged.status_code == 400
    assert _audit(engine, tenant, "catalog.imported") == []


async def test_shared_catalogue_import(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    admin, token = await _admin(signed_in, tenant)
    start = await admin.get("/manage/catalog/import")
    assert start.status_code == 200 and '<option value="common.toml">' in start.text
    preview = await admin.post(
        "/manage/catalog/import/shared", data={"_csrf_token": token, "source": "common.toml"}
    )
    assert preview.status_code == 200, preview.text[:2000]
    assert "Đăng ký khai tử" in preview.text
    escape = await admin.post(
        "/manage/catalog/import/shared", data={"_csrf_token": token, "source": "../hanoi.toml"}
    )
    assert escape.status_code == 400
    done = await admin.post(
        "/manage/catalog/import/confirm",
        data={"_csrf_token": token, "source": "shared", "shared": "common.toml"},
    )
    assert done.status_code == 303
    assert _published(engine, tenant, "1.000656") is False  # new: waits for publication
    assert _published(engine, tenant, "1.001193") is True  # existing: keeps its state
    [entry] = _audit(engine, tenant, "catalog.imported")
    assert entry["source"] == "shared:common.toml" and "1.000656" in entry["added"]


ROUTES = [
    ("GET", "/manage/catalog"),
    ("GET", "/manage/catalog/new"),
    ("POST", "/manage/catalog/new"),
    ("GET", "/manage/catalog/1.001193"),
    ("GET", "/manage/catalog/1.001193/edit"),
    ("POST", "/manage/catalog/1.001193/edit"),
    ("GET", "/manage/catalog/1.001193/publish"),
    ("POST", "/manage/catalog/1.001193/publish"),
    ("GET", "/manage/catalog/1.001193/unpublish"),
    ("POST", "/manage/catalog/1.001193/unpublish"),
    ("GET", "/manage/catalog/1.001193/form"),
    ("POST", "/manage/catalog/1.001193/form"),
    ("POST", "/manage/catalog/1.001193/form/preview"),
    ("POST", "/manage/catalog/1.001193/templates/to-khai"),
    ("POST", "/manage/catalog/1.001193/templates/to-khai/remove"),
    ("GET", "/manage/catalog/import"),
    ("POST", "/manage/catalog/import/shared"),
    ("POST", "/manage/catalog/import/csv"),
    ("POST", "/manage/catalog/import/confirm"),
]
HOSTILE = {**NEW, "code": "2.002160", "definition": "[]", "source": "shared", "shared": "common.toml"}


@pytest.mark.parametrize("who", ["anonymous", "citizen", "officer", "other_admin", "console"])
async def test_only_this_tenants_administrators_reach_the_catalogue_pages(
    who: str, signed_in: Browser, make_tenant: MakeTenant, app: Any, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    other = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    own_admin = await signed_in(tenant, role="tenant_admin")
    token = await csrf_of(own_admin, "/manage/catalog/new")  # a valid token, to show the guard decides
    host = f"{tenant.slug}.localhost"
    if who == "anonymous":
        browser = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{host}")
    elif who == "other_admin":
        # Signed in to the other tenant, then sent to this one's host with that session.
        browser = await signed_in(other, role="tenant_admin")
        session = browser.cookies.get(SESSION_COOKIE)
        assert session is not None
        browser.base_url = httpx.URL(f"http://{host}")
        browser.cookies.set(SESSION_COOKIE, session, domain=host)
    elif who == "console":
        browser = await signed_in(None, role="platform_admin")
    else:
        browser = await signed_in(tenant, role=who)
    for cookie in own_admin.cookies.jar:
        if cookie.name != SESSION_COOKIE:  # the CSRF cookie that goes with the token
            browser.cookies.set(cookie.name, cookie.value or "", domain=cookie.domain)
    before = _row(engine, tenant, "1.001193")
    for method, path in ROUTES:
        if method == "GET":
            response = await browser.get(path)
        else:
            response = await browser.post(path, data={"_csrf_token": token, **HOSTILE})
        if who == "console":
            assert response.status_code == 404, (path, response.status_code)
        else:
            assert response.status_code in (303, 401, 403), (who, method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), (path, response.headers)
    assert _row(engine, tenant, "1.001193") == before
    assert _row(engine, tenant, "2.002160") is None
    with engine.connect() as conn:
        actions = (
            conn.execute(text(f"SELECT action FROM {tenant.schema}.audit_log WHERE action LIKE 'catalog.%'"))
            .scalars()
            .all()
        )
    assert actions == []
    if who == "anonymous":
        await browser.aclose()


async def test_every_page_has_unique_ids_and_labelled_controls(
    signed_in: Browser, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(
        procedures=[
            procedure(
                "1.001193",
                "Đăng ký khai sinh",
                documents=[{"code": "to-khai", "name": "Tờ khai", "kind": "original", "required": True}],
                fields=[{"name": "a", "label": "A", "type": "select", "options": ["x"]}],
            )
        ]
    )
    admin, token = await _admin(signed_in, tenant)
    bad_edit = await admin.post(
        "/manage/catalog/1.001193/edit", data={"_csrf_token": token, **NEW, "name": "", "channel-postal": "1"}
    )
    pages = [bad_edit] + [
        await admin.get(path)
        for path in (
            "/manage/catalog",
            "/manage/catalog/new",
            "/manage/catalog/1.001193",
            "/manage/catalog/1.001193/edit",
            "/manage/catalog/1.001193/form",
            "/manage/catalog/1.001193/publish",
            "/manage/catalog/import",
        )
    ]
    for response in pages:
        assert response.status_code in (200, 400), response.url
        ids = re.findall(r'\sid="([^"]+)"', response.text)
        assert len(ids) == len(set(ids)), (response.url, sorted(i for i in ids if ids.count(i) > 1))
        for target in re.findall(r'<label for="([^"]+)"', response.text):
            assert target in ids, (response.url, target)
        for target in re.findall(r'href="#([^"]+)"', response.text):
            assert target in ids or target == "main", (response.url, target)
