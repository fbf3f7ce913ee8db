"""Units and their staff: the tree, changes by the tenant administrator (each audited), and
who holds which role where.

Every change is one action: it validates, writes and appends its audit row in the caller's
transaction. Input problems raise ``UnitInputError`` with one Vietnamese message per field, which
the pages show beside the field and the command line prints.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor, tenant_entry
from motcua.identity.models import N_, Citizen
from motcua.organisation.models import Tier, Unit, UnitKind, UnitRole, UnitStaff

# The agency-code rule of the units (organisation.services), which dossier codes start with.
AGENCY_CODE = re.compile(r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
PERSONAL_ID = re.compile(r"^[0-9]{12}$")
NAME_LIMIT = 200

NO_NAME = N_("Nhập tên đơn vị.")
LONG_NAME = N_("Tên đơn vị dài tối đa 200 ký tự.")
BAD_CODE = N_("Mã cơ quan có dạng 000.00.01.H26: ba nhóm chữ số và một chữ in hoa kèm hai chữ số.")
TAKEN_CODE = N_("Mã cơ quan này đã được dùng cho một đơn vị khác.")
BAD_KIND = N_("Chọn loại đơn vị trong danh sách.")
BAD_PARENT = N_("Chọn đơn vị cấp trên trong danh sách.")
LOOP_PARENT = N_("Không thể đặt một đơn vị dưới chính nó hoặc dưới đơn vị cấp dưới của nó.")
BAD_PERSON_ID = N_("Số định danh cá nhân phải gồm đúng 12 chữ số.")
NO_PERSON_NAME = N_("Nhập họ và tên cán bộ.")
BAD_ROLE = N_("Chọn vai trò trong danh sách.")
LAST_ROOT = N_("Không thể đóng đơn vị gốc của địa phương.")


class UnitInputError(ValueError):
    """What is wrong with a change of units or staff: field → Vietnamese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class StaffMember:
    personal_id: str
    name: str
    roles: tuple[UnitRole, ...]


@dataclass(slots=True)
class UnitNode:
    """A unit as the pages show it, with its place in the tree."""

    id: int
    parent_id: int | None
    kind: UnitKind
    tier: Tier
    name: str
    agency_code: str
    active: bool
    depth: int = 0
    staff_count: int = 0
    children: list[UnitNode] = field(default_factory=list)


def _tidy(text: str | None, limit: int) -> str:
    return " ".join((text or "").split())[: limit + 1]


def _check_unit(name: str, agency_code: str, kind: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = NO_NAME
    elif len(name) > NAME_LIMIT:
        errors["name"] = LONG_NAME
    if not AGENCY_CODE.fullmatch(agency_code):
        errors["agency_code"] = BAD_CODE
    if kind not in {k.value for k in UnitKind}:
        errors["kind"] = BAD_KIND
    return errors


async def unit_tree(session: AsyncSession) -> list[UnitNode]:
    """Every unit, depth-first from the roots, children in their order (then by name)."""
    counts = dict(
        (
            await session.execute(
                select(UnitStaff.unit_id, func.count(func.distinct(UnitStaff.personal_id))).group_by(
                    UnitStaff.unit_id
                )
            )
        ).all()
    )
    rows = (await session.execute(select(Unit).order_by(Unit.position, Unit.name))).scalars().all()
    nodes = {
        u.id: UnitNode(
            id=u.id,
            parent_id=u.parent_id,
            kind=UnitKind(u.kind),
            tier=Tier(u.tier),
            name=u.name,
            agency_code=u.agency_code,
            active=u.active,
            staff_count=int(counts.get(u.id, 0)),
        )
        for u in rows
    }
    roots: list[UnitNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    flat: list[UnitNode] = []

    def walk(node: UnitNode, depth: int) -> None:
        node.depth = depth
        flat.append(node)
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return flat


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def _descendants(session: AsyncSession, unit_id: int) -> set[int]:
    parents = dict((await session.execute(select(Unit.id, Unit.parent_id))).all())
    below: set[int] = {unit_id}
    grown = True
    while grown:
        grown = False
        for child, parent in parents.items():
            if parent in below and child not in below:
                below.add(child)
                grown = True
    return below


async def _code_taken(session: AsyncSession, code: str, *, other_than: int | None = None) -> bool:
    query = select(Unit.id).where(Unit.agency_code == code)
    if other_than is not None:
        query = query.where(Unit.id != other_than)
    return (await session.execute(query)).first() is not None


def _tier_of(kind: UnitKind, parent: Unit | None) -> Tier:
    if kind.commune_level:
        return Tier.COMMUNE
    if parent is not None and parent.tier == Tier.MINISTRY:
        return Tier.MINISTRY
    return Tier.PROVINCE


async def add_unit(
    session: AsyncSession,
    *,
    parent_id: int | None,
    kind: str,
    name: str,
    agency_code: str,
    actor: Actor,
) -> Unit:
    name, agency_code = _tidy(name, NAME_LIMIT), _tidy(agency_code, 13).upper()
    errors = _check_unit(name, agency_code, kind)
    parent = await session.get(Unit, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        errors["parent_id"] = BAD_PARENT
    if "agency_code" not in errors and await _code_taken(session, agency_code):
        errors["agency_code"] = TAKEN_CODE
    if errors:
        raise UnitInputError(errors)
    unit_kind = UnitKind(kind)
    unit = Unit(
        parent_id=parent_id,
        kind=unit_kind.value,
        tier=_tier_of(unit_kind, parent).value,
        name=name,
        agency_code=agency_code,
    )
    session.add(unit)
    await session.flush()
    await session.execute(
        tenant_entry("unit.created", actor=actor, unit=name, agency_code=agency_code, kind=unit_kind.value)
    )
    return unit


async def edit_unit(
    session: AsyncSession,
    unit: Unit,
    *,
    parent_id: int | None,
    name: str,
    agency_code: str,
    actor: Actor,
) -> list[str]:
    """Rename, re-code or move a unit; returns the names of the fields that changed."""
    name, agency_code = _tidy(name, NAME_LIMIT), _tidy(agency_code, 13).upper()
    errors = _check_unit(name, agency_code, unit.kind)
    if parent_id is not None:
        if await session.get(Unit, parent_id) is None:
            errors["parent_id"] = BAD_PARENT
        elif parent_id in await _descendants(session, unit.id):
            errors["parent_id"] = LOOP_PARENT
    if "agency_code" not in errors and await _code_taken(session, agency_code, other_than=unit.id):
        errors["agency_code"] = TAKEN_CODE
    if errors:
        raise UnitInputError(errors)
    before = {"name": unit.name, "agency_code": unit.agency_code, "parent_id": unit.parent_id}
    after = {"name": name, "agency_code": agency_code, "parent_id": parent_id}
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        unit.name, unit.agency_code, unit.parent_id = name, agency_code, parent_id
        await session.flush()
        await session.execute(
            tenant_entry(
                "unit.changed",
                actor=actor,
                unit=name,
                agency_code=agency_code,
                changed=changed,
                previous_name=before["name"],
                previous_code=before["agency_code"],
            )
        )
    return changed


async def set_unit_active(session: AsyncSession, unit: Unit, *, active: bool, actor: Actor) -> bool:
    """Close (or reopen) a unit: a closed unit receives nothing new; its dossiers and history
    stay. The tenant's root unit cannot be closed. Returns whether anything changed."""
    if not active and unit.parent_id is None:
        raise UnitInputError({"active": LAST_ROOT})
    if unit.active == active:
        return False
    unit.active = active
    await session.flush()
    await session.execute(
        tenant_entry(
            "unit.reopened" if active else "unit.closed",
            actor=actor,
            unit=unit.name,
            agency_code=unit.agency_code,
        )
    )
    return True


async def unit_staff(session: AsyncSession, unit_id: int) -> list[StaffMember]:
    """The unit's staff by name (the e-ID's name once they have logged in), with their roles."""
    rows = await session.execute(
        select(UnitStaff.personal_id, UnitStaff.full_name, UnitStaff.role, Citizen.full_name)
        .outerjoin(Citizen, Citizen.personal_id == UnitStaff.personal_id)
        .where(UnitStaff.unit_id == unit_id)
        .order_by(UnitStaff.full_name, UnitStaff.role)
    )
    names: dict[str, str] = {}
    roles: dict[str, list[UnitRole]] = defaultdict(list)
    for personal_id, given, role, known in rows:
        names[personal_id] = known or given
        if UnitRole(role) not in roles[personal_id]:
            roles[personal_id].append(UnitRole(role))
    order = list(UnitRole)
    return sorted(
        (StaffMember(pid, names[pid], tuple(sorted(held, key=order.index))) for pid, held in roles.items()),
        key=lambda m: m.name,
    )


async def add_staff(
    session: AsyncSession, unit: Unit, *, personal_id: str, full_name: str, role: str, actor: Actor
) -> bool:
    """Give a person a role in the unit; returns False when they already held it."""
    personal_id, full_name = _tidy(personal_id, 12), _tidy(full_name, NAME_LIMIT)
    errors: dict[str, str] = {}
    if not PERSONAL_ID.fullmatch(personal_id):
        errors["personal_id"] = BAD_PERSON_ID
    if not full_name or len(full_name) > NAME_LIMIT:
        errors["full_name"] = NO_PERSON_NAME
    if role not in {r.value for r in UnitRole}:
        errors["role"] = BAD_ROLE
    if errors:
        raise UnitInputError(errors)
    added = (
        await session.execute(
            insert(UnitStaff)
            .values(
                unit_id=unit.id,
                personal_id=personal_id,
                full_name=full_name,
                role=role,
                granted_by=str(actor),
            )
            .on_conflict_do_nothing(index_elements=["unit_id", "personal_id", "role"])
            .returning(UnitStaff.id)
        )
    ).scalar_one_or_none()
    if added is None:
        return False
    await session.execute(
        tenant_entry(
            "unit.staff_added",
            actor=actor,
            unit=unit.name,
            agency_code=unit.agency_code,
            personal_id=personal_id,
            person=full_name,
            role=role,
        )
    )
    return True


async def remove_staff(
    session: AsyncSession, unit: Unit, *, personal_id: str, role: str, actor: Actor
) -> bool:
    removed = (
        await session.execute(
            delete(UnitStaff)
            .where(UnitStaff.unit_id == unit.id, UnitStaff.personal_id == personal_id, UnitStaff.role == role)
            .returning(UnitStaff.full_name)
        )
    ).scalar_one_or_none()
    if removed is None:
        return False
    await session.execute(
        tenant_entry(
            "unit.staff_removed",
            actor=actor,
            unit=unit.name,
            agency_code=unit.agency_code,
            personal_id=personal_id,
            person=removed,
            role=role,
        )
    )
    return True


async def roles_of(session: AsyncSession, personal_id: str) -> dict[int, frozenset[UnitRole]]:
    """The units where a person holds a role, and which roles: what scopes their queues."""
    held: dict[int, set[UnitRole]] = defaultdict(set)
    rows = await session.execute(
        select(UnitStaff.unit_id, UnitStaff.role).where(UnitStaff.personal_id == personal_id)
    )
    for unit_id, role in rows:
        held[unit_id].add(UnitRole(role))
    return {unit_id: frozenset(roles) for unit_id, roles in held.items()}
