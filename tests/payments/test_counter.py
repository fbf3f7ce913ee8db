"""Fees paid at the one-stop desk, recorded by an officer, with a numbered receipt; refunds at
the desk; a dossier waiting for its fees (status 6) going back to work once they are paid."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from motcua.core.messages import message_from_json
from motcua.core.settings import Settings
from motcua.core.theming import LANGUAGE_COOKIE
from tests.backoffice.test_workspace import _act, _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.workers import start_worker

FEE = {**BIRTH, "fee_vnd": 15000}
# A real one-page PDF: results are signed, and the signer needs a page to put the QR code on.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000053 00000 n \n0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n167\n%%EOF\n"
)


async def _token(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    return token.group(1)


async def test_an_officer_records_a_counter_payment_once_with_a_receipt(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    citizen, code = await _submit(sign_in, tenant)
    detail = await citizen.get(f"/my/dossiers/{code}")
    assert "nộp tại Bộ phận Một cửa" in detail.text  # no online payment on this platform
    officer = await _officer(sign_in, engine, tenant)
    page = await officer.get(f"/officer/dossiers/{code}")
    assert 'data-paid="no"' in page.text
    token = await _token(officer, f"/officer/dossiers/{code}")
    no_method = await officer.post(f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token})
    assert no_method.status_code == 409
    assert "Chọn hình thức nộp" in no_method.text
    done = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
    )
    assert done.status_code == 303
    again = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "pos"}
    )
    assert again.status_code == 409
    assert "đã được thanh toán" in again.text
    assert 'data-paid="yes"' in (await officer.get(f"/officer/dossiers/{code}")).text
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT provider, method, amount_vnd, status FROM {tenant.schema}.payments")
        ).all()
        receipt = conn.execute(
            text(f"SELECT id, series, number, amount_vnd, collected_by FROM {tenant.schema}.receipts")
        ).one()
    assert [tuple(r) for r in rows] == [("counter", "cash", 15000, "succeeded")]
    year = datetime.now(UTC).year  # the series is the year in Vietnam time; not run at New Year
    assert (receipt.series, receipt.number, receipt.amount_vnd) == (f"BL{year}", 1, 15000)
    assert receipt.collected_by is not None

    # The citizen sees it on the dossier, in the document store, as a page and as a PDF.
    mine = await citizen.get(f"/my/dossiers/{code}")
    assert 'data-paid="yes"' in mine.text
    assert f'href="/receipts/{receipt.id}"' in mine.text
    assert f"/receipts/{receipt.id}" in (await citizen.get("/my/documents")).text
    shown = await citizen.get(f"/receipts/{receipt.id}")
    assert shown.status_code == 200
    assert f'data-receipt-number="BL{year}-0000001"' in shown.text
    assert "15.000 ₫" in shown.text
    assert "Mười lăm nghìn đồng" in shown.text
    assert "Tiền mặt" in shown.text
    pdf = await citizen.get(f"/receipts/{receipt.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.content == (await citizen.get(f"/receipts/{receipt.id}/pdf")).content  # same bytes
    # In English on request (legal amounts in words stay Vietnamese, as on the paper receipt).
    citizen.cookies.set(LANGUAGE_COOKIE, "en")
    english = await citizen.get(f"/receipts/{receipt.id}")
    assert "Receipt for fees and charges" in english.text
    assert "Cash at the one-stop desk" in english.text
    assert "Mười lăm nghìn đồng" in english.text
    # The PDF too: a translation of the Vietnamese original, which it says it is.
    translated = PdfReader(io.BytesIO((await citizen.get(f"/receipts/{receipt.id}/pdf")).content))
    assert "RECEIPT FOR FEES AND CHARGES" in translated.pages[0].extract_text()
    assert "Fifteen thousand dong" in translated.pages[0].extract_text()
    citizen.cookies.delete(LANGUAGE_COOKIE)
    # Someone else's receipt does not exist for another citizen.
    stranger = await sign_in(tenant, name="Lê Văn Khác", personal_id="001190009999")
    assert (await stranger.get(f"/receipts/{receipt.id}")).status_code == 404
    assert (await stranger.get(f"/receipts/{receipt.id}/pdf")).status_code == 404
    # Issued receipts never change.
    with pytest.raises(DBAPIError, match="never changed"), engine.begin() as conn:
        conn.execute(text(f"UPDATE {tenant.schema}.receipts SET amount_vnd = 1"))


async def test_a_dossier_waiting_for_its_fees_resumes_when_they_are_paid(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    assert (await _act(officer, code, "accept")).status_code == 303
    assert (await _act(officer, code, "request_payment")).status_code == 303
    waiting = await citizen.get(f"/my/dossiers/{code}")
    assert "đề nghị bạn nộp phí" in waiting.text
    token = await _token(officer, f"/officer/dossiers/{code}")
    paid = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "pos"}
    )
    assert paid.status_code == 303
    with engine.connect() as conn:
        status = conn.execute(
            text(f"SELECT status FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        )
        history = conn.execute(
            text(
                f"SELECT from_status, to_status, message FROM {tenant.schema}.dossier_history "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert status.scalar_one() == "in_progress"
    assert (history.from_status, history.to_status) == ("payment_requested", "in_progress")
    said = message_from_json(history.message)  # the product's words, read in either language
    assert "biên lai" in said and "15.000 đồng" in said


async def test_refunds_at_the_desk_are_partial_or_full_with_a_reason(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    _, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    token = await _token(officer, f"/officer/dossiers/{code}")
    await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
    )
    with engine.connect() as conn:
        payment_id = conn.execute(text(f"SELECT id FROM {tenant.schema}.payments")).scalar_one()
    url = f"/officer/dossiers/{code}/payments/{payment_id}/refund"

    no_reason = await officer.post(
        url, data={"_csrf_token": token, "confirm": "yes", "amount": "5000", "reason": ""}
    )
    assert no_reason.status_code == 409
    assert "lý do hoàn tiền" in no_reason.text
    too_much = await officer.post(
        url, data={"_csrf_token": token, "confirm": "yes", "amount": "20.000", "reason": "Thu thừa"}
    )
    assert too_much.status_code == 409
    assert "lớn hơn số còn có thể hoàn (15.000 đồng)" in too_much.text
    not_a_number = await officer.post(
        url, data={"_csrf_token": token, "confirm": "yes", "amount": "năm nghìn", "reason": "Thu thừa"}
    )
    assert not_a_number.status_code == 409
    assert "phải là số đồng" in not_a_number.text

    part = await officer.post(
        url, data={"_csrf_token": token, "confirm": "yes", "amount": "5.000", "reason": "Thu thừa tiền"}
    )
    assert part.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT status, refunded_vnd FROM {tenant.schema}.payments")).one()
    assert (row.status, row.refunded_vnd) == ("succeeded", 5000)
    # The form carries what was left when it was shown: sent twice (a double click), it
    # refunds once.
    workspace = await officer.get(f"/officer/dossiers/{code}")
    remaining = re.search(r'name="remaining" value="(\d+)"', workspace.text)
    assert remaining is not None and remaining.group(1) == "10000"
    form = {
        "_csrf_token": token,
        "confirm": "yes",  # the workspace's "Xác nhận hoàn tiền" button
        "remaining": remaining.group(1),
        "amount": "",
        "reason": "Hủy hồ sơ, hoàn phí",
    }
    rest = await officer.post(url, data=form)
    assert rest.status_code == 303
    twice = await officer.post(url, data=form)
    assert twice.status_code == 409
    assert "vừa được người khác cập nhật" in twice.text
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT status, refunded_vnd FROM {tenant.schema}.payments")).one()
        refunds = conn.execute(
            text(f"SELECT amount_vnd, status FROM {tenant.schema}.refunds ORDER BY id")
        ).all()
    assert (row.status, row.refunded_vnd) == ("refunded", 15000)
    assert [tuple(r) for r in refunds] == [(5000, "succeeded"), (10000, "succeeded")]
    nothing_left = await officer.post(
        url, data={"_csrf_token": token, "confirm": "yes", "amount": "", "reason": "Lần nữa"}
    )
    assert nothing_left.status_code == 409
    workspace = await officer.get(f"/officer/dossiers/{code}")
    assert 'data-payment-status="refunded"' in workspace.text
    assert "Hủy hồ sơ, hoàn phí" in workspace.text
    # A payment of another dossier cannot be refunded through this one.
    _, other = await _submit(sign_in, tenant)
    assert (
        await officer.post(
            f"/officer/dossiers/{other}/payments/{payment_id}/refund",
            data={"_csrf_token": token, "confirm": "yes", "amount": "", "reason": "Nhầm hồ sơ"},
        )
    ).status_code == 404


async def test_fees_come_before_the_result(sign_in: SignIn, make_tenant: MakeTenant, engine: Engine) -> None:
    tenant = make_tenant(procedures=[FEE])
    _, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    for action in ("accept", "start"):
        assert (await _act(officer, code, action)).status_code == 303
    token = await _token(officer, f"/officer/dossiers/{code}")
    uploaded = await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": token},
        files={"file": ("ket-qua.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    unpaid = await _act(officer, code, "finish")
    assert unpaid.status_code == 409
    assert "Hồ sơ chưa nộp phí, lệ phí (15.000 đồng)" in unpaid.text
    # No bare "paid" button: only a payment moves a dossier out of "payment requested".
    assert 'data-action="record_payment"' not in unpaid.text
    await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
    )
    assert (await _act(officer, code, "finish")).status_code == 303
    with engine.connect() as conn:
        status = conn.execute(
            text(f"SELECT status FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        )
    assert status.scalar_one() == "processed"


async def test_the_officer_requests_the_amount_worked_out_for_the_dossier(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])  # nothing in the catalogue: the officer works it out
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    assert (await _act(officer, code, "accept")).status_code == 303
    nothing = await _act(officer, code, "request_payment")
    assert nothing.status_code == 409
    assert "Nhập số tiền phải nộp" in nothing.text
    words = await _act(officer, code, "request_payment", amount="mười nghìn")
    assert words.status_code == 409
    assert "Số tiền phải nộp phải là số đồng" in words.text
    asked = await _act(officer, code, "request_payment", amount="12.000")
    assert asked.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT status, fee_vnd FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        ).one()
        said = conn.execute(
            text(f"SELECT message FROM {tenant.schema}.dossier_history ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert (row.status, row.fee_vnd) == ("payment_requested", 12000)
    assert message_from_json(said) == "Số tiền phải nộp: 12.000 đồng"
    assert "12.000 ₫" in (await citizen.get(f"/my/dossiers/{code}")).text
    token = await _token(officer, f"/officer/dossiers/{code}")
    paid = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
    )
    assert paid.status_code == 303
    with engine.connect() as conn:
        receipt = conn.execute(text(f"SELECT amount_vnd FROM {tenant.schema}.receipts")).scalar_one()
    assert receipt == 12000
    again = await _act(officer, code, "request_payment", amount="5000")
    assert again.status_code == 409  # in progress again, and already paid
    assert "Hồ sơ này đã nộp phí, lệ phí." in again.text


async def test_the_receipt_pdf_is_filed_once_by_a_real_worker(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    import hashlib
    import time

    tenant = make_tenant(procedures=[FEE])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    token = await _token(officer, f"/officer/dossiers/{code}")
    worker = start_worker("payments")
    try:
        paid = await officer.post(
            f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": "cash"}
        )
        assert paid.status_code == 303

        def filed() -> Any:
            with engine.connect() as conn:
                return conn.execute(
                    text(f"SELECT receipt_id, storage_key, size, sha256 FROM {tenant.schema}.receipt_files")
                ).one_or_none()

        deadline = time.monotonic() + 40
        while filed() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        row = filed()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert row is not None
    stored = (live_settings.data_dir / "files" / row.storage_key).read_bytes()
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (row.size, row.sha256)
    download = await citizen.get(f"/receipts/{row.receipt_id}/pdf")
    assert download.content == stored  # served from the store, the very bytes drawn at issue
    assert "Mười lăm nghìn đồng" in PdfReader(io.BytesIO(stored)).pages[0].extract_text()
