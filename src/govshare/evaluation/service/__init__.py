"""Evaluation services: scores over the facts, and results (rankings, adjustments, snapshots)."""
