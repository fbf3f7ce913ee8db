"""The daily payments report: today's figures on the administrator's page, and yesterday's
stored by the hourly job in a real worker."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import Engine, text

from motcua.payments.reports import vietnam_today
from tests.backoffice.test_workspace import _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import SignIn
from tests.payments.test_counter import FEE, _token
from tests.payments.test_settings import _admin
from tests.workers import start_worker


async def test_today_s_collections_refunds_and_methods_are_reported(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    officer = await _officer(sign_in, engine, tenant)
    codes = [(await _submit(sign_in, tenant))[1] for _ in range(2)]
    for code, method in zip(codes, ("cash", "pos"), strict=True):
        token = await _token(officer, f"/officer/dossiers/{code}")
        paid = await officer.post(
            f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token, "method": method}
        )
        assert paid.status_code == 303
    with engine.connect() as conn:
        first = conn.execute(
            text(f"SELECT id FROM {tenant.schema}.payments ORDER BY id LIMIT 1")
        ).scalar_one()
    token = await _token(officer, f"/officer/dossiers/{codes[0]}")
    await officer.post(
        f"/officer/dossiers/{codes[0]}/payments/{first}/refund",
        data={"_csrf_token": token, "confirm": "yes", "amount": "5000", "reason": "Thu thừa"},
    )
    admin = await _admin(sign_in, engine, tenant)
    page = await admin.get("/manage/payments")
    today = page.text.split('data-day="today"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", today)
    # receipts, collected, online, at the desk, refunded, in review
    assert cells[1:] == ["2", "30.000 ₫", "0 ₫", "30.000 ₫", "5.000 ₫", "0"]
    # Decree 42's online payment rate: both were paid at the desk.
    assert "0/2 hồ sơ có phí, lệ phí được thanh toán trực tuyến (0%)" in page.text  # never "0.0%"
    # Amounts never wrap (issue 14).
    assert '<td class="amount">30.000 ₫</td>' in today


async def test_the_daily_job_stores_yesterday_in_a_real_worker(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    from motcua.payments.jobs import report_payments

    tenant = make_tenant(procedures=[FEE])
    _, code = await _submit(sign_in, tenant)
    yesterday = vietnam_today() - timedelta(days=1)
    with engine.begin() as conn:  # a fee collected at the desk yesterday at noon, Vietnam time
        dossier = conn.execute(
            text(f"SELECT id, citizen_id, fee_vnd FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        ).one()
        payment_id = conn.execute(
            text(
                f"INSERT INTO {tenant.schema}.payments "
                "(dossier_id, provider, method, amount_vnd, status, account) "
                "VALUES (:d, 'counter', 'cash', :a, 'succeeded', '') RETURNING id"
            ),
            {"d": dossier.id, "a": dossier.fee_vnd},
        ).scalar_one()
        conn.execute(
            text(
                f"INSERT INTO {tenant.schema}.receipts (series, number, payment_id, dossier_id, "
                "citizen_id, issuer_name, dossier_code, procedure_name, payer_name, "
                "payer_personal_id_masked, amount_vnd, method, issued_at) "
                "VALUES ('BL2026', 1, :p, :d, :citizen, 'Tỉnh thử', :c, 'Thủ tục', "
                "'Nguyễn Thị Mai', '001******234', :a, 'cash', CAST(:noon AS timestamptz))"
            ),
            {
                "p": payment_id,
                "d": dossier.id,
                "citizen": dossier.citizen_id,
                "c": code,
                "a": dossier.fee_vnd,
                "noon": f"{yesterday.isoformat()}T12:00:00+07:00",
            },
        )
    worker = start_worker("payments")
    try:
        report_payments.send(tenant=tenant.slug)

        def stored() -> dict[str, object] | None:
            with engine.connect() as conn:
                return conn.execute(
                    text(f"SELECT totals FROM {tenant.schema}.payment_daily_reports WHERE day = :d"),
                    {"d": yesterday},
                ).scalar_one_or_none()

        deadline = time.monotonic() + 40
        while stored() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        totals = stored()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert totals is not None
    assert (totals["receipts"], totals["collected_vnd"], totals["refunded_vnd"]) == (1, 15000, 0)
    assert totals["by_method"] == {
        "online": {"count": 0, "vnd": 0},
        "cash": {"count": 1, "vnd": 15000},
        "pos": {"count": 0, "vnd": 0},
    }
