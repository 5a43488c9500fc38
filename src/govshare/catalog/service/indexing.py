"""Keeping the catalog search index (检索索引, CAT-11) in line with the published catalog:
`refresh` brings one resource's entry, text, facet and term bitmaps up to date inside the
publishing transaction, and `reindex_all` rebuilds the whole index.

The index's tables and how text becomes their terms are in `catalog.search_index`; the
facets whose values get bitmaps are `service.search.FACETS`, the same ones a search filters
and counts by. This module never imports `service.resources`, which imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from govshare.catalog import search_index, search_text
from govshare.catalog.models import CatalogKind, DataItem, Resource, ResourceStatus, ResourceVersion
from govshare.catalog.search_index import (
    NAME,
    STAMP,
    TEXT,
    SearchEntry,
    SearchFacet,
    SearchTerm,
    SearchText,
    new_stamp,
)
from govshare.catalog.service.search import FACETS
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, Role, require


def _facet_values(entry: SearchEntry) -> dict[str, str]:
    return {f: str(getattr(entry, f)) for f in FACETS}


def _flip(db_session: Session, resource_id: int, changes: list[tuple[str, str, bool]]) -> None:
    """Sets (True) or clears (False) the resource's bit in the bitmaps of (facet, value), and
    renews the stamp. Rows are locked in key order, so two publications never deadlock."""
    if not changes:
        return
    chunk, bit = divmod(resource_id, search_index.CHUNK)
    keys = sorted({(f, v, chunk) for f, v, _ in changes} | {STAMP})
    _ensure_rows(db_session, keys)
    rows = {
        (row.facet, row.value, row.chunk): row
        for row in db_session.execute(
            select(SearchFacet)
            .where(tuple_(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk).in_(keys))
            .order_by(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    }
    for facet, value, on in changes:
        row = rows[(facet, value, chunk)]
        row.members = search_index.with_bit(row.members, bit, on)
    rows[STAMP].members = new_stamp()


def _ensure_rows(db_session: Session, keys: list[tuple[str, str, int]]) -> None:
    """Creates the bitmap rows of `keys` that do not exist yet (in key order, so that two
    transactions creating the same ones wait for each other instead of deadlocking)."""
    if db_session.get_bind().dialect.name == "postgresql":
        stmt = postgresql_insert(SearchFacet).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(SearchFacet).on_conflict_do_nothing()
    rows = [{"facet": f, "value": v, "chunk": c, "members": b""} for f, v, c in keys]
    db_session.execute(stmt, rows)


def _flip_terms(
    db_session: Session, resource_id: int, changes: list[tuple[str, str, bool]]
) -> None:
    """Sets (True) or clears (False) the resource's bit in the bitmaps of (scope, term). Rows
    are locked in key order (after the facets' rows, as every publication does), so two
    publications never deadlock; a piece left with no member is deleted."""
    if not changes:
        return
    chunk, bit = divmod(resource_id, search_index.TERM_CHUNK)
    keys = sorted({(scope, term) for scope, term, _ in changes})
    adding = sorted({(scope, term) for scope, term, on in changes if on})
    if adding:
        if db_session.get_bind().dialect.name == "postgresql":
            stmt = postgresql_insert(SearchTerm).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(SearchTerm).on_conflict_do_nothing()
        db_session.execute(
            stmt, [{"scope": s, "term": t, "chunk": chunk, "members": b""} for s, t in adding]
        )
    rows = {
        (row.scope, row.term): row
        for row in db_session.execute(
            select(SearchTerm)
            .where(SearchTerm.chunk == chunk, tuple_(SearchTerm.scope, SearchTerm.term).in_(keys))
            .order_by(SearchTerm.scope, SearchTerm.term)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    }
    for scope, term, on in changes:
        row = rows.get((scope, term))
        if row is None:  # clearing a bit that was never stored
            continue
        members = search_index.with_bit(row.members, bit, on).rstrip(b"\0")
        if members:
            row.members = members
        else:
            db_session.delete(row)


def _term_changes(before: tuple[str, str], after: tuple[str, str]) -> list[tuple[str, str, bool]]:
    """The (scope, term, set or cleared) that take (name terms, terms) from `before` to
    `after`."""
    changes: list[tuple[str, str, bool]] = []
    for scope, old, new in ((NAME, before[0], after[0]), (TEXT, before[1], after[1])):
        old_terms, new_terms = set(old.split()), set(new.split())
        changes += [(scope, t, False) for t in sorted(old_terms - new_terms)]
        changes += [(scope, t, True) for t in sorted(new_terms - old_terms)]
    return changes


def _index_rows(
    resource_id: int,
    provider_id: int,
    catalog_kind: CatalogKind,
    published_on: date,
    version: dict[str, Any],
    items: list[tuple[str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `catalog_search` and `catalog_search_text` rows of a published version."""
    terms = search_text.document_terms(version["name"], version["summary"], items)
    entry = {
        "resource_id": resource_id,
        "provider_id": provider_id,
        "catalog_kind": catalog_kind,
        **{f: version[f] for f in FACETS if f not in ("provider_id", "catalog_kind")},
        "published_on": published_on,
        "name_key": search_text.name_key(version["name"]),
        "name_terms": terms.name_terms,
    }
    return entry, {"resource_id": resource_id, "terms": terms.terms}


VERSION_COLUMNS = (
    "name",
    "summary",
    *(f for f in FACETS if f not in ("provider_id", "catalog_kind")),
)


def refresh(db_session: Session, resource: Resource) -> None:
    """Brings the index entry of `resource` in line with its published state: its current
    version while it is published, nothing otherwise. Part of the caller's audited change."""
    entry = db_session.get(SearchEntry, resource.id)
    stored = db_session.get(SearchText, resource.id)
    before = _facet_values(entry) if entry is not None else {}
    terms_before = (
        entry.name_terms if entry is not None else "",
        stored.terms if stored is not None else "",
    )
    terms_after = ("", "")
    version = resource.current_version
    after: dict[str, str] = {}
    if resource.status is ResourceStatus.PUBLISHED and version is not None:
        fresh, fresh_text = _index_rows(
            resource.id,
            resource.provider_id,
            resource.catalog_kind,
            version.published_on or resource.first_published_on or clock.today(),
            {c: getattr(version, c) for c in VERSION_COLUMNS},
            [(i.name, i.description) for i in version.items],
        )
        if entry is None:
            entry = SearchEntry(**fresh)
            db_session.add(entry)
            db_session.flush()
        else:
            for key, value in fresh.items():
                setattr(entry, key, value)
        if stored is None:
            db_session.add(SearchText(**fresh_text))
        else:
            stored.terms = fresh_text["terms"]
        after = _facet_values(entry)
        terms_after = (fresh["name_terms"], fresh_text["terms"])
    elif entry is not None:
        if stored is not None:
            db_session.delete(stored)
            db_session.flush()
        db_session.delete(entry)
    changes = [(f, v, False) for f, v in before.items() if after.get(f) != v]
    changes += [(f, v, True) for f, v in after.items() if before.get(f) != v]
    _flip(db_session, resource.id, changes)
    _flip_terms(db_session, resource.id, _term_changes(terms_before, terms_after))
    db_session.flush()


def reindex_all(
    db_session: Session, *, actor: Actor, progress: Callable[[int, int], None] | None = None
) -> int:
    """Rebuilds the whole index from the published catalog (after an upgrade, or to repair
    it); `progress(done, total)` is told along the way. Returns the resources indexed."""
    require(actor, Role.PLATFORM_OPERATOR, action="重建目录检索索引")
    db_session.execute(delete(SearchFacet))
    db_session.execute(delete(SearchTerm))
    db_session.execute(delete(SearchText))
    db_session.execute(delete(SearchEntry))
    published = db_session.execute(
        select(
            Resource.id,
            Resource.provider_id,
            Resource.catalog_kind,
            Resource.first_published_on,
            ResourceVersion.id,
            ResourceVersion.published_on,
            *(getattr(ResourceVersion, c) for c in VERSION_COLUMNS),
        )
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .where(Resource.status == ResourceStatus.PUBLISHED)
        .order_by(Resource.id)
    ).all()
    bitmaps: dict[tuple[str, str], bytearray] = {}
    terms = search_index.PieceBuilder(search_index.TERM_CHUNK)
    batch_size = 500
    for start in range(0, len(published), batch_size):
        batch = published[start : start + batch_size]
        items: dict[int, list[tuple[str, str]]] = {}
        found = db_session.execute(
            select(DataItem.version_id, DataItem.name, DataItem.description)
            .where(DataItem.version_id.in_([row[4] for row in batch]))
            .order_by(DataItem.version_id, DataItem.position)
        )
        for version_id, name, description in found:
            items.setdefault(version_id, []).append((name, description))
        entries, texts = [], []
        for rid, provider_id, kind, first_on, version_id, published_on, *fields in batch:
            entry, text_row = _index_rows(
                rid,
                provider_id,
                kind,
                published_on or first_on,
                dict(zip(VERSION_COLUMNS, fields, strict=True)),
                items.get(version_id, []),
            )
            entries.append(entry)
            texts.append(text_row)
            for term in set(text_row["terms"].split()):
                terms.add((TEXT, term), rid)
            for term in set(entry["name_terms"].split()):
                terms.add((NAME, term), rid)
            for facet in FACETS:
                bits = bitmaps.setdefault((facet, str(entry[facet])), bytearray())
                if len(bits) <= rid >> 3:
                    bits.extend(bytes((rid >> 3) + 1 - len(bits)))
                bits[rid >> 3] |= 1 << (rid & 7)
        db_session.execute(insert(SearchEntry), entries)
        db_session.execute(insert(SearchText), texts)
        if progress is not None:
            progress(start + len(batch), len(published))
    rows = [
        {"facet": f, "value": v, "chunk": chunk, "members": piece}
        for (f, v), bits in sorted(bitmaps.items())
        for chunk, piece in search_index.pieces(int.from_bytes(bits, "little"))
    ]
    rows.append(dict(zip(("facet", "value", "chunk"), STAMP, strict=True), members=new_stamp()))
    db_session.execute(insert(SearchFacet), rows)
    term_rows = [
        dict(zip(("scope", "term", "chunk", "members"), row, strict=True)) for row in terms.rows()
    ]
    for start in range(0, len(term_rows), 1000):
        db_session.execute(insert(SearchTerm), term_rows[start : start + 1000])
    record(
        db_session,
        actor=actor,
        action="catalog.search.reindex",
        object_type="catalog",
        details={"resources": len(published)},
    )
    return len(published)
