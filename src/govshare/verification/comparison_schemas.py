"""Comparison inputs (比对, VER-3). Each checks its own fields; whether the resources are
bound and their items exist in the center is checked by the service, through the engine."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govshare.core.inputs import Entry, Id
from govshare.verification.comparison import Normaliser
from govshare.verification.comparison_models import Schedule, Side

TEXT_MAX = 4000


class PairIn(BaseModel):
    """A part of the key mapping: a data item of each resource, and its normalisation."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Entry
    left: Entry  # a data item of the left resource
    right: Entry  # a data item of the right resource
    normalise: list[Normaliser] = Field(default_factory=list, max_length=len(Normaliser))


class ItemIn(PairIn):
    """A compared item and the side whose department is its authoritative source (一数一源)."""

    authority: Side


class ComparisonIn(BaseModel):
    """A comparison as the operator defines it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=TEXT_MAX)
    left_resource_id: Id
    right_resource_id: Id
    keys: list[PairIn] = Field(min_length=1, max_length=5)
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    # the side that decides whether a record should exist at all (None: neither)
    key_authority: Side | None = None
    schedule: Schedule = Schedule.NONE
    active: bool = True


class CaseAnswerIn(BaseModel):
    """The department's answer on a mismatch: corrected at its source, or disputed with
    evidence (for the operator to mediate)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    corrected: bool
    answer: str = Field(min_length=4, max_length=TEXT_MAX)
    evidence: str = Field(default="", max_length=TEXT_MAX)


class MediationIn(BaseModel):
    """The operator's mediation: settle the case, or send it back to the department."""

    model_config = ConfigDict(str_strip_whitespace=True)

    outcome: Literal["settle", "reopen"]
    note: str = Field(min_length=4, max_length=TEXT_MAX)
