"""Amounts never wrap (issue 14): every sum of money a page template writes (``|vnd``) is the
content of an element of class ``amount`` (``white-space: nowrap``), or goes through the
``amount()`` macro of partials/amount.html, which wraps it so, in sentences too."""

from __future__ import annotations

import re
from pathlib import Path

from motcua.core.settings import PROJECT_ROOT

# An amount printed, or handed to a sentence ({% trans fee=x|vnd %}: never wrapped there).
MONEY = re.compile(r"\{\{[^{}]*\|vnd\b[^{}]*\}\}|\{%[^%]*\|vnd\b[^%]*%\}")
WRAPPED = re.compile(r'class="amount"[^<>]*>\s*$')


def _page_templates() -> list[Path]:
    roots = [PROJECT_ROOT / "themes", PROJECT_ROOT / "src" / "motcua" / "templates"]
    return sorted(
        path
        for root in roots
        for path in root.rglob("*.html")
        if "notifications" not in path.parts  # e-mails: no stylesheet to keep a class
    )


def test_every_amount_on_a_page_is_kept_on_one_line() -> None:
    unwrapped = []
    for path in _page_templates():
        source = path.read_text(encoding="utf-8")
        if path.name == "amount.html" and path.parent.name == "partials":
            assert '<span class="amount">{{ vnd|vnd }}</span>' in source
            continue
        for match in MONEY.finditer(source):
            if not WRAPPED.search(source[: match.start()]):
                line = source.count("\n", 0, match.start()) + 1
                unwrapped.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {match.group(0)}")
    assert unwrapped == [], "\n".join(unwrapped)
    assert len(_page_templates()) > 50
