"""Comparisons (比对, 一数一源) between departments' copies held in the data resource center."""

from __future__ import annotations

from govshare.verification.comparison.engine import ComparisonRun, compare, run_comparison
from govshare.verification.comparison.model import (
    ComparisonCounts,
    ComparisonError,
    ComparisonSpec,
    Difference,
    DifferenceKind,
    ItemDifference,
    Pair,
    Path,
)
from govshare.verification.comparison.normalise import Normaliser

__all__ = [
    "ComparisonCounts",
    "ComparisonError",
    "ComparisonRun",
    "ComparisonSpec",
    "Difference",
    "DifferenceKind",
    "ItemDifference",
    "Normaliser",
    "Pair",
    "Path",
    "compare",
    "run_comparison",
]
