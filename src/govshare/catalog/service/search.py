"""Catalog search (CAT-11): Chinese full-text search over the published catalog, with facet
counts, sorting and paging, the same on SQLite and PostgreSQL.

How a search runs (the index itself is described in `catalog.search_index` and kept in line
by `service.indexing`):

1. The words of the query are segmented by jieba and expanded through the synonym list
   (公民身份 also finds 身份证号); the bitmaps of their terms are read from the index
   (`catalog_search_term`, a few rows per term) and combined into the bitmap of the matches,
   so a word found in a third of the catalog costs no more than a rare one.
2. Filters and facet counts work on the facet bitmaps: the filtered set is an AND of bitmaps,
   and a count is a popcount. Each facet is counted with every filter applied except its own
   (standard faceting), so the sidebar shows what choosing another value would give; `total`
   has every filter applied.
3. The page is read from the sort order's index: walking it and keeping members of the
   filtered set when that set is large, or ordering the set's own ids when it is small.

Relevance puts resources whose name matches the whole query first, then the rest, each newest
first; ties everywhere break on the resource id, so the order is total and both databases
return the same page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, Integer, LargeBinary, bindparam, select, text, tuple_
from sqlalchemy.orm import Session

from govshare.catalog import search_index, search_text
from govshare.catalog.models import (
    CatalogKind,
    DataItem,
    Domain,
    Labelled,
    OpenType,
    Resource,
    ResourceFormat,
    ResourceVersion,
    ShareType,
    UpdateFrequency,
)
from govshare.catalog.search_index import STAMP, SearchEntry, SearchFacet, SearchTerm
from govshare.catalog.service.common import READERS
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor, require
from govshare.identity.models import Organization

# Facet → the enum of its values (None: the provider, an organisation id).
FACETS: dict[str, type[Labelled] | None] = {
    "provider_id": None,
    "catalog_kind": CatalogKind,
    "domain": Domain,
    "share_type": ShareType,
    "format": ResourceFormat,
    "open_type": OpenType,
    "update_frequency": UpdateFrequency,
}
FACET_LABELS = {
    "provider_id": "提供部门",
    "catalog_kind": "目录类型",
    "domain": "所属领域",
    "share_type": "共享类型",
    "format": "资源格式",
    "open_type": "开放属性",
    "update_frequency": "更新周期",
}
SORTS = {"relevance": "相关度", "published": "最新发布", "name": "名称"}
MAX_PAGE_SIZE = 100
MAX_WORDS = 8
MAX_TEXT = 200
SNIPPET = 90  # characters of summary shown


@dataclass(frozen=True)
class SearchQuery:
    """What the user asked: words, one value per facet at most, sort and page."""

    text: str = ""
    provider_id: int | None = None
    catalog_kind: CatalogKind | None = None
    domain: Domain | None = None
    share_type: ShareType | None = None
    format: ResourceFormat | None = None
    open_type: OpenType | None = None
    update_frequency: UpdateFrequency | None = None
    sort: str | None = None  # relevance (default with words), published (default without), name
    page: int = 1
    page_size: int = 20

    def filters(self) -> dict[str, str]:
        """The active filters as facet → stored value."""
        return {f: str(getattr(self, f)) for f in FACETS if getattr(self, f) is not None}


@dataclass(frozen=True)
class SearchRow:
    """One resource in a result page."""

    resource_id: int
    code: str
    name: str
    snippet: str
    provider_id: int
    provider: str
    catalog_kind: CatalogKind
    domain: Domain
    share_type: ShareType
    format: ResourceFormat
    open_type: OpenType
    update_frequency: UpdateFrequency
    published_on: date
    matched_items: tuple[str, ...] = ()  # data items that answer a word of the query


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet, with the number of results choosing it would give."""

    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class SearchResult:
    """A page of results, the total, the facet counts and what to highlight."""

    query: SearchQuery  # as run: text trimmed, sort decided
    rows: list[SearchRow]
    total: int
    facets: dict[str, list[FacetValue]]
    page: int
    pages: int
    highlights: tuple[str, ...] = field(default=())


def _checked(query: SearchQuery) -> SearchQuery:
    text_ = " ".join((query.text or "").split())
    if len(text_) > MAX_TEXT:
        raise Invalid(f"检索词不能超过 {MAX_TEXT} 个字", field="text")
    if len(text_.split()) > MAX_WORDS:
        raise Invalid(f"检索词最多 {MAX_WORDS} 个（以空格分隔）", field="text")
    if query.page < 1:
        raise Invalid("页码从 1 开始", field="page")
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"每页条数应在 1 到 {MAX_PAGE_SIZE} 之间", field="page_size")
    sort = query.sort or ("relevance" if text_ else "published")
    if sort not in SORTS:
        raise Invalid(f"排序方式只能是 {'、'.join(SORTS)}", field="sort")
    values: dict[str, Any] = {}
    for facet, enum in FACETS.items():
        value = getattr(query, facet)
        if value is None or enum is None:
            continue
        try:
            values[facet] = enum(value)
        except ValueError:
            raise Invalid(f"{FACET_LABELS[facet]}“{value}”不存在", field=facet) from None
    return replace(query, text=text_, sort=sort, **values)


def _matching(
    db_session: Session, words: tuple[search_text.Word, ...], *, names: bool
) -> tuple[int, int]:
    """Bitmaps of the resources whose terms match `words`, and (with `names`) of those whose
    name alone does: the bitmaps of the query's terms, read in one statement, combined."""
    tokens = sorted({t for word in words for alternative in word for t in alternative})
    scopes = [search_index.TEXT, search_index.NAME] if names else [search_index.TEXT]
    found = db_session.execute(
        select(SearchTerm.scope, SearchTerm.term, SearchTerm.chunk, SearchTerm.members).where(
            SearchTerm.scope.in_(scopes), SearchTerm.term.in_(tokens)
        )
    )
    stored: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    for scope, term, chunk, members in found:
        stored.setdefault((scope, term), []).append((chunk, members))
    bitmaps = {
        key: search_index.joined(parts, search_index.TERM_CHUNK) for key, parts in stored.items()
    }

    def matched(scope: str) -> int:
        # An AND over words of an OR over alternatives of an AND over tokens.
        result = -1  # every bit set: the neutral element of AND
        for word in words:
            any_ = 0
            for alternative in word:
                every = -1
                for token in alternative:
                    every &= bitmaps.get((scope, token), 0)
                any_ |= every
            result &= any_
        return max(result, 0)

    return matched(search_index.TEXT), matched(search_index.NAME) if names else 0


# The facet bitmaps as last read by this process, under the stamp they were read with.
_read: tuple[bytes, dict[str, dict[str, int]]] | None = None


def _bitmaps(db_session: Session) -> dict[str, dict[str, int]]:
    """The facet bitmaps. Every change renews a random stamp in the same transaction, so
    bitmaps read under the stamp this transaction sees are exactly the ones it would read:
    they are kept and reused until the stamp changes (a few megabytes read per search
    otherwise). Nothing another process needs lives here; each reads its own."""
    global _read
    stamp = db_session.execute(
        select(SearchFacet.members).where(
            tuple_(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk) == tuple_(*STAMP)
        )
    ).scalar()
    kept = _read
    if stamp is not None and kept is not None and kept[0] == stamp:
        return kept[1]
    stored: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    rows = db_session.execute(
        select(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk, SearchFacet.members)
    )
    for facet, value, chunk, members in rows:
        if facet in FACETS:
            stored.setdefault((facet, value), []).append((chunk, members))
    found: dict[str, dict[str, int]] = {f: {} for f in FACETS}
    for (facet, value), parts in stored.items():
        found[facet][value] = search_index.joined(parts)
    if stamp is not None:
        _read = (bytes(stamp), found)
    return found


def _labels(db_session: Session, facet: str, values: list[str]) -> dict[str, str]:
    enum = FACETS[facet]
    if enum is not None:
        return {v: enum(v).label for v in values if v in enum._value2member_map_}
    # Every organisation's name: a few hundred rows, one statement that never changes.
    names = db_session.execute(select(Organization.id, Organization.name))
    wanted = set(values)
    return {str(i): n for i, n in names if str(i) in wanted}


def _facets(
    db_session: Session,
    bitmaps: dict[str, dict[str, int]],
    matched: int,
    chosen: dict[str, int],
    filters: dict[str, str],
) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        base = matched
        for other, bits in chosen.items():
            if other != facet:
                base &= bits
        counts = {v: (base & bits).bit_count() for v, bits in bitmaps[facet].items()}
        shown = [v for v, n in counts.items() if n or filters.get(facet) == v]
        if facet in filters and filters[facet] not in shown:
            shown.append(filters[facet])
        labels = _labels(db_session, facet, shown)
        values = [
            FacetValue(v, labels.get(v, v), counts.get(v, 0), filters.get(facet) == v)
            for v in shown
        ]
        values.sort(key=lambda fv: (-fv.count, fv.label))
        out[facet] = values
    return out


# Sort order → (the ORDER BY, whether it runs descending); both end on the resource id.
_ORDER = {
    "published": ((SearchEntry.published_on, SearchEntry.resource_id), True),
    "name": ((SearchEntry.name_key, SearchEntry.resource_id), False),
}


def _order_by(order: str) -> list[Any]:
    columns, descending = _ORDER[order]
    return [c.desc() for c in columns] if descending else list(columns)


SMALL_SET = 2_000  # up to this many, a set is ordered by its ids; beyond, by walking an index


def _member(db_session: Session, bits: int) -> Any:
    """A condition true for the rows of `catalog_search` in the bitmap."""
    if db_session.get_bind().dialect.name == "postgresql":
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        return text(
            "CASE WHEN catalog_search.resource_id < :nbits "
            "THEN get_bit(:bits, catalog_search.resource_id) ELSE 0 END = 1"
        ).bindparams(bindparam("bits", data, type_=LargeBinary), nbits=len(data) * 8)
    return text("substr(:flags, catalog_search.resource_id + 1, 1) = x'01'").bindparams(
        bindparam("flags", search_index.byte_flags(bits), type_=LargeBinary)
    )


def _among(db_session: Session, ids: list[int]) -> Any:
    """A condition true for the rows of `catalog_search` whose id is in `ids`, passed as one
    parameter (thousands of separate parameters cost more to bind than to run)."""
    if db_session.get_bind().dialect.name == "postgresql":
        return text("catalog_search.resource_id = ANY(:ids)").bindparams(
            bindparam("ids", ids, type_=ARRAY(Integer))
        )
    sql = "catalog_search.resource_id IN (SELECT value FROM json_each(:ids))"
    return text(sql).bindparams(ids=json.dumps(ids))


def _ordered(
    db_session: Session, order: str, bits: int, count: int, skip: int, take: int
) -> list[int]:
    """`take` ids of the set `bits` (of `count` members) in `order`, after `skip`: a small
    set is ordered by the database from its ids; a large one by walking the order's index
    and keeping members, which stops as soon as the page is full."""
    if take <= 0 or skip >= count:
        return []
    small = count <= SMALL_SET
    stmt = (
        select(SearchEntry.resource_id)
        .where(
            _among(db_session, search_index.members_of(bits))
            if small
            else _member(db_session, bits)
        )
        .order_by(*_order_by(order))
        .offset(skip)
        .limit(take)
    )
    return list(db_session.execute(stmt).scalars())


def _rows(
    db_session: Session,
    ids: list[int],
    words: tuple[search_text.Word, ...],
    marks: tuple[str, ...],
) -> list[SearchRow]:
    if not ids:
        return []
    columns = [getattr(SearchEntry, f) for f in FACETS]
    found = db_session.execute(
        select(
            SearchEntry.resource_id,
            Resource.code,
            ResourceVersion.id,
            ResourceVersion.name,
            ResourceVersion.summary,
            Organization.name,
            SearchEntry.published_on,
            *columns,
        )
        .join(Resource, Resource.id == SearchEntry.resource_id)
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .join(Organization, Organization.id == SearchEntry.provider_id)
        .where(SearchEntry.resource_id.in_(ids))
    ).all()
    by_id = {row[0]: row for row in found}
    answering: dict[int, list[str]] = {}
    if words:
        items = db_session.execute(
            select(DataItem.version_id, DataItem.name)
            .where(DataItem.version_id.in_([row[2] for row in found]))
            .order_by(DataItem.version_id, DataItem.position)
        )
        for version_id, name in items:
            if search_text.item_matches(name, words):
                answering.setdefault(version_id, []).append(name)
    rows = []
    for rid in ids:
        if rid not in by_id:  # retired between two statements (read committed): left out
            continue
        _, code, version_id, name, summary, org, published_on, *facets = by_id[rid]
        rows.append(
            SearchRow(
                resource_id=rid,
                code=code,
                name=name,
                snippet=_snippet(summary, marks),
                provider=org,
                published_on=published_on,
                **dict(zip(FACETS, facets, strict=True)),
                matched_items=tuple(answering.get(version_id, ())),
            )
        )
    return rows


def _snippet(summary: str, marks: tuple[str, ...]) -> str:
    """About SNIPPET characters of `summary`, around the first place a mark appears."""
    summary = " ".join(summary.split())
    if len(summary) <= SNIPPET:
        return summary
    lowered = summary.lower()
    places = [p for p in (lowered.find(m) for m in marks) if p >= 0]
    start = max(0, min(places) - SNIPPET // 3) if places else 0
    start = min(start, len(summary) - SNIPPET)
    piece = summary[start : start + SNIPPET]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(summary) else "")


def search(db_session: Session, *, actor: Actor, query: SearchQuery) -> SearchResult:
    """Searches the published catalog; reads only, records nothing (a search is not a data
    access)."""
    require(actor, *READERS, action="检索资源目录")
    query = _checked(query)
    words = search_text.parse_query(query.text)
    bitmaps = _bitmaps(db_session)
    everything = 0
    for bits in bitmaps["catalog_kind"].values():
        everything |= bits
    relevance = query.sort == "relevance" and bool(words)
    matched, named = _matching(db_session, words, names=relevance) if words else (everything, 0)
    matched &= everything
    filters = query.filters()
    chosen = {f: bitmaps[f].get(v, 0) for f, v in filters.items()}
    selected = matched
    for bits in chosen.values():
        selected &= bits
    total = selected.bit_count()
    pages = max(1, math.ceil(total / query.page_size))
    skip, take = (query.page - 1) * query.page_size, query.page_size
    if relevance:
        first = selected & named
        rest = selected & ~first
        n_first = first.bit_count()
        ids = _ordered(db_session, "published", first, n_first, skip, take)
        ids += _ordered(
            db_session, "published", rest, total - n_first, max(0, skip - n_first), take - len(ids)
        )
    else:
        order = "name" if query.sort == "name" else "published"
        ids = _ordered(db_session, order, selected, total, skip, take)
    marks = search_text.highlights(query.text)
    return SearchResult(
        query=query,
        rows=_rows(db_session, ids, words, marks),
        total=total,
        facets=_facets(db_session, bitmaps, matched, chosen, filters),
        page=query.page,
        pages=pages,
        highlights=marks,
    )
