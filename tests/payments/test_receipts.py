"""Receipt text: the amount in Vietnamese words, the yearly series in Vietnam time, and a PDF
whose text is real, searchable Vietnamese."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from motcua.payments.models import Receipt
from motcua.payments.receipts import amount_in_words, render_receipt_pdf, series_for


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Không đồng"),
        (5, "Năm đồng"),
        (15, "Mười lăm đồng"),
        (21, "Hai mươi mốt đồng"),
        (105, "Một trăm linh năm đồng"),
        (2000, "Hai nghìn đồng"),
        (15000, "Mười lăm nghìn đồng"),
        (50000, "Năm mươi nghìn đồng"),
        (75000, "Bảy mươi lăm nghìn đồng"),
        (100000, "Một trăm nghìn đồng"),
        (200000, "Hai trăm nghìn đồng"),
        (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
        (1_250_500, "Một triệu hai trăm năm mươi nghìn năm trăm đồng"),
        (3_000_000_000, "Ba tỷ đồng"),
    ],
)
def test_amounts_are_written_in_vietnamese_words(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        amount_in_words(-1)


def test_the_series_is_the_year_in_vietnam_time() -> None:
    # 31 Dec 2026 18:00 UTC is already 1 Jan 2027 in Vietnam.
    assert series_for(datetime(2026, 12, 31, 18, 0, tzinfo=UTC)) == "BL2027"
    assert series_for(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "BL2026"


def test_the_receipt_pdf_is_stable_and_embeds_its_font() -> None:
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
    first = render_receipt_pdf(receipt)
    assert first == render_receipt_pdf(receipt)  # drawn from the snapshot: the same bytes
    text = unicodedata.normalize("NFC", PdfReader(io.BytesIO(first)).pages[0].extract_text())
    for expected in (
        "BIÊN LAI THU PHÍ, LỆ PHÍ",
        "Ký hiệu: BL2026",
        "Số: 0000042",
        "Nguyễn Văn Ánh",
        "15.000 đồng",
        "Mười lăm nghìn đồng",
        "Thanh toán trực tuyến",
        "10 giờ 15 phút, ngày 23/11/2026",  # Vietnam time
    ):
        assert expected in text, expected
