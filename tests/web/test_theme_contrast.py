"""Colour contrast of every theme (WCAG 2.1: 1.4.3 text, 1.4.11 non-text), computed from the
colours the themes really use: tenants/*.toml ([theme] primary/accent), each theme's theme.css
(its header background) and the tokens of site.css. The focus indicator was the tenant accent
(1.68:1 on Hà Nội, 1.72:1 on Đà Nẵng); it is now the GOV.UK yellow ring with a near-black bar,
and each part must stand out (>= 3:1) from what it sits on in every theme."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE_CSS = (ROOT / "themes/default/static/css/site.css").read_text(encoding="utf-8")
HEX = re.compile(r"#([0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
WHITE = (255, 255, 255)


def rgb(colour: str, over: tuple[int, int, int] = WHITE) -> tuple[int, int, int]:
    """#rgb, #rrggbb or #rrggbbaa (composited over ``over``, as the browser paints it)."""
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    alpha = int(value[6:8], 16) / 255 if len(value) == 8 else 1.0
    return (
        round(r * alpha + over[0] * (1 - alpha)),
        round(g * alpha + over[1] * (1 - alpha)),
        round(b * alpha + over[2] * (1 - alpha)),
    )


def luminance(colour: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def token(name: str) -> tuple[int, int, int]:
    found = re.search(rf"--{name}:\s*(#[0-9a-fA-F]+)", SITE_CSS)
    assert found is not None, f"site.css defines no --{name}"
    return rgb(found.group(1))


def themes() -> list[tuple[str, list[tuple[int, int, int]]]]:
    """Each theme with every colour its header may be painted in: the default --primary, the
    tenant file's primary and the colours of the theme.css header rule (gradient stops)."""
    found = [("default", [token("primary")])]
    for path in sorted((ROOT / "tenants").glob("*.toml")):
        theme = tomllib.loads(path.read_text(encoding="utf-8")).get("theme", {})
        backgrounds = [rgb(theme["primary"])] if "primary" in theme else []
        css = ROOT / "themes" / str(theme.get("name", "default")) / "static/css/theme.css"
        if css.is_file():
            for rule in re.findall(r"\.site-header\s*\{([^}]*)\}", css.read_text(encoding="utf-8")):
                backgrounds += [rgb(c.group(0)) for c in HEX.finditer(rule)]
        found.append((path.stem, backgrounds))
    return found


THEMES = themes()


def test_every_theme_is_checked() -> None:
    names = [name for name, _ in THEMES]
    assert {"default", "hanoi", "danang", "botuphap"} <= set(names)
    assert all(backgrounds for _, backgrounds in THEMES)


@pytest.mark.parametrize(("theme", "headers"), THEMES, ids=[name for name, _ in THEMES])
def test_focus_ring_and_header_text_stand_out_in_every_theme(
    theme: str, headers: list[tuple[int, int, int]]
) -> None:
    focus, bar, page = token("focus"), token("focus-text"), token("bg")
    # On the white page and service navigation the near-black bar carries the indicator; in the
    # header the yellow does. The focused link's text sits on the yellow.
    assert contrast(bar, page) >= 3, "focus bar on the page"
    assert contrast(bar, focus) >= 4.5, "focused text on the focus yellow"
    for header in headers:
        assert contrast(focus, header) >= 3, f"{theme}: focus ring on header {header}"
        assert contrast(WHITE, header) >= 4.5, f"{theme}: header text on {header}"


def test_status_colours_are_readable_and_not_the_brand() -> None:
    page = token("bg")
    for status in ("ok", "warn", "error", "info"):
        text, background = token(status), token(f"{status}-bg")
        assert contrast(text, page) >= 4.5, status
        assert contrast(text, background) >= 4.5, f"{status} on {status}-bg"
    # Success and error must never be a portal's brand colour (Hà Nội's red meant "success").
    brands = {colour for _, headers in THEMES for colour in headers}
    assert token("ok") not in brands and token("error") not in brands
    # Nothing focusable is outlined in the accent any more.
    assert not re.search(r"outline:[^;]*var\(--accent\)", SITE_CSS)


def test_the_contrast_arithmetic() -> None:
    assert round(contrast((0, 0, 0), WHITE), 1) == 21.0
    assert round(contrast(rgb("#767676"), WHITE), 2) == 4.54
    # The accent rings the issue measured, as a check that the test would have caught them.
    assert contrast(rgb("#f2c14e"), WHITE) < 3 and contrast(rgb("#94d2bd"), WHITE) < 3


def test_any_primary_an_administrator_may_choose_keeps_the_focus_ring_visible() -> None:
    """/manage/settings accepts a primary colour only with >= MIN_CONTRAST against white
    (admin.appearance): even the lightest such header leaves the yellow ring above 3:1."""
    from motcua.admin.appearance import MIN_CONTRAST, AppearanceError, check_colours

    lightest = 1.05 / MIN_CONTRAST - 0.05  # the luminance of a primary exactly at the limit
    assert (luminance(token("focus")) + 0.05) / (lightest + 0.05) >= 3
    # And the limit is enforced: a colour as light as the accents is refused.
    with pytest.raises(AppearanceError):
        check_colours("#f2c14e", "#f2c14e")
