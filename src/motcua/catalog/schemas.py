from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from motcua.catalog.models import ProcedureLevel

_CODE = re.compile(r"^\d\.\d{6}(\.[A-Za-z0-9]+)*$")
_FIELD_TYPES = {"text", "textarea", "date", "number", "email", "tel", "personal_id", "select"}
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ProcedureSpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ProcedureSummary:
    """A catalog line as the home page shows it (cached per tenant)."""

    code: str
    name: str
    field: str
    level: str
    processing_days: int
    fee_vnd: int

    @property
    def level_label(self) -> str:
        return ProcedureLevel(self.level).label


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    code: str
    name: str
    field: str
    agency: str = ""
    level: str = ProcedureLevel.PARTIAL
    processing_days: int = 0
    fee_vnd: int = 0
    form_fields: list[dict[str, Any]] = dataclasses.field(default_factory=list, hash=False)

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> ProcedureSpec:
        def need_str(key: str) -> str:
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ProcedureSpecError(f"{where}: '{key}' must be a non-empty text")
            return value.strip()

        code = need_str("code")
        if not _CODE.match(code):
            raise ProcedureSpecError(f"{where}: code {code!r} is not a national procedure code like 1.000656")
        level = raw.get("level", ProcedureLevel.PARTIAL)
        if level not in {lv.value for lv in ProcedureLevel}:
            raise ProcedureSpecError(f"{where}: level must be information, partial or full, got {level!r}")
        days = raw.get("processing_days", 0)
        fee = raw.get("fee_vnd", 0)
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ProcedureSpecError(f"{where}: processing_days must be a whole number ≥ 0")
        if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
            raise ProcedureSpecError(f"{where}: fee_vnd must be a whole number of đồng ≥ 0")
        fields = raw.get("fields", [])
        if not isinstance(fields, list):
            raise ProcedureSpecError(f"{where}: fields must be a list")
        seen: set[str] = set()
        for i, f in enumerate(fields):
            if not isinstance(f, dict):
                raise ProcedureSpecError(f"{where}: fields[{i}] must be a table")
            name = f.get("name")
            if not isinstance(name, str) or not _FIELD_NAME.match(name) or name in seen:
                raise ProcedureSpecError(f"{where}: fields[{i}].name must be a unique snake_case name")
            seen.add(name)
            if f.get("type", "text") not in _FIELD_TYPES:
                raise ProcedureSpecError(f"{where}: fields[{i}].type {f.get('type')!r} is not supported")
            if not isinstance(f.get("label"), str) or not f["label"].strip():
                raise ProcedureSpecError(f"{where}: fields[{i}].label must be a non-empty text")
        return cls(
            code=code,
            name=need_str("name"),
            field=need_str("field"),
            agency=str(raw.get("agency", "")).strip(),
            level=level,
            processing_days=days,
            fee_vnd=fee,
            form_fields=[dict(f) for f in fields],
        )
