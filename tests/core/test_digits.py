"""Numbers people type are 0–9 only (core.digits): ``str.isdigit`` would let "²" reach ``int``."""

from __future__ import annotations

import pytest

from motcua.core.digits import only_digits, row_id


@pytest.mark.parametrize("text", ["0", "7", "0123456789", "9" * 40])
def test_ascii_digits_are_a_number(text: str) -> None:
    assert only_digits(text)
    int(text)


@pytest.mark.parametrize("text", ["", " 1", "1 ", "-1", "+1", "1.0", "1e3", "²", "1²", "①", "٣", "１", "x"])
def test_anything_else_is_not(text: str) -> None:
    assert not only_digits(text)


def test_a_row_id_is_up_to_eighteen_ascii_digits() -> None:
    assert row_id("7") == 7
    assert row_id("9" * 18) == 10**18 - 1  # the largest that always fits a bigint
    for text in ("", "9" * 19, "²", "٣", "-1", " 7", "x"):
        assert row_id(text) is None, text
