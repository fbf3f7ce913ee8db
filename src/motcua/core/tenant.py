"""The `Tenant` value: what a request or job knows about its locality (bottom layer, so every
layer above can take one as an argument)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


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
    # Per-tenant operating settings: working calendar, upload limits…
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Why the portal is suspended or archived (shown on its notice page); None otherwise.
    status_reason: str | None = None

    # The columns every tenant lookup selects, in one place.
    COLUMNS: ClassVar[str] = (
        "id, slug, name, kind, status, schema_name, theme, branding, settings, status_reason"
    )

    @classmethod
    def from_row(cls, row: Any) -> Tenant:
        return cls(
            id=row.id,
            slug=row.slug,
            name=row.name,
            kind=row.kind,
            status=row.status,
            schema=row.schema_name,
            theme=row.theme,
            branding=dict(row.branding or {}),
            settings=dict(getattr(row, "settings", None) or {}),
            status_reason=getattr(row, "status_reason", None),
        )
