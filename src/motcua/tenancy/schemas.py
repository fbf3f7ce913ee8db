from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Tenant:
    """What a request or job knows about its tenant: immutable, cheap to cache."""

    id: int
    slug: str
    name: str
    kind: str
    status: str
    schema: str
    theme: str = "default"
    branding: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class TenantCreate:
    slug: str
    name: str
    kind: str = "province"
    domains: tuple[str, ...] = ()
    theme: str = "default"
    branding: dict[str, Any] = field(default_factory=dict, hash=False)
    procedures: tuple[dict[str, Any], ...] = ()
    # (personal ID, role) granted at onboarding: the locality's first administrators.
    roles: tuple[tuple[str, str], ...] = ()
