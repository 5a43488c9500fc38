"""Reading the open catalog from the portal database: search with facets, one dataset, its
rows. The pages, the CKAN Action API and the DCAT feeds all read through these functions.

Search matches whole tokens made by `govshare.catalog.search_text` (the same Chinese analysis
as the platform's catalog): FTS5 on SQLite, a `tsvector` on PostgreSQL (see `portal.db`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog import search_text
from govshare.portal.models import (
    PortalDataset,
    PortalDatasetTag,
    PortalField,
    PortalOrganization,
    PortalRelease,
    dataset_rows_table,
)

# Facet name → the dataset column it counts (CKAN's facet.field names where CKAN has one).
FACETS: dict[str, Any] = {
    "groups": PortalDataset.domain,
    "organization": PortalOrganization.name,
    "res_format": PortalDataset.format,
    "update_frequency": PortalDataset.update_frequency,
    "open_type": PortalDataset.open_type,
    "tags": PortalDatasetTag.tag,
}
FACET_LABELS = {
    "groups": "领域",
    "organization": "提供部门",
    "res_format": "资源格式",
    "update_frequency": "更新周期",
    "open_type": "开放属性",
    "tags": "标签",
}
OPEN_TYPE_LABELS = {"unconditional": "无条件开放", "conditional": "有条件开放"}
SORTS = {
    "relevance": "相关度",
    "modified": "最近更新",
    "title": "名称",
}
MAX_ROWS = 1000


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet → values (OR)
    sort: str = "relevance"
    rows: int = 20
    start: int = 0
    facets: tuple[str, ...] = (
        "groups",
        "organization",
        "res_format",
        "update_frequency",
        "open_type",
    )
    # An explicit ordering, (key, descending) pairs over ORDER_KEYS and "relevance"; when
    # empty, `sort` names one.
    order: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    count: int
    datasets: list[PortalDataset]
    facets: dict[str, list[FacetValue]]


def _text_match(db_session: Session, q: str) -> Any | None:
    """The query words as a subquery of (id, rank) of the matching datasets — rank ascending
    is best first — or None when `q` has no words. Matched once per statement: a join, never
    a match per row."""
    words = search_text.parse_query(q)
    if not words:
        return None
    if db_session.get_bind().dialect.name == "sqlite":
        fts = sa.table("portal_dataset_fts", sa.column("rowid", sa.Integer))
        return (
            sa.select(
                fts.c.rowid.label("id"),
                sa.func.bm25(sa.literal_column("portal_dataset_fts")).label("rank"),
            )
            .select_from(fts)
            .where(
                sa.literal_column("portal_dataset_fts").op("MATCH")(
                    search_text.fts5_expression(words)
                )
            )
            .subquery("matched")
        )
    query = sa.func.to_tsquery("simple", search_text.tsquery_expression(words))
    vector = sa.literal_column("portal_dataset.terms_vector")
    return (
        sa.select(PortalDataset.id.label("id"), (-sa.func.ts_rank(vector, query)).label("rank"))
        .where(vector.op("@@")(query))
        .subquery("matched")
    )


def _conditions(query: SearchQuery, *, skip: str | None = None) -> list[Any]:
    """The facet filters as conditions on PortalDataset (values of one facet: any of them)."""
    found = []
    for facet, values in query.filters.items():
        if facet == skip or not values:
            continue
        if facet == "tags":
            tagged = sa.select(PortalDatasetTag.dataset_id).where(PortalDatasetTag.tag.in_(values))
            found.append(PortalDataset.id.in_(tagged))
        elif facet == "organization":
            named = sa.select(PortalOrganization.id).where(PortalOrganization.name.in_(values))
            found.append(PortalDataset.organization_id.in_(named))
        else:
            found.append(FACETS[facet].in_(values))
    return found


def _base(matched: Any | None, conditions: list[Any], *columns: Any) -> sa.Select:
    stmt = sa.select(*columns).select_from(PortalDataset)
    if matched is not None:
        stmt = stmt.join(matched, matched.c.id == PortalDataset.id)
    return stmt.where(*conditions)


# sort key → the column it orders by; SearchQuery.order names (key, descending) pairs
ORDER_KEYS: dict[str, Any] = {
    "modified": PortalDataset.modified,
    "issued": PortalDataset.issued,
    "title": PortalDataset.title,
    "name": PortalDataset.name,
}


def _ordering(query: SearchQuery, matched: Any | None) -> list[Any]:
    order = list(query.order) or {
        "title": [("title", False)],
        "modified": [("modified", True)],
    }.get(query.sort, [("relevance", False), ("modified", True)])
    found = []
    for key, descending in order:
        if key == "relevance":
            if matched is not None:
                found.append(matched.c.rank.desc() if descending else matched.c.rank)
            continue
        column = ORDER_KEYS[key]
        found.append(column.desc() if descending else column)
    return [*found, PortalDataset.id]


def search(db_session: Session, query: SearchQuery) -> SearchResult:
    """The datasets matching `query`, a page of them, and facet counts over all matches."""
    rows = max(0, min(query.rows, MAX_ROWS))
    matched = _text_match(db_session, query.q)
    conditions = _conditions(query)
    count = db_session.scalar(_base(matched, conditions, sa.func.count())) or 0
    page: list[PortalDataset] = []
    if rows and count > query.start:
        stmt = _base(matched, conditions, PortalDataset).order_by(*_ordering(query, matched))
        page = list(db_session.scalars(stmt.offset(query.start).limit(rows)))
    facets = {
        name: _facet(db_session, query, matched, name) for name in query.facets if name in FACETS
    }
    return SearchResult(count=count, datasets=page, facets=facets)


FACET_SHOWN = {
    "groups": PortalDataset.domain_label,
    "organization": PortalOrganization.title,
    "res_format": PortalDataset.format_label,
    "update_frequency": PortalDataset.update_frequency_label,
    "open_type": PortalDataset.open_type,
    "tags": PortalDatasetTag.tag,
}


def _facet(
    db_session: Session, query: SearchQuery, matched: Any | None, name: str
) -> list[FacetValue]:
    """Counts of one facet's values among the matches of every other filter (so choosing a
    value still shows the others of the same facet)."""
    column = FACETS[name]
    count = sa.func.count()
    stmt = _base(
        matched, _conditions(query, skip=name), column, sa.func.min(FACET_SHOWN[name]), count
    )
    if name == "organization":
        stmt = stmt.join(PortalOrganization, PortalOrganization.id == PortalDataset.organization_id)
    elif name == "tags":
        stmt = stmt.join(PortalDatasetTag, PortalDatasetTag.dataset_id == PortalDataset.id)
    stmt = stmt.group_by(column).order_by(count.desc(), column)
    values = []
    for value, shown, n in db_session.execute(stmt):
        if name == "open_type":
            shown = OPEN_TYPE_LABELS.get(value, value)
        values.append(FacetValue(value, shown, n))
    return values


def _is_id(text: str) -> bool:
    """Whether `text` is a row id: ASCII digits that fit an integer column (² is a digit
    to Python, and a long run of digits overflows the database's integer)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def dataset(db_session: Session, name_or_id: str) -> PortalDataset | None:
    """A dataset by its name (slug), its catalog code or its id."""
    conditions = [PortalDataset.name == name_or_id, PortalDataset.code == name_or_id]
    if _is_id(name_or_id):
        conditions.append(PortalDataset.id == int(name_or_id))
    return db_session.scalars(sa.select(PortalDataset).where(sa.or_(*conditions))).first()


def dataset_names(db_session: Session, *, limit: int | None = None, offset: int = 0) -> list[str]:
    stmt = sa.select(PortalDataset.name).order_by(PortalDataset.name).offset(offset)
    return list(db_session.scalars(stmt.limit(limit) if limit else stmt))


def organizations(db_session: Session) -> list[tuple[PortalOrganization, int]]:
    """Departments that provide open data, with their dataset counts, by name."""
    count = sa.func.count(PortalDataset.id)
    stmt = (
        sa.select(PortalOrganization, count)
        .join(PortalDataset)
        .group_by(PortalOrganization.id)
        .order_by(PortalOrganization.name)
    )
    return [(org, n) for org, n in db_session.execute(stmt)]


def organization(db_session: Session, name_or_id: str) -> PortalOrganization | None:
    conditions = [PortalOrganization.name == name_or_id]
    if _is_id(name_or_id):
        conditions.append(PortalOrganization.id == int(name_or_id))
    return db_session.scalars(sa.select(PortalOrganization).where(sa.or_(*conditions))).first()


def domains(db_session: Session) -> list[FacetValue]:
    """Open-data domains (SR§21) that have datasets, with their counts (CKAN: groups)."""
    stmt = (
        sa.select(PortalDataset.domain, sa.func.min(PortalDataset.domain_label), sa.func.count())
        .group_by(PortalDataset.domain)
        .order_by(PortalDataset.domain)
    )
    return [FacetValue(v, label, n) for v, label, n in db_session.execute(stmt)]


def tags(db_session: Session) -> list[str]:
    return list(
        db_session.scalars(
            sa.select(PortalDatasetTag.tag).distinct().order_by(PortalDatasetTag.tag)
        )
    )


def releases(db_session: Session, dataset_id: int) -> list[PortalRelease]:
    """The dataset's update history, newest first."""
    stmt = (
        sa.select(PortalRelease)
        .where(PortalRelease.dataset_id == dataset_id)
        .order_by(PortalRelease.published_at.desc(), PortalRelease.id.desc())
    )
    return list(db_session.scalars(stmt))


@dataclass(frozen=True)
class RowFilter:
    """A condition on one open field: equals `value` (the datastore's `filters`)."""

    column: str
    value: Any


def rows(
    db_session: Session,
    data: PortalDataset,
    *,
    columns: Sequence[str] | None = None,
    where: Sequence[RowFilter] = (),
    q: str = "",
    order_by: Sequence[tuple[str, bool]] = (),  # (column, descending)
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[list[PortalField], sa.Select]:
    """The SELECT of a table dataset's open rows (fields in order, `_row` first), and the
    fields it returns. `q` keeps rows where any text field contains it."""
    table = dataset_rows_table(data)
    if table is None:
        raise ValueError("not a table dataset")
    chosen = [f for f in data.fields if not columns or f.column in columns]
    stmt = sa.select(table.c["_row"], *(table.c[f.column] for f in chosen))
    for condition in where:
        stmt = stmt.where(table.c[condition.column] == condition.value)
    if q:
        texts = [table.c[f.column] for f in data.fields if f.type == "text"]
        found = [t.contains(q, autoescape=True) for t in texts]
        stmt = stmt.where(sa.or_(*found) if found else sa.false())
    ordering = [table.c[c].desc() if desc else table.c[c] for c, desc in order_by]
    stmt = stmt.order_by(*ordering, table.c["_row"])
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return chosen, stmt


def count_rows(db_session: Session, stmt: sa.Select) -> int:
    inner = stmt.limit(None).offset(None).order_by(None)
    return db_session.scalar(sa.select(sa.func.count()).select_from(inner.subquery())) or 0


def stream_rows(
    db_session: Session, stmt: sa.Select, *, batch: int = 2000
) -> Iterator[Sequence[Any]]:
    """The rows of `stmt`, fetched in batches from a server-side cursor."""
    result = db_session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    yield from result


def dataset_terms(
    title: str, notes: str, fields: Sequence[tuple[str, str]], extra: Sequence[str] = ()
) -> tuple[str, str]:
    """(terms, title terms) of a dataset: its title, description, open fields (name,
    description) and `extra` words (department, domain, tags), as the index stores them."""
    document = search_text.document_terms(title, " ".join([notes, *extra]), fields)
    return document.terms, document.name_terms
