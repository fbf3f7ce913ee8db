"""Fees paid at the one-stop desk, recorded by an officer."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from tests.backoffice.test_workspace import _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn


async def test_an_officer_records_a_counter_payment_once(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[{**BIRTH, "fee_vnd": 15000}])
    citizen, code = await _submit(sign_in, tenant)
    detail = await citizen.get(f"/my/dossiers/{code}")
    assert "nộp tại Bộ phận Một cửa" in detail.text  # no online payment on this platform
    officer = await _officer(sign_in, engine, tenant)
    page = await officer.get(f"/officer/dossiers/{code}")
    assert 'data-paid="no"' in page.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token.group(1)}
    )
    assert done.status_code == 303
    again = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token.group(1)}
    )
    assert again.status_code == 409
    assert "đã được thanh toán" in again.text
    assert 'data-paid="yes"' in (await officer.get(f"/officer/dossiers/{code}")).text
    assert 'data-paid="yes"' in (await citizen.get(f"/my/dossiers/{code}")).text
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT provider, amount_vnd, status FROM {tenant.schema}.payments")).all()
    assert [tuple(r) for r in rows] == [("counter", 15000, "succeeded")]
