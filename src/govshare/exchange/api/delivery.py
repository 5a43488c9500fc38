"""Exchange delivery (being written)."""

from fastapi import APIRouter

router = APIRouter()
