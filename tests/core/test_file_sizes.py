"""File sizes as people read them, in each UI language (Vietnamese writes a decimal comma)."""

from __future__ import annotations

from pathlib import Path

from motcua.core.theming import Themes, format_size


def test_sizes_read_in_bytes_kilobytes_and_megabytes_in_each_language(project_root: Path) -> None:
    assert format_size(0) == "0 byte"
    assert format_size(414) == "414 byte"
    assert format_size(1024) == "1 KB"
    assert format_size(1229) == "1,2 KB"
    assert format_size(1023 * 1024 + 1000) == "1 MB"  # never "1024 KB"
    assert format_size(int(3.4 * 1024 * 1024)) == "3,4 MB"
    assert format_size(5 * 1024**3) == "5 GB"
    assert format_size(None) == "—"
    assert format_size(1, "en") == "1 byte"
    assert format_size(414, "en") == "414 bytes"
    assert format_size(1229, "en") == "1.2 KB"
    assert format_size(int(3.4 * 1024 * 1024), "en") == "3.4 MB"
    # Templates have it as a filter, in their own language.
    themes = Themes(project_root / "themes")
    assert themes.env(lang="vi").from_string("{{ 1229|filesize }}").render() == "1,2 KB"
    assert themes.env(lang="en").from_string("{{ 414|filesize }}").render() == "414 bytes"
