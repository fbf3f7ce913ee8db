"""The officer workspace as officers use it: one primary action per status, destructive actions
only with their confirmation, a message after each action, officers picked by name among the
tenant's own, the payment amount asked for only when it makes sense, and the inline document
viewer (framed by the portal's own pages only, refused to citizens and other tenants)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import LANGUAGE_COOKIE
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from tests.backoffice.test_workspace import _officer
from tests.conftest import MakeTenant, procedure
from tests.dossiers.conftest import PDF, SignIn

# Neither form fields nor documents: the dossier is received through the service itself.
# Letters only Vietnamese uses.
VIETNAMESE = re.compile(r"[À-ÖØ-öø-ɏḀ-ỿ]")
COPY = procedure("2.000001", "Cấp bản sao trích lục hộ tịch", agency_code="000.00.01.T01")
PAID_COPY = {**COPY, "fee_vnd": 15000}
OFFICER = "079085000111"
COLLEAGUE = "079085000222"


@pytest.fixture
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    yield database
    await database.dispose()


async def _received(db: Database, tenant: Tenant) -> str:
    async with db.tenant_session(tenant) as session:
        copy = await get_procedure(session, COPY["code"])
        assert copy is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=copy,
            applicant=Applicant(personal_id="001190005678", full_name="Trần Văn Bình"),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.operator("test"),
        )
        assert isinstance(outcome, Received), outcome
        return outcome.dossier.code


def _form(page: str) -> dict[str, str]:
    version = re.search(r'name="version" value="(\d+)"', page)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert version is not None and token is not None, page[:500]
    return {"_csrf_token": token.group(1), "version": version.group(1)}


async def _post(officer: httpx.AsyncClient, code: str, path: str, **fields: str) -> httpx.Response:
    page = await officer.get(f"/officer/dossiers/{code}")
    return await officer.post(f"/officer/dossiers/{code}/{path}", data={**_form(page.text), **fields})


def _primary(page: str) -> list[str]:
    """The actions offered as the page's primary button."""
    return re.findall(r'class="button-primary"(?: data-action="(\w+)")? data-testid="primary-action"', page)


def _status(engine: Engine, tenant: Tenant, code: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(f"SELECT status FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
            ).scalar_one()
        )


async def _upload_result(officer: httpx.AsyncClient, code: str) -> httpx.Response:
    page = await officer.get(f"/officer/dossiers/{code}")
    return await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": _form(page.text)["_csrf_token"]},
        files={"file": ("quyet-dinh.pdf", PDF, "application/pdf")},
    )


async def test_each_status_has_one_primary_action_and_destructive_ones_need_confirming(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant(procedures=[COPY])
    officer = await _officer(sign_in, engine, tenant, OFFICER)
    code, other = await _received(db, tenant), await _received(db, tenant)

    page = (await officer.get(f"/officer/dossiers/{code}")).text
    assert _primary(page) == ["accept"]
    # Refusing sits in a closed disclosure whose only button is the confirmation.
    refuse = page.split('data-action-panel="refuse"', 1)[1].split("</details>", 1)[0]
    assert 'name="confirm" value="yes"' in refuse and "Xác nhận từ chối" in refuse
    assert "<details" in page and " open" not in refuse.split(">", 1)[0]

    # Without the confirmation nothing changes, and the officer is told why.
    unconfirmed = await _post(officer, code, "actions/refuse", reason="Hồ sơ không hợp lệ")
    assert unconfirmed.status_code == 409
    assert "Hãy xác nhận thao tác này" in unconfirmed.text
    assert _status(engine, tenant, code) == "submitted"

    # Each action comes back with a message saying what was done, once.
    accepted = await _post(officer, code, "actions/accept")
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/officer/dossiers/{code}?done=accept"
    banner = (await officer.get(accepted.headers["location"])).text
    assert f"Đã tiếp nhận hồ sơ {code}" in banner and 'data-testid="done-banner"' in banner
    assert _primary(banner) == ["start"]
    assert 'data-testid="done-banner"' not in (await officer.get(f"/officer/dossiers/{code}")).text
    # Only known messages are shown, whatever the query says.
    assert (
        'data-testid="done-banner"' not in (await officer.get(f"/officer/dossiers/{code}?done=<b>x</b>")).text
    )

    assert (await _post(officer, code, "actions/start")).status_code == 303
    working = (await officer.get(f"/officer/dossiers/{code}")).text
    assert _primary(working) == ["finish"]
    for secondary in ("request_supplement", "request_payment"):
        assert f'data-action-panel="{secondary}"' in working
        assert f'class="button-secondary" data-action="{secondary}"' in working
    assert 'class="button-warning" name="confirm" value="yes" data-action="stop"' in working

    asked = await _post(
        officer, code, "actions/request_supplement", reason="Thiếu bản sao", items="Bản sao giấy khai sinh"
    )
    assert asked.headers["location"].endswith("?done=request_supplement")
    waiting = (await officer.get(asked.headers["location"])).text
    assert f"Đã gửi yêu cầu bổ sung hồ sơ {code} cho người nộp." in waiting
    assert _primary(waiting) == []  # the applicant's turn
    assert (await _post(officer, code, "actions/stop", reason="Quá hạn bổ sung")).status_code == 409
    assert _status(engine, tenant, code) == "supplement_requested"
    stopped = await _post(officer, code, "actions/stop", reason="Quá hạn bổ sung", confirm="yes")
    assert stopped.status_code == 303
    assert _status(engine, tenant, code) == "stopped"
    ended = (await officer.get(stopped.headers["location"])).text
    assert f"Đã dừng xử lý hồ sơ {code}" in ended
    assert _primary(ended) == [] and "không còn thao tác" in ended

    # The other dossier to its result: finish, then deliver, each the primary action.
    for action in ("accept", "start"):
        assert (await _post(officer, other, f"actions/{action}")).status_code == 303
    uploaded = await _upload_result(officer, other)
    assert uploaded.headers["location"] == f"/officer/dossiers/{other}?done=result"
    assert (await _post(officer, other, "actions/finish")).status_code == 303
    processed = (await officer.get(f"/officer/dossiers/{other}")).text
    assert _primary(processed) == ["deliver"]
    assert (await _post(officer, other, "actions/deliver")).headers["location"].endswith("?done=deliver")
    assert _status(engine, tenant, other) == "delivered"


async def test_officers_are_picked_by_name_among_the_tenants_own(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant, elsewhere = make_tenant(procedures=[COPY]), make_tenant(procedures=[COPY])
    officer = await _officer(sign_in, engine, tenant, OFFICER)
    await _officer(sign_in, engine, tenant, COLLEAGUE)  # signs in once: the portal knows the name
    stranger = "079085000999"
    await _officer(sign_in, engine, elsewhere, stranger)
    admin_only = "079085000888"
    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse(admin_only, "tenant_admin"), actor=Actor.operator("test")
    )
    code = await _received(db, tenant)

    page = (await officer.get(f"/officer/dossiers/{code}")).text
    picker = page.split('data-testid="officer-picker"', 1)[1].split("</select>", 1)[0]
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', picker))
    assert sorted(v.strip() for v in options.values()) == ["Cán bộ 111 (tôi)", "Cán bộ 222"]
    assert not re.search(r"\d{12}", picker)  # names, never personal ID numbers
    colleague = next(k for k, v in options.items() if v.strip() == "Cán bộ 222")
    with engine.connect() as conn:
        admin_grant = conn.execute(
            text(f"SELECT id FROM {tenant.schema}.role_grants WHERE personal_id = :p"), {"p": admin_only}
        ).scalar_one()

    # The server checks the choice: not an officer here, not a grant, another tenant's officer.
    for wrong in (str(admin_grant), "99999", stranger, ""):
        refused = await _post(officer, code, "assign", to=wrong)
        assert refused.status_code == 409, wrong
        assert "Chọn một cán bộ trong danh sách" in refused.text
    with engine.connect() as conn:
        assigned = conn.execute(
            text(f"SELECT assigned_to FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        ).scalar_one()
    assert assigned is None

    done = await _post(officer, code, "assign", to=colleague)
    assert done.headers["location"] == f"/officer/dossiers/{code}?done=assign"
    after = (await officer.get(done.headers["location"])).text
    assert f"Đã phân công cán bộ xử lý hồ sơ {code}." in after
    assert re.search(r'data-testid="assigned">Cán bộ 222<', after)
    assert re.search(r'<option value="' + colleague + r'" selected>', after)
    history = after.split('data-testid="history"', 1)[1]
    assert "Cán bộ 222" in history and COLLEAGUE not in history
    queue = (await officer.get("/officer?queue=new")).text
    assert "<td>Cán bộ 222</td>" in queue and COLLEAGUE not in queue


async def test_fees_are_asked_for_only_while_owed_and_refunds_need_confirming(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant(procedures=[PAID_COPY])
    officer = await _officer(sign_in, engine, tenant, OFFICER)
    code = await _received(db, tenant)
    for action in ("accept", "start"):
        assert (await _post(officer, code, f"actions/{action}")).status_code == 303

    # The queues say in words how the dossier stands against its due date.
    for interval, queue, tone, words in (
        ("- interval '3 days'", "overdue", "error", "Quá hạn"),
        ("+ interval '1 hour'", "due_soon", "warn", "Sắp đến hạn"),
    ):
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE {tenant.schema}.dossiers SET due_at = now() {interval} WHERE code = :c"),
                {"c": code},
            )
        listed = (await officer.get(f"/officer?queue={queue}")).text
        row = listed.split(f'href="/officer/dossiers/{code}"', 1)[0].rsplit("<tr", 1)[1]
        assert f'data-due="{queue}"' in row, row
        assert f'<strong class="tag tag-{tone}">{words}</strong>' in listed
        assert not re.search(r"\d\.\d+ giờ", listed)  # whole working hours or days, in words
    owed = (await officer.get(f"/officer/dossiers/{code}")).text
    amount = re.search(r'<input id="amount-request_payment"[^>]*>', owed)
    assert amount is not None and "value=" not in amount.group(0)  # not prefilled
    # Money may be marked up (a span around the amount): the words are what count.
    assert "Để trống để áp dụng mức phí, lệ phí của thủ tục: 15.000" in re.sub(r"<[^>]+>", "", owed)

    recorded = await _post(officer, code, "payments/counter", method="cash")
    assert recorded.headers["location"].endswith("?done=counter_payment")
    paid = (await officer.get(recorded.headers["location"])).text
    assert f"Đã ghi nhận thu phí, lệ phí tại quầy cho hồ sơ {code}." in paid
    assert 'data-paid="yes"' in paid
    assert "amount-request_payment" not in paid and 'data-action="request_payment"' not in paid

    payment_id = re.search(r'data-payment-id="(\d+)"', paid)
    assert payment_id is not None
    refund = paid.split('data-action-panel="refund"', 1)[1].split("</details>", 1)[0]
    assert "Xác nhận hoàn tiền" in refund and 'name="confirm" value="yes"' in refund
    url = f"payments/{payment_id.group(1)}/refund"
    unconfirmed = await _post(officer, code, url, amount="5000", reason="Thu thừa tiền")
    assert unconfirmed.status_code == 409 and "Hãy xác nhận thao tác này" in unconfirmed.text
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.refunds")).scalar_one() == 0
    confirmed = await _post(officer, code, url, amount="5000", reason="Thu thừa tiền", confirm="yes")
    assert confirmed.headers["location"].endswith("?done=refund")
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT amount_vnd FROM {tenant.schema}.refunds")).scalar_one() == 5000


async def test_the_inline_viewer_frames_the_officers_file_and_nobody_elses(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant, elsewhere = make_tenant(procedures=[COPY]), make_tenant(procedures=[COPY])
    officer = await _officer(sign_in, engine, tenant, OFFICER)
    code = await _received(db, tenant)
    for action in ("accept", "start"):
        assert (await _post(officer, code, f"actions/{action}")).status_code == 303
    assert (await _upload_result(officer, code)).status_code == 303

    page = await officer.get(f"/officer/dossiers/{code}")
    # A PDF viewer would take the keyboard focus as it loads: it opens only when asked for.
    placeholder = page.text.split('data-testid="viewer"', 1)[1].split("</figure>", 1)[0]
    assert "<iframe" not in placeholder
    asked = re.search(
        r'href="(/officer/dossiers/[^"]+\?xem=[0-9a-f]{32})#viewer" data-testid="open-viewer"', placeholder
    )
    assert asked is not None
    page = await officer.get(asked.group(1))
    viewer = page.text.split('data-testid="viewer"', 1)[1].split("</figure>", 1)[0]
    frame = re.search(r'<iframe src="/officer/files/([0-9a-f]{32})" title="Xem giấy tờ: quyet-dinh', viewer)
    assert frame is not None
    files = page.text.split('data-testid="files"', 1)[1].split("</table>", 1)[0]
    assert "quyet-dinh.pdf" in files and "Văn bản kết quả" in files and "byte" in files
    # The workspace itself still refuses every frame.
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    shown = await officer.get(f"/officer/files/{frame.group(1)}")
    assert shown.status_code == 200 and shown.content == PDF
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers["content-disposition"].startswith("inline")
    assert shown.headers["x-frame-options"] == "SAMEORIGIN"
    assert shown.headers["x-content-type-options"] == "nosniff"
    policy = shown.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy and "unsafe-eval" not in policy

    # In English, the workspace's headings, legends and buttons are English (the dossier's own
    # data, a procedure and a file name, stays as it was written).
    officer.cookies.set(LANGUAGE_COOKIE, "en")
    english = (await officer.get(f"/officer/dossiers/{code}")).text
    officer.cookies.delete(LANGUAGE_COOKIE)
    interface = re.findall(r"<(?:h1|h2|h3|legend|summary|button|th)\b[^>]*>(.*?)</", english, re.S)
    words = " ".join(re.sub(r"<[^>]+>", " ", t) for t in interface)
    assert "Actions" in words and "Confirm stopping" in words and "File name" in words
    assert not VIETNAMESE.search(words.replace(COPY["name"], "").replace(tenant.name, "")), words

    citizen = await sign_in(tenant, name="Trần Văn Bình", personal_id="001190005678")
    assert (await citizen.get(f"/officer/files/{frame.group(1)}")).status_code == 403
    other_officer = await _officer(sign_in, engine, elsewhere, OFFICER)
    assert (await other_officer.get(f"/officer/files/{frame.group(1)}")).status_code == 404
