"""The localities a tenant can be: the 34 provincial units since the 12 June 2025 merger (from the
maintained `vietnam-provinces` package) and the ministries (a data file beside this module)."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vietnam_provinces import Province

from motcua.tenancy.models import TenantKind

MINISTRIES_FILE = Path(__file__).with_name("ministries.toml")


@dataclass(frozen=True, slots=True)
class Locality:
    kind: str  # TenantKind
    code: str  # the province's two-digit code, or the ministry's short code
    name: str  # as the locality calls itself: "Thành phố Hà Nội", "Tỉnh Cao Bằng", "Bộ Tư pháp"
    suggested_slug: str

    @property
    def key(self) -> str:
        """The value a form posts: kind and code together."""
        return f"{self.kind}:{self.code}"


def ascii_slug(text: str) -> str:
    """'Thành phố Hồ Chí Minh' → 'thanhphohochiminh' ('đ' is not a decomposable letter)."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


@cache
def provinces() -> tuple[Locality, ...]:
    units = []
    for p in Province.iter_all():
        # The package names provinces without their type ("Cao Bằng") and cities with it.
        name = p.name if p.name.lower().startswith("thành phố") else f"Tỉnh {p.name}"
        units.append(
            Locality(
                kind=TenantKind.PROVINCE,
                code=f"{int(p.code):02d}",
                name=name,
                suggested_slug=p.codename.replace("_", ""),
            )
        )
    return tuple(sorted(units, key=lambda u: u.code))


@cache
def ministries() -> tuple[Locality, ...]:
    with MINISTRIES_FILE.open("rb") as fh:
        rows = tomllib.load(fh)["ministries"]
    return tuple(
        Locality(
            kind=TenantKind.MINISTRY, code=str(r["code"]), name=str(r["name"]), suggested_slug=str(r["code"])
        )
        for r in rows
    )


def all_localities() -> tuple[Locality, ...]:
    return (*provinces(), *ministries())


def locality(key: str) -> Locality | None:
    for unit in all_localities():
        if unit.key == key:
            return unit
    return None
