"""A procedure as the catalogue files, the CSV import and the /manage forms describe it.

``ProcedureSpec.parse`` is the one validation of all three, so what a tenant administrator may
type is exactly what a catalogue file may hold. It reports every problem at once, each as an
``Issue`` naming the key (and the item of a list) with a Vietnamese sentence that can be shown as
is; ``str()`` of the error keeps the ``where`` prefix for the command line and onboarding.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from motcua.catalog.models import DOCUMENT_KINDS, UNIT_LABELS, ProcedureLevel

_CODE = re.compile(r"^\d\.\d{6}(\.[A-Za-z0-9]+)*$")
FIELD_TYPES = ("text", "textarea", "date", "number", "email", "tel", "personal_id", "select")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DOC_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
UNITS = ("working_days", "calendar_days")
CHANNELS = ("online", "in_person", "postal")
PREFILL_CLAIMS = ("name", "personal_id", "birthdate", "address", "email", "phone")
FIELD_KEYS = frozenset(
    {
        "name",
        "label",
        "type",
        "required",
        "options",
        "show_if",
        "prefill",
        "min",
        "max",
        "max_length",
        "hint",
        "pattern",
        "pattern_message",
    }
)
MAX_FIELDS = 100
MAX_ITEMS = 50  # fees, documents, results, legal basis: no real procedure comes near
MAX_DAYS = 3650
# Column widths of the procedures table (models.Procedure) and sane bounds for the rest; the
# messages are whole sentences so that they can be translated.
_LENGTHS = {
    "name": (300, "Không được dài quá 300 ký tự."),
    "field": (120, "Không được dài quá 120 ký tự."),
    "agency": (200, "Không được dài quá 200 ký tự."),
    "agency_code": (40, "Không được dài quá 40 ký tự."),
    "description": (5000, "Không được dài quá 5.000 ký tự."),
}
_DAYS = "Thời hạn phải là số nguyên từ 0 đến 3650."


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: ``key`` of the procedure (``name``, ``fees``…), the ``item`` of a list and
    the ``part`` of that item (``fees`` item 2 part ``amount_vnd``)."""

    key: str
    message: str
    item: int | None = None
    part: str | None = None

    @property
    def path(self) -> str:
        path = self.key if self.item is None else f"{self.key}[{self.item}]"
        return f"{path}.{self.part}" if self.part else path

    @property
    def anchor(self) -> str:
        """The id of the form control it belongs to (``fees-2-amount_vnd``)."""
        if self.item is None:
            return self.key
        return f"{self.key}-{self.item}-{self.part}" if self.part else f"{self.key}-{self.item}"


class ProcedureSpecError(ValueError):
    def __init__(self, where: str, issues: list[Issue]) -> None:
        self.where = where
        self.issues = issues
        super().__init__("; ".join(f"{where}: {i.path}: {i.message}" for i in issues))


@dataclass(frozen=True, slots=True)
class ProcedureSummary:
    """A catalog line as lists and search show it (cached per tenant)."""

    code: str
    name: str
    field: str
    level: str
    processing_days: int
    fee_vnd: int
    processing_unit: str = "working_days"
    search_text: str = ""

    @property
    def level_label(self) -> str:
        return ProcedureLevel(self.level).label

    @property
    def processing_label(self) -> str:
        if self.processing_days == 0:
            return "Trong ngày"
        return f"{self.processing_days} {UNIT_LABELS[self.processing_unit]}"


def _whole(value: Any, *, low: int = 0, high: int = 10**12) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return None
    return value


class _Checker:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, key: str, message: str, item: int | None = None, part: str | None = None) -> None:
        self.issues.append(Issue(key, message, item, part))

    def text(self, raw: dict[str, Any], key: str, *, required: bool, empty: str = "") -> str:
        given = raw.get(key, "")
        limit, too_long = _LENGTHS[key]
        if not isinstance(given, str):
            self.add(key, empty or "Giá trị phải là chữ.")
            return ""
        value = given.strip()
        if required and not value:
            self.add(key, empty)
        elif len(value) > limit:
            self.add(key, too_long)
        return value

    def items(self, raw: dict[str, Any], key: str, message: str) -> list[Any]:
        value = raw.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            self.add(key, message)
            return []
        return value


def _texts(check: _Checker, raw: dict[str, Any], key: str) -> list[str]:
    values = check.items(raw, key, "Phải là danh sách các dòng chữ, tối đa 50 dòng.")
    kept: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip() or len(value) > 500:
            check.add(key, "Mỗi dòng phải có chữ và không dài quá 500 ký tự.", i)
        else:
            kept.append(value.strip())
    return kept


def _date_bound(value: Any) -> bool:
    if value == "today":
        return True
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def check_fields(fields: Any) -> list[Issue]:
    """Problems of a form definition (the ``fields`` of a procedure): what the dossier forms
    (``dossiers.forms``) rely on to render and validate it without failing."""
    check = _Checker()
    if not isinstance(fields, list):
        return [Issue("fields", "Biểu mẫu phải là một danh sách các trường.")]
    if len(fields) > MAX_FIELDS:
        return [Issue("fields", "Biểu mẫu có tối đa 100 trường.")]
    seen: set[str] = set()
    for i, f in enumerate(fields):
        if not isinstance(f, dict):
            check.add("fields", "Mỗi trường phải là một đối tượng có name, label và type.", i)
            continue
        for key in sorted(set(f) - FIELD_KEYS):
            check.add("fields", "Khoá này không được hỗ trợ trong định nghĩa trường.", i, str(key)[:40])
        name = f.get("name")
        if not isinstance(name, str) or not _FIELD_NAME.match(name) or name in seen:
            check.add(
                "fields",
                "Tên trường phải là chữ thường không dấu, số hoặc dấu gạch dưới, bắt đầu bằng chữ, "
                "và không trùng tên trường khác.",
                i,
                "name",
            )
        else:
            seen.add(name)
        kind = f.get("type", "text")
        if kind not in FIELD_TYPES:
            check.add("fields", "Kiểu trường không được hỗ trợ.", i, "type")
        label = f.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            check.add("fields", "Nhãn phải có chữ và không dài quá 200 ký tự.", i, "label")
        if not isinstance(f.get("required", False), bool):
            check.add("fields", "Chỉ nhận true hoặc false.", i, "required")
        options = f.get("options")
        if kind == "select" and (
            not isinstance(options, list)
            or not options
            or len(options) > 200
            or not all(isinstance(o, str | int) and not isinstance(o, bool) for o in options)
        ):
            check.add("fields", "Trường chọn cần danh sách lựa chọn không rỗng.", i, "options")
        for key in ("hint", "pattern_message"):
            if key in f and (not isinstance(f[key], str) or len(f[key]) > 500):
                check.add("fields", "Phải là chữ, không dài quá 500 ký tự.", i, key)
        if "pattern" in f:
            try:
                re.compile(str(f["pattern"]))
            except re.error:
                check.add("fields", "Biểu thức chính quy không hợp lệ.", i, "pattern")
        if "max_length" in f and _whole(f["max_length"], low=1, high=5000) is None:
            check.add("fields", "Phải là số nguyên từ 1 đến 5000.", i, "max_length")
        for key in ("min", "max"):
            if key not in f:
                continue
            if kind == "date" and not _date_bound(f[key]):
                check.add("fields", 'Với trường ngày, dùng "today" hoặc một ngày dạng 2025-01-31.', i, key)
            elif kind == "number" and _whole(f[key], low=-(10**12)) is None:
                check.add("fields", "Với trường số, phải là số nguyên.", i, key)
        if "prefill" in f and f["prefill"] not in PREFILL_CLAIMS:
            check.add(
                "fields",
                "Chỉ điền sẵn được: name, personal_id, birthdate, address, email, phone.",
                i,
                "prefill",
            )
        show_if = f.get("show_if")
        if show_if is not None and (
            not isinstance(show_if, dict)
            or show_if.get("field") not in seen
            or show_if.get("field") == name
            or not isinstance(show_if.get("equals"), str | int)
        ):
            check.add(
                "fields",
                "Điều kiện hiện phải nêu một trường đứng trước (field) và giá trị (equals).",
                i,
                "show_if",
            )
    return check.issues


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    code: str
    name: str
    field: str
    agency: str = ""
    agency_code: str = ""
    level: str = ProcedureLevel.PARTIAL
    processing_days: int = 0
    processing_unit: str = "working_days"
    fee_vnd: int = 0
    description: str = ""
    form_fields: list[dict[str, Any]] = dataclasses.field(default_factory=list, hash=False)
    channels: list[dict[str, Any]] = dataclasses.field(default_factory=list, hash=False)
    fees: list[dict[str, Any]] = dataclasses.field(default_factory=list, hash=False)
    documents: list[dict[str, Any]] = dataclasses.field(default_factory=list, hash=False)
    results: list[str] = dataclasses.field(default_factory=list, hash=False)
    legal_basis: list[str] = dataclasses.field(default_factory=list, hash=False)

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> ProcedureSpec:
        check = _Checker()
        code = raw.get("code")
        if not isinstance(code, str) or not code.strip():
            check.add("code", "Nhập mã thủ tục.")
            code = ""
        elif len(code.strip()) > 40 or not _CODE.match(code.strip()):
            check.add("code", "Mã thủ tục theo mã quốc gia, ví dụ 1.000656 hoặc 1.003005.H26.")
        code = code.strip()
        name = check.text(raw, "name", required=True, empty="Nhập tên thủ tục.")
        field = check.text(raw, "field", required=True, empty="Nhập lĩnh vực.")
        agency = check.text(raw, "agency", required=False)
        agency_code = check.text(raw, "agency_code", required=False)
        description = check.text(raw, "description", required=False)
        level = raw.get("level", ProcedureLevel.PARTIAL)
        if level not in {lv.value for lv in ProcedureLevel}:
            check.add("level", "Chọn mức độ của dịch vụ công trực tuyến.")
        unit = raw.get("processing_unit", "working_days")
        if unit not in UNITS:
            check.add("processing_unit", "Chọn ngày làm việc hoặc ngày.")
            unit = "working_days"
        days = _whole(raw.get("processing_days", 0), high=MAX_DAYS)
        if days is None:
            check.add("processing_days", _DAYS)

        channels = check.items(raw, "channels", "Cách thức thực hiện không hợp lệ.")
        kinds: set[str] = set()
        for i, ch in enumerate(channels):
            if not isinstance(ch, dict) or ch.get("kind") not in CHANNELS or ch["kind"] in kinds:
                check.add(
                    "channels",
                    "Chọn hình thức nộp: trực tuyến, trực tiếp hoặc bưu chính (mỗi hình thức một lần).",
                    i,
                    "kind",
                )
                continue
            kinds.add(ch["kind"])
            if ch.get("unit", unit) not in UNITS:
                check.add("channels", "Chọn ngày làm việc hoặc ngày.", i, "unit")
            if _whole(ch.get("days", days or 0), high=MAX_DAYS) is None:
                check.add("channels", _DAYS, i, "days")

        fees = check.items(raw, "fees", "Danh sách phí, lệ phí không hợp lệ (tối đa 50 khoản).")
        for i, fee in enumerate(fees):
            if not isinstance(fee, dict):
                check.add("fees", "Khoản phí không hợp lệ.", i, "name")
                continue
            if not isinstance(fee.get("name"), str) or not fee["name"].strip() or len(fee["name"]) > 300:
                check.add("fees", "Nhập tên khoản phí, lệ phí (tối đa 300 ký tự).", i, "name")
            if _whole(fee.get("amount_vnd", 0)) is None:
                check.add("fees", "Số tiền phải là số nguyên (đồng) từ 0 trở lên.", i, "amount_vnd")
            if not isinstance(fee.get("exempt", ""), str) or len(fee.get("exempt", "")) > 500:
                check.add("fees", "Miễn, giảm phải là chữ, không dài quá 500 ký tự.", i, "exempt")
        fee_vnd = raw.get("fee_vnd")
        if fee_vnd is None:
            # The amount collected online defaults to the first fee (its problem is reported there).
            first = fees[0] if fees and isinstance(fees[0], dict) else {}
            fee_vnd = _whole(first.get("amount_vnd", 0)) or 0
        elif _whole(fee_vnd) is None:
            check.add("fee_vnd", "Số tiền phải là số nguyên (đồng) từ 0 trở lên.")

        documents = check.items(raw, "documents", "Thành phần hồ sơ không hợp lệ (tối đa 50 giấy tờ).")
        codes: set[str] = set()
        for i, doc in enumerate(documents):
            if not isinstance(doc, dict):
                check.add("documents", "Giấy tờ không hợp lệ.", i, "code")
                continue
            doc_code = doc.get("code")
            if not isinstance(doc_code, str) or not _DOC_CODE.match(doc_code) or doc_code in codes:
                check.add(
                    "documents",
                    "Mã giấy tờ gồm chữ thường không dấu, số và dấu gạch ngang (ví dụ to-khai), không trùng.",
                    i,
                    "code",
                )
            else:
                codes.add(doc_code)
            if not isinstance(doc.get("name"), str) or not doc["name"].strip() or len(doc["name"]) > 300:
                check.add("documents", "Nhập tên giấy tờ (tối đa 300 ký tự).", i, "name")
            if doc.get("kind", "original") not in DOCUMENT_KINDS:
                check.add("documents", "Chọn bản chính hoặc bản sao.", i, "kind")
            if _whole(doc.get("copies", 1), low=1, high=20) is None:
                check.add("documents", "Số lượng phải là số nguyên từ 1 đến 20.", i, "copies")
            if not isinstance(doc.get("required", False), bool):
                check.add("documents", "Chỉ nhận true hoặc false.", i, "required")

        results = _texts(check, raw, "results")
        legal_basis = _texts(check, raw, "legal_basis")
        fields = raw.get("fields", [])
        check.issues.extend(check_fields(fields))
        if check.issues:
            raise ProcedureSpecError(where, check.issues)
        return cls(
            code=code,
            name=name,
            field=field,
            agency=agency,
            agency_code=agency_code,
            level=level,
            processing_days=days or 0,
            processing_unit=unit,
            fee_vnd=fee_vnd,
            description=description,
            form_fields=[dict(f) for f in fields],
            channels=[dict(c) for c in channels],
            fees=[dict(f) for f in fees],
            documents=[dict(d) for d in documents],
            results=results,
            legal_basis=legal_basis,
        )

    def as_raw(self) -> dict[str, Any]:
        """The dictionary ``parse`` reads (a catalogue file's ``[[procedures]]`` table)."""
        raw = dataclasses.asdict(self)
        raw["fields"] = raw.pop("form_fields")
        return raw
