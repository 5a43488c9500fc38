"""Coordination cases (SHR-4): a consumer opens one for a not-shared resource or a refused
application, the parties negotiate with the operator mediating, the operator escalates to
the authority, and the settlement either closes the case or files an agreed provision that
produces a grant with exactly the settled scope. Over the service, the JSON API and pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.sharing.models import (
    Application,
    Case,
    CaseMessage,
    CaseOrigin,
    CaseParty,
    CaseState,
    Grant,
    GrantSource,
    GrantState,
)
from govshare.sharing.schemas import CaseIn, DecisionIn, MessageIn, ScopeIn, SettlementIn
from govshare.sharing.service import cases, decisions
from tests.builders import actor_of, count, organization, user
from tests.http import csrf_for, sign_in
from tests.sharing.builders import SHANGRAO, Sharing, deciding, sharing_world

NOW = "2026-09-01T09:00:00+08:00"
PROBLEM = "application/problem+json"
REQUEST = "办理社会救助需要核实申请人是否为在逃人员，请提供身份比对结果"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
def w(db: Session) -> Sharing:
    return sharing_world(db)


def open_for(w: Sharing, actor: Actor | None = None, **kw: Any) -> Case:
    """A case by the consumer for the not-shared resource; `kw` overrides any CaseIn field."""
    fields: dict[str, Any] = {
        "resource_id": w.not_shared.id,
        "request": REQUEST,
        "accept_restrictions": True,
    }
    data = CaseIn.model_validate(fields | kw)
    return cases.open_case(w.db, actor=actor or w.consumer_officer, data=data)


def refused(w: Sharing) -> Application:
    application = deciding(w)
    return decisions.decide(
        w.db,
        actor=w.provider_officer,
        profile=SHANGRAO,
        application_id=application.id,
        data=DecisionIn(approve=False, reason="涉及个人隐私", basis="《个人信息保护法》第十三条"),
    )


def scope(w: Sharing, **kw: Any) -> ScopeIn:
    fields: dict[str, Any] = {
        "fields": ["公民身份号码", "姓名", "行政区划代码"],
        "row_filter": [{"field": "行政区划代码", "op": "in", "values": ["361102"]}],
        "masking": [{"field": "公民身份号码", "rule": "keep_last", "n": 4}],
        "valid_from": date(2026, 9, 10),
        "valid_until": date(2027, 9, 9),
        "purpose": "社会救助对象身份核验",
        "system_id": w.consumer_system,
        "conditions": "仅限比对，不得留存",
    }
    return ScopeIn.model_validate(fields | kw)


def agreed(w: Sharing, **kw: Any) -> SettlementIn:
    return SettlementIn(
        agreed=True, outcome="经协调，提供方同意按最小范围提供", scope=scope(w, **kw)
    )


def disagreed() -> SettlementIn:
    return SettlementIn(agreed=False, outcome="提供方坚持依法不予共享，双方未达成一致")


def say(w: Sharing, actor: Actor, case: Case, body: str = "请说明具体需要的信息项") -> CaseMessage:
    return cases.post_message(w.db, actor=actor, case_id=case.id, data=MessageIn(body=body))


def escalate(w: Sharing, case: Case, reason: str = "双方对使用范围分歧较大") -> Case:
    return cases.escalate_case(w.db, actor=w.op, case_id=case.id, reason=reason)


def settle(w: Sharing, case: Case, data: SettlementIn, actor: Actor | None = None) -> Case:
    return cases.settle_case(
        w.db, actor=actor or w.op, profile=SHANGRAO, case_id=case.id, data=data
    )


def titles(w: Sharing, actor: Actor) -> list[str]:
    return [n.title for n in inbox.list_notifications(w.db, actor=actor).rows]


def told_of(w: Sharing, actor: Actor, case: Case) -> bool:
    """Whether any of the actor's notices is about the case."""
    return any(case.number in t for t in titles(w, actor))


def audit(w: Sharing, action: str, object_id: int) -> list[dict[str, Any]]:
    rows = w.db.execute(
        select(AuditEntry.details)
        .where(AuditEntry.action == action, AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.seq)
    ).scalars()
    return [json.loads(r) for r in rows]


def stranger(w: Sharing) -> Actor:
    """A data officer of a third department."""
    return actor_of(user(w.db, organization(w.db, "市人社局"), [Role.DATA_OFFICER]))


# --- opening ---------------------------------------------------------------------------


def test_a_consumer_opens_a_case_for_a_not_shared_resource(w: Sharing) -> None:
    case = open_for(w)
    assert re.fullmatch(r"XT2026\d{6}", case.number)
    assert case.origin is CaseOrigin.NOT_SHARED and case.state is CaseState.NEGOTIATING
    assert case.subject == "在逃人员信息"  # the resource's name by default
    assert (case.consumer_id, case.provider_id) == (w.consumer.id, w.provider.id)
    assert case.resource_id == w.not_shared.id and case.application_id is None
    assert case.opened_by == w.consumer_officer.label and case.request == REQUEST
    title = f"协调事项待协商：{case.number}（市民政局 与 市公安局：在逃人员信息）"
    assert titles(w, w.provider_officer)[0] == title and titles(w, w.provider_staff)[0] == title
    assert (
        titles(w, w.op)[0]
        == f"新的协调事项待组织协商：{case.number}（市民政局 与 市公安局：在逃人员信息）"
    )
    assert not told_of(w, w.authority, case) and not told_of(w, w.consumer_officer, case)
    [entry] = audit(w, "sharing.case.open", case.id)
    assert entry["number"] == case.number and entry["origin"] == "not_shared"
    assert entry["resource"] == w.not_shared.code and entry["restrictions_accepted"] is True


def test_the_subject_can_be_given(w: Sharing) -> None:
    assert open_for(w, subject="在逃人员比对").subject == "在逃人员比对"


def test_a_refused_application_opens_a_case_on_its_resource(w: Sharing) -> None:
    application = refused(w)
    case = open_for(w, resource_id=None, application_id=application.id)
    assert case.origin is CaseOrigin.REFUSED
    assert case.resource_id == w.conditional.id and case.application_id == application.id
    assert case.subject == "常住人口基本信息"
    assert audit(w, "sharing.case.open", case.id)[0]["application"] == application.number


def test_an_application_not_refused_cannot_open_a_case(w: Sharing) -> None:
    application = deciding(w)
    with pytest.raises(Conflict, match="只有被拒绝的申请可以发起协调") as caught:
        open_for(w, resource_id=None, application_id=application.id)
    assert caught.value.field == "application_id"


def test_only_the_applicant_opens_a_case_on_a_refusal(w: Sharing) -> None:
    application = refused(w)
    with pytest.raises(NotFound) as caught:
        open_for(w, stranger(w), resource_id=None, application_id=application.id)
    assert caught.value.field == "application_id"
    with pytest.raises(Forbidden, match="只有申请部门"):
        open_for(w, w.provider_officer, resource_id=None, application_id=application.id)


@pytest.mark.parametrize(
    ("which", "message"),
    [("conditional", "请提出共享申请"), ("unconditional", "可直接获取")],
)
def test_a_shared_resource_needs_no_case(w: Sharing, which: str, message: str) -> None:
    with pytest.raises(Conflict, match=message) as caught:
        open_for(w, resource_id=getattr(w, which).id)
    assert caught.value.field == "resource_id"
    assert count(w.db, Case) == 0


def test_the_provider_does_not_coordinate_with_itself(w: Sharing) -> None:
    with pytest.raises(Invalid, match="本单位提供的资源") as caught:
        open_for(w, w.provider_officer)
    assert caught.value.field == "resource_id"


def test_the_use_restrictions_must_be_accepted(w: Sharing) -> None:
    with pytest.raises(Invalid, match="使用约定") as caught:
        open_for(w, accept_restrictions=False)
    assert caught.value.field == "accept_restrictions"
    assert count(w.db, Case) == 0


def test_one_open_case_per_consumer_and_resource(w: Sharing) -> None:
    first = open_for(w)
    with pytest.raises(Conflict, match=first.number) as caught:
        open_for(w, subject="再次发起")
    assert caught.value.field == "resource_id" and caught.value.extra["case_id"] == first.id
    settle(w, first, disagreed())
    second = open_for(w, subject="再次发起")  # the first is closed: a new case may start
    assert second.number != first.number


@pytest.mark.parametrize("who", ["op", "authority"])
def test_only_a_departments_people_open_cases(w: Sharing, who: str) -> None:
    with pytest.raises(Forbidden):
        open_for(w, getattr(w, who))


def test_case_input_names_exactly_one_of_resource_and_application() -> None:
    with pytest.raises(ValidationError, match="二者选一"):
        CaseIn(resource_id=1, application_id=2, request=REQUEST, accept_restrictions=True)
    with pytest.raises(ValidationError, match="二者选一"):
        CaseIn(request=REQUEST, accept_restrictions=True)


# --- negotiation -----------------------------------------------------------------------


def test_the_parties_negotiate_and_each_message_reaches_the_others(w: Sharing) -> None:
    case = open_for(w)
    asked = say(w, w.consumer_officer, case, "只需核对是否在逃，不需要案件信息")
    assert asked.party is CaseParty.CONSUMER and asked.created_by == w.consumer_officer.label
    news = f"协调事项有新意见：{case.number}"
    assert titles(w, w.provider_staff)[0] == news and titles(w, w.op)[0] == news
    assert not told_of(w, w.consumer_officer, case)  # not to the side that spoke

    answered = say(w, w.provider_staff, case, "可以提供比对结果，但不提供明细")
    assert answered.party is CaseParty.PROVIDER
    assert titles(w, w.consumer_officer)[0] == news
    mediated = say(w, w.op, case, "建议以脱敏比对方式提供")
    assert mediated.party is CaseParty.OPERATOR
    assert not told_of(w, w.authority, case)  # not escalated: not a party yet

    found = cases.get_case(w.db, actor=w.provider_officer, case_id=case.id)
    assert [(m.party, m.body) for m in found.messages] == [
        (CaseParty.CONSUMER, "只需核对是否在逃，不需要案件信息"),
        (CaseParty.PROVIDER, "可以提供比对结果，但不提供明细"),
        (CaseParty.OPERATOR, "建议以脱敏比对方式提供"),
    ]
    entries = audit(w, "sharing.case.message", case.id)
    assert [e["party"] for e in entries] == ["consumer", "provider", "operator"]


def test_a_stranger_neither_sees_nor_joins_a_case(w: Sharing) -> None:
    case = open_for(w)
    other = stranger(w)
    with pytest.raises(NotFound):
        cases.get_case(w.db, actor=other, case_id=case.id)
    with pytest.raises(NotFound):
        say(w, other, case)
    assert count(w.db, CaseMessage) == 0


def test_the_authority_speaks_once_the_case_is_escalated(w: Sharing) -> None:
    case = open_for(w)
    with pytest.raises(Forbidden, match="提请主管部门协调后"):
        say(w, w.authority, case)
    escalate(w, case)
    spoken = say(w, w.authority, case, "请双方依据条例第二十一条协商提供方式")
    assert spoken.party is CaseParty.AUTHORITY
    assert titles(w, w.consumer_officer)[0] == f"协调事项有新意见：{case.number}"
    assert titles(w, w.op)[0] == f"协调事项有新意见：{case.number}"


def test_an_escalated_case_tells_the_authority_of_new_messages(w: Sharing) -> None:
    case = open_for(w)
    escalate(w, case)
    say(w, w.provider_officer, case, "我局坚持不予共享")
    assert titles(w, w.authority)[0] == f"协调事项有新意见：{case.number}"


def test_no_messages_after_settlement(w: Sharing) -> None:
    case = open_for(w)
    settle(w, case, disagreed())
    with pytest.raises(Conflict, match="已结案") as caught:
        say(w, w.consumer_officer, case)
    assert caught.value.field == "state"


# --- escalation ------------------------------------------------------------------------


def test_the_operator_escalates_with_a_reason(w: Sharing) -> None:
    case = open_for(w)
    escalated = escalate(w, case, "提供方认为涉密，使用方认为确有必要")
    assert escalated.state is CaseState.ESCALATED
    assert escalated.escalated_by == w.op.label and escalated.escalated_at is not None
    [note] = escalated.messages  # the reason joins the thread
    assert note.party is CaseParty.OPERATOR and "提供方认为涉密" in note.body
    assert titles(w, w.authority)[0] == (
        f"协调事项提请主管部门协调：{case.number}（市民政局 与 市公安局：在逃人员信息）"
    )
    told = f"协调事项已提请主管部门协调：{case.number}"
    assert titles(w, w.consumer_officer)[0] == told and titles(w, w.provider_officer)[0] == told
    assert audit(w, "sharing.case.escalate", case.id) == [
        {"number": case.number, "reason": "提供方认为涉密，使用方认为确有必要"}
    ]


def test_escalation_needs_a_reason(w: Sharing) -> None:
    case = open_for(w)
    with pytest.raises(Invalid) as caught:
        escalate(w, case, "   ")
    assert caught.value.field == "reason"
    assert case.state is CaseState.NEGOTIATING


@pytest.mark.parametrize("who", ["consumer_officer", "provider_officer", "authority"])
def test_only_the_operator_escalates(w: Sharing, who: str) -> None:
    case = open_for(w)
    with pytest.raises(Forbidden):
        cases.escalate_case(w.db, actor=getattr(w, who), case_id=case.id, reason="分歧较大")


def test_a_case_is_escalated_once(w: Sharing) -> None:
    case = open_for(w)
    escalate(w, case)
    with pytest.raises(Conflict) as caught:
        escalate(w, case)
    assert caught.value.field == "state"


# --- settlement ------------------------------------------------------------------------


def test_no_agreement_closes_the_case(w: Sharing) -> None:
    case = open_for(w)
    closed = settle(w, case, disagreed())
    assert closed.state is CaseState.CLOSED
    assert closed.outcome == "提供方坚持依法不予共享，双方未达成一致"
    assert closed.closed_by == w.op.label and closed.closed_at is not None
    assert closed.filing_number is None and closed.grant_id is None
    assert count(w.db, Grant) == 0
    told = f"协调事项未达成一致，已结案：{case.number}"
    assert titles(w, w.consumer_officer)[0] == told and titles(w, w.provider_staff)[0] == told
    assert not told_of(w, w.authority, case)  # never escalated, nothing filed
    [entry] = audit(w, "sharing.case.settle", case.id)
    assert entry["agreed"] is False and entry["filing_number"] is None


def test_an_agreed_case_is_filed_and_grants_exactly_the_settled_scope(w: Sharing) -> None:
    case = open_for(w)
    done = settle(w, case, agreed(w))
    assert done.state is CaseState.AGREED
    assert re.fullmatch(r"BA2026\d{6}", done.filing_number or "")
    grant = w.db.get(Grant, done.grant_id)
    assert grant is not None
    assert grant.source is GrantSource.COORDINATION and grant.case_id == case.id
    assert grant.state is GrantState.ACTIVE and not grant.whole_resource
    assert (grant.resource_id, grant.consumer_id, grant.provider_id) == (
        w.not_shared.id,
        w.consumer.id,
        w.provider.id,
    )
    assert grant.version_id == w.not_shared.current_version_id
    assert grant.fields == ["姓名", "公民身份号码", "行政区划代码"]  # in the resource's order
    assert grant.row_filter == [{"field": "行政区划代码", "op": "in", "values": ["361102"]}]
    assert grant.masking == [{"field": "公民身份号码", "rule": "keep_last", "n": 4}]
    assert (grant.valid_from, grant.valid_until) == (date(2026, 9, 10), date(2027, 9, 9))
    assert grant.purpose == "社会救助对象身份核验" and grant.system_name == "社会救助信息系统"
    assert grant.conditions == "仅限比对，不得留存"
    # The consumer accepted the restrictions when it opened the case.
    assert grant.restrictions_accepted_at == case.opened_at
    assert grant.restrictions_accepted_by == w.consumer_officer.label
    assert grant.application_id is None

    assert titles(w, w.authority)[0] == f"协调达成一致备案：{done.filing_number}"
    told = f"协调事项已达成一致并备案：{case.number}"
    assert told in titles(w, w.consumer_officer) and titles(w, w.provider_officer)[0] == told
    assert "已获得授权：在逃人员信息" in titles(w, w.consumer_officer)
    [entry] = audit(w, "sharing.case.settle", case.id)
    assert entry["agreed"] is True and entry["filing_number"] == done.filing_number
    assert entry["grant"] == grant.number and entry["fields"] == grant.fields
    [issued] = audit(w, "sharing.grant.issue", grant.id)
    assert issued["source"] == "coordination" and issued["case_id"] == case.id


def test_a_refused_application_settles_into_a_grant_of_the_resource(w: Sharing) -> None:
    application = refused(w)
    case = open_for(w, resource_id=None, application_id=application.id)
    done = settle(w, case, agreed(w, fields=["姓名"], row_filter=[], masking=[]))
    grant = w.db.get(Grant, done.grant_id)
    assert grant is not None and grant.resource_id == w.conditional.id
    assert grant.fields == ["姓名"] and grant.row_filter == [] and grant.masking == []


def test_the_authority_settles_only_an_escalated_case(w: Sharing) -> None:
    case = open_for(w)
    with pytest.raises(Forbidden, match="由平台管理单位结案"):
        settle(w, case, agreed(w), w.authority)
    escalate(w, case)
    other_authority = actor_of(user(w.db, organization(w.db, "市政府办公室"), [Role.AUTHORITY]))
    done = settle(w, case, agreed(w), w.authority)
    assert done.state is CaseState.AGREED and done.closed_by == w.authority.label
    told = f"协调事项已达成一致并备案：{case.number}"
    assert titles(w, w.op)[0] == told  # the mediator hears the authority's settlement
    filed = f"协调达成一致备案：{done.filing_number}"
    assert titles(w, other_authority) == [filed]  # the filing reaches the authority…
    assert filed not in titles(w, w.authority)  # …but not the one who settled it


def test_an_escalated_case_closed_without_agreement_is_reported_to_the_authority(
    w: Sharing,
) -> None:
    case = open_for(w)
    escalate(w, case)
    settle(w, case, disagreed())  # the operator closes it: the authority hears
    assert titles(w, w.authority)[0] == f"协调事项未达成一致，已结案：{case.number}"


@pytest.mark.parametrize("who", ["consumer_officer", "provider_officer"])
def test_the_departments_do_not_settle(w: Sharing, who: str) -> None:
    case = open_for(w)
    with pytest.raises(Forbidden):
        settle(w, case, agreed(w), getattr(w, who))


@pytest.mark.parametrize(
    ("scope_kw", "field", "message"),
    [
        ({"fields": ["姓名", "案件编号"]}, "scope.fields", "案件编号"),
        (
            {"row_filter": [{"field": "案发地", "op": "eq", "values": ["x"]}]},
            "scope.row_filter",
            "案发地",
        ),
        (
            {"masking": [{"field": "手机号码", "rule": "mobile"}]},
            "scope.masking",
            "不在授权的信息项中",
        ),
        (
            {"valid_from": date(2026, 1, 1), "valid_until": date(2026, 6, 30)},
            "scope.valid_until",
            "使用期限已过",
        ),
    ],
)
def test_the_agreed_scope_is_checked_against_the_published_resource(
    w: Sharing, scope_kw: dict[str, Any], field: str, message: str
) -> None:
    case = open_for(w)
    with pytest.raises(Invalid, match=message) as caught:
        settle(w, case, agreed(w, **scope_kw))
    assert caught.value.field == field
    assert case.state is CaseState.NEGOTIATING and count(w.db, Grant) == 0


def test_a_disagreement_carries_no_scope(w: Sharing) -> None:
    case = open_for(w)
    data = SettlementIn(agreed=False, outcome="双方未达成一致", scope=scope(w))
    with pytest.raises(Invalid) as caught:
        settle(w, case, data)
    assert caught.value.field == "scope"


def test_an_agreement_needs_its_scope() -> None:
    with pytest.raises(ValidationError, match="须写明提供的范围"):
        SettlementIn(agreed=True, outcome="双方达成一致")


def test_a_settled_case_is_not_settled_again(w: Sharing) -> None:
    case = open_for(w)
    settle(w, case, agreed(w))
    with pytest.raises(Conflict) as caught:
        settle(w, case, disagreed())
    assert caught.value.field == "state" and count(w.db, Grant) == 1


# --- reading ---------------------------------------------------------------------------


def test_lists_show_each_department_its_own_cases(w: Sharing) -> None:
    first = open_for(w)
    settle(w, first, disagreed())
    second = open_for(w, subject="再次发起")
    for actor in (w.consumer_officer, w.provider_staff, w.op, w.authority):
        assert [c.id for c in cases.list_cases(w.db, actor=actor)] == [second.id, first.id]
        assert [c.id for c in cases.list_cases(w.db, actor=actor, open_only=True)] == [second.id]
    assert cases.list_cases(w.db, actor=stranger(w)) == []


def test_overseers_read_every_case(w: Sharing) -> None:
    case = open_for(w)
    auditor = actor_of(user(w.db, organization(w.db, "市审计局"), [Role.AUDITOR]))
    assert cases.get_case(w.db, actor=auditor, case_id=case.id).id == case.id
    assert cases.get_case(w.db, actor=w.authority, case_id=case.id).id == case.id
    with pytest.raises(Forbidden):
        say(w, auditor, case)


def test_the_case_output_carries_the_thread(w: Sharing) -> None:
    case = open_for(w)
    say(w, w.provider_officer, case, "我局依法不予共享")
    out = cases.case_out(case)
    assert out.number == case.number and out.state_label == "协商中"
    assert out.origin_label == "不予共享资源" and out.resource_name == "在逃人员信息"
    assert (out.consumer, out.provider) == ("市民政局", "市公安局")
    assert [(m.party_label, m.body) for m in out.messages] == [("提供部门", "我局依法不予共享")]


def test_the_permitted_actions_follow_the_state(w: Sharing) -> None:
    case = open_for(w)
    assert cases.permitted(w.consumer_officer, case) == cases.Permitted(
        CaseParty.CONSUMER, message=True, escalate=False, settle=False
    )
    assert cases.permitted(w.op, case) == cases.Permitted(
        CaseParty.OPERATOR, message=True, escalate=True, settle=True
    )
    assert cases.permitted(w.authority, case) == cases.Permitted(
        None, message=False, escalate=False, settle=False
    )
    escalate(w, case)
    assert cases.permitted(w.authority, case) == cases.Permitted(
        CaseParty.AUTHORITY, message=True, escalate=False, settle=True
    )
    settle(w, case, disagreed())
    assert cases.permitted(w.op, case) == cases.Permitted(
        CaseParty.OPERATOR, message=False, escalate=False, settle=False
    )


# --- over HTTP -------------------------------------------------------------------------


def _as(client: TestClient, app: FastAPI, actor: Actor) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, actor.label).status_code == 200
    return csrf_for(app, client)


def test_a_case_over_the_api(app: FastAPI, client: TestClient, w: Sharing) -> None:
    w.db.commit()
    headers = _as(client, app, w.consumer_officer)
    body = {"resource_id": w.not_shared.id, "request": REQUEST}
    refused_ = client.post("/api/v1/sharing/cases", json=body, headers=headers)
    assert refused_.status_code == 422
    assert refused_.headers["content-type"].startswith(PROBLEM)
    assert refused_.json()["field"] == "accept_restrictions"
    both = client.post(
        "/api/v1/sharing/cases",
        json={**body, "application_id": 1, "accept_restrictions": True},
        headers=headers,
    )
    assert both.status_code == 422 and "二者选一" in both.json()["detail"]

    opened = client.post(
        "/api/v1/sharing/cases", json={**body, "accept_restrictions": True}, headers=headers
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["state"] == "negotiating" and case["origin"] == "not_shared"
    assert case["resource_code"] == w.not_shared.code and case["messages"] == []
    url = f"/api/v1/sharing/cases/{case['id']}"
    again = client.post(
        "/api/v1/sharing/cases", json={**body, "accept_restrictions": True}, headers=headers
    )
    assert again.status_code == 409 and again.json()["case_id"] == case["id"]

    headers = _as(client, app, w.provider_officer)
    said = client.post(f"{url}/messages", json={"body": "我局依法不予共享"}, headers=headers)
    assert said.status_code == 201
    assert said.json()["party"] == "provider" and said.json()["party_label"] == "提供部门"
    assert client.post(f"{url}/escalate", json={"reason": "x"}, headers=headers).status_code == 403
    listed = client.get("/api/v1/sharing/cases", params={"open_only": True}).json()
    assert [c["id"] for c in listed] == [case["id"]]

    headers = _as(client, app, w.op)
    no_reason = client.post(f"{url}/escalate", json={}, headers=headers)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    escalated = client.post(f"{url}/escalate", json={"reason": "分歧较大"}, headers=headers)
    assert escalated.json()["state"] == "escalated"

    headers = _as(client, app, w.authority)
    bad = agreed(w, fields=["案件编号"]).model_dump(mode="json")
    unknown = client.post(f"{url}/settle", json=bad, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "scope.fields"
    settled = client.post(f"{url}/settle", json=agreed(w).model_dump(mode="json"), headers=headers)
    assert settled.status_code == 200, settled.text
    out = settled.json()
    assert out["state"] == "agreed" and out["filing_number"].startswith("BA2026")
    grant = w.db.get(Grant, out["grant_id"])
    assert grant is not None and grant.case_id == case["id"]
    assert [m["party"] for m in out["messages"]] == ["provider", "operator"]

    other = stranger(w)
    w.db.commit()
    _as(client, app, other)
    assert client.get(url).status_code == 404
    assert client.get("/api/v1/sharing/cases").json() == []


def _csrf(client: TestClient, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text)
    assert match is not None
    return match.group(1)


def test_case_pages(app: FastAPI, client: TestClient, w: Sharing) -> None:
    w.db.commit()
    _as(client, app, w.consumer_officer)
    new_url = f"/sharing/cases/new?resource={w.not_shared.id}"
    page = client.get(new_url)
    assert page.status_code == 200
    assert "不得以任何形式提供给第三方" in page.text and 'value="在逃人员信息"' in page.text
    token = _csrf(client, new_url)
    form = {"csrf_token": token, "resource_id": str(w.not_shared.id), "subject": "在逃人员比对"}
    short = client.post("/sharing/cases/new", data={**form, "request": "太短"})
    assert short.status_code == 422 and "协调诉求：至少填写 10 个字" in short.text
    unaccepted = client.post("/sharing/cases/new", data={**form, "request": REQUEST})
    assert unaccepted.status_code == 422
    error = re.search(r"accept_restrictions.*?field-error[^>]*>([^<]+)<", unaccepted.text, re.S)
    assert error is not None and "请阅读并接受共享数据使用约定" in error.group(1)
    assert REQUEST in unaccepted.text  # what was typed is kept
    opened = client.post(
        "/sharing/cases/new",
        data={**form, "request": REQUEST, "accept_restrictions": "1"},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    case_url = opened.headers["location"]
    detail = client.get(case_url).text
    assert "在逃人员比对" in detail and REQUEST in detail and "协商中" in detail
    assert "以使用部门身份发表意见" in detail and "提请主管部门协调</button>" not in detail
    said = client.post(f"{case_url}/messages", data={"csrf_token": token, "body": "急需"})
    assert "意见已发表" in said.text and "急需" in said.text
    listed = client.get("/sharing/cases", params={"open_only": "true"}).text
    assert "在逃人员比对" in listed

    _as(client, app, w.op)
    token = _csrf(client, case_url)
    detail = client.get(case_url).text
    assert 'name="fields" value="公民身份号码"' in detail and "保留后 n 位" in detail
    assert 'name="reason"' in detail
    settle_form = {
        "csrf_token": token,
        "agreed": "yes",
        "outcome": "经协调同意提供比对所需信息项",
        "fields": ["姓名", "公民身份号码"],
        "filter_field": ["行政区划代码", ""],
        "filter_op": ["between", "eq"],
        "filter_values": ["361102", ""],
        "mask_field": ["姓名", "公民身份号码"],
        "mask_rule": ["", "keep_last"],
        "mask_n": ["", ""],
        "valid_from": "2026-09-10",
        "valid_until": "2027-09-09",
        "purpose": "社会救助对象身份核验",
        "system_id": str(w.consumer_system),
    }
    wrong = client.post(f"{case_url}/settle", data=settle_form)
    assert wrong.status_code == 422
    assert "介于须给出起止两个值" in wrong.text and "须填写保留位数 n" in wrong.text
    assert 'value="361102"' in wrong.text  # the rows are shown again as posted
    settle_form |= {"filter_values": ["361100,361199", ""], "mask_n": ["", "4"]}
    settled = client.post(f"{case_url}/settle", data=settle_form)
    assert settled.status_code == 200 and "已达成一致并备案" in settled.text
    case = w.db.execute(select(Case)).scalar_one()
    w.db.refresh(case)
    assert case.filing_number and case.filing_number in settled.text
    assert f'href="/sharing/grants/{case.grant_id}"' in settled.text
    grant = w.db.get(Grant, case.grant_id)
    assert grant is not None and grant.fields == ["姓名", "公民身份号码"]
    assert grant.row_filter == [
        {"field": "行政区划代码", "op": "between", "values": ["361100", "361199"]}
    ]
    assert grant.masking == [{"field": "公民身份号码", "rule": "keep_last", "n": 4}]
    again = client.post(f"{case_url}/settle", data=settle_form)
    assert again.status_code == 409 and "不能再次结案" in again.text


def test_the_escalate_page_shows_its_error_beside_the_reason(
    app: FastAPI, client: TestClient, w: Sharing
) -> None:
    case = open_for(w)
    w.db.commit()
    _as(client, app, w.op)
    url = f"/sharing/cases/{case.id}"
    token = _csrf(client, url)
    missing = client.post(f"{url}/escalate", data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 422
    error = re.search(r'name="reason".*?field-error[^>]*>([^<]+)<', missing.text, re.S)
    assert error is not None and "请说明提请主管部门协调的理由" in error.group(1)
    done = client.post(f"{url}/escalate", data={"csrf_token": token, "reason": "分歧较大"})
    assert "已提请主管部门协调" in done.text and "理由：分歧较大" in done.text

    _as(client, app, w.authority)
    page = client.get(url).text
    assert "以主管部门身份发表意见" in page and 'name="agreed"' in page
    token = _csrf(client, url)
    closed = client.post(
        f"{url}/settle",
        data={"csrf_token": token, "agreed": "no", "outcome": "依法不予共享，协调未果"},
    )
    assert "已结案：未达成一致" in closed.text and "依法不予共享，协调未果" in closed.text


def test_the_new_case_page_lists_refused_applications(
    app: FastAPI, client: TestClient, w: Sharing
) -> None:
    application = refused(w)
    w.db.commit()
    _as(client, app, w.consumer_officer)
    page = client.get("/sharing/cases/new").text
    assert application.number in page
    assert f"/sharing/cases/new?application={application.id}" in page
    chosen = client.get(f"/sharing/cases/new?application={application.id}").text
    assert "涉及个人隐私" in chosen and 'name="application_id"' in chosen
    token = _csrf(client, "/sharing/cases/new")
    opened = client.post(
        "/sharing/cases/new",
        data={
            "csrf_token": token,
            "application_id": str(application.id),
            "request": REQUEST,
            "accept_restrictions": "1",
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    case_url = opened.headers["location"]

    _as(client, app, w.op)
    assert "只有使用部门的人员可以发起协调" in client.get("/sharing/cases/new").text
    settle_form = client.get(case_url).text
    # The settlement proposes what the refused application asked for.
    assert 'name="fields" value="户籍地址" checked' in settle_form
    assert 'name="fields" value="手机号码" checked' not in settle_form
    assert 'value="361102,361103"' in settle_form
    assert 'value="2027-09-30"' in settle_form
