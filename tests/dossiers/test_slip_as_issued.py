"""The appointment slip is a receipt: it stays as it was issued (what later arrives — a
supplement, the result — is not "received" by it), greets the citizen only right after
submitting, and asks for the fee only while it is unpaid."""

from __future__ import annotations

import io
import re
import unicodedata

from pypdf import PdfReader
from sqlalchemy import Engine

from tests.backoffice.test_workspace import _act, _officer
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf
from tests.dossiers.test_journey import CODE, _prepare

FEE = {**BIRTH, "fee_vnd": 15000}
SUCCESS = "Nộp hồ sơ thành công"


def _received(html: str) -> str:
    """The slip's list of documents received."""
    match = re.search(r"Giấy tờ đã nhận</h2>(.*?)</ol>", html, re.S)
    assert match is not None, html[:2000]
    return match.group(1)


def _pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(unicodedata.normalize("NFC", text).split())


async def test_the_slip_stays_as_issued_greets_once_and_asks_to_pay_only_while_unpaid(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[FEE])
    citizen = await sign_in(tenant)
    submit_token = await _prepare(citizen)
    done = await citizen.post(
        "/procedures/1.001193/apply/submit",
        data={
            "_csrf_token": await csrf(citizen, "/procedures/1.001193/apply/review"),
            "token": submit_token,
            "declaration": "yes",
        },
    )
    assert done.status_code == 303
    found = CODE.search(done.headers["location"])
    assert found is not None
    code = found.group(0)
    slip_url = f"/my/dossiers/{code}/slip"

    # Where the submission leads: the success panel, and the fee to pay.
    first = await citizen.get(done.headers["location"])
    assert SUCCESS in first.text
    assert 'data-testid="pay-fees"' in first.text
    # Any later visit: the slip without the greeting; the fee still asked for, as it is unpaid.
    later = await citizen.get(slip_url)
    assert SUCCESS not in later.text
    assert 'data-testid="pay-fees"' in later.text
    issued = _received(later.text)
    assert "tờ khai" in issued.lower()
    issued_pdf = _pdf_text((await citizen.get(slip_url + ".pdf")).content)

    # A supplement asked for and sent, then the result and the fee paid at the desk.
    officer = await _officer(sign_in, engine, tenant)
    assert (await _act(officer, code, "accept")).status_code == 303
    asked = await _act(
        officer, code, "request_supplement", reason="Thiếu giấy chứng sinh", items="Giấy chứng sinh"
    )
    assert asked.status_code == 303
    token = await csrf(citizen, f"/my/dossiers/{code}")
    sent = await citizen.post(
        f"/my/dossiers/{code}/supplement/files",
        data={"_csrf_token": token},
        files={"file": ("giay-chung-sinh-bo-sung.pdf", PDF, "application/pdf")},
    )
    assert sent.status_code == 303
    assert (
        await citizen.post(f"/my/dossiers/{code}/supplement", data={"_csrf_token": token})
    ).status_code == 303  # back in progress
    officer_token = await csrf(officer, f"/officer/dossiers/{code}")
    result = await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": officer_token},
        files={"file": ("giay-khai-sinh-ket-qua.pdf", PDF, "application/pdf")},
    )
    assert result.status_code == 303
    paid = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": officer_token, "method": "cash"}
    )
    assert paid.status_code == 303

    now = await citizen.get(slip_url)
    assert _received(now.text) == issued
    assert "bo-sung" not in now.text and "ket-qua" not in now.text
    assert 'data-testid="pay-fees"' not in now.text  # paid: nothing left to ask for
    assert SUCCESS not in now.text
    now_pdf = _pdf_text((await citizen.get(slip_url + ".pdf")).content)
    assert "bo-sung" not in now_pdf and "ket-qua" not in now_pdf
    assert now_pdf.count("Bản điện tử") == issued_pdf.count("Bản điện tử")
    # The officer's copy of the slip is the same document.
    officer_pdf = _pdf_text((await officer.get(f"/officer/dossiers/{code}/slip.pdf")).content)
    assert "bo-sung" not in officer_pdf and "ket-qua" not in officer_pdf
