"""What the sharing services share: who may act, numbering, and the scope rules — which
fields and filters a resource version admits, and when one scope is narrower than another
(an approval may narrow a request, never widen it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import DataItem, Resource, ResourceStatus, ResourceVersion
from govshare.catalog.service.common import COMPILERS, SUBMITTERS, next_sequence
from govshare.catalog.service.resources import get_resource
from govshare.core import clock
from govshare.core.errors import Conflict, Invalid
from govshare.core.permissions import Actor, Role
from govshare.sharing.models import Application, Case, Grant, RowOp
from govshare.sharing.schemas import Condition, Mask

APPLICANTS = COMPILERS  # a consumer department's people prepare and submit applications
ANSWERERS = SUBMITTERS  # the provider's data officer or head answers (SR§13)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
READERS = (*COMPILERS, *OVERSEERS)
CONSUMERS = (*APPLICANTS, Role.SYSTEM)  # a department's system may take unconditional data
# Row filters' number syntax, which the exchange compiles to SQL too: optional sign, 1–30
# ASCII digits, optionally a point and 1–30 digits. Compared exactly, never as floats, so two
# 18-digit ID numbers stay apart; "1e3", " 1", ".5", "nan" are text.
NUMBER_PATTERN = "[+-]?[0-9]{1,30}([.][0-9]{1,30})?"
_NUMBER = re.compile(NUMBER_PATTERN)


def oversees(actor: Actor) -> bool:
    """The operator, the authority and auditors see every application, grant and case."""
    return actor.has(*OVERSEERS)


def party_to(actor: Actor, item: Application | Grant | Case) -> bool:
    return actor.organization_id in (item.consumer_id, item.provider_id)


def next_number(db_session: Session, prefix: str) -> str:
    """SQ2026000001-style numbers: prefix, year, a never-reused sequence."""
    key = f"{prefix}{clock.today().year}"
    return f"{key}{next_sequence(db_session, key):06d}"


def retired_reason(reason: str | None) -> str:
    """Why every data path refuses a retired resource (CAT-6), as consumers read it."""
    return f"资源已下架：{reason}" if reason else "资源已下架"


def shared_version(
    db_session: Session, actor: Actor, resource_id: int, field: str = "resource_id"
) -> tuple[Resource, ResourceVersion]:
    """A published resource and the version consumers get."""
    resource = get_resource(db_session, actor=actor, resource_id=resource_id)
    if resource.status is ResourceStatus.RETIRED:
        raise Conflict(retired_reason(resource.retirement_reason), field=field)
    if resource.status is not ResourceStatus.PUBLISHED or resource.current_version is None:
        raise Conflict("只能使用已发布的资源", field=field)
    return resource, resource.current_version


def item_names(db_session: Session, version_id: int) -> list[str]:
    """The data items of a version, in order."""
    return list(
        db_session.execute(
            select(DataItem.name)
            .where(DataItem.version_id == version_id)
            .order_by(DataItem.position)
        ).scalars()
    )


def check_fields(names: Sequence[str], available: Sequence[str], field: str) -> list[str]:
    if not names:
        raise Invalid("请至少选择一个信息项", field=field)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise Invalid(f"资源没有信息项“{'、'.join(unknown)}”", field=field)
    order = {n: i for i, n in enumerate(available)}
    return sorted(dict.fromkeys(names), key=order.__getitem__)


def check_filter(conditions: Sequence[Condition], available: Sequence[str], field: str) -> None:
    for condition in conditions:
        if condition.field not in available:
            raise Invalid(f"数据范围中的“{condition.field}”不是资源的信息项", field=field)


def check_masking(masks: Sequence[Mask], granted: Sequence[str], field: str) -> None:
    seen: set[str] = set()
    for mask in masks:
        if mask.field not in granted:
            raise Invalid(f"脱敏的“{mask.field}”不在授权的信息项中", field=field)
        if mask.field in seen:
            raise Invalid(f"“{mask.field}”只能有一条脱敏规则", field=field)
        seen.add(mask.field)


def parse_number(text: str) -> Decimal | None:
    """The exact number `text` spells in the row filters' number syntax, None if it is text."""
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def sort_key(value: str) -> tuple[int, Decimal, str]:
    """Numbers compare as numbers (exactly), everything else (ISO dates, codes) as text, after
    every number: the order `exchange.scope` applies in SQL."""
    number = parse_number(value)
    return (0, number, "") if number is not None else (1, Decimal(0), value)


def _within(value: str, low: str, high: str) -> bool:
    return sort_key(low) <= sort_key(value) <= sort_key(high)


def _admitted_values(condition: Condition) -> set[str] | None:
    return set(condition.values) if condition.op in (RowOp.EQ, RowOp.IN) else None


def tighter(approved: Condition, requested: Condition) -> bool:
    """Whether every row `approved` admits, `requested` admits too (same field)."""
    if approved.field != requested.field:
        return False
    values = _admitted_values(approved)
    if requested.op in (RowOp.EQ, RowOp.IN):
        return values is not None and values <= set(requested.values)
    if requested.op is RowOp.BETWEEN:
        low, high = requested.values
        if values is not None:
            return all(_within(v, low, high) for v in values)
        if approved.op is RowOp.BETWEEN:
            return _within(approved.values[0], low, high) and _within(approved.values[1], low, high)
        return False
    prefix = requested.values[0]  # PREFIX
    if values is not None:
        return all(v.startswith(prefix) for v in values)
    return approved.op is RowOp.PREFIX and approved.values[0].startswith(prefix)


def check_narrower_filter(
    approved: Sequence[Condition], requested: Sequence[Condition], field: str
) -> None:
    """An approval keeps every requested condition or tightens it; it may add more."""
    for want in requested:
        if not any(tighter(got, want) for got in approved):
            raise Invalid(
                f"批准的数据范围不能宽于申请：申请的“{want.describe()}”未被保留或收紧",
                field=field,
            )


def dump_filter(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in conditions]


def load_filter(stored: Sequence[dict[str, Any]]) -> list[Condition]:
    return [Condition.model_validate(c) for c in stored]


def dump_masking(masks: Sequence[Mask]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in masks]


def load_masking(stored: Sequence[dict[str, Any]]) -> list[Mask]:
    return [Mask.model_validate(m) for m in stored]


def check_period(valid_from: date, valid_until: date, field: str = "valid_until") -> None:
    if valid_until < clock.today():
        raise Invalid("使用期限已过，请重新填写", field=field)
    if valid_until < valid_from:
        raise Invalid("使用期限的结束日期不能早于开始日期", field=field)
