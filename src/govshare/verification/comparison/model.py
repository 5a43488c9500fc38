"""What a comparison is and what it finds: its definition (`ComparisonSpec`), the differences
and counts a run reports, and the error of a definition that cannot run.

Meanings the caller can rely on:

- Keys are normalised too: always trimmed, an empty key part is NULL, and a key with a NULL
  part is *blank*: its rows are counted (``left_blank_keys``) but never compared.
  Several key columns are joined by U+001F (``KEY_SEPARATOR``), which no key may contain.
- A key found more than once on a side (after normalisation) is a duplicate: reported once
  with its row counts per side, and not compared at all (neither matched nor only-left).
- Differences stream in key order (byte order, ``COLLATE "C"``; blank keys are counted, not
  streamed). An only-left or only-right key carries every item's value of its one row.
- ``matched`` counts keys with exactly one row on each side; ``equal`` those of them equal in
  every item after normalisation; ``differing_by_item`` counts per item (a key may differ in
  several).
- Values are compared as text forms (`exchange.masking.text_form`): 5, 5.0 and 5.00 agree,
  a date is ``YYYY-MM-DD``. NULL equals NULL; NULL and the empty text differ unless the item
  asks for ``empty_as_null``. Reported values are the text forms before normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from govshare.verification.comparison.normalise import Normaliser

KEY_SEPARATOR = "\x1f"


class ComparisonError(ValueError):
    """A comparison that cannot run as defined; the message names the field, in Chinese."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Pair:
    """A compared item (比对项), or one part of the key mapping: a column of each side."""

    name: str
    left: str
    right: str
    normalise: tuple[Normaliser | str, ...] = ()


@dataclass(frozen=True)
class ComparisonSpec:
    """What to compare: two center tables, the key mapping, the items."""

    left_table: str
    right_table: str
    keys: tuple[Pair, ...]
    items: tuple[Pair, ...]


class Path(StrEnum):
    """How a run found its differences (same results either way; see `engine.py` and `sql.py`)."""

    GROUP = "group"  # one grouping of both sides by the normalised key
    JOIN = "join"  # a join on the raw keys, every key already normalised
    JOIN_AND_GROUP = "join+group"  # the join, and a grouping of the keys normalisation changes


class DifferenceKind(StrEnum):
    DIFFERS = "differs"  # the key on both sides, at least one item differs
    ONLY_LEFT = "only_left"
    ONLY_RIGHT = "only_right"
    DUPLICATE = "duplicate"  # the key more than once on a side; not compared


@dataclass(frozen=True)
class ItemDifference:
    """One item of a key that differs: each side's text form before normalisation."""

    item: str
    left: str | None
    right: str | None


@dataclass(frozen=True)
class Difference:
    """One key that is not a clean match. `key` holds the normalised key parts."""

    kind: DifferenceKind
    key: tuple[str, ...]
    # DIFFERS: the items that differ; ONLY_LEFT / ONLY_RIGHT: every item, the missing side None
    items: tuple[ItemDifference, ...] = ()
    left_rows: int = 0  # rows with this key on each side
    right_rows: int = 0


@dataclass
class ComparisonCounts:
    """The figures of one comparison run."""

    left_rows: int = 0
    right_rows: int = 0
    left_blank_keys: int = 0  # rows whose key is NULL or empty after normalisation
    right_blank_keys: int = 0
    matched: int = 0  # keys with one row on each side
    equal: int = 0  # matched and equal in every item
    differing: int = 0  # matched, at least one item differs
    differing_by_item: dict[str, int] = field(default_factory=dict)
    only_left: int = 0
    only_right: int = 0
    duplicate_keys_left: int = 0  # keys found more than once on the left
    duplicate_keys_right: int = 0
    duplicate_rows_left: int = 0  # the rows those keys have there
    duplicate_rows_right: int = 0
