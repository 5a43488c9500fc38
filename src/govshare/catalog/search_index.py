"""The catalog search index (检索索引, CAT-11): its tables and how text becomes its terms.

Every currently published resource is in the index, kept in line by
`service.indexing.refresh` inside the publishing transaction; it has four tables:

- `catalog_search`, a row per resource, holds what is shown and sorted: the facet values,
  the publication date, a name sort key and the name's terms;
- `catalog_search_text`, a row per resource, holds the terms of everything searchable;
- `catalog_search_facet` holds, for every facet value, the set of resources that have it as
  a bitmap (bit n = resource n). Facet counts are then a handful of AND and popcount
  operations on bitmaps whatever the number of matches, where GROUP BY over tens of
  thousands of matched rows costs hundreds of milliseconds at 100,000 resources;
- `catalog_search_term` holds, for every term, the same kind of bitmap of the resources
  whose text (scope "text") or name (scope "name") has it: the inverted index itself.

Terms come from `search_text`, in Python, the same way for both databases (jieba's
search-mode words, reduced to letters and digits, with synonym groups' canonical names),
stored space separated. A query is matched by reading the bitmaps of its terms (a row of
at most 512 bytes per 4,096 resources each, by primary key) and combining them in Python,
the same on SQLite and PostgreSQL. A broad word found in a third of the catalog costs a few
dozen rows: no matching row is visited. (Until migration 0027 the
databases' full-text indexes matched — FTS5 and a GIN-indexed tsvector — and PostgreSQL then
visited the heap row of every match, 9,000 pages for a word in 38,000 resources.)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.catalog.models import (
    CatalogKind,
    Domain,
    OpenType,
    ResourceFormat,
    ShareType,
    UpdateFrequency,
)
from govshare.core.db import Base, str_enum


class SearchEntry(Base):
    """A published resource as search filters, counts and sorts it."""

    __tablename__ = "catalog_search"

    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    catalog_kind: Mapped[CatalogKind] = mapped_column(str_enum(CatalogKind, 16))
    domain: Mapped[Domain] = mapped_column(str_enum(Domain, 32), index=True)
    share_type: Mapped[ShareType] = mapped_column(str_enum(ShareType, 16))
    format: Mapped[ResourceFormat] = mapped_column(str_enum(ResourceFormat, 24))
    open_type: Mapped[OpenType] = mapped_column(str_enum(OpenType, 16))
    update_frequency: Mapped[UpdateFrequency] = mapped_column(str_enum(UpdateFrequency, 16))
    published_on: Mapped[date] = mapped_column(Date)  # of the current version
    name_key: Mapped[str] = mapped_column(String(120))  # see `name_key`
    name_terms: Mapped[str] = mapped_column(Text)


class SearchText(Base):
    """The terms of a published resource's name, summary and data items."""

    __tablename__ = "catalog_search_text"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_search.resource_id", ondelete="CASCADE"), primary_key=True
    )
    terms: Mapped[str] = mapped_column(Text)


CHUNK = 1 << 14  # resources per stored piece of a bitmap: a publication rewrites 2 KB each
# Resources per stored piece of a term's bitmap: a publication rewrites a piece for each of
# its hundred or more terms, so they are smaller (512 bytes, stored inline, never
# compressed), and a query reads more of them (25 per common term at 100,000 resources).
TERM_CHUNK = 1 << 12


class SearchFacet(Base):
    """The published resources having one facet value, as a bitmap stored in pieces of
    CHUNK resources, so that a publication rewrites a few small pieces whatever the size of
    the catalog: in piece `chunk`, byte n // 8, bit n % 8 (least significant first) stands
    for resource chunk × CHUNK + n."""

    __tablename__ = "catalog_search_facet"

    facet: Mapped[str] = mapped_column(String(24), primary_key=True)
    value: Mapped[str] = mapped_column(String(40), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    members: Mapped[bytes] = mapped_column(LargeBinary)


# The row whose `members` is a random stamp, renewed with every change to the bitmaps.
STAMP = ("*", "stamp", 0)


def new_stamp() -> bytes:
    """A stamp never used before (random, so a rolled-back one is never seen again)."""
    return secrets.token_bytes(16)


TEXT, NAME = "text", "name"  # scopes of `SearchTerm`


class SearchTerm(Base):
    """The published resources whose text (scope TEXT) or name (scope NAME) has a term, as a
    bitmap stored in pieces of TERM_CHUNK resources laid out like `SearchFacet`'s, each piece
    without trailing zero bytes (a rare term costs a few bytes); a piece with no member is no
    row."""

    __tablename__ = "catalog_search_term"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    term: Mapped[str] = mapped_column(Text, primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    members: Mapped[bytes] = mapped_column(LargeBinary)


Index("ix_catalog_search_published", SearchEntry.published_on, SearchEntry.resource_id)
Index("ix_catalog_search_name", SearchEntry.name_key, SearchEntry.resource_id)


# --- bitmaps -----------------------------------------------------------------------------
# A set of resources is a Python int used as a bitmap (bit n = resource n): AND, OR and
# popcount then run in C over the whole set at once.


def with_bit(members: bytes, n: int, on: bool) -> bytes:
    """A stored bitmap with bit `n` set (`on`) or cleared."""
    data = bytearray(members)
    if len(data) <= n >> 3:
        if not on:
            return bytes(data)
        data.extend(bytes((n >> 3) + 1 - len(data)))
    if on:
        data[n >> 3] |= 1 << (n & 7)
    else:
        data[n >> 3] &= ~(1 << (n & 7)) & 0xFF
    return bytes(data)


def bitmap_of(ids: list[int]) -> int:
    """The bitmap of `ids`: a byte per id first (the only per-id Python work), then the
    eight bytes of each group packed into one with eight whole-bitmap operations."""
    if not ids:
        return 0
    flags = bytearray((max(ids) | 7) + 1)
    for n in ids:
        flags[n] = 1
    bits = 0
    for k in range(8):
        bits |= int.from_bytes(flags[k::8], "little") << k
    return bits


def byte_flags(bits: int) -> bytes:
    """A bitmap unpacked to one byte per resource, 1 for a member (SQLite has no bit
    functions, but reads one byte of a blob at any offset)."""
    size = (bits.bit_length() + 7) // 8
    ones = int.from_bytes(b"\x01" * size, "little")
    flags = bytearray(size * 8)
    for k in range(8):
        flags[k::8] = ((bits >> k) & ones).to_bytes(size, "little")
    return bytes(flags)


def members_of(bits: int) -> list[int]:
    """The members of a bitmap, ascending."""
    return [found.start() for found in re.finditer(b"\x01", byte_flags(bits))]


def pieces(bits: int) -> list[tuple[int, bytes]]:
    """A bitmap cut into its stored pieces, (chunk, bytes); empty pieces are left out."""
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    step = CHUNK // 8
    return [
        (start // step, data[start : start + step])
        for start in range(0, len(data), step)
        if data[start : start + step].strip(b"\0")
    ]


def joined(found: Iterable[tuple[int, bytes]], chunk_size: int = CHUNK) -> int:
    """The bitmap whose stored pieces of `chunk_size` resources are `found`, (chunk, bytes)."""
    step = chunk_size // 8
    found = list(found)
    data = bytearray(step * (max((c for c, _ in found), default=-1) + 1))
    for chunk, members in found:
        data[chunk * step : chunk * step + len(members)] = members
    return int.from_bytes(data, "little")


class PieceBuilder:
    """Bitmaps built bit by bit for a whole rebuild, kept as their pieces (a bytearray per
    key and chunk), so that a term found in one resource costs bytes, not a whole bitmap."""

    def __init__(self, chunk_size: int = CHUNK) -> None:
        self.chunk_size = chunk_size
        self.data: dict[tuple[Any, ...], bytearray] = {}

    def add(self, key: tuple[Any, ...], n: int) -> None:
        chunk, bit = divmod(n, self.chunk_size)
        piece = self.data.setdefault((*key, chunk), bytearray())
        if len(piece) <= bit >> 3:
            piece.extend(bytes((bit >> 3) + 1 - len(piece)))
        piece[bit >> 3] |= 1 << (bit & 7)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """(*key, chunk, members) in key order; members end on a non-zero byte."""
        for key in sorted(self.data):
            yield (*key, bytes(self.data[key]))


def term_pieces(
    resources: Iterable[tuple[int, str, str]],
) -> Iterator[tuple[Any, ...]]:
    """The `catalog_search_term` rows (scope, term, chunk, members) of resources given as
    (resource id, name terms, terms)."""
    built = PieceBuilder(TERM_CHUNK)
    for resource_id, name_terms, terms in resources:
        for term in set(terms.split()):
            built.add((TEXT, term), resource_id)
        for term in set(name_terms.split()):
            built.add((NAME, term), resource_id)
    return built.rows()
