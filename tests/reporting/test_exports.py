"""Exports open as the same table in a spreadsheet: CSV with its byte-order mark, XLSX with
numbers as numbers; nothing a person typed can become a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from motcua.reporting.exports import Column, to_csv, to_xlsx

COLUMNS = [
    Column("name", "Đơn vị"),
    Column("received", "Hồ sơ tiếp nhận", "integer"),
    Column("rate", "Tỷ lệ", "percent"),
]
ROWS: list[dict[str, Any]] = [
    {"name": "Hà Nội", "received": 1200, "rate": 0.875},
    {"name": '=HYPERLINK("http://x")', "received": None, "rate": None},
]


def test_csv_reads_back_in_vietnamese_with_formulas_defused() -> None:
    data = to_csv(COLUMNS, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["Đơn vị", "Hồ sơ tiếp nhận", "Tỷ lệ"],
        ["Hà Nội", "1200", "0.875"],
        ['\'=HYPERLINK("http://x")', "", ""],
    ]


def test_xlsx_is_a_workbook_with_numbers_and_text() -> None:
    data = to_xlsx(COLUMNS, ROWS)
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<v>1200</v>" in sheet and "<v>0.875</v>" in sheet
    assert "Hà Nội" in strings and "Hồ sơ tiếp nhận" in strings
    assert "<f>" not in sheet  # the formula-looking name stayed text
