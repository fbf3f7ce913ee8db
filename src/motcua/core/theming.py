"""Templates per tenant theme and UI language.

Loaders: tenant theme → default theme → package templates (ChoiceLoader). One Jinja environment
per (theme, language), built once and kept: templates compile once per process and language.
Each environment has its language's gettext installed for good (no shared state to swap per
request), and translates the literal texts (``_("…")``, ``{% trans %}`` without variables) when a
template compiles, so a page renders as fast in English as plain Vietnamese text did.

Vietnamese is the source language: msgids are the Vietnamese texts of the templates, so
Vietnamese needs no catalog at all, and ``translations/<lang>/LC_MESSAGES/messages.po`` holds the
other languages. The ``.po`` is compiled in memory on first use (no build step, no ``.mo`` to
forget); ``make messages`` re-extracts the msgids (see ``babel.cfg``).
"""

from __future__ import annotations

import ast
import io
import logging
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    nodes,
    select_autoescape,
)
from jinja2.visitor import NodeTransformer

from motcua.core.fragments import FragmentCache, FragmentCacheExtension
from motcua.core.messages import translator
from motcua.core.navigation import service_nav
from motcua.core.tenant import Tenant

log = logging.getLogger(__name__)

DEFAULT_THEME = "default"

DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")
LANGUAGE_COOKIE = "motcua_lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def format_vnd(amount: int) -> str:
    """50000 → "50.000 ₫" (Vietnamese groups thousands with dots; VND has no minor unit)."""
    return f"{amount:,}".replace(",", ".") + " ₫"


_SIZE_UNITS = ("KB", "MB", "GB", "TB")


def format_size(size: int | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """414 → "414 byte", 1229 → "1,2 KB", 3.4 MiB → "3,4 MB" (binary units, one decimal, a
    decimal comma in Vietnamese and a point in English, which also says "bytes"). Rounding down
    to whole kilobytes showed a small scan as "0 KB"."""
    if size is None:
        return "—"
    if size < 1024:
        if lang == "en":
            return f"{size} byte" if size == 1 else f"{size} bytes"
        return f"{size} byte"  # Vietnamese has no plural
    value = size / 1024
    unit = 0
    # Promote once the rounded figure would read 1024 of a unit ("1 MB", never "1024 KB").
    while round(value, 1) >= 1024 and unit < len(_SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{round(value, 1):.1f}".removesuffix(".0")
    if lang != "en":
        text = text.replace(".", ",")
    return f"{text} {_SIZE_UNITS[unit]}"


@cache
def translations(lang: str) -> NullTranslations:
    """The language's catalog, read and compiled once per process (fuzzy entries left out)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()  # msgids are Vietnamese already
    path = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"
    try:
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang)
    except OSError:
        # A package built without its catalogs: pages stay Vietnamese rather than fail.
        log.error("no %s catalog at %s: pages in that language are shown in Vietnamese", lang, path)
        return NullTranslations()
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(mo)


def duration_filter(t: NullTranslations) -> Callable[[int, str], str]:
    """A processing time as the catalogue shows it ("Trong ngày", "5 ngày làm việc", "30 ngày";
    units as in catalog.models.UNIT_LABELS), in the environment's language."""

    @lru_cache(maxsize=1024)  # a page shows the same few durations on every row
    def duration(days: int, unit: str = "working_days") -> str:
        if not days:
            return t.gettext("Trong ngày")
        if unit == "calendar_days":
            return t.ngettext("%(count)s ngày", "%(count)s ngày", days) % {"count": days}
        return t.ngettext("%(count)s ngày làm việc", "%(count)s ngày làm việc", days) % {"count": days}

    return duration


def term_filter(gettext: Callable[[str], str]) -> Callable[[str], str]:
    """Legal labels (dossier statuses, Decree 42 service levels) are shown in Vietnamese in every
    language (DOMAIN: keep the Vietnamese labels); other languages add their gloss in brackets."""

    @lru_cache(maxsize=256)
    def term(label: str) -> str:
        gloss = gettext(label)
        return label if gloss == label else f"{label} ({gloss})"

    return term


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@lru_cache(maxsize=8192)
def vietnam_time(value: datetime | None, fmt: str = "%H:%M %d/%m/%Y") -> str:
    """A moment as people in Vietnam read it (``{{ at|vntime }}``, ``{{ at|vntime("%d/%m/%Y") }}``);
    nothing known is an em dash, never "None". Kept for the moments read again: a queue page
    shows two per row and its readers reload the same rows (the zone conversion and strftime
    cost more than the lookup)."""
    if value is None:
        return "—"
    return value.astimezone(VIETNAM).strftime(fmt)


class _TranslateLiterals(NodeTransformer):
    """``_("…")``, ``gettext("…")``, ``pgettext("ctx", "…")`` and the ``gettext`` call of a
    ``{% trans %}`` block → the translated constant (which Jinja then writes into the compiled
    template as text); ``ngettext`` too when every count gives the same text (Vietnamese has no
    plural). Calls with a runtime text (``_(message)``) stay calls."""

    def __init__(self, t: NullTranslations) -> None:
        self.t = t

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # noqa: N802 (Jinja's visitor naming)
        self.generic_visit(node)
        if (
            not isinstance(node.node, nodes.Name)
            or node.kwargs
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
        ):
            return node
        # The literal texts among the arguments (None where an argument is computed).
        texts = [
            a.value if isinstance(a, nodes.Const) and isinstance(a.value, str) else None for a in node.args
        ]
        match node.node.name, texts:
            case (("_" | "gettext"), [str(message)]):
                return nodes.Const(self.t.gettext(message), lineno=node.lineno)
            case "pgettext", [str(context), str(message)]:
                return nodes.Const(self.t.pgettext(context, message), lineno=node.lineno)
            case "ngettext", [str(singular), str(plural), _]:
                # Every plural category of every language shows up below 200.
                forms = {self.t.ngettext(singular, plural, n) for n in range(200)}
                if len(forms) == 1:
                    return nodes.Const(forms.pop(), lineno=node.lineno)
        return node


class _LanguageEnvironment(Environment):
    """An environment for one UI language (``_``, ``gettext`` and ``pgettext`` are reserved names)."""

    translations: NullTranslations = NullTranslations()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Jinja's internal parse hook (the one `parse` and `compile` share): the tree is
        # rewritten before the optimizer folds the constants into text.
        tree = cast(
            nodes.Template,
            _TranslateLiterals(self.translations).visit(super()._parse(source, name, filename)),
        )
        tree.set_environment(self)
        return tree


class Themes:
    def __init__(
        self,
        themes_dir: Path,
        *,
        static_prefix: str = "/static",
        auto_reload: bool = False,
        fragments: FragmentCache | None = None,
    ) -> None:
        self.themes_dir = themes_dir
        self.static_prefix = static_prefix
        self.auto_reload = auto_reload
        # `{% cache %}` parts of pages (core.fragments); None renders them every time.
        self.fragments = fragments
        self._envs: dict[tuple[str, str], Environment] = {}

    def known(self, theme: str) -> bool:
        return theme == DEFAULT_THEME or (self.themes_dir / theme).is_dir()

    def env(self, theme: str = DEFAULT_THEME, lang: str = DEFAULT_LANGUAGE) -> Environment:
        env = self._envs.get((theme, lang))
        if env is None:
            env = self._envs[theme, lang] = self._build(theme, lang)
        return env

    def _build(self, theme: str, lang: str) -> Environment:
        loaders: list[Any] = []
        if theme != DEFAULT_THEME and (self.themes_dir / theme / "templates").is_dir():
            loaders.append(FileSystemLoader(self.themes_dir / theme / "templates"))
        default = FileSystemLoader(self.themes_dir / DEFAULT_THEME / "templates")
        loaders.append(default)
        # "default/home.html" lets a theme extend the default template it overrides.
        loaders.append(PrefixLoader({DEFAULT_THEME: default}))
        loaders.append(PackageLoader("motcua", "templates"))
        env = _LanguageEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            auto_reload=self.auto_reload,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n", FragmentCacheExtension],
        )
        env.fragment_cache = self.fragments  # type: ignore[attr-defined]
        env.fragment_scope = (theme, lang)  # type: ignore[attr-defined]
        # One msgid per sentence however the template wraps its lines (babel.cfg: trimmed = true).
        env.policies["ext.i18n.trimmed"] = True
        env.translations = t = translations(lang)
        # Old-style gettext on purpose: `_(text)` returns plain text that autoescaping escapes,
        # so templates may translate runtime text (`_(message)`, which may hold a requested URL)
        # safely. New-style would mark every result as safe HTML and %-format it.
        env.install_gettext_translations(t, newstyle=False)  # type: ignore[attr-defined]
        term = term_filter(t.gettext)
        # `_` straight to gettext (not Jinja's alias that looks `gettext` up again on every call),
        # and a Message built in Python (core.messages) translated with its values.
        env.globals["_"] = translator(t.gettext, term, lang)
        env.filters["vnd"] = format_vnd
        env.filters["filesize"] = partial(format_size, lang=lang)
        env.filters["vntime"] = vietnam_time
        env.filters["term"] = term
        env.filters["duration"] = duration_filter(t)
        env.globals["static"] = self.static_url
        env.globals["service_nav"] = service_nav
        env.globals["theme_name"] = theme
        env.globals["lang"] = lang
        return env

    def static_url(self, path: str, theme: str = DEFAULT_THEME) -> str:
        return f"{self.static_prefix}/{theme}/{path}"

    def render(
        self,
        template: str,
        *,
        tenant: Tenant | None = None,
        lang: str = DEFAULT_LANGUAGE,
        **context: Any,
    ) -> str:
        theme = tenant.theme if tenant is not None and self.known(tenant.theme) else DEFAULT_THEME
        # "logo" is a file of the theme, "logo_url" one a portal administrator uploaded (admin.appearance).
        branding = {"primary": "#0b5394", "accent": "#f1c232", "logo": None, "logo_url": None}
        if tenant is not None:
            branding.update(tenant.branding)
        context.setdefault("user", None)
        context.setdefault("csrf_token", "")
        context.setdefault("site", "tenant" if tenant is not None else None)
        context.setdefault("request_path", "/")
        context.setdefault("here", context["request_path"])
        env = self.env(theme, lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
        return env.get_template(template).render(tenant=tenant, branding=branding, **context)


# Message extraction (babel.cfg) ----------------------------------------------------------------
# The classes of core.messages, whose first argument is the msgid.
MESSAGE_KEYWORDS = ("Message", "Term")


def extract_vietnamese(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[Any, ...]]:
    """A Babel extractor for Python modules whose Vietnamese texts templates translate at render
    (``{{ _(title) }}``, ``{{ label|term }}``): the string literals with non-ASCII letters (that is,
    Vietnamese; identifiers and protocol strings are ASCII) inside the top-level definitions that
    babel.cfg names (``names = MESSAGES, http_exception_handler``), docstrings and f-strings left
    out. Then the usual ``_()`` calls, as Babel's own Python extractor finds them, and the msgids
    of ``Message("…", name=value)`` and ``Term("…")`` (``core.messages``)."""
    source = fileobj.read()
    names = {n.strip() for n in str(options.get("names", "")).split(",") if n.strip()}
    tree = ast.parse(source)
    for node in tree.body:
        if _defined_name(node) & names:
            docstrings = {
                id(body[0].value)
                for sub in ast.walk(node)
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and (body := sub.body)
                and isinstance(body[0], ast.Expr)
            }
            formatted = {
                id(v) for sub in ast.walk(node) if isinstance(sub, ast.JoinedStr) for v in sub.values
            }
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Constant)
                    and isinstance(sub.value, str)
                    and not sub.value.isascii()
                    and id(sub) not in docstrings
                    and id(sub) not in formatted
                ):
                    yield sub.lineno, None, sub.value, []
    # Babel hands extractors the keyword names only and looks each found name up in its own
    # map, which has no Message: those calls are yielded as plain msgids (funcname None).
    names_too = dict.fromkeys((*keywords, *MESSAGE_KEYWORDS))
    for lineno, funcname, messages, comments in extract_python(
        io.BytesIO(source), names_too, comment_tags, cast(Any, options)
    ):
        if funcname in MESSAGE_KEYWORDS:
            first = messages[0] if isinstance(messages, tuple | list) else messages
            if isinstance(first, str):
                yield lineno, None, first, comments
        else:
            yield lineno, funcname, messages, comments


def _defined_name(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def extract_toml(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[Any, ...]]:
    """A Babel extractor for data files whose Vietnamese texts pages translate at render (the
    Decision 766 groups and criteria): the string values of the keys babel.cfg names
    (``keys = name, source, note``), wherever they are in the file, that have Vietnamese letters."""
    source = fileobj.read().decode("utf-8")
    keys = {k.strip() for k in str(options.get("keys", "")).split(",") if k.strip()}
    lines = source.splitlines()

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys and isinstance(value, str) and not value.isascii():
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for text in walk(tomllib.loads(source)):
        lineno = next((n for n, line in enumerate(lines, start=1) if text in line), 0)
        yield lineno, None, text, []
