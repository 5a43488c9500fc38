"""Security inputs. Each checks its own fields with a Chinese message naming the rule; who may
act, whether the departments and resources exist and the incident's state are the service's
to check. A time without a zone (a page's datetime-local input) is the city's time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from govshare.core import clock
from govshare.core.inputs import Id
from govshare.core.policy import IncidentLevel
from govshare.security.models import CheckKind, EntryKind, ExerciseKind, IncidentKind, Recipient

TEXT_MAX = 4000


def _in_city(moment: datetime) -> datetime:
    return moment.replace(tzinfo=clock.CITY_TZ) if moment.tzinfo is None else moment


Moment = Annotated[datetime, AfterValidator(_in_city)]


def _past(moment: datetime, what: str) -> datetime:
    if moment > clock.now():
        raise ValueError(f"{what}不能晚于当前时间")
    return moment


def _no_later(day: date, what: str) -> date:
    if day > clock.today():
        raise ValueError(f"{what}不能晚于今天")
    return day


class SecurityIn(BaseModel):
    """Every security input: whitespace stripped."""

    model_config = ConfigDict(str_strip_whitespace=True)


class IncidentIn(SecurityIn):
    """A security incident as registered: what, how grave, when, to whom."""

    title: str = Field(min_length=4, max_length=200)
    kind: IncidentKind
    level: IncidentLevel
    occurred_at: Moment
    discovered_at: Moment
    description: str = Field(min_length=4, max_length=TEXT_MAX)
    department_ids: list[Id] = Field(min_length=1, max_length=200)
    resource_ids: list[Id] = Field(default_factory=list, max_length=200)

    @field_validator("occurred_at")
    @classmethod
    def _occurred(cls, value: datetime) -> datetime:
        return _past(value, "发生时间")

    @field_validator("discovered_at")
    @classmethod
    def _discovered(cls, value: datetime, info: ValidationInfo) -> datetime:
        occurred = info.data.get("occurred_at")
        if occurred is not None and value < occurred:
            raise ValueError("发现时间不能早于发生时间")
        return _past(value, "发现时间")


class EntryIn(SecurityIn):
    """A line of the timeline or of the handling."""

    kind: EntryKind
    at: Moment
    text: str = Field(min_length=2, max_length=TEXT_MAX)

    @field_validator("at")
    @classmethod
    def _happened(cls, value: datetime) -> datetime:
        return _past(value, "时间")


class ReportIn(SecurityIn):
    """The report made to the cyber-security office or the authority."""

    recipient: Recipient
    reported_at: Moment
    addressee: str = Field(min_length=2, max_length=100)
    reference: str = Field(default="", max_length=100)
    content: str = Field(min_length=4, max_length=TEXT_MAX)

    @field_validator("reported_at")
    @classmethod
    def _reported(cls, value: datetime) -> datetime:
        return _past(value, "报告时间")


class CloseIn(SecurityIn):
    """The incident's conclusion: cause, damage, what was done, lessons."""

    conclusion: str = Field(min_length=4, max_length=TEXT_MAX)


class ExerciseIn(SecurityIn):
    """The plan of a year's security test or emergency drill."""

    kind: ExerciseKind
    year: int = Field(ge=2000, le=2100)
    title: str = Field(min_length=4, max_length=200)
    planned_on: date
    plan: str = Field(min_length=4, max_length=TEXT_MAX)

    @field_validator("planned_on")
    @classmethod
    def _in_year(cls, value: date, info: ValidationInfo) -> date:
        year = info.data.get("year")
        if year is not None and value.year != year:
            raise ValueError(f"计划日期须在 {year} 年内")
        return value


class ExerciseResultIn(SecurityIn):
    """What the test or drill found, once it has been done."""

    conducted_on: date
    conducted_by: str = Field(min_length=2, max_length=100)
    result: str = Field(min_length=4, max_length=TEXT_MAX)

    @field_validator("conducted_on")
    @classmethod
    def _done(cls, value: date) -> date:
        return _no_later(value, "开展日期")


class CheckIn(SecurityIn):
    """An inspection, risk assessment or secrecy check as recorded."""

    kind: CheckKind
    title: str = Field(min_length=4, max_length=200)
    conducted_by: str = Field(min_length=2, max_length=100)
    checked_on: date
    scope: str = Field(min_length=2, max_length=TEXT_MAX)
    conclusion: str = Field(default="", max_length=TEXT_MAX)

    @field_validator("checked_on")
    @classmethod
    def _done(cls, value: date) -> date:
        return _no_later(value, "检查日期")


class CheckFindingIn(SecurityIn):
    """A problem the check found in a department, and what must be put right."""

    department_id: Id
    description: str = Field(min_length=4, max_length=TEXT_MAX)
    requirement: str = Field(min_length=4, max_length=TEXT_MAX)
