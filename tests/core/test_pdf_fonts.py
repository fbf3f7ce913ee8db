"""The fonts shipped cut (core/fonts/*-documents.ttf, *-stamp.ttf) are what their recipes make
from the shipped DejaVu Sans, and hold every Vietnamese letter: a recipe or a source font changed
without `make fonts` fails here, not in a citizen's slip."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from motcua.core.pdf_fonts import CUTS, Cut

VIETNAMESE = (
    "aàảãáạăằẳẵắặâầẩẫấậeèẻẽéẹêềểễếệiìỉĩíịoòỏõóọôồổỗốộơờởỡớợuùủũúụưừửữứựyỳỷỹýỵđ"
    "AÀẢÃÁẠĂẰẲẴẮẶÂẦẨẪẤẬEÈẺẼÉẸÊỀỂỄẾỆIÌỈĨÍỊOÒỎÕÓỌÔỒỔỖỐỘƠỜỞỠỚỢUÙỦŨÚỤƯỪỬỮỨỰYỲỶỸÝỴĐ₫–“”"
)


def _facts(font: Any) -> dict[str, Any]:
    """What a reader of the font sees: the characters it maps, its glyphs, their widths, the scale."""
    return {
        "cmap": font.getBestCmap(),
        "glyphs": font.getGlyphOrder(),
        "widths": dict(font["hmtx"].metrics),
        "units_per_em": font["head"].unitsPerEm,
    }


@pytest.mark.parametrize("cut", CUTS, ids=[c.name for c in CUTS])
def test_a_shipped_cut_is_what_its_recipe_makes(cut: Cut) -> None:
    shipped = TTFont(cut.path)
    made = TTFont(BytesIO(cut.make()))
    assert _facts(shipped) == _facts(made), f"{cut.name} is stale: run `make fonts`"


@pytest.mark.parametrize("cut", CUTS, ids=[c.name for c in CUTS])
def test_a_shipped_cut_holds_every_vietnamese_letter_and_nothing_outside_its_blocks(cut: Cut) -> None:
    mapped = set(TTFont(cut.path).getBestCmap())
    assert {ord(c) for c in VIETNAMESE} <= mapped
    assert all(any(low <= code <= high for low, high in cut.blocks) for code in mapped)
    assert len(mapped) < len(TTFont(cut.path.parent / cut.source).getBestCmap()) / 2
