"""The appointment slip and the receipt in the reader's language: labels translated, data (names,
the procedure, the documents) as written, and Vietnamese stays the default."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from motcua.core.messages import Message
from motcua.core.theming import LANGUAGE_COOKIE
from motcua.dossiers.slip import SlipDocument, render_slip_pdf
from motcua.payments.models import Receipt
from motcua.payments.receipts import amount_in_english_words, render_receipt_pdf
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.dossiers.test_slip import make_slip, page_text

# A word with a Vietnamese letter (ă â đ ê ô ơ ư or a tone mark).
VIETNAMESE = re.compile(r"\w*[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]\w*", re.I)


def _leftover_vietnamese(text: str, *data: str) -> list[str]:
    for value in data:
        text = text.replace(value, "")
    return VIETNAMESE.findall(text)


def test_the_slip_in_english() -> None:
    slip = make_slip(
        channel_label=Message("%(channel)s, do cán bộ tiếp nhận", channel=Message("Trực tiếp")),
        documents=(
            SlipDocument("Tờ khai đăng ký khai sinh", "Bản điện tử"),
            SlipDocument("Giấy chứng sinh", "Bản giấy, đã số hóa"),
        ),
    )
    english = page_text(render_slip_pdf(slip, "en"))
    for label in (
        "SOCIALIST REPUBLIC OF VIETNAM",
        "DOSSIER RECEIPT AND APPOINTMENT SLIP",
        "Dossier code: 000.00.01.H26-261123-0001",
        "Applicant: Nguyễn Thị Ngọc Ánh",
        "In person, entered by the receiving officer",
        "1. Documents submitted:",
        "Electronic copy",
        "Paper, digitised",
        "2. Fees and charges: 50,000 dong",
        "4. Result due at: 16:30 on 27/11/2026",
    ):
        assert label in english, label
    assert (
        _leftover_vietnamese(
            english,
            slip.tenant_name.upper(),
            slip.agency_name.upper(),
            slip.agency_name,
            slip.applicant_name,
            slip.applicant_address or "",
            slip.procedure_name,
            "Tờ khai đăng ký khai sinh",
            "Giấy chứng sinh",
        )
        == []
    )
    # Vietnamese unless asked: the default is the slip as it always was.
    vietnamese = page_text(render_slip_pdf(slip))
    assert "PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in vietnamese
    assert "Trực tiếp, do cán bộ tiếp nhận" in vietnamese
    assert "Bản giấy, đã số hóa" in vietnamese


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Zero dong"),
        (15, "Fifteen dong"),
        (21, "Twenty-one dong"),
        (105, "One hundred five dong"),
        (50_000, "Fifty thousand dong"),
        (1_250_500, "One million two hundred fifty thousand five hundred dong"),
        (3_000_000_000, "Three billion dong"),
    ],
)
def test_amounts_in_english_words(amount: int, words: str) -> None:
    assert amount_in_english_words(amount) == words


def test_the_receipt_in_english_says_it_is_a_translation() -> None:
    receipt = Receipt(
        id=1,
        series="BL2026",
        number=42,
        payment_id=1,
        dossier_id=1,
        citizen_id=1,
        issuer_name="Ủy ban nhân dân Thành phố Hà Nội",
        dossier_code="000.00.01.H26-261123-0001",
        procedure_name="Cấp Giấy xác nhận tình trạng hôn nhân",
        payer_name="Nguyễn Văn Ánh",
        payer_personal_id_masked="001******345",
        amount_vnd=15000,
        method="online",
        provider_payment_ref="pi_test_1",
        collected_by=None,
        issued_at=datetime(2026, 11, 23, 3, 15, tzinfo=UTC),
    )
    english = page_text(render_receipt_pdf(receipt, "en"))
    for label in (
        "RECEIPT FOR FEES AND CHARGES",
        "Series: BL2026",
        "Payer: Nguyễn Văn Ánh",
        "15,000 dong",
        "Fifteen thousand dong",
        "Issued at: 10:15 on 23/11/2026",
        "the Vietnamese receipt is the legally valid original",
    ):
        assert label in english, label
    data = (receipt.issuer_name.upper(), receipt.payer_name, receipt.procedure_name)
    assert _leftover_vietnamese(english, *data) == []
    assert "Bản dịch" not in page_text(render_receipt_pdf(receipt))
    assert render_receipt_pdf(receipt, "en") == render_receipt_pdf(receipt, "en")  # stable too


async def test_the_slip_is_downloaded_in_the_reader_language(
    sign_in: SignIn, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    vietnamese = await citizen.get(f"/my/dossiers/{code}/slip.pdf")
    assert vietnamese.status_code == 200
    assert "PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in page_text(vietnamese.content)
    citizen.cookies.set(LANGUAGE_COOKIE, "en", domain=f"{tenant.slug}.localhost")
    english = page_text((await citizen.get(f"/my/dossiers/{code}/slip.pdf")).content)
    assert "DOSSIER RECEIPT AND APPOINTMENT SLIP" in english
    assert f"Dossier code: {code}" in english
    assert "Submitted: Online" in english
