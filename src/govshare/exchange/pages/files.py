"""Exchange files pages (being written)."""

from fastapi import APIRouter

router = APIRouter()
