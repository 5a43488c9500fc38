"""Placeholder until this topic's routes are written."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
