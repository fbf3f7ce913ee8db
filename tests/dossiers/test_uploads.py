"""Upload validation: type by content, size limit without over-reading, safe display names."""

from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import AsyncIterator

import pytest

from motcua.dossiers.uploads import (
    ALLOWED,
    DEFAULT_MAX_BYTES,
    DISPLAY_NAME_MAX,
    EXE,
    HEIC,
    HTML,
    JPEG,
    PDF,
    PNG,
    SNIFF_BYTES,
    WEBP,
    DetectedType,
    UploadRejectedError,
    display_name,
    sniff,
    validate_upload,
)

MB = 1024 * 1024


def minimal_pdf() -> bytes:
    """A one-page PDF with a correct cross-reference table, written by hand."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def minimal_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_header() -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xd9"


def exe_bytes() -> bytes:
    # DOS header ("MZ"), e_lfanew at 0x3c pointing at a "PE\0\0" signature.
    head = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80))
    head += bytes(0x80 - len(head)) + b"PE\x00\x00" + bytes(200)
    return bytes(head)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def chunked(data: bytes, size: int = 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class LimitedStream:
    """Yields ``chunk`` forever, but fails the test if more than ``max_pulls`` are pulled."""

    def __init__(self, chunk: bytes, max_pulls: int, first: bytes = b"") -> None:
        self.chunk = chunk
        self.first = first
        self.max_pulls = max_pulls
        self.pulled = 0
        self.closed = False

    def __aiter__(self) -> LimitedStream:
        return self

    async def __anext__(self) -> bytes:
        self.pulled += 1
        if self.pulled > self.max_pulls:
            raise AssertionError(f"chunk {self.pulled} pulled after the decision was possible")
        if self.pulled == 1 and self.first:
            return self.first
        return self.chunk

    async def aclose(self) -> None:
        self.closed = True


async def rejected(
    data: bytes, filename: str | None = "tep.pdf", allowed: tuple[DetectedType, ...] = ALLOWED
) -> UploadRejectedError:
    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(chunked(data), max_bytes=DEFAULT_MAX_BYTES, filename=filename, allowed=allowed)
    return info.value


# Accepted documents


async def test_a_real_pdf_is_accepted_with_size_and_sha256() -> None:
    pdf = minimal_pdf()
    upload = await validate_upload(chunked(pdf, 50), max_bytes=DEFAULT_MAX_BYTES, filename="to-khai.pdf")
    assert upload.detected == PDF
    assert (upload.detected.media_type, upload.detected.extension, upload.detected.label) == (
        "application/pdf",
        "pdf",
        "PDF",
    )
    assert upload.display_name == "to-khai.pdf"
    assert upload.size == len(pdf)
    assert upload.sha256 == hashlib.sha256(pdf).hexdigest()
    assert upload.data == pdf
    assert "data" not in repr(upload)


async def test_jpeg_and_png_are_accepted() -> None:
    jpeg = await validate_upload(chunked(jpeg_header()), max_bytes=MB, filename="anh.jpeg")
    png = await validate_upload(chunked(minimal_png()), max_bytes=MB, filename=None)
    assert jpeg.detected == JPEG and jpeg.display_name == "anh.jpeg"
    assert png.detected == PNG and png.display_name == "tai-lieu.png"


async def test_the_name_does_not_decide_the_type() -> None:
    upload = await validate_upload(chunked(minimal_png()), max_bytes=MB, filename="scan.pdf")
    assert upload.detected == PNG
    assert upload.display_name == "scan.png"


async def test_a_file_exactly_at_the_limit_is_accepted() -> None:
    pdf = minimal_pdf()
    upload = await validate_upload(chunked(pdf, 7), max_bytes=len(pdf), filename="a.pdf")
    assert upload.size == len(pdf)


async def test_allowed_types_are_a_parameter() -> None:
    webp = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + bytes(22)
    error = await rejected(webp, "anh.webp")
    assert error.code == "type_not_allowed"
    assert str(error) == "Chỉ chấp nhận tệp PDF, JPEG hoặc PNG; tệp này là ảnh (WebP)."
    upload = await validate_upload(chunked(webp), max_bytes=MB, filename="anh.webp", allowed=(*ALLOWED, WEBP))
    assert upload.detected == WEBP
    error = await rejected(minimal_pdf(), allowed=(JPEG,))
    assert str(error) == "Chỉ chấp nhận tệp JPEG; tệp này là tài liệu (PDF)."


def test_heic_is_recognised() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == HEIC


# Refused types


async def test_a_windows_program_named_like_a_birth_certificate_is_refused() -> None:
    error = await rejected(exe_bytes(), "giay-khai-sinh.pdf")
    assert error.code == "type_not_allowed"
    assert str(error) == "Chỉ chấp nhận tệp PDF, JPEG hoặc PNG; tệp này là chương trình (EXE)."
    assert isinstance(error, ValueError)


async def test_a_forbidden_type_is_refused_without_reading_the_rest() -> None:
    stream = LimitedStream(bytes(SNIFF_BYTES), max_pulls=1, first=exe_bytes() + bytes(SNIFF_BYTES))
    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(stream, max_bytes=DEFAULT_MAX_BYTES, filename="a.pdf")
    assert info.value.code == "type_not_allowed"
    assert stream.pulled == 1
    assert stream.closed


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"\x7fELF\x02\x01\x01" + bytes(100), "chương trình (ELF)"),
        (b"\xcf\xfa\xed\xfe" + bytes(100), "chương trình (Mach-O)"),
        (zip_bytes({"ho-so/a.txt": b"x"}), "tệp nén (ZIP)"),
        (
            zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
            "tài liệu Word (DOCX)",
        ),
        (zip_bytes({"xl/workbook.xml": b"<workbook/>"}), "bảng tính Excel (XLSX)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "tài liệu Office cũ (DOC/XLS)"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "trang web (HTML)"),
        (b"\xef\xbb\xbf\n\n   <HTML><body>%PDF-1.4</body></html>", "trang web (HTML)"),
        ("<html>ảnh</html>".encode("utf-16"), "trang web (HTML)"),
        (b'<?xml version="1.0"?><svg onload="alert(1)"/>', "ảnh có thể chứa mã chạy (SVG)"),
        (b"#!/bin/sh\nrm -rf /\n", "tập lệnh (script)"),
        (b"#!/usr/bin/env python3\nimport os\n", "tập lệnh (script)"),
        (b"GIF89a" + bytes(20), "ảnh (GIF)"),
        (b"Rar!\x1a\x07\x00" + bytes(20), "tệp nén (RAR)"),
    ],
)
async def test_dangerous_and_other_types_are_refused_and_named(data: bytes, named: str) -> None:
    error = await rejected(data, "giay-to.pdf")
    assert error.code == "type_not_allowed"
    assert str(error) == f"Chỉ chấp nhận tệp PDF, JPEG hoặc PNG; tệp này là {named}."


async def test_an_unknown_format_is_refused() -> None:
    error = await rejected(b"just some text, not a document", "ghi-chu.pdf")
    assert error.code == "type_not_allowed"
    assert str(error) == "Chỉ chấp nhận tệp PDF, JPEG hoặc PNG; không nhận ra định dạng của tệp này."


async def test_a_pdf_header_glued_after_other_content_is_refused() -> None:
    error = await rejected(b"<!-- x -->" + minimal_pdf())
    assert error.code == "type_not_allowed"
    assert "HTML" in str(error)
    error = await rejected(b"\n" + minimal_pdf())
    assert error.code == "type_not_allowed"


async def test_a_pdf_without_its_end_marker_is_refused() -> None:
    truncated = minimal_pdf()[:-20]
    error = await rejected(truncated)
    assert error.code == "type_not_allowed"
    assert "PDF không hoàn chỉnh" in str(error)
    # Only the header borrowed, the rest something else entirely.
    error = await rejected(b"%PDF-1.7\n" + exe_bytes() * 50)
    assert error.code == "type_not_allowed"


def test_a_png_signature_without_its_header_chunk_is_not_a_png() -> None:
    assert sniff(minimal_png()) == PNG
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00EVIL" + bytes(20)) is None


def test_sniff_names_dangerous_types() -> None:
    assert sniff(exe_bytes()) == EXE
    assert sniff(b"  <script>alert(1)</script>") == HTML
    assert sniff(b"") is None


# Size


async def test_an_oversized_file_is_refused_as_soon_as_the_limit_is_passed() -> None:
    limit = 10 * 1024
    chunk = bytes(1024)
    # The 11th chunk passes the limit; a 12th pull would fail the test.
    stream = LimitedStream(chunk, max_pulls=limit // len(chunk) + 1, first=b"%PDF-1.4\n" + bytes(1015))
    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(stream, max_bytes=limit, filename="a.pdf")
    assert info.value.code == "too_large"
    assert str(info.value) == "Tệp quá lớn: tối đa 10 KB."
    assert stream.pulled == 11
    assert stream.closed


async def test_the_default_limit_is_ten_megabytes_and_reading_stops_there() -> None:
    stream = LimitedStream(bytes(MB), max_pulls=11, first=b"%PDF-1.4\n" + bytes(MB - 9))
    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(stream, max_bytes=DEFAULT_MAX_BYTES, filename="a.pdf")
    assert info.value.code == "too_large"
    assert str(info.value) == "Tệp quá lớn: tối đa 10 MB."
    assert stream.pulled == 11


async def test_an_async_generator_producer_is_closed_when_reading_stops() -> None:
    finished = []

    async def producer() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"%PDF-" + bytes(1019)
        finally:
            finished.append(True)

    with pytest.raises(UploadRejectedError):
        await validate_upload(producer(), max_bytes=2048, filename="a.pdf")
    assert finished == [True]


async def test_an_empty_file_is_refused() -> None:
    error = await rejected(b"")
    assert error.code == "empty"
    assert str(error) == "Tệp rỗng: không có nội dung để tải lên."

    async def blank_chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b""

    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(blank_chunks(), max_bytes=MB, filename="a.pdf")
    assert info.value.code == "empty"


# Display names


@pytest.mark.parametrize(
    ("raw", "detected", "expected"),
    [
        ("../../etc/passwd", PDF, "passwd.pdf"),
        ("..\\..\\boot.ini", PDF, "boot.pdf"),
        ("/etc/shadow", PDF, "shadow.pdf"),
        ("C:\\Users\\An\\Desktop\\so-ho-khau.pdf", PDF, "so-ho-khau.pdf"),
        ("giay\x00khai-sinh.pdf", PDF, "giaykhai-sinh.pdf"),
        ("bản\nsao\t.pdf", PDF, "bản sao.pdf"),
        ("hoa-don\u202egpj.exe", PDF, "hoa-dongpj.pdf"),
        ("giay-to.pdf.exe", PDF, "giay-to.pdf"),
        ("CON", PDF, "_CON.pdf"),
        ("con.pdf", PDF, "_con.pdf"),
        ("LPT1.jpg", JPEG, "_LPT1.jpg"),
        ("ảnh căn cước.JPG", JPEG, "ảnh căn cước.JPG"),
        ("ảnh căn cước.png", JPEG, "ảnh căn cước.jpg"),
        ("scan 12.05.2024", PDF, "scan 12.05.2024.pdf"),
        (".htaccess", PDF, "htaccess.pdf"),
        ("...", PDF, "tai-lieu.pdf"),
        ("", PDF, "tai-lieu.pdf"),
        (None, JPEG, "tai-lieu.jpg"),
        ("  -rf .pdf", PDF, "rf.pdf"),
        ('a<b>:"c|?*.pdf', PDF, "a_b___c___.pdf"),
    ],
)
def test_display_names_are_safe_and_human(raw: str | None, detected: DetectedType, expected: str) -> None:
    assert display_name(raw, detected) == expected


def test_decomposed_vietnamese_is_normalised_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Giấy chứng nhận quyền sử dụng đất.pdf")
    name = display_name(decomposed, PDF)
    assert name == "Giấy chứng nhận quyền sử dụng đất.pdf"
    assert unicodedata.is_normalized("NFC", name)


def test_long_names_are_cut_and_keep_the_right_extension() -> None:
    name = display_name("đ" * 500 + ".pdf", PDF)
    assert len(name) == DISPLAY_NAME_MAX
    assert name.endswith("đ.pdf")
    name = display_name("x" * 500 + ".exe", JPEG)
    assert len(name) == DISPLAY_NAME_MAX and name.endswith(".jpg")


@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd", "..\\..\\boot.ini", "a/\x00/..", "\x00\x01\x02", "..", "/", "\\\\server\\share\\"],
)
def test_display_names_never_carry_a_path(raw: str) -> None:
    name = display_name(raw, PDF)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".")
    assert name.endswith(".pdf") and len(name) > len(".pdf")


async def test_an_absurdly_long_name_is_refused_before_reading() -> None:
    stream = LimitedStream(b"%PDF-", max_pulls=0)
    with pytest.raises(UploadRejectedError) as info:
        await validate_upload(stream, max_bytes=MB, filename="a" * 2000 + ".pdf")
    assert info.value.code == "bad_name"
    assert "Tên tệp quá dài" in str(info.value)
    assert stream.pulled == 0


async def test_the_display_name_follows_the_content_not_the_name() -> None:
    upload = await validate_upload(chunked(minimal_pdf()), max_bytes=MB, filename="../../etc/passwd")
    assert upload.display_name == "passwd.pdf"
