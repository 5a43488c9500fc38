"""Evaluation (考核评价, SUP-1, SUP-4): indicators from the profile over the ledger and
supervision facts, scores and rankings per department and lower-level government, the
operator's adjustments, and each published year frozen as a snapshot."""
