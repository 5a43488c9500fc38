"""Catalog pages: resource detail, compile form, versions and diff, review, own catalog."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
