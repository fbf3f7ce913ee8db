"""Tables of figures as files people open: CSV (UTF-8 with a byte-order mark, so spreadsheet
programs read Vietnamese correctly) and XLSX (numbers kept as numbers, rates as percentages).

A table is a list of columns and rows of plain values; the pages decide what goes in it, these
functions only write it. Cells that start like a formula are written as text (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

# Litestar adds "; charset=utf-8" to text/* types itself.
CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    kind: str = "text"  # "text", "integer", "number" or "percent" (a ratio from 0 to 1)


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return _safe_text(value)
    return value


def to_csv(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The table as CSV; an empty cell is a figure not published (or no data)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe_text(c.title) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c.key)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], *, sheet: str = "Số liệu") -> bytes:
    """The table as one XLSX worksheet, its header row frozen."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    formats = {
        "integer": book.add_format({"num_format": "#,##0"}),
        "number": book.add_format({"num_format": "#,##0.00"}),
        "percent": book.add_format({"num_format": "0.00%"}),
    }
    page = book.add_worksheet(sheet[:31])
    for x, column in enumerate(columns):
        page.write_string(0, x, column.title, bold)
        page.set_column(x, x, max(12, min(48, len(column.title) + 2)))
    for y, row in enumerate(rows, start=1):
        for x, column in enumerate(columns):
            value = row.get(column.key)
            if value is None or value == "":
                page.write_blank(y, x, None)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                page.write_string(y, x, str(value))
            else:
                page.write_number(y, x, value, formats.get(column.kind))
    page.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
