"""The units a tenant starts with, seeded at onboarding: for a province its service centre, its
departments (``departments.toml``) and every commune, ward and special zone of that province
(from the maintained ``vietnam-provinces`` package); for a ministry its one-stop desk and office.

Agency codes: the service centre keeps the tenant's own agency code (so dossier codes do not
change for a tenant that had one code), departments get ``000.00.NN`` and communes a code
derived from their national code (``ccc.cc.00``, unique and stable), all with the tenant's
suffix (``H26``). They have the official shape; a province replaces them with the codes it
was assigned at /manage/units.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert
from vietnam_provinces import ProvinceCode, VietNamDivisionType, Ward

from motcua.core.digits import only_digits
from motcua.organisation.models import Tier, Unit, UnitKind, UnitRole, UnitStaff
from motcua.organisation.routing import seed_routes_on

DEPARTMENTS_FILE = Path(__file__).with_name("departments.toml")

_WARD_KINDS = {
    VietNamDivisionType.XA: UnitKind.COMMUNE,
    VietNamDivisionType.PHUONG: UnitKind.WARD,
    VietNamDivisionType.DAC_KHU: UnitKind.SPECIAL_ZONE,
}


@dataclass(frozen=True, slots=True)
class UnitSpec:
    kind: UnitKind
    tier: Tier
    name: str
    agency_code: str
    division_code: int | None = None
    position: int = 0


@cache
def _starting_units() -> dict[str, Any]:
    with DEPARTMENTS_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _suffix(agency_code: str) -> str:
    """'000.00.01.H26' → 'H26'."""
    return agency_code.rsplit(".", 1)[-1]


def commune_code(division_code: int, suffix: str) -> str:
    return f"{division_code // 100:03d}.{division_code % 100:02d}.00.{suffix}"


def province_units(province_code: int, agency_code: str) -> list[UnitSpec]:
    data = _starting_units()["province"]
    suffix = _suffix(agency_code)
    centre = UnitSpec(UnitKind.SERVICE_CENTRE, Tier.PROVINCE, data["service_centre"], agency_code)
    units = [centre]
    for i, name in enumerate(data["departments"]):
        units.append(
            UnitSpec(UnitKind.DEPARTMENT, Tier.PROVINCE, name, f"000.00.{i + 2:02d}.{suffix}", position=i + 1)
        )
    wards = sorted(Ward.iter_by_province(ProvinceCode(province_code)), key=lambda w: int(w.code))
    for i, ward in enumerate(wards):
        kind = _WARD_KINDS.get(ward.division_type, UnitKind.COMMUNE)
        units.append(
            UnitSpec(
                kind,
                Tier.COMMUNE,
                ward.name,
                commune_code(int(ward.code), suffix),
                division_code=int(ward.code),
                position=i,
            )
        )
    return units


def ministry_units(agency_code: str) -> list[UnitSpec]:
    data = _starting_units()["ministry"]
    suffix = _suffix(agency_code)
    units = [UnitSpec(UnitKind.SERVICE_CENTRE, Tier.MINISTRY, data["service_centre"], agency_code)]
    for i, name in enumerate(data["departments"]):
        units.append(
            UnitSpec(UnitKind.DEPARTMENT, Tier.MINISTRY, name, f"000.00.{i + 2:02d}.{suffix}", position=i + 1)
        )
    return units


def starting_units(kind: str, settings: dict[str, Any]) -> list[UnitSpec]:
    """What a tenant of ``kind`` with these settings starts with: its province's units when the
    settings name the province (``locality.code``), else only its one-stop desk."""
    agency_code = str(settings.get("agency_code") or "000.00.01.H00")
    locality = settings.get("locality") or {}
    if kind == "province" and only_digits(str(locality.get("code", ""))):
        return province_units(int(locality["code"]), agency_code)
    if kind == "ministry":
        return ministry_units(agency_code)
    tier = Tier.PROVINCE if kind == "province" else Tier.MINISTRY
    return [
        UnitSpec(UnitKind.SERVICE_CENTRE, tier, _starting_units()["province"]["service_centre"], agency_code)
    ]


def seed_units_on(conn: Connection, specs: list[UnitSpec]) -> int:
    """Insert the units that are not there yet (by agency code), on a connection whose
    search_path is the tenant's; safe to repeat. The first spec is the root (the service centre
    or the ministry's desk); the others hang under it. Two statements whatever the count. Then
    every procedure without a route gets its default one (``routing.seed_routes_on``: the
    catalogue is seeded before the units). Returns how many units were added."""
    if not specs:
        return 0
    table = Unit.__table__

    def row(spec: UnitSpec) -> dict[str, Any]:
        return {
            "kind": spec.kind.value,
            "tier": spec.tier.value,
            "name": spec.name,
            "agency_code": spec.agency_code,
            "division_code": spec.division_code,
            "position": spec.position,
        }

    root, *rest = specs
    added = len(
        conn.execute(
            insert(Unit)
            .values([row(root)])
            .on_conflict_do_nothing(index_elements=["agency_code"])
            .returning(table.c.id)
        ).all()
    )
    root_id = conn.execute(select(table.c.id).where(table.c.agency_code == root.agency_code)).scalar_one()
    if rest:
        added += len(
            conn.execute(
                insert(Unit)
                .values([{**row(spec), "parent_id": root_id} for spec in rest])
                .on_conflict_do_nothing(index_elements=["agency_code"])
                .returning(table.c.id)
            ).all()
        )
    seed_routes_on(conn)
    return added


def seed_staff_on(conn: Connection, staff: list[dict[str, Any]], *, granted_by: str) -> int:
    """The first staff of units named in the tenant file (``[[locality.staff]]``: unit name,
    personal_id, name, role), on the tenant's search_path, after the units. A unit name that
    does not exist, or a bad role or ID, fails the onboarding step with the reason (an operator's
    typing error must not leave a desk without its officer silently). Safe to repeat."""
    added = 0
    for i, entry in enumerate(staff):
        unit_name = str(entry.get("unit", "")).strip()
        personal_id = str(entry.get("personal_id", "")).strip()
        role = str(entry.get("role", ""))
        if not (only_digits(personal_id) and len(personal_id) == 12):
            raise ValueError(f"locality.staff[{i}].personal_id must be 12 digits")
        if role not in {r.value for r in UnitRole}:
            raise ValueError(
                f"locality.staff[{i}].role must be one of {', '.join(r.value for r in UnitRole)}"
            )
        unit_id = conn.execute(select(Unit.id).where(Unit.name == unit_name)).scalar()
        if unit_id is None:
            raise ValueError(f"locality.staff[{i}]: no unit named {unit_name!r}")
        exists = conn.execute(
            select(UnitStaff.id).where(
                UnitStaff.unit_id == unit_id, UnitStaff.personal_id == personal_id, UnitStaff.role == role
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(UnitStaff).values(
                    unit_id=unit_id,
                    personal_id=personal_id,
                    full_name=str(entry.get("name", ""))[:200],
                    role=role,
                    granted_by=granted_by,
                )
            )
            added += 1
    return added
