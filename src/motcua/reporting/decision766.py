"""The Decision 766/QĐ-TTg index as data (``data/decision766-<year>.toml``): which version scores
a period, and each criterion's points with the working written out ("45 ÷ 60 = 75%; 75% ≥ 50%
→ 12 điểm") so an officer can check it by hand."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

from motcua.reporting.rates import RATES, Rate, decimal_vi, percent_vi, rounded

TOTAL_POINTS = 100
_FILE = re.compile(r"^decision766-(\d{4})\.toml$")


@dataclass(frozen=True)
class Criterion:
    indicator: str
    name: str
    max: int
    target: Fraction | None  # None: linear (ratio × max)

    @property
    def formula(self) -> str:
        """The rule in words, for the page beside the figure."""
        definition = RATES[self.indicator].formula
        if self.target is None:
            return f"Tỷ lệ = {definition}; điểm = tỷ lệ × {self.max}"
        target = percent_vi(self.target)
        return (
            f"Tỷ lệ = {definition}; đạt từ {target} trở lên: {self.max} điểm, "
            f"dưới {target}: tỷ lệ ÷ {target} × {self.max}"
        )

    def score(self, rate: Rate) -> tuple[Fraction, str]:
        """The exact points and the working with this rate's numbers."""
        ratio = rate.exact
        if ratio is None:
            return Fraction(0), f"{rate.numerator} ÷ {rate.denominator}: chưa có số liệu → 0 điểm"
        shown = f"{rate.numerator} ÷ {rate.denominator} = {percent_vi(ratio)}"
        if self.target is None:
            points = ratio * self.max
            return points, f"{shown}; {percent_vi(ratio)} × {self.max} = {decimal_vi(points)} điểm"
        target = percent_vi(self.target)
        if ratio >= self.target:
            return Fraction(self.max), f"{shown}; {percent_vi(ratio)} ≥ {target} → {self.max} điểm"
        points = ratio / self.target * self.max
        return points, (
            f"{shown}; {percent_vi(ratio)} < {target} → {percent_vi(ratio)} ÷ {target} × {self.max} "
            f"= {decimal_vi(points)} điểm"
        )


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    max: int
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class IndexVersion:
    version: int
    name: str
    source: str
    note: str
    groups: tuple[Group, ...]

    def score(self, rates: dict[str, Rate]) -> dict[str, Any]:
        """Each group's and criterion's points (rounded to 0.01, the total being the sum of the
        rounded figures an officer adds up by hand), with the working."""
        groups: list[dict[str, Any]] = []
        for group in self.groups:
            criteria: list[dict[str, Any]] = []
            for criterion in group.criteria:
                rate = rates[criterion.indicator]
                points, working = criterion.score(rate)
                criteria.append(
                    {
                        "indicator": criterion.indicator,
                        "name": criterion.name,
                        "max": criterion.max,
                        "target": float(criterion.target) if criterion.target is not None else None,
                        "formula": criterion.formula,
                        **rate.to_dict(),
                        "points": rounded(points),
                        "working": working,
                    }
                )
            group_points = rounded(sum((Fraction(str(c["points"])) for c in criteria), Fraction(0)))
            groups.append(
                {
                    "key": group.key,
                    "name": group.name,
                    "max": group.max,
                    "points": group_points,
                    "criteria": criteria,
                }
            )
        total = rounded(sum((Fraction(str(g["points"])) for g in groups), Fraction(0)))
        return {
            "version": self.version,
            "name": self.name,
            "source": self.source,
            "note": self.note,
            "max": TOTAL_POINTS,
            "total": total,
            "groups": groups,
        }


class IndexDataError(ValueError):
    pass


def _parse(data: dict[str, Any], origin: str) -> IndexVersion:
    groups: list[Group] = []
    for raw in data.get("groups", []):
        criteria = tuple(
            Criterion(
                indicator=str(c["indicator"]),
                name=str(c["name"]),
                max=int(c["max"]),
                target=Fraction(str(c["target"])) if c.get("target") is not None else None,
            )
            for c in raw.get("criteria", [])
        )
        group = Group(key=str(raw["key"]), name=str(raw["name"]), max=int(raw["max"]), criteria=criteria)
        unknown = [c.indicator for c in criteria if c.indicator not in RATES]
        if unknown:
            raise IndexDataError(f"{origin}: group {group.key} names unknown indicators {unknown}")
        if sum(c.max for c in criteria) != group.max:
            raise IndexDataError(f"{origin}: the criteria of group {group.key} do not add up to {group.max}")
        if any(c.target is not None and not 0 < c.target <= 1 for c in criteria):
            raise IndexDataError(f"{origin}: group {group.key} has a target outside (0, 1]")
        groups.append(group)
    if sum(g.max for g in groups) != TOTAL_POINTS:
        raise IndexDataError(f"{origin}: the groups do not add up to {TOTAL_POINTS}")
    return IndexVersion(
        version=int(data["version"]),
        name=str(data["name"]),
        source=str(data["source"]),
        note=str(data.get("note", "")),
        groups=tuple(groups),
    )


@functools.cache
def versions() -> dict[int, IndexVersion]:
    """Every version shipped in ``data/``, by year (read once per process)."""
    found: dict[int, IndexVersion] = {}
    for entry in resources.files("motcua.reporting").joinpath("data").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        version = _parse(tomllib.loads(entry.read_text(encoding="utf-8")), entry.name)
        if version.version != int(match.group(1)):
            raise IndexDataError(f"{entry.name}: version {version.version} does not match its name")
        found[version.version] = version
    if not found:
        raise IndexDataError("no decision766-<year>.toml in motcua/reporting/data")
    return found


def index_for(year: int) -> IndexVersion:
    """The latest version not after ``year``; a year before every version gets the earliest."""
    known = versions()
    eligible = [v for v in known if v <= year]
    return known[max(eligible) if eligible else min(known)]
