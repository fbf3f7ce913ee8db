"""The fonts the product's PDFs are set in: DejaVu Sans (``core/fonts``, see SOURCE.txt there), cut
to what a document can hold.

DejaVu has some 6,000 glyphs. fpdf2 reads the whole font for every document and pyHanko subsets it
for every signature, so each is given a cut copy: the slips, receipts and forms Latin (Vietnamese is
in Latin Extended Additional), Greek and Cyrillic for foreign names, and common symbols; the
signature stamp Latin and punctuation only, scaled to 1,000 units per em.

The cut copies are made once, when a recipe or a source font changes (``make fonts``, which runs
this module), and shipped beside the originals: cutting them took each web process about 1.2 s at
start and each worker as much at its first document. tests/core/test_pdf_fonts.py fails when a
shipped copy is not what its recipe makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

FONT_DIR = Path(__file__).resolve().parent / "fonts"

# What a slip, receipt or form can hold. A character outside these blocks raises fpdf2's
# MissingGlyphError like any other gap.
DOCUMENT_BLOCKS = (
    (0x0020, 0x024F),  # Basic Latin .. Latin Extended-B
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and its supplement
    (0x1E00, 0x1EFF),  # Latin Extended Additional: ạ ả ấ ầ ẩ ẫ ậ ... ỹ
    (0x2000, 0x206F),  # General Punctuation: – — ‘ ’ “ ” …
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20A0, 0x20CF),  # currency: ₫ €
    (0x2100, 0x218F),  # letterlike symbols and number forms: № ™ Ⅰ
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators: − × ≤
    (0x2C60, 0x2C7F),  # Latin Extended-C
    (0x25A0, 0x25FF),  # geometric shapes: ■ □ ●
    (0xA720, 0xA7FF),  # Latin Extended-D
)

# What a signature stamp can hold: Latin with Vietnamese letters, combining marks, punctuation, ₫.
STAMP_BLOCKS = ((0x20, 0x24F), (0x300, 0x36F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20AB, 0x20AB))


@dataclass(frozen=True)
class Cut:
    """One shipped cut: ``source`` cut to ``blocks`` into ``name`` (both in FONT_DIR)."""

    source: str
    name: str
    blocks: tuple[tuple[int, int], ...]
    stamp: bool  # the signature stamp's recipe (pyHanko), else the documents' (fpdf2)

    @property
    def path(self) -> Path:
        return FONT_DIR / self.name

    def make(self) -> bytes:
        """The cut copy, from the source font (fontTools is imported here only: no process that
        serves or signs needs it)."""
        from fontTools import subset  # type: ignore[import-untyped]
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
        from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

        font = TTFont(FONT_DIR / self.source, recalcTimestamp=False)
        options: Any = subset.Options()
        options.glyph_names = True  # pyHanko subsets again, by glyph name
        options.notdef_outline = True
        options.name_IDs = ["*"]  # the copyright and licence records stay with the font
        # Vietnamese uses precomposed letters and neither library shapes text: no layout tables.
        options.layout_features = []
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
        if self.stamp:
            options.hinting = False  # paper needs no hinting, and its tables would not follow the new scale
        else:
            options.recommended_glyphs = True
            options.name_languages = ["*"]
            options.layout_closure = False
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[code for low, high in self.blocks for code in range(low, high + 1)])
        subsetter.subset(font)
        if self.stamp:
            # pyHanko writes the glyph widths in font units where PDF wants thousandths of an em:
            # DejaVu's 2,048 units would space the letters twice too wide. Scaled to 1,000, they agree.
            scale_upem(font, 1000)
        buffer = BytesIO()
        font.save(buffer)
        return buffer.getvalue()


DOCUMENT_REGULAR = Cut("DejaVuSans.ttf", "DejaVuSans-documents.ttf", DOCUMENT_BLOCKS, stamp=False)
DOCUMENT_BOLD = Cut("DejaVuSans-Bold.ttf", "DejaVuSans-Bold-documents.ttf", DOCUMENT_BLOCKS, stamp=False)
STAMP = Cut("DejaVuSans.ttf", "DejaVuSans-stamp.ttf", STAMP_BLOCKS, stamp=True)
CUTS = (DOCUMENT_REGULAR, DOCUMENT_BOLD, STAMP)


@cache
def font_bytes(cut: Cut) -> bytes:
    """The shipped cut, read once a process."""
    return cut.path.read_bytes()


def main() -> None:
    for cut in CUTS:
        data = cut.make()
        cut.path.write_bytes(data)
        print(f"{cut.name}: {len(data):,} bytes from {cut.source}")


if __name__ == "__main__":
    main()
