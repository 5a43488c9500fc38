"""Audit scenarios for the coordination cases (govshare.sharing.service.cases), in the format
of tests/catalog/audit_scenarios.py; merged into the sharing domain's SCENARIOS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.sharing.models import Case
from govshare.sharing.schemas import CaseIn, MessageIn, ScopeIn, SettlementIn
from govshare.sharing.service import cases
from tests.builders import actor_of, organization, system_of, user
from tests.catalog.builders import published
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import PEOPLE_ITEMS, SHANGRAO

CASES = "govshare.sharing.service.cases."


@dataclass
class Parties:
    """The world's department as consumer, a provider with a not-shared resource, and the
    authority; the world's operator mediates."""

    consumer: Actor
    provider: Actor
    authority: Actor
    not_shared: Resource


def parties(w: World) -> Parties:
    provider_org = organization(w.db, "江州市公安局")
    provider = actor_of(user(w.db, provider_org, [Role.DATA_OFFICER]))
    authority = actor_of(user(w.db, organization(w.db, "江州市大数据局"), [Role.AUTHORITY]))
    not_shared = published(
        w.db,
        provider,
        w.op,
        name="在逃人员信息",
        share_type="not_shared",
        legal_basis="《中华人民共和国刑事诉讼法》",
        items=PEOPLE_ITEMS,
    )
    return Parties(w.staff_actor, provider, authority, not_shared)


def opened(w: World) -> Case:
    """A case the world's department opened for the provider's not-shared resource."""
    p = parties(w)
    data = CaseIn(
        resource_id=p.not_shared.id,
        request="办理社会救助需要核实申请人身份，请协调提供",
        accept_restrictions=True,
    )
    return cases.open_case(w.db, actor=p.consumer, data=data)


def settlement(system_id: int) -> SettlementIn:
    today = clock.today()
    scope = ScopeIn(
        fields=["姓名", "公民身份号码"],
        masking=[{"field": "公民身份号码", "rule": "keep_last", "n": 4}],
        valid_from=today,
        valid_until=today + timedelta(days=365),
        purpose="社会救助对象身份核验",
        system_id=system_id,
    )
    return SettlementIn(agreed=True, outcome="经协调同意按最小范围提供", scope=scope)


CASE_SCENARIOS: dict[str, Writes | Reads] = {
    CASES + "open_case": Writes("sharing.case.open", opened),
    CASES + "post_message": Writes(
        "sharing.case.message",
        lambda w: cases.post_message(
            w.db, actor=w.op, case_id=opened(w).id, data=MessageIn(body="请双方说明分歧")
        ),
    ),
    CASES + "escalate_case": Writes(
        "sharing.case.escalate",
        lambda w: cases.escalate_case(w.db, actor=w.op, case_id=opened(w).id, reason="分歧较大"),
    ),
    CASES + "settle_case": Writes(
        "sharing.case.settle",
        lambda w: cases.settle_case(
            w.db,
            actor=w.op,
            profile=SHANGRAO,
            case_id=opened(w).id,
            data=settlement(system_of(w.db, w.dept.id)),
        ),
    ),
    CASES + "get_case": Reads(
        lambda w: cases.get_case(w.db, actor=w.op, case_id=w.prepared.id), opened
    ),
    CASES + "list_cases": Reads(lambda w: cases.list_cases(w.db, actor=w.staff_actor), opened),
    CASES + "case_out": Reads(lambda w: cases.case_out(w.prepared), opened),
    CASES + "message_out": READ_ONLY,
    CASES + "permitted": READ_ONLY,
    CASES + "link": READ_ONLY,
}
