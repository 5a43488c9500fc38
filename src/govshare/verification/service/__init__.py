"""Verification services: objections (疑义)."""
