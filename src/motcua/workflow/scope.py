"""Which dossiers an officer may see and act on: those of their units.

The rule (docs/architecture.md, "Officers and their units"):

- A person's units are the units where they hold a role (``unit_staff``, as ``roles_of`` reads it),
  read on every request, never from the session: a role taken away at /manage/units closes
  the unit's dossiers at the next click. A person with the tenant-wide ``officer`` role but no
  unit role counts as reception staff of the root unit (the service centre), so that a tenant
  with a single desk keeps working without giving anyone unit roles.
- A dossier belongs to its receiving unit (none recorded: the root unit), to the unit of every
  step it has had (``dossier_steps.unit_id``), to the units it was transferred to and to the
  units asked for an opinion on it. Its deciding unit alone does not count: a department sees
  a dossier only once a step opens there or it is transferred there.
- An officer sees and acts only on dossiers belonging to one of their units; every
  /officer/dossiers/{code}/… route answers 404 for any other, as for an unknown code, so a
  code tells nothing. ``visible_dossier`` is that one check; ``visible_to`` is the same rule
  as a SQL condition for the queue (one statement, no query per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Result, bindparam, false, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.dossiers.models import Dossier
from motcua.organisation.models import Unit, UnitRole, UnitStaff
from motcua.workflow.models import Consultation, DossierStep, Transfer


@dataclass(frozen=True, slots=True)
class Scope:
    """The units an officer works in, with their roles there, and whether one of them is a root
    unit (which also holds the dossiers whose receiving unit was never recorded)."""

    roles: dict[int, frozenset[UnitRole]]
    root: bool

    @property
    def unit_ids(self) -> frozenset[int]:
        return frozenset(self.roles)

    def key(self) -> str:
        """The scope as a cache key part: counts cached for one scope never serve another."""
        return ("r" if self.root else "") + ",".join(str(u) for u in sorted(self.roles))

    def holds(self, unit_id: int | None, *roles: UnitRole) -> bool:
        """Whether the person holds one of ``roles`` (any role when none given) in the unit."""
        held = self.roles.get(unit_id, frozenset()) if unit_id is not None else frozenset()
        return bool(held) and (not roles or bool(held & set(roles)))


NOBODY = Scope({}, root=False)


# Built once: officer pages run it on every request (the roles where the person holds one, then
# the root units with no role).
_ROLES_AND_ROOTS: CompoundSelect[int, str | None] = union_all(
    select(UnitStaff.unit_id, UnitStaff.role).where(UnitStaff.personal_id == bindparam("personal_id")),
    select(Unit.id, null()).where(Unit.parent_id.is_(None)),
)


async def scope_of(session: AsyncSession, personal_id: str, *, tenant_officer: bool) -> Scope:
    """The officer's units, read now. ``tenant_officer``: they hold the tenant-wide officer role
    (from the session, which the back office's guard has just checked)."""
    # One round trip on every officer page: the person's roles and the root units together.
    rows: Result[int, str | None] = await session.execute(_ROLES_AND_ROOTS, {"personal_id": personal_id})
    found: dict[int, set[UnitRole]] = {}
    roots: set[int] = set()
    for unit_id, role in rows.all():
        if role is None:
            roots.add(unit_id)
        else:
            found.setdefault(unit_id, set()).add(UnitRole(role))
    held = {unit_id: frozenset(roles) for unit_id, roles in found.items()}
    if not held:
        if not tenant_officer:
            return NOBODY
        return Scope({unit: frozenset({UnitRole.RECEPTION}) for unit in roots}, root=True)
    return Scope(held, root=bool(roots & set(held)))


def visible_to(scope: Scope) -> ColumnElement[bool]:
    """The rule as a condition on ``Dossier``: index probes per dossier (steps, transfers and
    consultations are indexed by dossier), never a query per row."""
    units = sorted(scope.unit_ids)
    if not units and not scope.root:
        return false()
    return _visible(units, any_units=bool(units), root=scope.root)


def visible_to_bound(*, any_units: bool, root: bool) -> ColumnElement[bool]:
    """The same rule with the officer's units left as the list parameter ``scope_units``: the
    queue builds its statement once per shape of scope and binds each officer's units, instead
    of building and keying a new statement on every page view."""
    if not any_units and not root:
        return false()
    return _visible(bindparam("scope_units", expanding=True), any_units=any_units, root=root)


def _visible(units: Any, *, any_units: bool, root: bool) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if any_units:
        conditions.append(Dossier.receiving_unit_id.in_(units))
    if root:
        conditions.append(Dossier.receiving_unit_id.is_(None))
    if any_units:
        conditions += [
            select(DossierStep.id)
            .where(DossierStep.dossier_id == Dossier.id, DossierStep.unit_id.in_(units))
            .exists(),
            select(Transfer.id)
            .where(Transfer.dossier_id == Dossier.id, Transfer.to_unit_id.in_(units))
            .exists(),
            select(Consultation.id)
            .where(Consultation.dossier_id == Dossier.id, Consultation.unit_id.in_(units))
            .exists(),
        ]
    return or_(*conditions)


async def visible_dossier(session: AsyncSession, scope: Scope, code: str) -> Dossier | None:
    """The dossier of ``code`` if it belongs to one of the officer's units; None otherwise, the
    same as for a code that does not exist."""
    return await session.scalar(select(Dossier).where(Dossier.code == code[:80], visible_to(scope)))


async def sees_dossier(session: AsyncSession, scope: Scope, dossier_id: int | None) -> bool:
    """Whether the dossier of ``dossier_id`` belongs to one of the officer's units (a file's
    dossier, for the files an officer opens)."""
    if dossier_id is None:
        return False
    found = await session.scalar(select(Dossier.id).where(Dossier.id == dossier_id, visible_to(scope)))
    return found is not None
