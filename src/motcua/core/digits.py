"""Numbers people type: in forms, queries, paths and files."""

from __future__ import annotations


def only_digits(text: str) -> bool:
    """A non-empty run of 0–9 and nothing else. ``str.isdigit`` also accepts "²" or "①", which
    ``int`` then refuses (an error page instead of a clear message), and digits of other scripts,
    which ``int`` reads as a number nobody typed here: every number taken from outside is checked
    with this before ``int``."""
    return text.isascii() and text.isdigit()


def row_id(text: str) -> int | None:
    """A row's id as a form, a query or a path carries it: 1 to 18 ASCII digits (it fits the
    database's bigint), else None."""
    return int(text) if only_digits(text) and len(text) <= 18 else None
