from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from motcua.catalog.models import UNIT_LABELS, ProcedureLevel

_CODE = re.compile(r"^\d\.\d{6}(\.[A-Za-z0-9]+)*$")
FIELD_TYPES = {"text", "textarea", "date", "number", "email", "tel", "personal_id", "select"}
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DOC_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
UNITS = ("working_days", "calendar_days")
CHANNELS = ("online", "in_person", "postal")
PREFILL_CLAIMS = {"name", "personal_id", "birthdate", "address", "email", "phone"}


class ProcedureSpecError(ValueError):
    pass


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


def _need_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProcedureSpecError(f"{where}: '{key}' must be a non-empty text")
    return value.strip()


def _whole(value: Any, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProcedureSpecError(f"{where}: {key} must be a whole number ≥ 0")
    return value


def _parse_fields(fields: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(fields, list):
        raise ProcedureSpecError(f"{where}: fields must be a list")
    seen: set[str] = set()
    for i, f in enumerate(fields):
        at = f"{where}: fields[{i}]"
        if not isinstance(f, dict):
            raise ProcedureSpecError(f"{at} must be a table")
        name = f.get("name")
        if not isinstance(name, str) or not _FIELD_NAME.match(name) or name in seen:
            raise ProcedureSpecError(f"{at}.name must be a unique snake_case name")
        seen.add(name)
        kind = f.get("type", "text")
        if kind not in FIELD_TYPES:
            raise ProcedureSpecError(f"{at}.type {kind!r} is not supported")
        if not isinstance(f.get("label"), str) or not f["label"].strip():
            raise ProcedureSpecError(f"{at}.label must be a non-empty text")
        if kind == "select" and (not isinstance(f.get("options"), list) or not f["options"]):
            raise ProcedureSpecError(f"{at}: a select needs options")
        if "pattern" in f:
            try:
                re.compile(str(f["pattern"]))
            except re.error:
                raise ProcedureSpecError(f"{at}.pattern is not a valid regular expression") from None
        if "prefill" in f and f["prefill"] not in PREFILL_CLAIMS:
            raise ProcedureSpecError(f"{at}.prefill must be one of {sorted(PREFILL_CLAIMS)}")
        show_if = f.get("show_if")
        if show_if is not None and (
            not isinstance(show_if, dict) or show_if.get("field") not in seen or "equals" not in show_if
        ):
            raise ProcedureSpecError(f"{at}.show_if must name an earlier field and a value (equals)")
    return [dict(f) for f in fields]


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
        code = _need_str(raw, "code", where)
        if not _CODE.match(code):
            raise ProcedureSpecError(f"{where}: code {code!r} is not a national procedure code like 1.000656")
        level = raw.get("level", ProcedureLevel.PARTIAL)
        if level not in {lv.value for lv in ProcedureLevel}:
            raise ProcedureSpecError(f"{where}: level must be information, partial or full, got {level!r}")
        unit = raw.get("processing_unit", "working_days")
        if unit not in UNITS:
            raise ProcedureSpecError(f"{where}: processing_unit must be working_days or calendar_days")
        days = _whole(raw.get("processing_days", 0), where, "processing_days")
        channels = raw.get("channels", [])
        if not isinstance(channels, list):
            raise ProcedureSpecError(f"{where}: channels must be a list")
        for i, ch in enumerate(channels):
            if (
                not isinstance(ch, dict)
                or ch.get("kind") not in CHANNELS
                or ch.get("unit", unit) not in UNITS
            ):
                raise ProcedureSpecError(
                    f"{where}: channels[{i}] needs kind (online/in_person/postal) and a unit"
                )
            _whole(ch.get("days", days), where, f"channels[{i}].days")
        fees = raw.get("fees", [])
        if not isinstance(fees, list):
            raise ProcedureSpecError(f"{where}: fees must be a list")
        for i, fee in enumerate(fees):
            if not isinstance(fee, dict) or not isinstance(fee.get("name"), str):
                raise ProcedureSpecError(f"{where}: fees[{i}] needs a name")
            _whole(fee.get("amount_vnd", 0), where, f"fees[{i}].amount_vnd (đồng)")
        fee_vnd = raw.get("fee_vnd")
        if fee_vnd is None:
            fee_vnd = fees[0].get("amount_vnd", 0) if fees else 0
        fee_vnd = _whole(fee_vnd, where, "fee_vnd (đồng)")
        documents = raw.get("documents", [])
        if not isinstance(documents, list):
            raise ProcedureSpecError(f"{where}: documents must be a list")
        codes: set[str] = set()
        for i, doc in enumerate(documents):
            if (
                not isinstance(doc, dict)
                or not _DOC_CODE.match(str(doc.get("code", "")))
                or doc["code"] in codes
            ):
                raise ProcedureSpecError(f"{where}: documents[{i}] needs a unique code like to-khai")
            codes.add(doc["code"])
            if not isinstance(doc.get("name"), str):
                raise ProcedureSpecError(f"{where}: documents[{i}] needs a name")
        for key in ("results", "legal_basis"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ProcedureSpecError(f"{where}: {key} must be a list of texts")
        return cls(
            code=code,
            name=_need_str(raw, "name", where),
            field=_need_str(raw, "field", where),
            agency=str(raw.get("agency", "")).strip(),
            agency_code=str(raw.get("agency_code", "")).strip(),
            level=level,
            processing_days=days,
            processing_unit=unit,
            fee_vnd=fee_vnd,
            description=str(raw.get("description", "")).strip(),
            form_fields=_parse_fields(raw.get("fields", []), where),
            channels=[dict(c) for c in channels],
            fees=[dict(f) for f in fees],
            documents=[dict(d) for d in documents],
            results=list(raw.get("results", [])),
            legal_basis=list(raw.get("legal_basis", [])),
        )
