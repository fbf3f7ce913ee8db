"""Archive, export, restore and delete of a tenant: through the console (and the export job on a
real worker), the services, and the command line."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.admin.archive import ArchiveError, delete_tenant, export_tenant, restore_tenant
from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.identity.sessions import SESSION_COOKIE
from motcua.tenancy.services import archive_tenant, get_tenant
from tests.admin.conftest import CONSOLE, Browser, csrf_of
from tests.backoffice.test_workspace import _officer, _submit
from tests.conftest import MakeTenant, unique_slug
from tests.dossiers.conftest import BIRTH, SignIn, sign_in
from tests.test_cli import run_cli
from tests.workers import start_worker

__all__ = ["sign_in"]  # the citizens' browsers of tests/dossiers, a fixture here too

FEE = {**BIRTH, "fee_vnd": 15000}
OPERATOR = Actor.operator("test")


def _count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def _tenant_exists(engine: Engine, slug: str) -> bool:
    return _count(engine, "SELECT count(*) FROM platform.tenants WHERE slug = :s", s=slug) == 1


def _schema_exists(engine: Engine, schema: str) -> bool:
    return _count(engine, "SELECT count(*) FROM pg_namespace WHERE nspname = :s", s=schema) == 1


def _counts(engine: Engine, schema: str) -> dict[str, int]:
    return {
        table: _count(engine, f"SELECT count(*) FROM {schema}.{table}")
        for table in ("dossiers", "payments", "receipts", "dossier_files", "citizens", "dossier_history")
    }


def _stored_files(settings: Settings, schema: str) -> dict[str, str]:
    """Key (without the schema) → sha256 of every file stored for ``schema``."""
    root = settings.data_dir / "files" / schema
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def _pay_at_the_desk(officer: httpx.AsyncClient, code: str) -> None:
    token = await csrf_of(officer, f"/officer/dossiers/{code}")
    paid = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
    )
    assert paid.status_code == 303, paid.text[:500]


def _export_status(engine: Engine, slug: str, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT action FROM platform.audit_log WHERE tenant_slug = :s AND detail->>'export' = :n "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"s": slug, "n": name},
        ).scalar_one_or_none()


async def test_an_export_restored_into_a_new_slug_has_the_same_data_and_files(
    signed_in: Browser,
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    tenant = make_tenant(procedures=[FEE], domains=[f"dvc.{unique_slug('d')}.gov.vn"])
    _citizen, first = await _submit(sign_in, tenant)
    _citizen, second = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    await _pay_at_the_desk(officer, first)
    before = _counts(engine, tenant.schema)
    assert before["dossiers"] == 2 and before["payments"] == 1 and before["receipts"] == 1
    assert before["dossier_files"] == 2
    files_before = _stored_files(live_settings, tenant.schema)
    assert len(files_before) == 4  # each dossier's document and its signed appointment slip

    admin = await signed_in()
    exports_url = f"/tenants/{tenant.slug}/exports"
    listing = await admin.get(exports_url)
    assert listing.status_code == 200
    assert "Chưa có bản xuất nào." in listing.text
    token = await csrf_of(admin, exports_url)
    started = await admin.post(exports_url, data={"_csrf_token": token})
    assert started.status_code == 303
    queued = await admin.get(exports_url)
    name_match = re.search(r'data-export="([0-9a-f-]+)" data-status="queued"', queued.text)
    assert name_match is not None, queued.text
    name = name_match.group(1)
    assert "Đang chờ" in queued.text and 'hx-trigger="every 3s"' in queued.text

    worker = start_worker("provisioning")
    try:
        deadline = time.monotonic() + 90
        while _export_status(engine, tenant.slug, name) != "tenant.exported" and time.monotonic() < deadline:
            assert _export_status(engine, tenant.slug, name) != "tenant.export_failed"
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    done = await admin.get(exports_url)
    assert f'data-export="{name}" data-status="done"' in done.text
    assert "Hoàn tất" in done.text
    download = await admin.get(f"{exports_url}/{name}/download")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert "no-store" in download.headers["cache-control"]
    checksum = hashlib.sha256(download.content).hexdigest()
    assert checksum in done.text  # the page shows the archive's own checksum

    with tarfile.open(fileobj=io.BytesIO(download.content)) as tar:
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
        platform_file = tar.extractfile("platform.json")
        assert platform_file is not None
        platform = json.loads(platform_file.read())
    assert manifest["tables"]["dossiers"]["rows"] == 2
    assert manifest["tables"]["receipts"]["rows"] == 1
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == files_before
    assert platform["name"] == tenant.name and platform["domains"]

    # Restore from the console, into a new slug.
    restored_slug = unique_slug("rs")
    form = await admin.get(f"/restore?archive={tenant.slug}/{name}")
    assert f'value="{tenant.slug}/{name}" selected' in form.text
    token = await csrf_of(admin, "/restore")
    made = await admin.post(
        "/restore",
        data={"_csrf_token": token, "archive": f"{tenant.slug}/{name}", "slug": restored_slug, "name": ""},
    )
    assert made.status_code == 303, made.text[:2000]
    assert made.headers["location"] == f"/tenants/{restored_slug}?done=restore"
    new_schema = "t_" + restored_slug.replace("-", "_")
    assert _counts(engine, new_schema) == before
    assert _stored_files(live_settings, new_schema) == files_before
    with engine.connect() as conn:
        keys = conn.execute(text(f"SELECT storage_key FROM {new_schema}.dossier_files")).scalars().all()
        row = conn.execute(
            text(
                "SELECT t.status, t.name, count(d.host) AS domains FROM platform.tenants t "
                "LEFT JOIN platform.domains d ON d.tenant_id = t.id WHERE t.slug = :s GROUP BY t.id"
            ),
            {"s": restored_slug},
        ).one()
    assert all(k.startswith(f"{new_schema}/") for k in keys)
    assert (row.status, row.name, row.domains) == ("active", tenant.name, 0)

    # The restored portal serves the dossiers by code; new codes continue the sequence.
    host = {"host": f"{restored_slug}.localhost"}
    for code in (first, second):
        tracked = await client.get("/tracking", params={"code": code}, headers=host)
        assert tracked.status_code == 200
        assert code in tracked.text
    restored = get_tenant(engine, restored_slug)
    assert restored is not None
    _citizen, third = await _submit(sign_in, restored)
    assert third not in (first, second)
    assert _count(engine, f"SELECT count(*) FROM {new_schema}.dossiers") == 3
    with engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor, detail FROM platform.audit_log WHERE tenant_slug = :s AND action = :a"),
            {"s": restored_slug, "a": "tenant.restored"},
        ).one()
    assert audit.actor.startswith("platform_admin:") and audit.detail["address"]
    assert audit.detail["source"] == tenant.slug


def _repack(source: Path, target: Path, change: Any) -> None:
    """A copy of an export with ``change(name, data) -> data`` applied to each member."""
    with tarfile.open(source) as tar, tarfile.open(target, "w") as out:
        for member in tar:
            fh = tar.extractfile(member)
            assert fh is not None
            data = change(member.name, fh.read())
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def _nothing_of(engine: Engine, settings: Settings, slug: str) -> bool:
    schema = "t_" + slug.replace("-", "_")
    return (
        not _tenant_exists(engine, slug)
        and not _schema_exists(engine, schema)
        and not (settings.data_dir / "files" / schema).exists()
    )


async def test_a_tampered_or_too_new_archive_and_a_bad_slug_restore_nothing(
    signed_in: Browser, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    await _submit(sign_in, tenant)
    path = export_tenant(engine, live_settings, tenant.slug, actor=OPERATOR)
    folder = path.parent

    # A stored document changed after the export: its checksum no longer matches.
    tampered = folder / "20000101-000000-aaaaaa.tar"
    _repack(path, tampered, lambda n, d: d + b"x" if n.startswith("files/") else d)

    # A manifest naming a schema revision this platform does not know (checksums right).
    def newer(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["revision"] = "t9999"
        return json.dumps(manifest).encode()

    too_new = folder / "20000101-000000-bbbbbb.tar"
    _repack(path, too_new, newer)

    admin = await signed_in()
    token = await csrf_of(admin, "/restore")
    slug = unique_slug("rs")
    cases = [
        ({"archive": f"{tenant.slug}/{tampered.stem}", "slug": slug}, "archive", "bị hỏng hoặc đã bị sửa"),
        ({"archive": f"{tenant.slug}/{too_new.stem}", "slug": slug}, "archive", "t9999"),
        ({"archive": f"{tenant.slug}/{path.stem}", "slug": "Không Hợp Lệ"}, "slug", "không hợp lệ"),
        ({"archive": f"{tenant.slug}/{path.stem}", "slug": "admin"}, "slug", "không hợp lệ"),
        ({"archive": f"{tenant.slug}/{path.stem}", "slug": tenant.slug}, "slug", "đã được dùng"),
        ({"archive": f"{tenant.slug}/{path.stem}", "slug": "x" * 500}, "slug", "tối đa 31"),
        ({"archive": "../../etc/passwd", "slug": slug}, "archive", "Không có bản xuất này."),
        ({"archive": "", "slug": slug}, "archive", "Chọn một bản xuất"),
    ]
    for form, field, message in cases:
        refused = await admin.post("/restore", data={"_csrf_token": token, "name": "Tên giữ lại", **form})
        assert refused.status_code == 400, (form, refused.text[:300])
        assert "error-summary" in refused.text and f'href="#{field}"' in refused.text, form
        assert message in refused.text, (form, message)
        assert 'value="Tên giữ lại"' in refused.text  # what was typed is kept
        assert _nothing_of(engine, live_settings, slug)
    assert _tenant_exists(engine, tenant.slug)

    # The services say the same to the command line and keep nothing either.
    with pytest.raises(ArchiveError, match="bị hỏng"):
        restore_tenant(engine, live_settings, tampered, slug, actor=OPERATOR)
    assert _nothing_of(engine, live_settings, slug)


async def test_delete_needs_an_archived_tenant_the_grace_period_and_the_typed_slug(
    signed_in: Browser,
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    await _submit(sign_in, tenant)
    files = live_settings.data_dir / "files" / tenant.schema
    assert files.is_dir()
    admin = await signed_in()
    delete_url = f"/tenants/{tenant.slug}/delete"
    token = await csrf_of(admin, f"/tenants/{tenant.slug}/archive")

    page = await admin.get(delete_url)
    assert page.status_code == 200 and "Chỉ xoá được địa phương đã lưu trữ." in page.text
    active = await admin.post(delete_url, data={"_csrf_token": token, "confirmation": tenant.slug})
    assert active.status_code == 409
    assert "hãy lưu trữ" in active.text and "error-summary" in active.text
    assert _tenant_exists(engine, tenant.slug)

    # Archive, confirmed with a reason.
    archive_url = f"/tenants/{tenant.slug}/archive"
    confirm = await admin.get(archive_url)
    assert confirm.status_code == 200 and 'name="reason"' in confirm.text
    missing = await admin.post(archive_url, data={"_csrf_token": token, "reason": "   "})
    assert missing.status_code == 400 and 'href="#reason"' in missing.text
    too_long = await admin.post(archive_url, data={"_csrf_token": token, "reason": "Sáp nhập " * 80})
    assert too_long.status_code == 400 and "Sáp nhập Sáp nhập" in too_long.text
    assert get_tenant(engine, tenant.slug).status == "active"  # type: ignore[union-attr]
    archived = await admin.post(archive_url, data={"_csrf_token": token, "reason": "Sáp nhập tỉnh"})
    assert archived.status_code == 303
    assert archived.headers["location"] == f"/tenants/{tenant.slug}?done=archive"
    with engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor, detail FROM platform.audit_log WHERE tenant_slug = :s AND action = :a"),
            {"s": tenant.slug, "a": "tenant.archived"},
        ).one()
    assert audit.actor.startswith("platform_admin:") and audit.detail["reason"] == "Sáp nhập tỉnh"
    assert audit.detail["address"]

    early = await admin.post(delete_url, data={"_csrf_token": token, "confirmation": tenant.slug})
    assert early.status_code == 409
    assert "Chưa hết thời gian chờ" in early.text
    assert _tenant_exists(engine, tenant.slug)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE platform.tenants SET archived_at = now() - interval '31 days' WHERE slug = :s"),
            {"s": tenant.slug},
        )
    ready = await admin.get(delete_url)
    assert 'name="confirmation"' in ready.text
    wrong = await admin.post(delete_url, data={"_csrf_token": token, "confirmation": "something-else"})
    assert wrong.status_code == 400
    assert 'href="#confirmation"' in wrong.text and 'value="something-else"' in wrong.text
    assert _tenant_exists(engine, tenant.slug) and files.is_dir()

    gone = await admin.post(delete_url, data={"_csrf_token": token, "confirmation": tenant.slug})
    assert gone.status_code == 303
    assert not _tenant_exists(engine, tenant.slug)
    assert not _schema_exists(engine, tenant.schema)
    assert not files.exists()
    portal = await client.get("/", headers={"host": f"{tenant.slug}.localhost"})
    assert portal.status_code == 404
    assert "Không tìm thấy cổng dịch vụ công" in portal.text
    actions = set(_all(engine, "SELECT action FROM platform.audit_log WHERE tenant_slug = :s", s=tenant.slug))
    assert {"tenant.archived", "tenant.deleted", "tenant.activated"} <= actions  # the trail is kept
    assert (await admin.get(delete_url)).status_code == 404


def _all(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).scalars())


def test_the_services_refuse_with_messages_a_person_can_act_on(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant()
    with pytest.raises(ArchiveError, match="đã lưu trữ"):
        delete_tenant(engine, live_settings, tenant.slug, actor=OPERATOR, confirmation=tenant.slug)
    archive_tenant(engine, tenant.slug, actor=OPERATOR, reason="Thử")
    with pytest.raises(ArchiveError, match="có thể xoá từ"):
        delete_tenant(engine, live_settings, tenant.slug, actor=OPERATOR, confirmation=tenant.slug)
    with pytest.raises(ArchiveError, match="Không có địa phương"):
        delete_tenant(engine, live_settings, "khong-co-dau", actor=OPERATOR, confirmation="khong-co-dau")
    with pytest.raises(ArchiveError, match="Không có địa phương"):
        export_tenant(engine, live_settings, "khong-co-dau", actor=OPERATOR)
    assert _tenant_exists(engine, tenant.slug)


async def test_archive_pages_are_for_platform_administrators_only(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant()
    path = export_tenant(engine, live_settings, tenant.slug, actor=OPERATOR)
    gets = [
        f"/tenants/{tenant.slug}/archive",
        f"/tenants/{tenant.slug}/exports",
        f"/tenants/{tenant.slug}/exports/{path.stem}/download",
        "/restore",
        f"/tenants/{tenant.slug}/delete",
    ]
    restore_slug = unique_slug("rs")
    posts = [
        (f"/tenants/{tenant.slug}/archive", {"reason": "x"}),
        (f"/tenants/{tenant.slug}/exports", {}),
        ("/restore", {"archive": f"{tenant.slug}/{path.stem}", "slug": restore_slug}),
        (f"/tenants/{tenant.slug}/delete", {"confirmation": tenant.slug}),
    ]
    admin = await signed_in()
    async with httpx.AsyncClient(transport=admin._transport, base_url=CONSOLE) as anonymous:
        for url in gets:
            response = await anonymous.get(url)
            assert response.status_code in (302, 303) and "/login" in response.headers["location"], url
        for url, form in posts:
            assert (await anonymous.post(url, data=form)).status_code in (401, 403), url
    stranger = await signed_in(role="none")  # signed in to the console, not an administrator
    token = await csrf_of(stranger, "/restore")
    for url in gets:
        response = await stranger.get(url)
        assert response.status_code == 403, url
        assert tenant.name not in response.text
    for url, form in posts:
        assert (await stranger.post(url, data={"_csrf_token": token, **form})).status_code == 403, url
    for role in ("tenant_admin", "officer", "citizen"):
        local = await signed_in(tenant, role=role)
        sid = local.cookies.get(SESSION_COOKIE)
        # On their own portal these pages do not exist.
        for url in gets:
            assert (await local.get(url)).status_code == 404, (role, url)
        local_token = await csrf_of(local, "/")
        for url, form in posts:
            refused = await local.post(url, data={"_csrf_token": local_token, **form})
            assert refused.status_code in (403, 404), (role, url)
        # Their session belongs to the portal: on the console host it is nobody's.
        async with httpx.AsyncClient(
            transport=admin._transport, base_url=CONSOLE, headers={"cookie": f"{SESSION_COOKIE}={sid}"}
        ) as carried:
            for url in gets:
                assert (await carried.get(url)).status_code in (302, 303), (role, url)
            for url, form in posts:
                refused = await carried.post(url, data={"_csrf_token": local_token, **form})
                assert refused.status_code in (401, 403), (role, url)
    # Nothing changed, and the administrator gets every page.
    assert get_tenant(engine, tenant.slug).status == "active"  # type: ignore[union-attr]
    assert not _tenant_exists(engine, restore_slug)
    for url in gets:
        assert (await admin.get(url)).status_code == 200, url
    for url in (
        "/tenants/khong-co-dau/archive",
        "/tenants/khong-co-dau/exports",
        "/tenants/khong-co-dau/delete",
    ):
        assert (await admin.get(url)).status_code == 404, url
    token = await csrf_of(admin, "/restore")
    for url in (
        "/tenants/khong-co-dau/archive",
        "/tenants/khong-co-dau/exports",
        "/tenants/khong-co-dau/delete",
    ):
        assert (await admin.post(url, data={"_csrf_token": token, "reason": "x"})).status_code == 404, url
    assert (
        await admin.get(f"/tenants/{tenant.slug}/exports/..%2F..%2Fsecret_key/download")
    ).status_code == 404
    assert (
        await admin.get(f"/tenants/{tenant.slug}/exports/20000101-000000-cccccc/download")
    ).status_code == 404


def test_the_command_line_archives_exports_restores_and_deletes(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = make_tenant()
    code, out, err = run_cli(capsys, "tenants", "archive", tenant.slug, "--reason", "Sáp nhập")
    assert (code, err, out.strip()) == (0, "", f"tenant {tenant.slug} is archived")
    code, out, err = run_cli(capsys, "tenants", "export", tenant.slug)
    assert (code, err) == (0, "")
    archive = Path(out.strip())
    assert archive.is_file() and archive.parent.name == tenant.slug
    new = unique_slug("cli")
    code, out, err = run_cli(capsys, "tenants", "restore", str(archive), "--slug", new)
    assert (code, err, out.strip()) == (0, "", f"tenant {new} is active")
    code, out, err = run_cli(capsys, "tenants", "restore", str(archive), "--slug", new)
    assert code == 1 and "đã được dùng" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "tenants", "delete", tenant.slug, "--confirm", tenant.slug)
    assert code == 1 and "Chưa hết thời gian chờ" in err
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE platform.tenants SET archived_at = now() - interval '31 days' WHERE slug = :s"),
            {"s": tenant.slug},
        )
    code, _, err = run_cli(capsys, "tenants", "delete", tenant.slug, "--confirm", "nope")
    assert code == 1 and "để xác nhận xoá" in err
    code, out, err = run_cli(capsys, "tenants", "delete", tenant.slug, "--confirm", tenant.slug)
    assert (code, err, out.strip()) == (0, "", f"tenant {tenant.slug} is deleted")
    assert not _tenant_exists(engine, tenant.slug) and _tenant_exists(engine, new)
    missing = run_cli(capsys, "tenants", "restore", "/nonexistent.tar", "--slug", unique_slug("cli"))
    assert missing[0] == 1 and "no such export file" in missing[2]
    assert run_cli(capsys, "tenants", "delete", tenant.slug)[0] == 2  # --confirm is required
    shutil.rmtree(archive.parent, ignore_errors=True)
