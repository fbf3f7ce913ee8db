"""Applying as a task list: each step validated on the server and shown again as typed, "Thay
đổi" going back to the check page, the declaration required, how the result is received stored
on the dossier and shown on the slip, and every step reachable only by the signed-in citizen of
this portal."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import LANGUAGE_COOKIE
from motcua.identity.sessions import SESSION_COOKIE
from tests.backoffice.test_workspace import _officer
from tests.conftest import unique_slug
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf
from tests.dossiers.test_journey import ANSWERS, CODE, DECLARED

APPLY = "/procedures/1.001193/apply"
FEE = {**BIRTH, "fee_vnd": 15000}
ADDRESS = "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"
# Every route of applying, with its method (the upload and reuse ones name a document).
ROUTES = [
    ("GET", APPLY),
    ("GET", f"{APPLY}/applicant"),
    ("GET", f"{APPLY}/answers"),
    ("POST", APPLY),
    ("GET", f"{APPLY}/documents"),
    ("POST", f"{APPLY}/documents"),
    ("POST", f"{APPLY}/files/to-khai"),
    ("POST", f"{APPLY}/files/to-khai/remove"),
    ("POST", f"{APPLY}/reuse/to-khai"),
    ("GET", f"{APPLY}/delivery"),
    ("POST", f"{APPLY}/delivery"),
    ("GET", f"{APPLY}/review"),
    ("POST", f"{APPLY}/submit"),
]


def _onboard(engine: Engine, settings: Settings) -> Tenant:
    from motcua.admin.services import build_spec, onboard_tenant
    from motcua.core.audit import Actor

    slug = unique_slug("as")
    spec = build_spec(
        slug=slug, name=f"Cổng {slug}", kind="province", domains=[], theme="default", procedures=[FEE]
    )
    return onboard_tenant(engine, settings, spec, actor=Actor.operator("test"))


@pytest.fixture(scope="module")
def tenants(engine: Engine, live_settings: Settings) -> tuple[Tenant, Tenant]:
    return _onboard(engine, live_settings), _onboard(engine, live_settings)


def _task(html: str, step: str) -> str:
    match = re.search(rf'data-testid="task-{step}">(.*?)</li>', html, re.S)
    assert match is not None, html[:2000]
    return match.group(1)


async def test_a_citizen_applies_step_by_step_and_nothing_typed_is_lost(
    sign_in: SignIn, tenants: tuple[Tenant, Tenant], engine: Engine
) -> None:
    tenant = tenants[0]
    browser = await sign_in(tenant, name="Nguyễn Thị Mai", personal_id="001190001234")
    token = await csrf(browser, APPLY)

    # The task list: the applicant comes from the e-ID, the rest is to do, checking waits.
    tasks = await browser.get(APPLY)
    assert tasks.status_code == 200
    assert 'data-testid="apply-steps"' in tasks.text
    assert '<h1>Nộp hồ sơ: <span lang="vi">Đăng ký khai sinh</span></h1>' in tasks.text
    assert "Đã xong" in _task(tasks.text, "applicant")
    assert "Chưa thể bắt đầu" in _task(tasks.text, "review")
    assert f'href="{APPLY}/review"' not in _task(tasks.text, "review")
    early = await browser.get(f"{APPLY}/review")
    assert early.status_code == 303 and early.headers["location"] == f"{APPLY}/answers"
    applicant = await browser.get(f"{APPLY}/applicant")
    assert "Nguyễn Thị Mai" in applicant.text
    assert "001190001234" not in applicant.text  # shown masked, never in full

    # Step 2: errors listed and beside each field, everything typed shown again.
    bad = await browser.post(
        APPLY,
        data={"_csrf_token": token, **ANSWERS, "mother_personal_id": "12345", "has_father": "Có"},
    )
    assert bad.status_code == 400
    assert 'data-testid="error-summary"' in bad.text and 'href="#mother_personal_id"' in bad.text
    assert "Vui lòng nhập họ tên cha." in bad.text
    assert 'value="12345"' in bad.text and 'value="Nguyễn Minh Khôi"' in bad.text
    assert "Đang làm" in _task((await browser.get(APPLY)).text, "answers")
    good = await browser.post(APPLY, data={"_csrf_token": token, **ANSWERS})
    assert good.status_code == 303 and good.headers["location"] == f"{APPLY}/documents"

    # Step 3: "Tiếp tục" needs the required document; upload, remove ("Xoá"), upload again.
    missing = await browser.post(f"{APPLY}/documents", data={"_csrf_token": token})
    assert missing.status_code == 400
    assert "Vui lòng tải lên tờ khai đăng ký khai sinh." in missing.text
    assert 'href="#file-to-khai"' in missing.text and 'id="file-to-khai"' in missing.text
    upload = {"file": ("tờ khai.pdf", PDF, "application/pdf")}
    sent = await browser.post(f"{APPLY}/files/to-khai", data={"_csrf_token": token}, files=upload)
    assert sent.status_code == 303 and sent.headers["location"] == f"{APPLY}/documents#doc-to-khai"
    documents = await browser.get(f"{APPLY}/documents")
    assert 'data-testid="uploaded-to-khai"' in documents.text and "tờ khai.pdf" in documents.text
    assert 'data-testid="remove-to-khai"' in documents.text and "Bắt buộc" in documents.text
    removed = await browser.post(f"{APPLY}/files/to-khai/remove", data={"_csrf_token": token})
    assert removed.status_code == 303
    assert 'data-testid="uploaded-to-khai"' not in (await browser.get(f"{APPLY}/documents")).text
    await browser.post(f"{APPLY}/files/to-khai", data={"_csrf_token": token}, files=upload)
    on = await browser.post(f"{APPLY}/documents", data={"_csrf_token": token})
    assert on.status_code == 303 and on.headers["location"] == f"{APPLY}/delivery"

    # Step 4: a choice is required; by post, so is the address; the choice is kept on error.
    none = await browser.post(f"{APPLY}/delivery", data={"_csrf_token": token})
    assert none.status_code == 400 and "Vui lòng chọn cách nhận kết quả." in none.text
    assert 'href="#delivery-desk"' in none.text
    no_address = await browser.post(
        f"{APPLY}/delivery", data={"_csrf_token": token, "delivery_method": "post", "postal_address": " "}
    )
    assert no_address.status_code == 400
    assert "Vui lòng nhập địa chỉ nhận kết quả qua bưu chính." in no_address.text
    assert re.search(r'value="post" checked', no_address.text)
    chosen = await browser.post(
        f"{APPLY}/delivery",
        data={"_csrf_token": token, "delivery_method": "post", "postal_address": ADDRESS},
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == f"{APPLY}/review"
    tasks = await browser.get(APPLY)
    assert "Sẵn sàng nộp" in _task(tasks.text, "review") and "Đã hoàn thành 4/4 bước." in tasks.text

    # Step 5: every answer with its "Thay đổi"; the fee with its amount.
    check = await browser.get(f"{APPLY}/review")
    assert check.status_code == 200
    assert "Nguyễn Minh Khôi" in check.text and "tờ khai.pdf" in check.text
    assert date.fromisoformat(ANSWERS["child_birth_date"]).strftime("%d/%m/%Y") in check.text
    assert "Nhận qua dịch vụ bưu chính công ích" in check.text and ADDRESS in check.text
    assert "15.000" in check.text.split('data-testid="fee-notice"', 1)[1].split("</div>", 1)[0]
    change = f'href="{APPLY}/answers?from=review#child_full_name"'
    assert change in check.text
    assert f'href="{APPLY}/documents?from=review#doc-to-khai"' in check.text
    assert f'href="{APPLY}/delivery?from=review"' in check.text

    # "Thay đổi" → the step, which saves back to the check page (each of the three).
    step = await browser.get(f"{APPLY}/answers?from=review")
    assert 'name="from" value="review"' in step.text
    changed = await browser.post(
        APPLY, data={"_csrf_token": token, **ANSWERS, "child_full_name": "Nguyễn Minh Quân", "from": "review"}
    )
    assert changed.status_code == 303 and changed.headers["location"] == f"{APPLY}/review"
    for path, data in (
        ("documents", {}),
        ("delivery", {"delivery_method": "post", "postal_address": ADDRESS}),
    ):
        again = await browser.post(f"{APPLY}/{path}", data={"_csrf_token": token, "from": "review", **data})
        assert again.status_code == 303 and again.headers["location"] == f"{APPLY}/review", path
    check = await browser.get(f"{APPLY}/review")
    assert "Nguyễn Minh Quân" in check.text
    submit_token = re.search(r'name="token" value="([^"]+)"', check.text)
    assert submit_token is not None

    # The declaration must be ticked: an error, not a 500, and nothing is lost.
    undeclared = await browser.post(
        f"{APPLY}/submit", data={"_csrf_token": token, "token": submit_token.group(1)}
    )
    assert undeclared.status_code == 400
    assert "Vui lòng đánh dấu vào ô cam đoan trước khi nộp hồ sơ." in undeclared.text
    assert 'href="#declaration"' in undeclared.text and "Nguyễn Minh Quân" in undeclared.text
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.dossiers")).scalar() == 0

    done = await browser.post(
        f"{APPLY}/submit", data={"_csrf_token": token, "token": submit_token.group(1), **DECLARED}
    )
    assert done.status_code == 303
    found = CODE.search(done.headers["location"])
    assert found is not None
    code = found.group(0)

    # The confirmation: the code large, what happens next, print and "my dossier".
    confirmation = await browser.get(done.headers["location"])
    panel = confirmation.text.split('data-testid="confirmation"', 1)[1].split("</div>", 1)[0]
    assert "Nộp hồ sơ thành công" in panel and code in panel
    next_steps = confirmation.text.split('data-testid="next-steps"', 1)[1].split("</ul>", 1)[0]
    assert "Ngày hẹn trả kết quả" in next_steps and "15.000" in next_steps
    assert "Nhận qua dịch vụ bưu chính công ích" in next_steps
    assert f'href="/my/dossiers/{code}/slip.pdf" data-testid="print-slip"' in confirmation.text
    assert f'href="/my/dossiers/{code}" data-testid="view-dossier"' in confirmation.text

    # The slip, on any later visit: no panel, the delivery as chosen.
    slip = await browser.get(f"/my/dossiers/{code}/slip")
    assert 'data-testid="confirmation"' not in slip.text
    delivery = slip.text.split('data-testid="delivery">', 1)[1].split("</dd>", 1)[0]
    assert delivery == f"Nhận qua dịch vụ bưu chính công ích: {ADDRESS}"
    with engine.connect() as conn:
        stored = conn.execute(
            text(f"SELECT delivery_method, postal_address, data FROM {tenant.schema}.dossiers")
        ).one()
        drafts = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.dossier_drafts")).scalar()
    assert stored.delivery_method == "post" and stored.postal_address == ADDRESS
    assert stored.data["child_full_name"] == "Nguyễn Minh Quân"
    assert drafts == 0
    # The officer's workspace says where the result goes.
    officer = await _officer(sign_in, engine, tenant)
    workspace = await officer.get(f"/officer/dossiers/{code}")
    shown = workspace.text.split('data-testid="delivery">', 1)[1].split("</dd>", 1)[0]
    assert shown == f"Nhận qua dịch vụ bưu chính công ích: {ADDRESS}"

    # In English, the same steps in English.
    browser.cookies.set(LANGUAGE_COOKIE, "en", domain=f"{tenant.slug}.localhost")
    english = await browser.get(APPLY)
    assert "Check and submit" in english.text


async def test_at_the_desk_needs_no_address_and_is_shown_so(
    sign_in: SignIn, tenants: tuple[Tenant, Tenant], engine: Engine
) -> None:
    from tests.dossiers.test_journey import _prepare

    browser = await sign_in(tenants[0], name="Lê Văn Hùng", personal_id="001085099999")
    submit_token = await _prepare(browser, {"delivery_method": "desk", "postal_address": "bỏ qua"})
    token = await csrf(browser, f"{APPLY}/review")
    done = await browser.post(
        f"{APPLY}/submit", data={"_csrf_token": token, "token": submit_token, **DECLARED}
    )
    found = CODE.search(done.headers["location"])
    assert found is not None
    slip = await browser.get(f"/my/dossiers/{found.group(0)}/slip")
    assert 'data-testid="delivery">Nhận trực tiếp tại Bộ phận Một cửa</dd>' in slip.text
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT delivery_method, postal_address FROM {tenants[0].schema}.dossiers WHERE code = :c"),
            {"c": found.group(0)},
        ).one()
    assert tuple(row) == ("desk", None)


async def test_every_step_is_the_signed_in_citizens_own_on_this_portal_only(
    sign_in: SignIn, tenants: tuple[Tenant, Tenant], client: httpx.AsyncClient
) -> None:
    here, elsewhere = tenants
    owner = await sign_in(here, name="Phạm Thu Hà", personal_id="001190077777")
    token = await csrf(owner, APPLY)
    upload = {"file": ("cua-toi.pdf", PDF, "application/pdf")}
    assert (
        await owner.post(f"{APPLY}/files/to-khai", data={"_csrf_token": token}, files=upload)
    ).status_code == 303

    # Another citizen of the same portal sees and changes only their own draft.
    other = await sign_in(here, name="Đỗ Văn Nam", personal_id="001085066666")
    other_token = await csrf(other, APPLY)
    assert "cua-toi.pdf" not in (await other.get(f"{APPLY}/documents")).text
    assert (
        await other.post(f"{APPLY}/files/to-khai/remove", data={"_csrf_token": other_token})
    ).status_code == 303
    assert "cua-toi.pdf" in (await owner.get(f"{APPLY}/documents")).text
    assert "Phạm Thu Hà" not in (await other.get(f"{APPLY}/applicant")).text
    # A document the procedure does not have, or a procedure this portal does not offer: 404.
    for method, path in ROUTES:
        if "/files/" in path or "/reuse/" in path:
            unknown = path.replace("to-khai", "khong-co")
            response = await owner.request(method, unknown, data={"_csrf_token": token})
            assert response.status_code == 404, (method, unknown)
        response = await owner.request(
            method, path.replace("1.001193", "9.999999"), data={"_csrf_token": token}
        )
        assert response.status_code == 404, (method, path)

    # Signed out, or signed in on another portal: no step opens.
    host = f"{elsewhere.slug}.localhost"
    session = owner.cookies.get(SESSION_COOKIE, domain=f"{here.slug}.localhost")
    assert session is not None
    for method, path in ROUTES:
        anonymous = await client.request(method, path, headers={"host": f"{here.slug}.localhost"})
        assert anonymous.status_code in (302, 303, 401, 403), (method, path, anonymous.status_code)
        foreign = await client.request(
            method, path, headers={"host": host, "cookie": f"{SESSION_COOKIE}={session}"}
        )
        assert foreign.status_code in (302, 303, 401, 403), (method, path, foreign.status_code)
        assert "Phạm Thu Hà" not in foreign.text
