"""Verification (校核与比对, VER-1 … VER-4): objections to shared data and catalog entries,
verified by the provider on deadline, and comparisons of the facts several departments hold."""
