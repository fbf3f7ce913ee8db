"""The appointment slip PDF: real Vietnamese text in an embedded font, the official layout's wording,
and a QR code that a phone reads back as the tracking URL."""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from motcua.dossiers.slip import (
    SLIP_TITLE,
    VIETNAM_TZ,
    MissingGlyphError,
    SlipData,
    SlipDocument,
    format_fee_vnd,
    format_slip_time,
    qr_matrix,
    qr_svg,
    render_slip_pdf,
)

TRACKING_URL = "https://hanoi.example.vn/tracking/000.00.01.H26-261123-0001"

# Every Vietnamese vowel with every tone mark, both cases, and đ: if the font lacked any one of them
# the text round trip below would come back short.
VIETNAMESE_LETTERS = "aàáảãạ ăằắẳẵặ âầấẩẫậ eèéẻẽẹ êềếểễệ iìíỉĩị oòóỏõọ ôồốổỗộ ơờớởỡợ uùúủũụ ưừứửữự yỳýỷỹỵ đ"
ALL_LETTERS = f"{VIETNAMESE_LETTERS} {VIETNAMESE_LETTERS.upper()}"


def make_slip(**changes: Any) -> SlipData:
    slip = SlipData(
        tenant_name="Ủy ban nhân dân Thành phố Hà Nội",
        agency_name="Ủy ban nhân dân Phường Hoàn Kiếm",
        dossier_code="000.00.01.H26-261123-0001",
        procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh",
        applicant_name="Nguyễn Thị Ngọc Ánh",
        applicant_personal_id_masked="001******789",
        applicant_address="Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Quận Hoàn Kiếm",
        applicant_phone="0912 345 678",
        received_at=datetime(2026, 11, 23, 8, 15, tzinfo=VIETNAM_TZ),
        due_at=datetime(2026, 11, 27, 16, 30, tzinfo=VIETNAM_TZ),
        channel_label="Trực tuyến",
        documents=(
            SlipDocument("Tờ khai đăng ký khai sinh", "1 bản chính"),
            SlipDocument("Giấy chứng sinh do cơ sở y tế cấp", "1 bản chính"),
            SlipDocument(f"Bảng chữ cái: {ALL_LETTERS}", "1 bản sao chứng thực"),
        ),
        fee_vnd=50_000,
        tracking_url=TRACKING_URL,
    )
    return dataclasses.replace(slip, **changes)


def page_text(pdf: bytes, page: int = 0) -> str:
    # A table cell or a long line wraps at a space: the extracted line break then stands for that space.
    text = PdfReader(io.BytesIO(pdf)).pages[page].extract_text()
    return " ".join(unicodedata.normalize("NFC", text).split())


def all_text(pdf: bytes) -> str:
    return " ".join(page_text(pdf, index) for index in range(len(PdfReader(io.BytesIO(pdf)).pages)))


@pytest.fixture(scope="module")
def slip_pdf() -> bytes:
    return render_slip_pdf(make_slip())


def test_vietnamese_text_comes_back_exactly(slip_pdf: bytes) -> None:
    text = page_text(slip_pdf)
    for expected in (
        "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI",
        "ỦY BAN NHÂN DÂN PHƯỜNG HOÀN KIẾM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        SLIP_TITLE,
        "Mã hồ sơ: 000.00.01.H26-261123-0001",
        "Ông/Bà: Nguyễn Thị Ngọc Ánh",
        "Số định danh cá nhân: 001******789",
        "Địa chỉ: Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Quận Hoàn Kiếm",
        "Số điện thoại: 0912 345 678",
        "Nội dung yêu cầu giải quyết: Đăng ký khai sinh",
        "Mã thủ tục hành chính: 1.001193",
        "Hình thức nộp hồ sơ: Trực tuyến",
        "Thành phần hồ sơ nộp gồm",
        "01 Tờ khai đăng ký khai sinh 1 bản chính",
        "02 Giấy chứng sinh do cơ sở y tế cấp 1 bản chính",
        f"03 Bảng chữ cái: {ALL_LETTERS} 1 bản sao chứng thực",
        "Phí, lệ phí: 50.000 đồng",
        "Thời gian nhận hồ sơ: 08 giờ 15 phút, ngày 23/11/2026",
        "Thời gian trả kết quả: 16 giờ 30 phút, ngày 27/11/2026",
        "Tra cứu tình trạng hồ sơ",
        TRACKING_URL,
    ):
        assert expected in text, f"{expected!r} missing from the PDF text:\n{text}"


def test_decomposed_input_is_set_as_precomposed_letters() -> None:
    # Some browsers and keyboards send NFD; unshaped combining marks would sit beside the letter.
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ngọc Ánh")
    pdf = render_slip_pdf(make_slip(applicant_name=decomposed))
    raw = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Nguyễn Thị Ngọc Ánh" in raw
    assert not any(unicodedata.combining(char) for char in raw)


def fonts_with_text(pdf: bytes) -> list[tuple[DictionaryObject, set[str]]]:
    seen: dict[int, tuple[DictionaryObject, set[str]]] = {}

    def visit(text: str, _cm: Any, _tm: Any, font: DictionaryObject | None, _size: Any) -> None:
        if font is not None and text:
            seen.setdefault(id(font), (font, set()))[1].update(text)

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return list(seen.values())


def font_descriptor(font: DictionaryObject) -> DictionaryObject:
    descendants = font["/DescendantFonts"].get_object()
    assert isinstance(descendants, ArrayObject)
    descriptor = descendants[0].get_object()["/FontDescriptor"].get_object()
    assert isinstance(descriptor, DictionaryObject)
    return descriptor


def test_fonts_are_embedded_truetype_subsets(slip_pdf: bytes) -> None:
    fonts = fonts_with_text(slip_pdf)
    names = set()
    for font, _chars in fonts:
        assert str(font["/Subtype"]) == "/Type0"
        descriptor = font_descriptor(font)
        assert "/FontFile2" in descriptor, "the TrueType program must be embedded, not referenced"
        names.add(str(font["/BaseFont"]).split("+", 1)[1])
    assert names == {"DejaVuSansBook", "DejaVuSansBold"}
    assert b"/FontFile2" in slip_pdf


def test_every_character_drawn_has_a_real_glyph(slip_pdf: bytes) -> None:
    # Extracted text comes from the ToUnicode map, which would happily name a letter drawn as an empty
    # box. Look in the embedded font program itself: each character must map to a glyph with an outline.
    checked = set()
    for font, chars in fonts_with_text(slip_pdf):
        stream = font_descriptor(font)["/FontFile2"].get_object()
        assert isinstance(stream, StreamObject)
        program = TTFont(io.BytesIO(stream.get_data()))
        cmap = program.getBestCmap()
        glyf = program["glyf"]
        for char in chars:
            if char.isspace():
                continue
            glyph_name = cmap.get(ord(char))
            assert glyph_name not in (None, ".notdef"), f"{char!r} has no glyph in {font['/BaseFont']}"
            assert glyf[glyph_name].numberOfContours != 0, f"{char!r} is an empty glyph"
            checked.add(char)
    assert set(ALL_LETTERS.replace(" ", "")) <= checked


@pytest.mark.parametrize(
    "changes",
    [
        {"applicant_name": "Lý Tiểu Long 李小龍"},
        {"documents": (SlipDocument("Giấy tờ 🙂", "1 bản"),)},
        {"agency_name": "UBND \u0e01"},
    ],
)
def test_a_character_the_font_lacks_raises(changes: dict[str, Any]) -> None:
    with pytest.raises(MissingGlyphError, match="DejaVuSans has no glyph"):
        render_slip_pdf(make_slip(**changes))


def test_page_is_a4_and_metadata_is_set(slip_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(slip_pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    assert reader.metadata is not None
    assert reader.metadata.title == "Phiếu tiếp nhận hồ sơ và hẹn trả kết quả - 000.00.01.H26-261123-0001"


def test_same_slip_gives_the_same_bytes(slip_pdf: bytes) -> None:
    assert render_slip_pdf(make_slip()) == slip_pdf


@pytest.mark.parametrize(
    ("fee", "expected"),
    [(0, "Miễn phí"), (500, "500 đồng"), (50_000, "50.000 đồng"), (1_500_000, "1.500.000 đồng")],
)
def test_fee_format(fee: int, expected: str) -> None:
    assert format_fee_vnd(fee) == expected


def test_negative_fee_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_fee_vnd(-1)


def test_free_procedure_says_so() -> None:
    assert "Phí, lệ phí: Miễn phí" in page_text(render_slip_pdf(make_slip(fee_vnd=0)))


def test_time_format_is_vietnam_time_whatever_the_zone() -> None:
    assert (
        format_slip_time(datetime(2026, 11, 23, 8, 15, tzinfo=VIETNAM_TZ))
        == "08 giờ 15 phút, ngày 23/11/2026"
    )
    # 17:05 UTC is already the next morning in Hà Nội.
    assert format_slip_time(datetime(2026, 11, 30, 17, 5, tzinfo=UTC)) == "00 giờ 05 phút, ngày 01/12/2026"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_slip_time(datetime(2026, 11, 23, 8, 15))


def test_optional_contact_lines_are_left_out_when_unknown() -> None:
    text = page_text(render_slip_pdf(make_slip(applicant_address=None, applicant_phone=None)))
    assert "Địa chỉ:" not in text
    assert "Số điện thoại:" not in text
    assert "Ông/Bà: Nguyễn Thị Ngọc Ánh" in text


def test_a_long_document_list_flows_onto_a_second_page() -> None:
    documents = tuple(
        SlipDocument(f"Giấy tờ kèm theo số {n} của hồ sơ đăng ký", "1 bản") for n in range(1, 41)
    )
    pdf = render_slip_pdf(make_slip(documents=documents))
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2
    assert "STT Tên giấy tờ Số lượng" in page_text(pdf, page=1), "the table heading repeats on page 2"
    text = all_text(pdf)
    for number, document in enumerate(documents, start=1):
        assert f"{number:02d} {document.name} 1 bản" in text
    assert "Tra cứu tình trạng hồ sơ" in text
    assert decode_qr_codes(pdf, page=1) == [TRACKING_URL]


def test_a_slip_without_documents_says_so() -> None:
    text = page_text(render_slip_pdf(make_slip(documents=())))
    assert "(không có giấy tờ kèm theo)" in text
    assert "STT Tên giấy tờ Số lượng" in text


def decode_qr_codes(pdf: bytes, page: int = 0) -> list[str]:
    # Rasterise the page as a 150 dpi scan would and read it with ZXing: what a phone camera does.
    import pypdfium2  # type: ignore[import-untyped]
    import zxingcpp

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page].render(scale=150 / 72).to_pil()
    finally:
        document.close()
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_qr_code_on_the_page_decodes_to_the_tracking_url(slip_pdf: bytes) -> None:
    assert decode_qr_codes(slip_pdf) == [TRACKING_URL]


def test_qr_drawn_in_the_pdf_is_the_generated_matrix(slip_pdf: bytes) -> None:
    # Independent of any decoder: the filled rectangles in the page are exactly the symbol's dark modules.
    content = PdfReader(io.BytesIO(slip_pdf)).pages[0].get_contents()
    assert content is not None
    number = r"(-?\d+(?:\.\d+)?)"
    runs = [
        tuple(float(v) for v in match)
        for match in re.findall(
            rf"{number} {number} {number} {number} re f\b", content.get_data().decode("latin-1")
        )
    ]
    assert runs
    # fpdf2 writes each rectangle from its top-left corner with a negative height (PDF's y axis points up).
    module = min(abs(h) for _x, _y, _w, h in runs)
    left = min(x for x, _y, _w, _h in runs)
    top = max(y for _x, y, _w, _h in runs)
    expected = qr_matrix(TRACKING_URL)
    size = len(expected)
    drawn = [[False] * size for _ in range(size)]
    for x, y, w, _h in runs:
        row = round((top - y) / module)
        first = round((x - left) / module)
        for column in range(first, first + round(w / module)):
            drawn[row][column] = True
    assert tuple(tuple(row) for row in drawn) == expected


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own qr_svg output, not untrusted input


def svg_matrix(svg: str) -> tuple[tuple[bool, ...], ...]:
    root = parse_svg(svg)
    transform = root.find("g")
    assert transform is not None and transform.get("transform") == "scale(4)"
    paths = [path for path in transform.iter("path") if path.get("stroke") == "#000"]
    assert len(paths) == 1
    size = int(float(root.get("viewBox", "").split()[2]) / 4)
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    # segno draws each run of dark modules as a horizontal stroke: "M4 4.5h7m1 0h2 ...".
    for command, first, second in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", paths[0].get("d", "")):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            for column in range(round(x), round(x + float(first))):
                grid[int(y)][column] = True
            x += float(first)
    border = 4
    return tuple(tuple(row[border:-border]) for row in grid[border:-border])


def test_qr_svg_is_inline_svg_of_the_same_code() -> None:
    url = "https://hanoi.example.vn/tracking/000.00.01.H26-261123-0001?lang=vi&src=<slip>"
    svg = qr_svg(url)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert svg_matrix(svg) == qr_matrix(url)
    title = parse_svg(svg).find("title")
    assert title is not None and title.text == f"Tra cứu tình trạng hồ sơ: {url}"
