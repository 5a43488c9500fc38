"""The open catalog's search index, held in memory by each portal process.

A catalog of 100,000 datasets answers a search with facets in a few milliseconds only if
nothing is counted row by row in the database: a common word matches half the catalog, and
five facet counts over those rows cost a second in SQL. The portal's catalog changes only
when the platform publishes, so each process keeps the catalog's searchable parts as arrays
(numpy), the way search engines do:

- every dataset has a position, in the default order (last modified first, then id);
- a facet is an array of value codes by position, tags a flat list of (position, tag) pairs;
- each search token (`govshare.catalog.search_text`, as stored in `terms`) has the sorted
  positions of the datasets that hold it, and those whose title holds it.

A query's matches are then boolean masks (AND over words, OR over a word's alternatives,
AND over an alternative's tokens, as `search_text.document_matches` defines them), facet
counts `bincount`s of the codes under a mask, and a page a slice of the sorted matches.

The index knows which state of the catalog it holds by the database's generation counter
(`portal_generation`, raised by triggers on every change to datasets, their tags and
organizations, see `portal.db`); a search that finds the counter moved rebuilds the index
first (about a second per 100,000 datasets) while other threads wait for it.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog import search_text
from govshare.portal.models import PortalDataset, PortalDatasetTag, PortalOrganization

Mask = np.ndarray  # bool, one per position

# facet → (the value's column, its label's column), read per dataset
_FACET_COLUMNS: dict[str, tuple[Any, Any]] = {
    "groups": (PortalDataset.domain, PortalDataset.domain_label),
    "organization": (PortalOrganization.name, PortalOrganization.title),
    "res_format": (PortalDataset.format, PortalDataset.format_label),
    "update_frequency": (PortalDataset.update_frequency, PortalDataset.update_frequency_label),
    "open_type": (PortalDataset.open_type, PortalDataset.open_type),
}
ORDER_KEYS = ("modified", "issued", "title", "name")


@dataclass(frozen=True)
class Facet:
    """One facet: the value code of each position, and each code's value and label."""

    codes: np.ndarray  # int32 per position
    values: list[str]
    labels: list[str]
    code_of: dict[str, int]

    def mask(self, wanted: Iterable[str]) -> Mask:
        codes = [self.code_of[v] for v in wanted if v in self.code_of]
        return np.isin(self.codes, codes)

    def counts(self, under: Mask) -> np.ndarray:
        return np.bincount(self.codes[under], minlength=len(self.values))


@dataclass(frozen=True)
class Tags:
    """Tags as flat (position, tag code) pairs, one pair per tag of a dataset."""

    positions: np.ndarray  # int32
    codes: np.ndarray  # int32
    values: list[str]
    code_of: dict[str, int]

    def mask(self, wanted: Iterable[str], size: int) -> Mask:
        codes = [self.code_of[v] for v in wanted if v in self.code_of]
        found = np.zeros(size, dtype=bool)
        found[self.positions[np.isin(self.codes, codes)]] = True
        return found

    def counts(self, under: Mask) -> np.ndarray:
        return np.bincount(self.codes[under[self.positions]], minlength=len(self.values))


@dataclass(frozen=True)
class Found:
    """A search's answer: how many match, the ids of the page asked for, and facet counts
    as (value, label, count), most first."""

    count: int
    ids: list[int]
    facets: dict[str, list[tuple[str, str, int]]]


class SearchIndex:
    """The searchable parts of the catalog at one generation (immutable once built)."""

    def __init__(self, db_session: Session, generation: int) -> None:
        self.generation = generation
        stmt = (
            sa.select(
                PortalDataset.id,
                PortalDataset.modified,
                PortalDataset.issued,
                PortalDataset.title,
                PortalDataset.name,
                PortalDataset.terms,
                PortalDataset.title_terms,
                *(column for pair in _FACET_COLUMNS.values() for column in pair),
            )
            .join(PortalOrganization, PortalOrganization.id == PortalDataset.organization_id)
            .order_by(PortalDataset.modified.desc(), PortalDataset.id)
        )
        rows = db_session.execute(stmt).all()
        self.size = len(rows)
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        position_of = {int(i): p for p, i in enumerate(self.ids)}
        self.ranks = {
            "modified": _dense_rank([r[1] for r in rows]),
            "issued": _dense_rank([r[2] for r in rows]),
            "title": _dense_rank([r[3] for r in rows]),
            "name": _dense_rank([r[4] for r in rows]),
        }
        self.postings = _postings(r[5] for r in rows)
        self.title_postings = _postings(r[6] for r in rows)
        self.facets: dict[str, Facet] = {}
        for i, name in enumerate(_FACET_COLUMNS):
            self.facets[name] = _facet([(r[7 + 2 * i], r[8 + 2 * i]) for r in rows])
        tag_rows = db_session.execute(
            sa.select(PortalDatasetTag.dataset_id, PortalDatasetTag.tag)
        ).all()
        values = sorted({t for _, t in tag_rows})
        code_of = {v: c for c, v in enumerate(values)}
        kept = [(position_of[d], code_of[t]) for d, t in tag_rows if d in position_of]
        self.tags = Tags(
            positions=np.array([p for p, _ in kept], dtype=np.int32),
            codes=np.array([c for _, c in kept], dtype=np.int32),
            values=values,
            code_of=code_of,
        )

    # --- matching ----------------------------------------------------------------------

    def _token(self, token: str, postings: dict[str, np.ndarray] | None = None) -> Mask:
        found = np.zeros(self.size, dtype=bool)
        held = (self.postings if postings is None else postings).get(token)
        if held is not None:
            found[held] = True
        return found

    def matches(self, words: Sequence[search_text.Word]) -> Mask:
        """The datasets holding every word (a word: any of its alternatives, each all of
        its tokens)."""
        matched = np.ones(self.size, dtype=bool)
        for word in words:
            any_of = np.zeros(self.size, dtype=bool)
            for alternative in word:
                all_of = np.ones(self.size, dtype=bool)
                for token in alternative:
                    all_of &= self._token(token)
                any_of |= all_of
            matched &= any_of
        return matched

    def scores(self, words: Sequence[search_text.Word], positions: np.ndarray) -> np.ndarray:
        """Relevance of the datasets at `positions`: each query token they hold weighs its
        rarity (log(1 + N / datasets holding it)), twice when the title holds it too."""
        tokens = {t for word in words for alternative in word for t in alternative}
        score = np.zeros(len(positions))
        for token in tokens:
            held = self.postings.get(token)
            if held is None:
                continue
            weight = math.log(1 + self.size / len(held))
            score += weight * self._token(token)[positions]
            score += weight * self._token(token, self.title_postings)[positions]
        return score

    def filter_masks(self, filters: dict[str, tuple[str, ...]]) -> dict[str, Mask]:
        masks = {}
        for name, values in filters.items():
            if not values:
                continue
            if name == "tags":
                masks[name] = self.tags.mask(values, self.size)
            else:
                masks[name] = self.facets[name].mask(values)
        return masks

    # --- the search --------------------------------------------------------------------

    def search(
        self,
        words: Sequence[search_text.Word],
        filters: dict[str, tuple[str, ...]],
        order: Sequence[tuple[str, bool]],
        start: int,
        rows: int,
        facets: Sequence[str],
    ) -> Found:
        """`order` is (key, descending) over ORDER_KEYS and "relevance" (a rank: ascending
        is the best first); the id breaks the ties that remain."""
        text = self.matches(words) if words else np.ones(self.size, dtype=bool)
        masks = self.filter_masks(filters)
        matched = text.copy()
        for mask in masks.values():
            matched &= mask
        positions = np.flatnonzero(matched)
        page = self._page(positions, words, order, start, rows) if rows else []
        counted = {}
        for name in facets:
            under = text.copy()
            for other, mask in masks.items():
                if other != name:
                    under &= mask
            counted[name] = self._facet_counts(name, under)
        return Found(count=len(positions), ids=[int(i) for i in self.ids[page]], facets=counted)

    def _page(
        self,
        positions: np.ndarray,
        words: Sequence[search_text.Word],
        order: Sequence[tuple[str, bool]],
        start: int,
        rows: int,
    ) -> np.ndarray:
        if start >= len(positions):
            return positions[:0]
        keys: list[np.ndarray] = []
        for i, (key, descending) in enumerate(order):
            if key == "relevance":
                if not words:
                    continue
                value = -self.scores(words, positions)  # as a rank: the best first
            elif (key, descending) == ("modified", True) and not keys and i == len(order) - 1:
                break  # the default order, which positions are in
            else:
                value = self.ranks[key][positions]
            keys.append(-value if descending else value)
        if not keys:
            return positions[start : start + rows]
        # np.lexsort sorts by the last key first; the id breaks the remaining ties.
        ordered = np.lexsort([self.ids[positions], *reversed(keys)])
        return positions[ordered[start : start + rows]]

    def totals(self, name: str) -> list[tuple[str, str, int]]:
        """A facet's counts over the whole catalog, most first."""
        return self._facet_counts(name, np.ones(self.size, dtype=bool))

    def _facet_counts(self, name: str, under: Mask) -> list[tuple[str, str, int]]:
        if name == "tags":
            counts = self.tags.counts(under)
            values, labels = self.tags.values, self.tags.values
        else:
            facet = self.facets[name]
            counts, values, labels = facet.counts(under), facet.values, facet.labels
        present = np.flatnonzero(counts)
        listed = sorted(present, key=lambda c: (-int(counts[c]), values[c]))
        return [(values[c], labels[c], int(counts[c])) for c in listed]


def _dense_rank(values: list[Any]) -> np.ndarray:
    """Each value's rank among the distinct values, ascending (equal values, equal rank)."""
    rank_of = {v: r for r, v in enumerate(sorted(set(values)))}
    return np.array([rank_of[v] for v in values], dtype=np.int64)


def _postings(documents: Iterable[str]) -> dict[str, np.ndarray]:
    """token → the sorted positions of the documents (space-separated tokens) holding it."""
    found: dict[str, list[int]] = {}
    for position, document in enumerate(documents):
        for token in (document or "").split():
            found.setdefault(token, []).append(position)
    return {t: np.array(p, dtype=np.int32) for t, p in found.items()}


def _facet(pairs: list[tuple[str, str]]) -> Facet:
    """A facet from each position's (value, label); a value's label is its least one."""
    labels: dict[str, str] = {}
    for value, label in pairs:
        if value not in labels or label < labels[value]:
            labels[value] = label
    values = sorted(labels)
    code_of = {v: c for c, v in enumerate(values)}
    return Facet(
        codes=np.array([code_of[v] for v, _ in pairs], dtype=np.int32),
        values=values,
        labels=[labels[v] for v in values],
        code_of=code_of,
    )


# --- one index per database, kept current -------------------------------------------------

_GENERATION = sa.text("SELECT value FROM portal_generation WHERE id = 1")
_indexes: weakref.WeakKeyDictionary[sa.Engine, SearchIndex] = weakref.WeakKeyDictionary()
_building = threading.Lock()


def current(db_session: Session) -> SearchIndex:
    """The index of the catalog as the database holds it now, rebuilt when it changed."""
    engine = db_session.get_bind().engine
    generation = db_session.scalar(_GENERATION) or 0
    index = _indexes.get(engine)
    if index is not None and index.generation == generation:
        return index
    with _building:
        index = _indexes.get(engine)
        if index is None or index.generation != generation:
            index = SearchIndex(db_session, generation)
            _indexes[engine] = index
    return index
