"""Form definitions edited on /manage/catalog/<code>/form: live preview, versions, and drafts
that finish on the version they were started on."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, cast

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, text

from motcua.core.tenant import Tenant
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf

ANSWERS = {
    "child_full_name": "Nguyễn Minh Khôi",
    "child_birth_date": date.today().isoformat(),
    "mother_full_name": "Nguyễn Thị Mai",
    "mother_personal_id": "001190001234",
    "has_father": "Không",
}
NEW_FIELD = {"name": "hospital", "label": "Cơ sở y tế nơi sinh", "type": "text", "required": True}
FORM = "/manage/catalog/1.001193/form"
GENDER = {"name": "gender", "label": "Giới tính", "type": "select", "options": ["Nam", "Nữ"]}


def _versions(engine: Engine, tenant: Tenant) -> list[tuple[int, Any]]:
    with engine.connect() as conn:
        return [
            (r.version, r.definition)
            for r in conn.execute(
                text(f"SELECT version, definition FROM {tenant.schema}.procedure_forms ORDER BY version")
            )
        ]


async def _fill(browser: httpx.AsyncClient, answers: dict[str, str]) -> str:
    token = await csrf(browser, "/procedures/1.001193/apply")
    uploaded = await browser.post(
        "/procedures/1.001193/apply/files/to-khai",
        data={"_csrf_token": token},
        files={"file": ("to-khai.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    # Autosave (htmx) and "continue" both validate against the draft's own version.
    saved = await browser.post("/procedures/1.001193/apply/draft", data={"_csrf_token": token, **answers})
    assert saved.status_code == 200
    done = await browser.post("/procedures/1.001193/apply", data={"_csrf_token": token, **answers})
    assert done.status_code == 303, done.text[:2000]
    chosen = await browser.post(
        "/procedures/1.001193/apply/delivery", data={"_csrf_token": token, "delivery_method": "desk"}
    )
    assert chosen.status_code == 303
    review = await browser.get("/procedures/1.001193/apply/review")
    assert review.status_code == 200
    match = re.search(r'name="token" value="([^"]+)"', review.text)
    assert match is not None
    return match.group(1)


async def test_a_draft_finishes_on_the_version_it_started_on(
    signed_in: Browser, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen = await sign_in(tenant)
    started = await citizen.get("/procedures/1.001193/apply/answers")  # the draft is made on version 1
    assert started.status_code == 200 and 'name="hospital"' not in started.text

    admin = await signed_in(tenant, role="tenant_admin")
    token = await csrf_of(admin, FORM)
    fields = cast(list[dict[str, Any]], BIRTH["fields"])
    definition = [*fields, NEW_FIELD]
    saved = await admin.post(FORM, data={"_csrf_token": token, "definition": json.dumps(definition)})
    assert saved.status_code == 303 and saved.headers["location"] == f"{FORM}?done=form_versioned"
    page = await admin.get(saved.headers["location"])
    assert "Đã công bố phiên bản biểu mẫu mới" in page.text and "Phiên bản hiện hành: 2" in page.text
    versions = _versions(engine, tenant)
    assert [v for v, _ in versions] == [1, 2]
    assert versions[0][1] == BIRTH["fields"]  # version 1 kept as it was
    with engine.connect() as conn:
        entry = conn.execute(
            text(f"SELECT detail FROM {tenant.schema}.audit_log WHERE action = 'catalog.form_versioned'")
        ).scalar_one()
    assert entry == {"code": "1.001193", "version": 2}

    # The same definition again: no new version.
    again = await admin.post(FORM, data={"_csrf_token": token, "definition": json.dumps(definition)})
    assert again.headers["location"].endswith("done=form_unchanged")
    assert len(_versions(engine, tenant)) == 2

    # The citizen's draft, begun on version 1, is checked and submitted against version 1.
    submit_token = await _fill(citizen, ANSWERS)
    apply_token = await csrf(citizen, "/procedures/1.001193/apply/review")
    submitted = await citizen.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": apply_token, "token": submit_token, "declaration": "yes"},
    )
    assert submitted.status_code == 303, submitted.text[:2000]
    with engine.connect() as conn:
        dossier_version = conn.execute(
            text(f"SELECT form_version FROM {tenant.schema}.dossiers")
        ).scalar_one()
    assert dossier_version == 1

    # Someone starting now gets version 2, and its new required field.
    newcomer = await sign_in(tenant, name="Lê Văn Tâm", personal_id="001190005678")
    form = await newcomer.get("/procedures/1.001193/apply/answers")
    assert 'name="hospital"' in form.text
    new_token = await csrf(newcomer, "/procedures/1.001193/apply")
    refused = await newcomer.post("/procedures/1.001193/apply", data={"_csrf_token": new_token, **ANSWERS})
    assert refused.status_code == 400 and 'href="#hospital"' in refused.text
    with engine.connect() as conn:
        drafts = (
            conn.execute(text(f"SELECT form_version FROM {tenant.schema}.dossier_drafts")).scalars().all()
        )
    assert drafts == [2]


async def test_versions_are_never_rewritten(make_tenant: MakeTenant, engine: Engine) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="never changed"), engine.begin() as conn:
        conn.execute(text(f"UPDATE {tenant.schema}.procedure_forms SET definition = '[]'::jsonb"))


async def test_the_live_preview_draws_the_form_or_its_errors(
    signed_in: Browser, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    admin = await signed_in(tenant, role="tenant_admin")
    editor = await admin.get(FORM)
    assert editor.status_code == 200
    assert 'hx-post="/manage/catalog/1.001193/form/preview"' in editor.text
    assert 'id="preview-child_full_name"' in editor.text  # the current form, drawn
    token = await csrf_of(admin, FORM)
    headers = {"hx-request": "true", "x-csrf-token": token}
    drawn = await admin.post(
        FORM + "/preview",
        data={"definition": json.dumps([NEW_FIELD, GENDER])},
        headers=headers,
    )
    assert drawn.status_code == 200 and "<html" not in drawn.text
    assert '<label for="preview-hospital">Cơ sở y tế nơi sinh' in drawn.text
    assert '<option value="Nữ">Nữ</option>' in drawn.text
    broken = await admin.post(FORM + "/preview", data={"definition": '[{"name": '}, headers=headers)
    assert "Định nghĩa biểu mẫu không phải JSON hợp lệ." in broken.text and "dòng 1" in broken.text
    invalid = await admin.post(
        FORM + "/preview",
        data={"definition": json.dumps([{"name": "X", "label": "", "type": "colour"}])},
        headers=headers,
    )
    assert "Kiểu trường không được hỗ trợ." in invalid.text and "Trường 1" in invalid.text


async def test_a_bad_definition_is_refused_kept_and_changes_nothing(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    admin = await signed_in(tenant, role="tenant_admin")
    token = await csrf_of(admin, FORM)
    typed = '[{"name": "a", "label": "A", "type": "select"}]'
    refused = await admin.post(FORM, data={"_csrf_token": token, "definition": typed})
    assert refused.status_code == 400
    assert "error-summary" in refused.text and 'href="#definition"' in refused.text
    assert "Trường chọn cần danh sách lựa chọn không rỗng." in refused.text
    assert "[{&#34;name&#34;: &#34;a&#34;" in refused.text  # what was typed, shown again
    not_json = await admin.post(FORM, data={"_csrf_token": token, "definition": "fields = []"})
    assert not_json.status_code == 400
    assert [v for v, _ in _versions(engine, tenant)] == [1]
    with engine.connect() as conn:
        count = conn.execute(
            text(f"SELECT count(*) FROM {tenant.schema}.audit_log WHERE action LIKE 'catalog.%'")
        ).scalar()
    assert count == 0
