"""Input to onboarding: what a new tenant is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TenantCreate:
    slug: str
    name: str
    kind: str = "province"
    domains: tuple[str, ...] = ()
    theme: str = "default"
    branding: dict[str, Any] = field(default_factory=dict, hash=False)
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    procedures: tuple[dict[str, Any], ...] = ()
    # (personal ID, role) granted at onboarding: the locality's first administrators.
    roles: tuple[tuple[str, str], ...] = ()
