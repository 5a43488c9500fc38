"""Reading the open catalog from the portal database: search with facets, one dataset, its
rows. The pages, the CKAN Action API and the DCAT feeds all read through these functions.

Search matches whole tokens made by `govshare.catalog.search_text` (the same Chinese analysis
as the platform's catalog), in the index each portal process keeps in memory
(`portal.search_index`), the same whichever database the portal runs on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog import search_text
from govshare.portal import search_index
from govshare.portal.models import (
    PortalDataset,
    PortalDatasetTag,
    PortalField,
    PortalOrganization,
    PortalRelease,
    dataset_rows_table,
)

# The facets, by CKAN's facet.field names where CKAN has one: domain, department (by its
# name), format, update frequency, open type, tags.
FACETS = ("groups", "organization", "res_format", "update_frequency", "open_type", "tags")
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


def _ordering(query: SearchQuery) -> list[tuple[str, bool]]:
    return list(query.order) or {
        "title": [("title", False)],
        "modified": [("modified", True)],
    }.get(query.sort, [("relevance", False), ("modified", True)])


def search(db_session: Session, query: SearchQuery) -> SearchResult:
    """The datasets matching `query`, a page of them, and facet counts over all matches
    (each facet among the matches of every other filter, so choosing a value still shows the
    others of the same facet), from the in-memory index (`search_index`)."""
    index = search_index.current(db_session)
    found = index.search(
        search_text.parse_query(query.q),
        {name: values for name, values in query.filters.items() if name in FACETS},
        _ordering(query),
        max(0, query.start),
        max(0, min(query.rows, MAX_ROWS)),
        [name for name in query.facets if name in FACETS],
    )
    page: list[PortalDataset] = []
    if found.ids:
        loaded = db_session.scalars(sa.select(PortalDataset).where(PortalDataset.id.in_(found.ids)))
        by_id = {d.id: d for d in loaded}
        page = [by_id[i] for i in found.ids if i in by_id]
    facets = {
        name: [
            FacetValue(
                value, OPEN_TYPE_LABELS.get(value, label) if name == "open_type" else label, n
            )
            for value, label, n in counted
        ]
        for name, counted in found.facets.items()
    }
    return SearchResult(count=found.count, datasets=page, facets=facets)


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
    counts = {value: n for value, _, n in search_index.current(db_session).totals("organization")}
    stmt = sa.select(PortalOrganization).order_by(PortalOrganization.name)
    return [(org, counts[org.name]) for org in db_session.scalars(stmt) if org.name in counts]


def organization(db_session: Session, name_or_id: str) -> PortalOrganization | None:
    conditions = [PortalOrganization.name == name_or_id]
    if _is_id(name_or_id):
        conditions.append(PortalOrganization.id == int(name_or_id))
    return db_session.scalars(sa.select(PortalOrganization).where(sa.or_(*conditions))).first()


def domains(db_session: Session) -> list[FacetValue]:
    """Open-data domains (SR§21) that have datasets, with their counts (CKAN: groups)."""
    counted = search_index.current(db_session).totals("groups")
    return [FacetValue(value, label, n) for value, label, n in sorted(counted)]


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
