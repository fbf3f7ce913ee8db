"""Numbers people type are 0–9 only (core.digits): ``str.isdigit`` would let "²" reach ``int``."""

from __future__ import annotations

import pytest

from motcua.core.digits import only_digits


@pytest.mark.parametrize("text", ["0", "7", "0123456789", "9" * 40])
def test_ascii_digits_are_a_number(text: str) -> None:
    assert only_digits(text)
    int(text)


@pytest.mark.parametrize("text", ["", " 1", "1 ", "-1", "+1", "1.0", "1e3", "²", "1²", "①", "٣", "１", "x"])
def test_anything_else_is_not(text: str) -> None:
    assert not only_digits(text)
