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

from motcua.core.messages import InSentence, Message
from motcua.dossiers.models import Delivery
from motcua.identity.models import N_

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
                result.errors[name] = (
                    Message("Vui lòng chọn %(field)s.", field=InSentence(label))
                    if kind == "select"
                    else Message("Vui lòng nhập %(field)s.", field=InSentence(label))
                )
            continue
        error, cleaned = _check(f, kind, label, value, today)
        if error:
            result.errors[name] = error
        else:
            result.values[name] = cleaned
    return result


def _check(f: Mapping[str, Any], kind: str, label: str, value: str, today: date) -> tuple[str | None, Any]:
    # Messages (core.messages): shown in the reader's language; the label is the procedure's
    # own (Vietnamese) data and stays as written.
    max_length = int(f.get("max_length", DEFAULT_MAX.get(kind, 200)))
    if len(value) > max_length:
        return Message("%(label)s không được dài quá %(max)s ký tự.", label=label, max=max_length), None
    if kind == "personal_id":
        digits = value.replace(" ", "")
        if not _PERSONAL_ID.match(digits):
            return Message("%(label)s phải gồm đúng 12 chữ số.", label=label), None
        return None, digits
    if kind == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return Message("%(label)s không đúng định dạng ngày (ngày/tháng/năm).", label=label), None
        low, high = _bound(f.get("min"), today), _bound(f.get("max"), today)
        if high is not None and day > high:
            return Message(
                "%(label)s không được sau ngày %(date)s.", label=label, date=f"{high:%d/%m/%Y}"
            ), None
        if low is not None and day < low:
            return Message(
                "%(label)s không được trước ngày %(date)s.", label=label, date=f"{low:%d/%m/%Y}"
            ), None
        return None, day.isoformat()
    if kind == "number":
        try:
            number = int(value.replace(".", "").replace(" ", ""))
        except ValueError:
            return Message("%(label)s phải là một số nguyên.", label=label), None
        if "min" in f and number < int(f["min"]):
            return Message("%(label)s phải từ %(min)s trở lên.", label=label, min=f["min"]), None
        if "max" in f and number > int(f["max"]):
            return Message("%(label)s không được lớn hơn %(max)s.", label=label, max=f["max"]), None
        return None, number
    if kind == "email" and not _EMAIL.match(value):
        return Message("%(label)s không đúng định dạng, ví dụ: ten@example.vn.", label=label), None
    if kind == "tel":
        phone = re.sub(r"[\s.\-()]", "", value)
        if not _PHONE.match(phone):
            return Message("%(label)s không đúng, ví dụ: 0912345678.", label=label), None
        return None, phone
    if kind == "select" and value not in [str(o) for o in f.get("options", [])]:
        return Message("Vui lòng chọn %(field)s trong danh sách.", field=InSentence(label)), None
    if "pattern" in f and not re.fullmatch(str(f["pattern"]), value):
        if f.get("pattern_message"):
            return str(f["pattern_message"]), None  # the procedure's own words
        return Message("%(label)s không đúng định dạng.", label=label), None
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


# How the result is received (step 4 of applying) and the declaration (step 5) ------------------
MISSING_DELIVERY = N_("Vui lòng chọn cách nhận kết quả.")
MISSING_ADDRESS = N_("Vui lòng nhập địa chỉ nhận kết quả qua bưu chính.")
LONG_ADDRESS = N_("Địa chỉ nhận kết quả không được dài quá 500 ký tự.")
MISSING_DECLARATION = N_("Vui lòng đánh dấu vào ô cam đoan trước khi nộp hồ sơ.")
ADDRESS_MAX = 500


@dataclass
class DeliveryChoice:
    method: Delivery | None
    postal_address: str  # as typed; kept only when the result goes by post
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_delivery(submitted: Mapping[str, Any]) -> DeliveryChoice:
    """The applicant's choice of how to receive the result; by post it needs an address."""
    raw = str(submitted.get("delivery_method", "") or "")
    address = " ".join(str(submitted.get("postal_address", "") or "").split())
    method = Delivery(raw) if raw in set(Delivery) else None
    choice = DeliveryChoice(method=method, postal_address=address)
    if method is None:
        choice.errors["delivery_method"] = MISSING_DELIVERY
    elif method is Delivery.POST and not address:
        choice.errors["postal_address"] = MISSING_ADDRESS
    elif method is Delivery.POST and len(address) > ADDRESS_MAX:
        choice.errors["postal_address"] = LONG_ADDRESS
    return choice


def declared(submitted: Mapping[str, Any]) -> bool:
    """The "Tôi xin cam đoan…" box is ticked: the applicant answers for the truth of what was
    declared, so nothing is submitted without it."""
    return str(submitted.get("declaration", "")) == "yes"
