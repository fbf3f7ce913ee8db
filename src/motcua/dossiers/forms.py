"""Forms rendered from a procedure's declarative definition, validated on the server.

Errors are in Vietnamese, one per field, and validation never throws away what the person
typed: the raw values come back with the errors so the form can be shown again as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_PERSONAL_ID = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s]{2,}$")
_PHONE = re.compile(r"^(\+84|0)\d{9,10}$")
DEFAULT_MAX = {"text": 200, "textarea": 2000, "email": 254, "tel": 20}


@dataclass
class FormResult:
    values: dict[str, Any] = field(default_factory=dict)  # cleaned, only visible fields
    raw: dict[str, str] = field(default_factory=dict)  # as typed, for re-display
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def visible(definition: Sequence[Mapping[str, Any]], raw: Mapping[str, str]) -> list[Mapping[str, Any]]:
    """The fields that apply, given the answers (a field with ``show_if`` only when its
    condition holds)."""
    shown = []
    for f in definition:
        cond = f.get("show_if")
        if cond is None or str(raw.get(cond["field"], "")) == str(cond["equals"]):
            shown.append(f)
    return shown


def _bound(value: Any, today: date) -> date | None:
    if value == "today":
        return today
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def validate(
    definition: Sequence[Mapping[str, Any]], submitted: Mapping[str, Any], *, today: date
) -> FormResult:
    raw = {str(f["name"]): str(submitted.get(f["name"], "") or "").strip() for f in definition}
    result = FormResult(raw=raw)
    for f in visible(definition, raw):
        name, label, kind = f["name"], f["label"], f.get("type", "text")
        value = raw[name]
        if not value:
            if f.get("required"):
                verb = "chọn" if kind == "select" else "nhập"
                result.errors[name] = f"Vui lòng {verb} {label[0].lower() + label[1:]}."
            continue
        error, cleaned = _check(f, kind, label, value, today)
        if error:
            result.errors[name] = error
        else:
            result.values[name] = cleaned
    return result


def _check(f: Mapping[str, Any], kind: str, label: str, value: str, today: date) -> tuple[str | None, Any]:
    max_length = int(f.get("max_length", DEFAULT_MAX.get(kind, 200)))
    if len(value) > max_length:
        return f"{label} không được dài quá {max_length} ký tự.", None
    if kind == "personal_id":
        digits = value.replace(" ", "")
        if not _PERSONAL_ID.match(digits):
            return f"{label} phải gồm đúng 12 chữ số.", None
        return None, digits
    if kind == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return f"{label} không đúng định dạng ngày (ngày/tháng/năm).", None
        low, high = _bound(f.get("min"), today), _bound(f.get("max"), today)
        if high is not None and day > high:
            return f"{label} không được sau ngày {high:%d/%m/%Y}.", None
        if low is not None and day < low:
            return f"{label} không được trước ngày {low:%d/%m/%Y}.", None
        return None, day.isoformat()
    if kind == "number":
        try:
            number = int(value.replace(".", "").replace(" ", ""))
        except ValueError:
            return f"{label} phải là một số nguyên.", None
        if "min" in f and number < int(f["min"]):
            return f"{label} phải từ {f['min']} trở lên.", None
        if "max" in f and number > int(f["max"]):
            return f"{label} không được lớn hơn {f['max']}.", None
        return None, number
    if kind == "email" and not _EMAIL.match(value):
        return f"{label} không đúng định dạng, ví dụ: ten@example.vn.", None
    if kind == "tel":
        phone = re.sub(r"[\s.\-()]", "", value)
        if not _PHONE.match(phone):
            return f"{label} không đúng, ví dụ: 0912345678.", None
        return None, phone
    if kind == "select" and value not in [str(o) for o in f.get("options", [])]:
        return f"Vui lòng chọn {label[0].lower() + label[1:]} trong danh sách.", None
    if "pattern" in f and not re.fullmatch(str(f["pattern"]), value):
        return str(f.get("pattern_message") or f"{label} không đúng định dạng."), None
    return None, value


PREFILL_FROM_CITIZEN = {
    "name": "full_name",
    "personal_id": "personal_id",
    "birthdate": "birthdate",
    "address": "address",
    "email": "email",
    "phone": "phone",
}


def prefill(definition: Sequence[Mapping[str, Any]], citizen: Any) -> dict[str, str]:
    """Answers the state already knows (DOMAIN: don't ask again for data the state has)."""
    values: dict[str, str] = {}
    for f in definition:
        source = f.get("prefill")
        if source in PREFILL_FROM_CITIZEN:
            value = getattr(citizen, PREFILL_FROM_CITIZEN[source], None)
            if value:
                values[f["name"]] = str(value)
    return values
