"""Catalog reads (async, for pages and the API), search, and seeding (sync, for onboarding)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure, ProcedureForm
from motcua.catalog.schemas import ProcedureSpec, ProcedureSummary
from motcua.catalog.text import deletions, fold, one_edit, with_synonyms
from motcua.tenancy.services import schema_for

T = TypeVar("T")

_SUMMARY_COLUMNS = (
    Procedure.code,
    Procedure.name,
    Procedure.field,
    Procedure.level,
    Procedure.processing_days,
    Procedure.fee_vnd,
    Procedure.processing_unit,
    Procedure.search_text,
)
_UPDATABLE = (
    "name",
    "field",
    "agency",
    "agency_code",
    "level",
    "processing_days",
    "processing_unit",
    "fee_vnd",
    "search_text",
    "form_fields",
    "description",
    "channels",
    "fees",
    "documents",
    "results",
    "legal_basis",
)


def upsert_procedures(conn: Connection, specs: Sequence[ProcedureSpec], *, publish_new: bool = True) -> int:
    """Insert or update procedures by code, publishing a new form version when the form changed.
    The caller's transaction has the tenant's search_path. An update keeps the procedure's
    publication state and templates; new ones are published when seeded from the tenant's file
    (``publish_new``), left for an administrator to publish when imported from /manage."""
    for spec in specs:
        row: dict[str, Any] = asdict(spec)
        row["search_text"] = fold(f"{spec.name} {spec.field} {spec.code} {spec.agency}")
        row["published"] = publish_new
        stmt = pg_insert(Procedure).values(row)
        procedure_id = conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[Procedure.code], set_={c: stmt.excluded[c] for c in _UPDATABLE}
            ).returning(Procedure.id)
        ).scalar_one()
        latest = conn.execute(
            select(ProcedureForm.version, ProcedureForm.definition)
            .where(ProcedureForm.procedure_id == procedure_id)
            .order_by(ProcedureForm.version.desc())
            .limit(1)
        ).one_or_none()
        if latest is None:
            conn.execute(
                insert(ProcedureForm).values(
                    procedure_id=procedure_id, version=1, definition=spec.form_fields
                )
            )
            conn.execute(update(Procedure).where(Procedure.id == procedure_id).values(form_version=1))
        elif latest.definition != spec.form_fields:
            conn.execute(
                insert(ProcedureForm).values(
                    procedure_id=procedure_id, version=latest.version + 1, definition=spec.form_fields
                )
            )
            conn.execute(
                update(Procedure).where(Procedure.id == procedure_id).values(form_version=latest.version + 1)
            )
    return len(specs)


async def list_procedures(session: AsyncSession) -> list[ProcedureSummary]:
    # Core select of columns, not ORM entities: this feeds the cached catalog.
    result = await session.execute(
        select(*_SUMMARY_COLUMNS).where(Procedure.published).order_by(Procedure.field, Procedure.name)
    )
    return [ProcedureSummary(*row) for row in result.all()]


async def get_procedure(session: AsyncSession, code: str, *, published_only: bool = True) -> Procedure | None:
    """A procedure by code; citizens' pages see only published ones."""
    query = select(Procedure).where(Procedure.code == code)
    if published_only:
        query = query.where(Procedure.published)
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def count_procedures(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Procedure)) or 0)


# Search ----------------------------------------------------------------------------------------
PER_PAGE = 20

Terms = tuple[tuple[str, ...], ...]  # every term must match; a term matches by any of its spellings


@dataclass(frozen=True)
class SearchResult:
    items: list[ProcedureSummary]
    total: int
    page: int
    per_page: int
    query: str
    field: str | None
    level: str | None
    # What else was searched for: the synonyms' targets as written ("tình trạng hôn nhân")…
    also: tuple[str, ...] = ()
    # …or, when the query as typed found nothing, the words it was read as ("khai sinh").
    corrected: str | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


class SearchIndex:
    """The words of one catalogue, for one-typo matching: every word and, for each way of
    deleting one letter from it, the words that gives (two words one edit apart share one such
    key). Kept with the cached catalogue (``CatalogCache.index_of``) and built when a search
    first needs it, so a search with a typo looks up a few keys instead of comparing with every
    word, and searches without one cost nothing more."""

    def __init__(self, catalog: Sequence[ProcedureSummary]) -> None:
        self._catalog = catalog
        self._words: frozenset[str] | None = None
        self._near: dict[str, set[str]] = {}

    @property
    def words(self) -> frozenset[str]:
        # Built on the first search that needs it (a query with a typo), not on every search.
        if self._words is None:
            self._words = frozenset(w for p in self._catalog for w in p.search_text.split())
            for word in self._words:
                if len(word) >= 3:
                    for key in deletions(word):
                        self._near.setdefault(key, set()).add(word)
        return self._words

    def contains(self, term: str) -> bool:
        """Whether the term occurs in some word of the catalogue (search matches inside words)."""
        words = self.words
        return term in words or any(term in w for w in words)

    def near(self, term: str) -> tuple[str, ...]:
        """The catalogue's words one typo away from ``term`` (text.one_edit), sorted."""
        if not self.words:
            return ()
        found = {w for key in deletions(term) for w in self._near.get(key, ()) if one_edit(term, w)}
        return tuple(sorted(found))


def _score(p: ProcedureSummary, terms: Terms, phrase: str | None) -> int:
    """The rank of a procedure that matches ``terms``."""
    name = fold(p.name)
    score = sum(10 for spellings in terms if any(t in name for t in spellings)) + len(terms)
    if phrase and phrase in name:
        score += 100 + (50 if name.startswith(phrase) else 0)
    elif phrase and phrase in p.search_text:
        score += 20
    return score


def _corrected(terms: Terms, index: SearchIndex) -> Terms | None:
    """The terms with each one the catalogue does not contain replaced by its words one typo
    away; None when such a term has none (the query cannot match)."""
    fixed = []
    for spellings in terms:
        if any(index.contains(t) for t in spellings):
            fixed.append(spellings)
            continue
        near = tuple(w for t in spellings for w in index.near(t))
        if not near:
            return None
        fixed.append(near)
    return tuple(fixed)


def search(
    catalog: Sequence[ProcedureSummary],
    query: str | None,
    *,
    field: str | None = None,
    level: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    index: SearchIndex | None = None,
) -> SearchResult:
    """Diacritic-insensitive search over the (cached) catalog: every word must appear; matches
    in the name rank above matches elsewhere, the whole phrase above scattered words. The query
    rewritten by the synonyms list (text.with_synonyms) is searched too; and when neither finds
    anything, each word the catalogue does not contain is read as the catalogue's words one typo
    away ("khai snh" → "khai sinh"). ``index``: the catalogue's SearchIndex when it is cached.

    In memory on purpose: a tenant has at most a few thousand procedures, already cached per
    process, so this costs less than one database round trip."""
    folded = fold(query or "")
    plans: list[tuple[Terms, str | None]] = [(tuple((t,) for t in folded.split()), folded)]
    rewritten = with_synonyms(folded) if folded else None
    if rewritten is not None:
        plans.append((tuple((t,) for t in rewritten[0].split()), rewritten[0]))
    field_key = fold(field) if field else None
    candidates = (
        [
            p
            for p in catalog
            if (not level or p.level == level) and (not field_key or fold(p.field) == field_key)
        ]
        if level or field_key
        else catalog
    )
    code = (query or "").strip()

    def run(plans: Sequence[tuple[Terms, str | None]]) -> list[tuple[int, ProcedureSummary]]:
        # The hot loop of every search, one comprehension per reading of the query: a substring
        # test per word and procedure, as before synonyms and typos (a term with several
        # spellings, a typo's readings, is the rare case).
        best: dict[str, tuple[int, ProcedureSummary]] = {}
        for terms, phrase in plans:
            if all(len(spellings) == 1 for spellings in terms):
                words = [spellings[0] for spellings in terms]
                matched = [p for p in candidates if all(w in p.search_text for w in words)]
            else:
                matched = [
                    p
                    for p in candidates
                    if all(any(t in p.search_text for t in spellings) for spellings in terms)
                ]
            for p in matched:
                score = _score(p, terms, phrase) + (1000 if p.code == code else 0)
                if p.code not in best or best[p.code][0] < score:
                    best[p.code] = (score, p)
        return list(best.values())

    scored = run(plans) if folded else [(0, p) for p in candidates]
    corrected = None
    if not scored and folded:
        index = index or SearchIndex(catalog)
        fixes = [(c, None) for terms, _ in plans if (c := _corrected(terms, index)) is not None]
        scored = run(fixes)
        if scored:
            # What the first reading was: each term as its closest catalogue word.
            corrected = " ".join(spellings[0] for spellings in fixes[0][0])
    scored.sort(key=lambda sp: (-sp[0], fold(sp[1].name)))
    total = len(scored)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return SearchResult(
        items=[p for _, p in scored[start : start + per_page]],
        total=total,
        page=page,
        per_page=per_page,
        query=query or "",
        field=field,
        level=level,
        also=tuple(rewritten[1]) if rewritten is not None and total and corrected is None else (),
        corrected=corrected,
    )


def fields_of(catalog: Sequence[ProcedureSummary]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for p in catalog:
        counts[p.field] = counts.get(p.field, 0) + 1
    return sorted(counts.items(), key=lambda fc: fold(fc[0]))


class CatalogCache:
    """Per-process cache of each tenant's catalog: it changes rarely and every catalog page
    reads it. Subscribed to ``tenancy.events``: a tenant change in any process clears it, a
    catalogue change (``catalog_changed(slug)``) drops that tenant's entries; the TTL is the
    fallback when such a message is lost."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, list[ProcedureSummary]]] = {}
        # Each cached catalogue's SearchIndex (built when a search with a typo first needs it).
        self._indexes: dict[str, tuple[list[ProcedureSummary], SearchIndex]] = {}
        self._details: dict[tuple[str, str], tuple[float, Procedure | None]] = {}
        # What pages derive from a cached catalogue (the home page's lists), once per list.
        self._derived: dict[tuple[str, str], tuple[list[ProcedureSummary], Any]] = {}

    def get(self, schema: str) -> list[ProcedureSummary] | None:
        entry = self._entries.get(schema)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, schema: str, procedures: list[ProcedureSummary]) -> None:
        self._entries[schema] = (time.monotonic() + self.ttl, procedures)

    def index_of(self, schema: str, procedures: list[ProcedureSummary]) -> SearchIndex:
        """The search index of ``procedures`` (the list this cache handed out for ``schema``),
        built once per cached list: a reloaded catalogue is a new list and gets a new index."""
        entry = self._indexes.get(schema)
        if entry is None or entry[0] is not procedures:
            entry = self._indexes[schema] = (procedures, SearchIndex(procedures))
        return entry[1]

    def derived(
        self, schema: str, procedures: list[ProcedureSummary], name: str, build: Callable[[], T]
    ) -> T:
        """``build()``'s value for this cached catalogue list, computed once per list (like
        ``index_of``): sorting and folding the catalogue on every home page was wasted work."""
        entry = self._derived.get((schema, name))
        if entry is None or entry[0] is not procedures:
            entry = self._derived[schema, name] = (procedures, build())
        return cast(T, entry[1])

    def get_detail(self, schema: str, code: str) -> tuple[bool, Procedure | None]:
        entry = self._details.get((schema, code))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put_detail(self, schema: str, code: str, procedure: Procedure | None) -> None:
        if len(self._details) > 50_000:  # bounded: codes in URLs are user input
            self._details.clear()
        self._details[(schema, code)] = (time.monotonic() + self.ttl, procedure)

    def invalidate(self, schema: str | None = None) -> None:
        """Drop one tenant's entries, or all (called on any in-process tenant change)."""
        if schema is None:
            self._entries.clear()
            self._details.clear()
            self._indexes.clear()
            self._derived.clear()
        else:
            self._entries.pop(schema, None)
            self._indexes.pop(schema, None)
            self._derived = {k: v for k, v in self._derived.items() if k[0] != schema}
            self._details = {k: v for k, v in self._details.items() if k[0] != schema}

    def catalog_changed(self, slug: str) -> None:
        """One tenant's catalogue changed: only its entries go, the other tenants' stay warm."""
        self.invalidate(schema_for(slug))
