"""Texts built in Python that people read, in the language of whoever reads them.

A ``Message`` is a Vietnamese msgid with named placeholders and their values::

    Message("Không thể “%(action)s” khi hồ sơ đang ở trạng thái “%(status)s”.",
            action=Message(rule.label), status=Term(status.label))

It *is* the Vietnamese text (a ``str``: logs, the database, JSON and Vietnamese pages need
nothing else), and it keeps its msgid and values so that a page in another language translates
it at render: the templates' ``_()`` (``core.theming``) translates the msgid, then the values
that are themselves messages (labels), writes ``Figure`` values the language's way ("45,5%" /
"45.5%") and fills the placeholders. Plain values (a code, a name) are data and stay as they are.

``Message("…")`` calls are extracted by ``make messages`` (babel.cfg: the ``vietnamese``
extractor adds ``Message`` and ``Term`` to the keywords), so a new message cannot be forgotten
by the catalogue test.

``str(exc)`` of an exception whose first argument is a Message is plain Vietnamese (``str``
copies); exceptions that want their message translated on the page inherit ``MessageError``,
whose ``str()`` is the Message itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

log = logging.getLogger(__name__)


class Figure:
    """A number in a message, written the reader's way: a decimal comma in Vietnamese, a point in
    English; rounded half up to ``places``, without trailing zeros; ``percent`` shows a ratio as
    a percentage ("0.755" → "75,5%" / "75.5%")."""

    __slots__ = ("percent", "places", "value")

    def __init__(self, value: Fraction | float | int, *, places: int = 2, percent: bool = False) -> None:
        self.value = Fraction(value) * (100 if percent else 1)
        self.places = places
        self.percent = percent

    def text(self, lang: str = "vi") -> str:
        quantum = Decimal(1).scaleb(-self.places)
        number = (Decimal(self.value.numerator) / Decimal(self.value.denominator)).quantize(
            quantum, ROUND_HALF_UP
        )
        text = f"{number:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if lang == "vi":
            text = text.replace(".", ",")
        return f"{text}%" if self.percent else text

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Figure({self.text()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Figure) and (self.value, self.places, self.percent) == (
            other.value,
            other.places,
            other.percent,
        )

    def __hash__(self) -> int:
        return hash((self.value, self.places, self.percent))


class InSentence:
    """A label (a form field's, which is the procedure's own data) inside a sentence: Vietnamese
    lower-cases its first letter ("Vui lòng nhập họ tên"), other languages quote it as written
    ("Enter “Họ tên”")."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def text(self, lang: str = "vi") -> str:
        if lang == "vi":
            return self.label[:1].lower() + self.label[1:]
        return f"“{self.label}”"

    def __str__(self) -> str:
        return self.text()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InSentence) and other.label == self.label

    def __hash__(self) -> int:
        return hash(self.label)


class Money:
    """An amount of Vietnamese đồng in a message, written the reader's way: "16.000 đồng" in
    Vietnamese, "16,000 dong" in English (as the slip and the receipt write it)."""

    __slots__ = ("vnd",)

    def __init__(self, vnd: int) -> None:
        self.vnd = int(vnd)

    def text(self, lang: str = "vi") -> str:
        if lang == "vi":
            return f"{self.vnd:,} đồng".replace(",", ".")
        return f"{self.vnd:,} dong"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Money({self.vnd})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.vnd == self.vnd

    def __hash__(self) -> int:
        return hash(("vnd", self.vnd))


Value = str | int | float | Figure | InSentence | Money


class Message(str):
    """A Vietnamese text (``str``) that remembers its msgid and placeholder values."""

    msgid: str
    params: Mapping[str, Value]

    def __new__(cls, msgid: str, /, **params: Value) -> Message:
        text = msgid % params if params else msgid
        self = super().__new__(cls, text)
        self.msgid = msgid
        self.params = params
        return self

    def render(
        self, gettext: Callable[[str], str], term: Callable[[str], str] | None = None, lang: str = "vi"
    ) -> str:
        """The text in the language of ``gettext``: values that are messages translated too,
        ``Term`` values rendered by ``term`` (the templates' ``|term`` filter), figures written
        the way of ``lang``. (Not ``translate``: that is ``str``'s own, for character tables.)"""
        translated = gettext(self.msgid)
        if not self.params:
            return translated
        values = {name: _value(value, gettext, term, lang) for name, value in self.params.items()}
        try:
            return translated % values
        except (KeyError, ValueError, TypeError):
            # A translation whose placeholders do not match (the catalogue test forbids it):
            # the Vietnamese text rather than a failed page.
            log.error("translation of %r does not match its placeholders", self.msgid)
            return self.msgid % values

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled (Dramatiq, caches) as what it was made of, not as the formatted text.
        return (_rebuild, (type(self), self.msgid, dict(self.params)))


class Term(Message):
    """A legal label (a dossier status, a Decree 42 level): Vietnamese in every language, the
    translation added in brackets (the templates' ``|term`` filter)."""


def _rebuild(cls: type[Message], msgid: str, params: dict[str, Value]) -> Message:
    return cls(msgid, **params)


def _value(
    value: Value, gettext: Callable[[str], str], term: Callable[[str], str] | None, lang: str
) -> str | int | float:
    if isinstance(value, Term) and term is not None and not value.params:
        return term(value.msgid)
    if isinstance(value, Message):
        return value.render(gettext, term, lang)
    if isinstance(value, Figure | InSentence | Money):
        return value.text(lang)
    return value


def translator(
    gettext: Callable[[str], str], term: Callable[[str], str], lang: str = "vi"
) -> Callable[[str], str]:
    """The templates' ``_()`` for runtime texts: a ``Message`` is translated with its values, any
    other text looked up as a msgid (Python's module constants named in babel.cfg)."""

    def translate(text: str) -> str:
        if isinstance(text, Message):
            return text.render(gettext, term, lang)
        return gettext(text)

    return translate


def in_language(
    text: str, gettext: Callable[[str], str], term: Callable[[str], str] | None = None, lang: str = "vi"
) -> str:
    """A text for a reader outside any template (a PDF, an SMS): a ``Message`` with its values,
    any other text looked up as a msgid."""
    if isinstance(text, Message):
        return text.render(gettext, term, lang)
    return gettext(text)


class MessageError(Exception):
    """An error whose message is for people: ``str(exc)`` keeps the ``Message``, so a page that
    shows it with ``_()`` shows it in the reader's language."""

    def __str__(self) -> str:
        if len(self.args) == 1 and isinstance(self.args[0], Message):
            return self.args[0]
        return super().__str__()


# Stored messages ------------------------------------------------------------------------------------
# A message kept in the database (a JSONB column) to be read later in whichever language the reader
# has: its msgid and its values, each value tagged with its kind so it reads back as it was made.
def message_to_json(message: Message) -> dict[str, object]:
    """``{"msgid": …, "params": {…}}`` (``"term": true`` for a ``Term``), JSON-safe."""
    out: dict[str, object] = {
        "msgid": message.msgid,
        "params": {k: _to_json(v) for k, v in message.params.items()},
    }
    if isinstance(message, Term):
        out["term"] = True
    return out


def message_from_json(data: Mapping[str, object]) -> Message:
    """The message ``message_to_json`` wrote."""
    cls = Term if data.get("term") else Message
    raw = data.get("params")
    params = {str(k): _from_json(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    return cls(str(data["msgid"]), **params)


def _to_json(value: Value) -> object:
    if isinstance(value, Message):
        return {"message": message_to_json(value)}
    if isinstance(value, Figure):
        return {
            "figure": [value.value.numerator, value.value.denominator],
            "places": value.places,
            "percent": value.percent,
        }
    if isinstance(value, InSentence):
        return {"in_sentence": value.label}
    if isinstance(value, Money):
        return {"vnd": value.vnd}
    return value


def _from_json(value: object) -> Value:
    if isinstance(value, Mapping):
        if "message" in value:
            return message_from_json(value["message"])
        if "figure" in value:
            numerator, denominator = value["figure"]
            ratio = Fraction(int(numerator), int(denominator))
            # Stored already multiplied for a percentage: undo what the constructor does again.
            return Figure(
                ratio / 100 if value.get("percent") else ratio,
                places=int(value.get("places", 2)),
                percent=bool(value.get("percent")),
            )
        if "in_sentence" in value:
            return InSentence(str(value["in_sentence"]))
        if "vnd" in value:
            return Money(int(value["vnd"]))
    if isinstance(value, str | int | float):
        return value
    return str(value)
