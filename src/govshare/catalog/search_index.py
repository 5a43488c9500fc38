"""The catalog search index (检索索引, CAT-11): its tables and how text becomes its terms.

Every currently published resource is in the index, kept in line by
`service.indexing.refresh` inside the publishing transaction; it has three tables:

- `catalog_search`, a row per resource, holds what is shown and sorted: the facet values,
  the publication date, a name sort key and the name's terms;
- `catalog_search_text`, a row per resource, holds the terms of everything searchable;
- `catalog_search_facet` holds, for every facet value, the set of resources that have it as
  a bitmap (bit n = resource n). Facet counts are then a handful of AND and popcount
  operations on bitmaps whatever the number of matches, where GROUP BY over tens of
  thousands of matched rows costs hundreds of milliseconds at 100,000 resources.

Terms are produced here, in Python, the same way for both databases: jieba segments each
field (search mode, so 婚姻登记 also yields 婚姻 and 登记), every token is reduced to letters
and digits (NFKC, lower case), and data item names add their synonym group's canonical name.
The terms are stored space separated. The database only matches whole tokens, never parses
text itself, so SQLite and PostgreSQL find exactly the same rows:

- SQLite: FTS5 tables with external content (`catalog_search_fts` over the text table,
  `catalog_search_fts_name` over the names), kept in sync by triggers, tokenizer unicode61,
  which splits exactly on the spaces the terms already have;
- PostgreSQL: generated `tsvector` columns built with `array_to_tsvector` (no parser, no
  dictionary: a token is a lexeme as is) and GIN indexes.

These database-specific parts are created by migration 0003 and are not in the models;
`is_fts_object` names them for schema comparison.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import jieba
from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.catalog import synonyms
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


Index("ix_catalog_search_published", SearchEntry.published_on, SearchEntry.resource_id)
Index("ix_catalog_search_name", SearchEntry.name_key, SearchEntry.resource_id)

# Database-specific parts made by migration 0003 (see the module docstring).
FTS_TABLES = frozenset({"catalog_search_fts", "catalog_search_fts_name"})
FTS_COLUMNS = frozenset({("catalog_search", "fts_name"), ("catalog_search_text", "fts_terms")})
FTS_INDEXES = frozenset({"ix_catalog_search_fts_name", "ix_catalog_search_text_fts_terms"})


def is_fts_object(name: str | None, type_: str, table: str | None = None) -> bool:
    """Whether a database object is one of the full-text parts the models leave out
    (FTS5 tables and their shadow tables, tsvector columns, GIN indexes)."""
    if name is None:
        return False
    if type_ == "table":
        return any(name == t or name.startswith(t + "_") for t in FTS_TABLES)
    if type_ == "column":
        return (table, name) in FTS_COLUMNS
    if type_ == "index":
        return name in FTS_INDEXES
    return False


# --- text analysis -------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")  # letters and digits: exactly what unicode61 keeps together
_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _jieba() -> jieba.Tokenizer:
    """The process's own jieba tokenizer, loaded once on first use (about a second)."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def _fold(text: str) -> str:
    """Full-width forms to ordinary ones, lower case: jieba and matching see one spelling."""
    return unicodedata.normalize("NFKC", text).lower()


def _parts(text: str) -> list[str]:
    """`text` reduced to its runs of letters and digits, lower case."""
    return _WORD.findall(_fold(text))


def _whole(text: str) -> str:
    """`text` as one token: its letters and digits run together."""
    return "".join(_parts(text))


@functools.lru_cache(maxsize=20_000)
def _plain_tokens(text: str) -> frozenset[str]:
    """jieba's search-mode words of `text` (婚姻登记信息: 婚姻, 登记, 婚姻登记, 信息)."""
    return frozenset(p for piece in _jieba().cut_for_search(_fold(text)) for p in _parts(piece))


@functools.lru_cache(maxsize=20_000)
def _field_tokens(text: str) -> frozenset[str]:
    """Tokens of one field: its words, and for a word that is a synonym (手机号) its
    group's canonical name (联系电话) with that name's words."""
    found = set(_plain_tokens(text))
    for token in list(found):
        canonical = synonyms.canonical(token)
        if canonical != token:
            found |= _plain_tokens(canonical)
            found.add(_whole(canonical))
    found.discard("")
    return frozenset(found)


@functools.lru_cache(maxsize=20_000)
def _item_tokens(name: str) -> frozenset[str]:
    """Tokens of a data item name: its words, the name whole, and its synonym group's
    canonical name (so 身份证号 is also found as 公民身份号码)."""
    found = set(_field_tokens(name))
    if whole := _whole(name):
        found.add(whole)
    canonical = synonyms.canonical(name)
    if canonical != synonyms.normalize(name):
        found |= _field_tokens(canonical)
        if whole := _whole(canonical):
            found.add(whole)
    return frozenset(found)


def _join(tokens: Iterable[str]) -> str:
    return " ".join(sorted(set(tokens)))


@dataclass(frozen=True)
class DocumentTerms:
    """What the index stores for one resource version."""

    name_terms: str
    terms: str


def document_terms(name: str, summary: str, items: Iterable[tuple[str, str]]) -> DocumentTerms:
    """The terms of a version: its name, summary and (name, description) of each item."""
    name_tokens = _field_tokens(name)
    tokens = set(name_tokens) | _field_tokens(summary)
    for item_name, description in items:
        tokens |= _item_tokens(item_name)
        if description:
            tokens |= _field_tokens(description)
    return DocumentTerms(name_terms=_join(name_tokens), terms=_join(tokens))


def name_key(name: str) -> str:
    """A sort key for names: GB18030 byte order, which is pinyin order for the 3,755 common
    characters, as hex, so that both databases compare it the same way."""
    return name.encode("gb18030", errors="replace")[:60].hex()


# --- queries -----------------------------------------------------------------------------

# A query is an AND over words; a word an OR over alternatives (the word and its
# synonyms); an alternative an AND over tokens.
Alternative = frozenset[str]
Word = tuple[Alternative, ...]


@functools.lru_cache(maxsize=2_000)
def _alternatives(word: str) -> Word:
    # jieba's precise mode here: the index holds its search-mode words, which include every
    # precise word, so requiring the precise words finds what search mode would (its extra
    # sub-words are present wherever the precise word is) with fewer terms to match.
    found: set[Alternative] = set()
    for variant in synonyms.expand_term(word):
        tokens = frozenset(p for piece in _jieba().cut(_fold(variant)) for p in _parts(piece))
        if tokens:
            found.add(tokens)
        if whole := _whole(variant):
            # Every stored synonym also brings its group's canonical name (see
            # `_field_tokens`), so asking for the canonical alone finds all of them.
            found.add(frozenset({synonyms.canonical(whole)}))
    # An alternative that needs more than another one adds nothing to an OR.
    kept = [a for a in found if not any(b < a for b in found)]
    return tuple(sorted(kept, key=lambda a: (len(a), sorted(a))))


def parse_query(text: str) -> tuple[Word, ...]:
    """The words of a user's query (split on spaces), each with its alternatives; words
    without letters or digits are dropped."""
    words: list[Word] = []
    for raw in (text or "").split():
        alternatives = _alternatives(raw.strip())
        if alternatives and alternatives not in words:
            words.append(alternatives)
    return tuple(words)


def highlights(text: str) -> tuple[str, ...]:
    """What to mark in results for a query: its words, their synonyms and the words jieba
    finds in them (two characters or more), longest first."""
    found: set[str] = set()
    for raw in (text or "").split():
        for variant in synonyms.expand_term(raw):
            found.add(_fold(variant))
            found.update(t for p in _jieba().cut(_fold(variant)) for t in _parts(p) if len(t) > 1)
    return tuple(sorted(found, key=lambda t: (-len(t), t)))


def fts5_expression(words: Iterable[Word]) -> str:
    """An FTS5 MATCH expression (tokens quoted: they are letters and digits only)."""
    return " AND ".join(
        "(" + " OR ".join("(" + " AND ".join(f'"{t}"' for t in sorted(a)) + ")" for a in w) + ")"
        for w in words
    )


def tsquery_expression(words: Iterable[Word]) -> str:
    """A tsquery literal (quoted lexemes, taken as they are by PostgreSQL)."""
    return " & ".join(
        "(" + " | ".join("(" + " & ".join(f"'{t}'" for t in sorted(a)) + ")" for a in w) + ")"
        for w in words
    )


def item_matches(name: str, words: Iterable[Word]) -> bool:
    """Whether a data item name on its own answers any word of the query (to show why a
    resource was found: 公民身份 → its item 身份证号)."""
    tokens = _item_tokens(name)
    return any(any(a <= tokens for a in w) for w in words)


def document_matches(terms: str, words: Iterable[Word]) -> bool:
    """Whether stored `terms` match the query `words`: the reference semantics, in Python."""
    present = set(terms.split())
    return all(any(a <= present for a in w) for w in words)


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


def joined(found: Iterable[tuple[int, bytes]]) -> int:
    """The bitmap whose stored pieces are `found`, (chunk, bytes)."""
    step = CHUNK // 8
    found = list(found)
    data = bytearray(step * (max((c for c, _ in found), default=-1) + 1))
    for chunk, members in found:
        data[chunk * step : chunk * step + len(members)] = members
    return int.from_bytes(data, "little")
