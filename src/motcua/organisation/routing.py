"""Where a procedure's dossiers go: which tier receives them and which unit decides.

A commune-level procedure is received at the one-stop desk of the commune, ward or special zone
the applicant chooses (or that the e-ID address names) and decided by that commune; a province
or ministry procedure is received at the service centre and decided by a department, or by the
service centre itself when none is named.

The default route of a procedure, seeded at onboarding and used for a procedure that has no
route yet, is read from the catalogue's "Cơ quan thực hiện" text (``Procedure.agency``):

- a ministry tenant: ministry tier;
- a province tenant: commune tier when the text names the commune level ("cấp xã", "đặc khu",
  "xã, phường", a commune's body such as "UBND xã" or "Công an phường") or the district level
  ("cấp huyện": districts were abolished on 1 July 2025 and their procedures went to the
  communes); else province tier;
- the deciding unit (province and ministry tiers): the active department whose name appears in
  the text, accents and case aside, the longest name first ("Sở Tư pháp" in "Sở Tư pháp tỉnh");
  none matched → the service centre decides.

The tenant administrator changes a route at /manage/catalog/{code}/routing; each change is
validated and audited (``unit.route_changed``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.catalog.text import fold
from motcua.core.audit import Actor, tenant_entry
from motcua.identity.models import N_
from motcua.organisation.models import ProcedureRoute, Tier, Unit, UnitKind, UnitRole, UnitStaff

COMMUNE_KINDS = tuple(k.value for k in UnitKind if k.commune_level)
# The words of "Cơ quan thực hiện" that put a procedure at the commune level (folded): the
# level named ("cấp xã", "cấp huyện", "đặc khu", "xã, phường"), or a commune's body ("UBND xã",
# "Công an phường"). A bare "xã" or "phường" is not enough ("Xã hội", "địa phương").
_COMMUNE_WORDS = re.compile(
    r"\b(?:cap xa|cap huyen|dac khu|xa, phuong|phuong, xa"
    r"|(?:ubnd|uy ban nhan dan|cong an|chu tich) (?:xa|phuong))\b"
)

BAD_TIER = N_("Chọn cấp tiếp nhận trong danh sách.")
NOT_A_DEPARTMENT = N_("Đơn vị giải quyết phải là một sở, ban, ngành đang hoạt động của địa phương.")
COMMUNE_DECIDES = N_(
    "Thủ tục cấp xã do chính xã, phường, đặc khu nơi tiếp nhận giải quyết: để trống đơn vị giải quyết."
)
NO_COMMUNE = N_("Chọn xã, phường hoặc đặc khu nơi nộp hồ sơ.")
BAD_COMMUNE = N_("Nơi nộp hồ sơ đã chọn không còn nhận hồ sơ. Vui lòng chọn xã, phường hoặc đặc khu khác.")
NOT_YOUR_DESK = N_("Chọn nơi tiếp nhận trong danh sách các đơn vị bạn được giao tiếp nhận hồ sơ.")


class RouteInputError(ValueError):
    """What is wrong with a route or a commune choice: field → Vietnamese message (a msgid)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Route:
    tier: Tier
    # None: the receiving commune (commune tier) or the service centre (other tiers) decides.
    deciding_unit_id: int | None
    stored: bool = True

    @property
    def commune_level(self) -> bool:
        return self.tier is Tier.COMMUNE


@dataclass(frozen=True, slots=True)
class Routing:
    """The units a new dossier gets: both None when the tenant has no units."""

    receiving: Unit | None
    deciding_unit_id: int | None


# The default rule ---------------------------------------------------------------------------------
def default_route(
    agency: str, *, ministry: bool, departments: Sequence[tuple[int, str]]
) -> tuple[Tier, int | None]:
    """The route the catalogue's "Cơ quan thực hiện" text gives (the module's rule)."""
    folded = fold(agency or "")
    if not ministry and _COMMUNE_WORDS.search(folded):
        return Tier.COMMUNE, None
    tier = Tier.MINISTRY if ministry else Tier.PROVINCE
    for unit_id, name in sorted(departments, key=lambda d: -len(d[1])):
        if re.search(rf"\b{re.escape(fold(name))}\b", folded):
            return tier, unit_id
    return tier, None


def _departments_query() -> Select[int, str]:
    return select(Unit.id, Unit.name).where(Unit.kind == UnitKind.DEPARTMENT.value, Unit.active)


def _root_tier_query() -> Select[str]:
    return select(Unit.tier).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)


def seed_routes_on(conn: Connection) -> int:
    """Give every procedure without a route its default one, on a connection whose search_path
    is the tenant's (the onboarding seed step, after the catalogue and the units); safe to
    repeat: routes already there, seeded or edited, are kept. Returns how many were added."""
    root_tier = conn.execute(_root_tier_query()).scalar()
    if root_tier is None:
        return 0
    departments = [(int(i), str(n)) for i, n in conn.execute(_departments_query())]
    procedures = conn.execute(
        select(Procedure.id, Procedure.agency).where(Procedure.id.not_in(select(ProcedureRoute.procedure_id)))
    )
    rows = []
    for procedure_id, agency in procedures:
        tier, deciding = default_route(agency, ministry=root_tier == Tier.MINISTRY, departments=departments)
        rows.append({"procedure_id": procedure_id, "tier": tier.value, "deciding_unit_id": deciding})
    if not rows:
        return 0
    return len(
        conn.execute(
            insert(ProcedureRoute)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["procedure_id"])
            .returning(ProcedureRoute.procedure_id)
        ).all()
    )


# Reading ---------------------------------------------------------------------------------------------
async def service_centre(session: AsyncSession) -> Unit | None:
    """The tenant's root unit: the service centre (a ministry's one-stop desk)."""
    return await session.scalar(
        select(Unit)
        .where(Unit.parent_id.is_(None), Unit.kind == UnitKind.SERVICE_CENTRE.value)
        .order_by(Unit.id)
        .limit(1)
    )


async def route_of(session: AsyncSession, procedure: Procedure) -> Route:
    """The procedure's route; the default one (not stored) when it has none yet, for a procedure
    added after onboarding."""
    stored = await session.get(ProcedureRoute, procedure.id)
    if stored is not None:
        return Route(Tier(stored.tier), stored.deciding_unit_id)
    root = await service_centre(session)
    departments = [(int(i), str(n)) for i, n in await session.execute(_departments_query())]
    ministry = root is not None and root.tier == Tier.MINISTRY
    tier, deciding = default_route(procedure.agency, ministry=ministry, departments=departments)
    return Route(tier, deciding, stored=False)


async def communes(session: AsyncSession) -> list[Unit]:
    """The active communes, wards and special zones, by name: where a commune-level dossier can
    be sent."""
    return list(
        (
            await session.scalars(
                select(Unit).where(Unit.kind.in_(COMMUNE_KINDS), Unit.active).order_by(Unit.name, Unit.id)
            )
        ).all()
    )


async def departments(session: AsyncSession) -> list[Unit]:
    return list(
        (
            await session.scalars(
                select(Unit)
                .where(Unit.kind == UnitKind.DEPARTMENT.value, Unit.active)
                .order_by(Unit.position, Unit.name)
            )
        ).all()
    )


def unit_in_address(units: Sequence[Unit], address: str | None) -> Unit | None:
    """The unit whose name (with its kind word: "Phường Hoàn Kiếm") appears in an address,
    accents and case aside, as whole words; the longest name wins ("Phường Hoàn Kiếm Mới" over
    "Phường Hoàn Kiếm")."""
    folded = fold(address or "")
    if not folded:
        return None
    for unit in sorted(units, key=lambda u: -len(u.name)):
        if re.search(rf"(?<!\w){re.escape(fold(unit.name))}(?!\w)", folded):
            return unit
    return None


async def commune_choice(session: AsyncSession, unit_id: int | None) -> Unit:
    """The commune chosen on a draft, checked: it must exist here, be commune-level and open."""
    if unit_id is None:
        raise RouteInputError({"receiving_unit_id": NO_COMMUNE})
    unit = await session.get(Unit, unit_id)
    if unit is None or unit.kind not in COMMUNE_KINDS or not unit.active:
        raise RouteInputError({"receiving_unit_id": BAD_COMMUNE})
    return unit


async def _has_communes(session: AsyncSession) -> bool:
    first = await session.scalar(select(Unit.id).where(Unit.kind.in_(COMMUNE_KINDS), Unit.active).limit(1))
    return first is not None


async def asks_for_commune(session: AsyncSession, procedure: Procedure) -> bool:
    """Whether applying for this procedure asks "Nơi nộp hồ sơ": a commune-level procedure in a
    tenant that has communes."""
    return (await route_of(session, procedure)).commune_level and await _has_communes(session)


async def reception_units(session: AsyncSession, personal_id: str) -> list[Unit]:
    """The open units where an officer holds the reception role, the first by id first: the
    desks they may receive a dossier at (a department has no desk)."""
    return list(
        (
            await session.scalars(
                select(Unit)
                .join(UnitStaff, UnitStaff.unit_id == Unit.id)
                .where(
                    UnitStaff.personal_id == personal_id,
                    UnitStaff.role == UnitRole.RECEPTION.value,
                    Unit.active,
                    Unit.kind != UnitKind.DEPARTMENT.value,
                )
                .order_by(Unit.id)
            )
        ).all()
    )


async def _reception_unit(session: AsyncSession, personal_id: str, desk_unit_id: int | None) -> Unit | None:
    """The desk an officer receives at: the one they chose (``RouteInputError`` unless they hold
    reception there), else their first."""
    desks = await reception_units(session, personal_id)
    if desk_unit_id is None:
        return desks[0] if desks else None
    chosen = next((u for u in desks if u.id == desk_unit_id), None)
    if chosen is None:
        raise RouteInputError({"receiving_unit_id": NOT_YOUR_DESK})
    return chosen


async def route_dossier(
    session: AsyncSession,
    procedure: Procedure,
    *,
    online: bool = False,
    chosen_unit_id: int | None = None,
    officer_id: str | None = None,
    desk_unit_id: int | None = None,
    applicant_address: str | None = None,
) -> Routing:
    """The receiving and deciding units of a new dossier.

    Received at: online, the commune chosen when applying for a commune-level procedure
    (checked: ``RouteInputError`` when it is missing, closed or not a commune); else the
    officer's reception unit (desk, post); else, for a commune-level procedure, the commune the
    applicant's address names (a system's intake); else the service centre. Decided by: the
    route's department (the service centre when none); for a commune-level procedure the
    receiving commune, or the one the address names when it was received at the centre.
    ``desk_unit_id``: the desk an officer who receives at several chose (checked)."""
    centre = await service_centre(session)
    if centre is None:
        return Routing(None, None)
    route = await route_of(session, procedure)
    receiving: Unit | None = None
    if online and route.commune_level and await _has_communes(session):
        receiving = await commune_choice(session, chosen_unit_id)
    if receiving is None and officer_id is not None:
        receiving = await _reception_unit(session, officer_id, desk_unit_id)
    named: Unit | None = None
    if route.commune_level and applicant_address and (receiving is None or receiving.id == centre.id):
        named = unit_in_address(await communes(session), applicant_address)
    receiving = receiving or named or centre
    if not route.commune_level:
        return Routing(receiving, route.deciding_unit_id or centre.id)
    if receiving.kind in COMMUNE_KINDS:
        return Routing(receiving, receiving.id)
    return Routing(receiving, named.id if named is not None else receiving.id)


def dossier_agency_code(routing: Routing, procedure_agency_code: str, fallback: str) -> str:
    """The agency code a dossier's code starts with: the receiving unit's. A procedure that was
    given its own code in the catalogue keeps it for dossiers received at the service centre (the
    codes it had before units existed); a tenant without units keeps the old rule (the
    procedure's code, else the tenant's)."""
    unit = routing.receiving
    if unit is None:
        return procedure_agency_code or fallback
    if unit.parent_id is None and procedure_agency_code:
        return procedure_agency_code
    return unit.agency_code


# Changing a route ------------------------------------------------------------------------------------
async def save_route(
    session: AsyncSession, procedure: Procedure, *, tier: str, deciding_unit_id: int | None, actor: Actor
) -> bool:
    """Set the procedure's tier and deciding unit; returns whether anything changed."""
    centre = await service_centre(session)
    ministry = centre is not None and centre.tier == Tier.MINISTRY
    allowed = {Tier.MINISTRY.value} if ministry else {Tier.PROVINCE.value, Tier.COMMUNE.value}
    errors: dict[str, str] = {}
    if tier not in allowed:
        errors["tier"] = BAD_TIER
    deciding: Unit | None = None
    if deciding_unit_id is not None:
        deciding = await session.get(Unit, deciding_unit_id)
        if tier == Tier.COMMUNE.value:
            errors["deciding_unit_id"] = COMMUNE_DECIDES
        elif deciding is None or deciding.kind != UnitKind.DEPARTMENT.value or not deciding.active:
            errors["deciding_unit_id"] = NOT_A_DEPARTMENT
    if errors:
        raise RouteInputError(errors)
    commune = tier == Tier.COMMUNE.value
    centre_name = centre.name if centre is not None else None
    current = await route_of(session, procedure)
    if current.stored and current.tier.value == tier and current.deciding_unit_id == deciding_unit_id:
        return False
    await session.execute(
        insert(ProcedureRoute)
        .values(procedure_id=procedure.id, tier=tier, deciding_unit_id=deciding_unit_id)
        .on_conflict_do_update(
            index_elements=["procedure_id"],
            set_={"tier": tier, "deciding_unit_id": deciding_unit_id, "updated_at": func.now()},
        )
    )
    await session.execute(
        tenant_entry(
            "unit.route_changed",
            actor=actor,
            procedure=procedure.code,
            name=procedure.name,
            tier=tier,
            # Who decides, by name: the department, else the centre (the commune tier: none).
            unit=deciding.name if deciding is not None else (None if commune else centre_name),
        )
    )
    return True
