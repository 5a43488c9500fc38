"""Chinese text as search terms, the same way for every index that matches whole tokens:
the catalog's (`search_index`) and the open portal's (`govshare.portal.search`).

jieba segments each field (search mode, so 婚姻登记 also yields 婚姻 and 登记), every token is
reduced to letters and digits (NFKC, lower case), and data item names add their synonym
group's canonical name. Terms are stored space separated; a query is parsed into words of
alternatives (`parse_query`) and rendered for FTS5 or as a tsquery. Nothing here touches a
database, so the internet-side portal uses it without any of the platform's models.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

from govshare.catalog import synonyms

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
