"""Reading procedures to import: a CSV in the format of docs/catalog-csv.md, or one of the shared
catalogue files (``settings.catalogues_dir``, the files the demo tenants ``include``).

Both give every problem at once, each with its row and column, and no procedure when there is
any: an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcua.catalog.models import ProcedureLevel
from motcua.catalog.schemas import CHANNELS, UNITS, ProcedureSpec, ProcedureSpecError
from motcua.catalog.text import fold
from motcua.core.digits import only_digits

CSV_MAX_BYTES = 512 * 1024
CSV_MAX_ROWS = 2000
COLUMNS = (
    "code",
    "name",
    "field",
    "agency",
    "agency_code",
    "level",
    "processing_days",
    "processing_unit",
    "fee_vnd",
    "description",
    "channels",
    "fees",
    "documents",
    "results",
    "legal_basis",
    "fields",
)
_LEVELS = {fold(lv.label): lv.value for lv in ProcedureLevel} | {lv.value: lv.value for lv in ProcedureLevel}
_UNITS = {"ngay lam viec": "working_days", "ngay": "calendar_days"} | {u: u for u in UNITS}
_YES = {"x", "1", "true", "co", "bat buoc", "required", "yes"}
_NO = {"", "0", "false", "khong", "no"}


@dataclass(frozen=True, slots=True)
class RowError:
    """``row`` counts as a spreadsheet does (the header is row 1); None for the whole file."""

    row: int | None
    column: str
    message: str
    item: int | None = None  # 1-based, within a list cell (fees, documents…)
    part: str | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    specs: list[ProcedureSpec]
    errors: list[RowError]


class _CellError(ValueError):
    pass


def _number(cell: str) -> int | str:
    # "50.000" and "50 000" are how amounts are written in Vietnamese spreadsheets.
    compact = cell.replace(".", "").replace(" ", "").replace("\u00a0", "")
    return int(compact) if only_digits(compact) else cell


def _items(cell: str) -> list[list[str]]:
    return [[part.strip() for part in item.split("|")] for item in cell.split(";") if item.strip()]


def _channels(cell: str, unit: Any) -> list[dict[str, Any]]:
    channels = []
    for item in cell.split(";"):
        if not item.strip():
            continue
        parts = [p.strip() for p in item.split(":")]
        if parts[0] not in CHANNELS or len(parts) > 3:
            raise _CellError("Mỗi hình thức viết dạng online:1, in_person:1 hoặc postal:3:calendar_days.")
        channel: dict[str, Any] = {"kind": parts[0]}
        if len(parts) > 1:
            channel["days"] = _number(parts[1])
        channel["unit"] = _UNITS.get(fold(parts[2])) if len(parts) > 2 else unit
        channels.append(channel)
    return channels


def _fees(cell: str) -> list[dict[str, Any]]:
    fees = []
    for parts in _items(cell):
        if len(parts) > 3:
            raise _CellError("Mỗi khoản viết dạng tên | số tiền | miễn, giảm.")
        fee: dict[str, Any] = {"name": parts[0], "amount_vnd": _number(parts[1]) if len(parts) > 1 else 0}
        if len(parts) > 2 and parts[2]:
            fee["exempt"] = parts[2]
        fees.append(fee)
    return fees


def _documents(cell: str) -> list[dict[str, Any]]:
    documents = []
    for parts in _items(cell):
        if len(parts) < 2 or len(parts) > 5:
            raise _CellError("Mỗi giấy tờ viết dạng mã | tên | original hoặc copy | số lượng | bắt buộc.")
        doc: dict[str, Any] = {"code": parts[0], "name": parts[1]}
        doc["kind"] = parts[2] if len(parts) > 2 and parts[2] else "original"
        doc["copies"] = _number(parts[3]) if len(parts) > 3 and parts[3] else 1
        required = fold(parts[4]) if len(parts) > 4 else ""
        if required not in _YES | _NO:
            raise _CellError("Cột bắt buộc của giấy tờ ghi “bắt buộc” hoặc để trống.")
        doc["required"] = required in _YES
        documents.append(doc)
    return documents


def _cell(column: str, cell: str, unit: Any) -> Any:
    if column in ("processing_days", "fee_vnd"):
        return _number(cell) if cell else (0 if column == "processing_days" else None)
    if column == "level":
        return _LEVELS.get(fold(cell), cell)
    if column == "processing_unit":
        return _UNITS.get(fold(cell), cell) if cell else "working_days"
    if column == "channels":
        return _channels(cell, unit)
    if column == "fees":
        return _fees(cell)
    if column == "documents":
        return _documents(cell)
    if column in ("results", "legal_basis"):
        return [item.strip() for item in cell.split(";") if item.strip()]
    if column == "fields":
        if not cell:
            return []
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            raise _CellError("Biểu mẫu phải là JSON hợp lệ (một danh sách các trường).") from None
    return cell


def parse_csv(content: bytes, existing: Mapping[str, ProcedureSpec]) -> Parsed:
    """Procedures from a CSV. A code that exists already is updated: the columns the file has
    replace its values, the columns it lacks keep them."""
    if len(content) > CSV_MAX_BYTES:
        return Parsed([], [RowError(None, "", "Tệp CSV không được lớn hơn 512 KB.")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Parsed([], [RowError(None, "", "Tệp CSV phải được lưu với bảng mã UTF-8.")])
    if "\x00" in text:
        return Parsed([], [RowError(None, "", "Tệp không phải là tệp CSV.")])
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return Parsed([], [RowError(None, "", "Tệp không đọc được như một tệp CSV.")])
    if not rows or not any(c.strip() for c in rows[0]):
        return Parsed([], [RowError(None, "", "Tệp CSV trống: dòng đầu phải là tên các cột.")])
    header = [c.strip() for c in rows[0]]
    errors = [RowError(1, c[:40], "Cột này không có trong định dạng.") for c in header if c not in COLUMNS]
    for c in {c for c in header if header.count(c) > 1}:
        errors.append(RowError(1, c, "Cột này xuất hiện hai lần."))
    if "code" not in header:
        errors.append(RowError(1, "code", "Thiếu cột code (mã thủ tục)."))
    if errors:
        return Parsed([], errors)
    if len(rows) - 1 > CSV_MAX_ROWS:
        return Parsed([], [RowError(None, "", "Mỗi lần nhập tối đa 2000 thủ tục.")])
    specs: list[ProcedureSpec] = []
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            errors.append(RowError(number, "", "Số ô của dòng khác số cột của dòng tiêu đề."))
            continue
        cells = {c: v.strip() for c, v in zip(header, row, strict=True)}
        code = cells["code"]
        base = existing.get(code)
        raw: dict[str, Any] = base.as_raw() if base is not None else {"code": code}
        unit = cells.get("processing_unit") or raw.get("processing_unit", "working_days")
        unit = _UNITS.get(fold(unit), unit)
        row_errors: list[RowError] = []
        for column, cell in cells.items():
            try:
                value = _cell(column, cell, unit)
            except _CellError as exc:
                row_errors.append(RowError(number, column, str(exc)))
                continue
            if value is None:
                raw.pop(column, None)
            else:
                raw[column] = value
        if code in seen:
            row_errors.append(RowError(number, "code", "Mã thủ tục này xuất hiện hai lần trong tệp."))
        seen.add(code)
        if row_errors:
            errors.extend(row_errors)
            continue
        try:
            specs.append(ProcedureSpec.parse(raw, f"dòng {number}"))
        except ProcedureSpecError as exc:
            errors.extend(_row_errors(number, exc))
    if not specs and not errors:
        errors.append(RowError(None, "", "Tệp CSV không có thủ tục nào."))
    return Parsed([] if errors else specs, errors)


def _row_errors(row: int, exc: ProcedureSpecError) -> list[RowError]:
    return [
        RowError(row, i.key, i.message, None if i.item is None else i.item + 1, i.part) for i in exc.issues
    ]


def shared_files(directory: Path) -> list[str]:
    """The shared catalogue files an administrator may import from (names only)."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.glob("*.toml") if p.is_file())


def parse_shared(directory: Path, name: str) -> Parsed:
    # Only a name from the listing: nothing the client sends becomes a path.
    if name not in shared_files(directory):
        return Parsed([], [RowError(None, "source", "Chọn một tệp danh mục dùng chung.")])
    try:
        data = tomllib.loads((directory / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Parsed([], [RowError(None, "source", "Không đọc được tệp danh mục dùng chung.")])
    raws = data.get("procedures", [])
    if not isinstance(raws, list):
        return Parsed([], [RowError(None, "procedures", "Tệp không có danh sách thủ tục.")])
    specs: list[ProcedureSpec] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for i, raw in enumerate(raws, start=1):
        try:
            spec = ProcedureSpec.parse(raw if isinstance(raw, dict) else {}, f"{name}: procedures[{i - 1}]")
        except ProcedureSpecError as exc:
            errors.extend(_row_errors(i, exc))
            continue
        if spec.code in seen:
            errors.append(RowError(i, "code", "Mã thủ tục này xuất hiện hai lần trong tệp."))
        seen.add(spec.code)
        specs.append(spec)
    return Parsed([] if errors else specs, errors)
