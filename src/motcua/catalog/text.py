"""Search text for Vietnamese: the embedded PostgreSQL has no unaccent, so normalise in Python.
Also the two kinds of forgiveness the catalogue search gives: synonyms from a maintained list
(``synonyms.toml``) and one typo per word (``one_edit``)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

_SPACES = re.compile(r"\s+")
SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")


def fold(text: str) -> str:
    """Lower-case, without diacritics, đ→d, single spaces: "Đăng ký khai sinh" → "dang ky khai sinh"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return _SPACES.sub(" ", stripped.lower()).strip()


# Synonyms -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def synonyms() -> tuple[tuple[re.Pattern[str], str, str], ...]:
    """(folded phrase as a whole-words pattern, folded target, target as written), longest
    phrase first so that "giấy xác nhận độc thân" wins over "độc thân"."""
    with SYNONYMS_FILE.open("rb") as f:
        table: dict[str, str] = tomllib.load(f)["synonyms"]
    entries = sorted(table.items(), key=lambda kv: -len(fold(kv[0])))
    return tuple(
        (re.compile(rf"(?<!\S){re.escape(fold(phrase))}(?!\S)"), fold(target), target)
        for phrase, target in entries
    )


def with_synonyms(folded: str) -> tuple[str, list[str]] | None:
    """The folded query with each phrase of the list replaced by its target (longest first,
    a replaced part never matched again), and the targets as written; None when no phrase
    occurs."""
    shown: list[str] = []
    text = folded
    for pattern, target, written in synonyms():
        # \x00 marks what is already replaced, so a target is never rewritten by a shorter entry.
        # A plain replacement string: the folded target holds no backslash or group reference.
        replaced = pattern.sub("\x00" + target.replace(" ", "\x00"), text)
        if replaced != text:
            text = replaced
            if written not in shown:
                shown.append(written)
    if not shown:
        return None
    return _SPACES.sub(" ", text.replace("\x00", " ")).strip(), shown


# One typo -----------------------------------------------------------------------------------------
def one_edit(typed: str, word: str) -> bool:
    """Whether ``typed`` is ``word`` with exactly one typo: a letter missing, added, changed, or
    two neighbours swapped (optimal string alignment distance 1), for words where one letter is
    not a third of the word (the longer has at least 4 letters) and with the first letter right
    unless it is one of the swapped pair: people rarely mistype the first letter, and Vietnamese
    syllables are so short that allowing it matches unrelated words ("bong" → "dong")."""
    if typed == word or abs(len(typed) - len(word)) > 1 or max(len(typed), len(word)) < 4 or len(typed) < 3:
        return False
    if len(typed) == len(word):
        diff = [i for i, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
        if len(diff) == 1:
            return diff[0] > 0
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and typed[diff[0]] == word[diff[1]]
            and typed[diff[1]] == word[diff[0]]
        )
    short, long = (typed, word) if len(typed) < len(word) else (word, typed)
    i = next((i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short))
    return i > 0 and short[i:] == long[i + 1 :]


def deletions(word: str) -> set[str]:
    """The word and every way of removing one letter: two words one edit apart share one of
    these (the index of ``catalog.services.SearchIndex``, checked with ``one_edit``)."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}
