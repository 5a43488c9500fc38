"""Acceptance: compile → refuse without legal basis → submit → return → fix → approve →
publish → version 2 with review → diff shows exactly the changed fields; retirement with
notice under Shangrao."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, VersionState
from govshare.catalog.schemas import RetirementIn, ReviewIn, VersionIn
from govshare.catalog.service import (
    common,
    contents,
    diffs,
    overview,
    resources,
    retirements,
    subscriptions,
)
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Role
from govshare.core.policy import load_profile
from tests.builders import actor_of, count, operator, organization, user
from tests.catalog.builders import RULES, published, resource_in

APPROVE = ReviewIn(approve=True)


@pytest.fixture
def world(db: Session):
    op, _ = operator(db)
    mz = organization(db, "江州市民政局")
    officer = actor_of(user(db, mz, [Role.DATA_OFFICER], "mz_officer"))
    staff = actor_of(user(db, mz, [Role.DEPARTMENT_STAFF], "mz_staff"))
    gaj = organization(db, "江州市公安局")
    gaj_officer = actor_of(user(db, gaj, [Role.DATA_OFFICER], "gaj_officer"))
    return op, officer, staff, gaj_officer


def test_the_acceptance_path(db: Session, world) -> None:
    op, officer, staff, _ = world
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        with pytest.raises(Invalid) as refused:
            resources.create_resource(
                db,
                actor=staff,
                data=resource_in(share_type="conditional", share_conditions="仅限婚姻登记业务"),
                rules=RULES,
            )
        assert refused.value.field == "legal_basis"
        assert count(db, Resource) == 0

        resource = resources.create_resource(
            db,
            actor=staff,
            data=resource_in(
                share_type="conditional",
                share_conditions="仅限婚姻登记业务",
                legal_basis="《婚姻登记条例》第二条",
            ),
            rules=RULES,
        )
        assert resource.code == "301001/000001"
        (v1,) = resources.list_versions(db, actor=staff, resource_id=resource.id)
        with pytest.raises(Forbidden):
            resources.submit_version(db, actor=staff, version_id=v1.id, rules=RULES)
        resources.submit_version(db, actor=officer, version_id=v1.id, rules=RULES)
        assert v1.state is VersionState.SUBMITTED
        with pytest.raises(Invalid) as no_reason:
            resources.review_version(
                db, actor=op, version_id=v1.id, decision=ReviewIn(approve=False), rules=RULES
            )
        assert no_reason.value.field == "comment"
        resources.review_version(
            db,
            actor=op,
            version_id=v1.id,
            decision=ReviewIn(approve=False, comment="摘要未说明数据覆盖年份"),
            rules=RULES,
        )
        assert v1.state is VersionState.RETURNED
        inbox_page = inbox.list_notifications(db, actor=officer)
        assert "摘要未说明数据覆盖年份" in inbox_page.rows[0].body

        fixed = VersionIn.model_validate(
            contents.version_input(v1) | {"summary": "本市2003年以来办理的结婚、离婚登记信息"}
        )
        resources.update_draft(db, actor=staff, version_id=v1.id, data=fixed, rules=RULES)
        resources.submit_version(db, actor=officer, version_id=v1.id, rules=RULES)
        resources.review_version(db, actor=op, version_id=v1.id, decision=APPROVE, rules=RULES)
        assert v1.state is VersionState.PUBLISHED
        assert resource.status is ResourceStatus.PUBLISHED
        assert v1.published_on == date(2026, 11, 2)
        with pytest.raises(Conflict):
            resources.update_draft(db, actor=staff, version_id=v1.id, data=fixed, rules=RULES)

        v2 = resources.start_revision(db, actor=staff, resource_id=resource.id)
        changed = contents.version_input(v2) | {
            "update_frequency": "weekly",
            "items": [
                *contents.version_input(v2)["items"],
                {"name": "登记日期", "data_type": "D"},
            ],
        }
        resources.update_draft(
            db, actor=staff, version_id=v2.id, data=VersionIn.model_validate(changed), rules=RULES
        )
        resources.submit_version(db, actor=officer, version_id=v2.id, rules=RULES)
        resources.review_version(db, actor=op, version_id=v2.id, decision=APPROVE, rules=RULES)
        # Shangrao: a change to a published resource takes effect a month after approval.
        assert v2.state is VersionState.SCHEDULED
        assert v2.effective_on == date(2026, 12, 2)
        assert resource.current_version.number == 1

    with clock.frozen("2026-12-02T01:00:00+08:00"):
        result = retirements.apply_due_changes(db, actor=op)
    assert result.published == [f"{resource.code}#2"]
    assert resource.current_version.number == 2
    assert v1.state is VersionState.SUPERSEDED

    diff = diffs.diff_versions(db, actor=officer, resource_id=resource.id, a=1, b=2)
    assert [(c.field, c.before, c.after) for c in diff.fields] == [
        ("update_frequency", "每日", "每周")
    ]
    assert [(i.name, i.kind) for i in diff.items] == [("登记日期", "added")]


def test_without_notice_period_a_change_publishes_on_approval(db: Session, world) -> None:
    op, officer, staff, _ = world
    binzhou = load_profile("binzhou").rules
    assert binzhou.catalog_change_notice_months.value == 0
    resource = published(db, officer, op, rules=binzhou)
    v2 = resources.start_revision(db, actor=staff, resource_id=resource.id)
    resources.submit_version(db, actor=officer, version_id=v2.id, rules=binzhou)
    resources.review_version(db, actor=op, version_id=v2.id, decision=APPROVE, rules=binzhou)
    assert v2.state is VersionState.PUBLISHED


def test_retirement_under_shangrao_is_announced_a_month_ahead(db: Session, world) -> None:
    op, officer, _, gaj_officer = world
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        resource = published(db, officer, op)
        subscriptions.subscribe(db, actor=gaj_officer, resource_id=resource.id)
        retirements.request_retirement(
            db,
            actor=officer,
            resource_id=resource.id,
            data=RetirementIn(
                reason="职能划转至市政务服务中心", requested_effective_on=date(2026, 11, 10)
            ),
        )
        retirements.review_retirement(
            db, actor=op, resource_id=resource.id, decision=APPROVE, rules=RULES
        )
        assert resource.retires_on == date(2026, 12, 2)  # not the requested 11-10: a month's notice
        notices = inbox.list_notifications(db, actor=gaj_officer).rows
        assert any("将于 2026-12-02 下架" in n.title for n in notices)
    with clock.frozen("2026-12-01T23:00:00+08:00"):
        assert retirements.apply_due_changes(db, actor=op).retired == []
        assert resource.status is ResourceStatus.PUBLISHED
    with clock.frozen("2026-12-02T00:30:00+08:00"):
        assert retirements.apply_due_changes(db, actor=op).retired == [resource.code]
    assert resource.status is ResourceStatus.RETIRED
    assert count(db, Notification) > 0


def test_staff_neither_submit_nor_ask_for_retirement_one_rule_for_both(db: Session, world) -> None:
    """Staff compile drafts; only the data officer or head commits the department, whether
    by submitting a version or by asking for the resource's retirement."""
    op, officer, staff, gaj_officer = world
    resource = published(db, officer, op)
    draft = resources.start_revision(db, actor=staff, resource_id=resource.id)
    with pytest.raises(Forbidden, match="数据专员或部门负责人"):
        resources.submit_version(db, actor=staff, version_id=draft.id, rules=RULES)
    resources.withdraw_version(db, actor=staff, version_id=draft.id, reason="改为下架")
    retire = RetirementIn(reason="职能划转至市政务服务中心")
    with pytest.raises(Forbidden, match="数据专员或部门负责人"):
        retirements.request_retirement(db, actor=staff, resource_id=resource.id, data=retire)
    with pytest.raises(Forbidden):  # another department's officer neither
        retirements.request_retirement(db, actor=gaj_officer, resource_id=resource.id, data=retire)
    assert resource.retirement_state is None
    assert [common.may_submit(a, resource) for a in (op, officer, staff, gaj_officer)] == [
        True,
        True,
        False,
        False,
    ]
    retirements.request_retirement(db, actor=officer, resource_id=resource.id, data=retire)
    assert resource.retirement_state is not None


def test_rules_name_their_field(db: Session, world) -> None:
    _, _, staff, _ = world
    cases = {
        "share_conditions": {"share_type": "conditional", "legal_basis": "某法"},
        "legal_basis": {"share_type": "not_shared"},
        "offline_reason": {"share_methods": ["offline"]},
        "open_conditions": {"open_type": "conditional"},
        "base_topic": {"catalog_kind": "base"},
        "theme_id": {"catalog_kind": "theme"},
    }
    for field, overrides in cases.items():
        with pytest.raises(Invalid) as refused:
            resources.create_resource(db, actor=staff, data=resource_in(**overrides), rules=RULES)
        assert refused.value.field == field, overrides
    with pytest.raises(Invalid) as open_conditional:
        resources.create_resource(
            db,
            actor=staff,
            data=resource_in(
                open_type="unconditional",
                share_type="conditional",
                share_conditions="x",
                legal_basis="y",
            ),
            rules=RULES,
        )
    assert open_conditional.value.field == "share_type"
    with pytest.raises(Invalid) as base_conditional:
        resources.create_resource(
            db,
            actor=staff,
            data=resource_in(
                catalog_kind="base",
                base_topic="population",
                share_type="conditional",
                share_conditions="x",
                legal_basis="y",
            ),
            rules=RULES,
        )
    assert base_conditional.value.field == "share_type"


def test_narrowing_needs_justification_and_reaches_the_authority(db: Session, world) -> None:
    op, officer, staff, _ = world
    authority_org = organization(db, "江州市数据局")
    authority = actor_of(user(db, authority_org, [Role.AUTHORITY], "authority"))
    resource = published(db, officer, op)
    v2 = resources.start_revision(db, actor=staff, resource_id=resource.id)
    narrower = contents.version_input(v2) | {
        "share_type": "conditional",
        "share_conditions": "仅限民政业务",
        "legal_basis": "《个人信息保护法》第十三条",
    }
    resources.update_draft(
        db, actor=staff, version_id=v2.id, data=VersionIn.model_validate(narrower), rules=RULES
    )
    with pytest.raises(Invalid) as refused:
        resources.submit_version(db, actor=officer, version_id=v2.id, rules=RULES)
    assert refused.value.field == "narrowing_justification"
    narrower["narrowing_justification"] = "含敏感个人信息，依法调整"
    resources.update_draft(
        db, actor=staff, version_id=v2.id, data=VersionIn.model_validate(narrower), rules=RULES
    )
    resources.submit_version(db, actor=officer, version_id=v2.id, rules=RULES)
    assert v2.narrowing
    assert inbox.unread_count(db, actor=authority) == 1
    assert overview.review_queue(db, actor=authority).narrowings == [v2]


def test_codes_are_never_reused(db: Session, world) -> None:
    staff = world[2]
    first = resources.create_resource(db, actor=staff, data=resource_in(), rules=RULES)
    (v1,) = resources.list_versions(db, actor=staff, resource_id=first.id)
    resources.withdraw_version(db, actor=staff, version_id=v1.id)
    second = resources.create_resource(db, actor=staff, data=resource_in(), rules=RULES)
    assert (first.code, second.code) == ("301001/000001", "301001/000002")
    other = resources.create_resource(
        db, actor=staff, data=resource_in(item_code="02", group_code="005"), rules=RULES
    )
    assert other.code == "302005/000001"


def test_drafts_are_seen_by_their_department_and_the_operator_only(db: Session, world) -> None:
    op, _, staff, gaj_officer = world
    draft = resources.create_resource(db, actor=staff, data=resource_in(), rules=RULES)
    assert resources.get_resource(db, actor=op, resource_id=draft.id) is draft
    with pytest.raises(NotFound):
        resources.get_resource(db, actor=gaj_officer, resource_id=draft.id)
    with pytest.raises(NotFound):
        resources.start_revision(db, actor=gaj_officer, resource_id=draft.id)


def test_duplicate_items_are_found_through_synonyms(db: Session, world) -> None:
    op, officer, _, gaj_officer = world
    resource = published(db, officer, op)
    matches = overview.find_duplicates(
        db, actor=gaj_officer, item_names=["公民身份号码", "车牌号码"]
    )
    assert [(m.item, m.existing_item, m.resource_code) for m in matches] == [
        ("公民身份号码", "身份证号", resource.code)
    ]
    assert overview.find_duplicates(db, actor=officer, item_names=["公民身份号码"]) == []


def test_the_effective_date_is_the_request_but_never_inside_the_notice_period() -> None:
    today = date(2026, 1, 31)
    assert resources.effective_date(today, 1, None) == date(2026, 2, 28)
    assert resources.effective_date(today, 1, date(2026, 2, 1)) == date(2026, 2, 28)
    assert resources.effective_date(today, 1, date(2026, 4, 1)) == date(2026, 4, 1)
    assert resources.effective_date(today, 0, None) == today


@pytest.mark.parametrize("topic", ["e_licence", "social_credit"])
def test_xiangtan_base_topics_are_an_open_list(db: Session, world, topic: str) -> None:
    _, _, staff, _ = world
    base = {"catalog_kind": "base", "base_topic": topic}
    xiangtan = load_profile("xiangtan").rules  # 人口、法人、地理空间等
    resource = resources.create_resource(db, actor=staff, data=resource_in(**base), rules=xiangtan)
    assert resource.base_topic == topic
    shangrao = load_profile("shangrao").rules  # four topics, a closed list
    if topic == "social_credit":
        with pytest.raises(Invalid) as refused:
            resources.create_resource(db, actor=staff, data=resource_in(**base), rules=shangrao)
        assert refused.value.field == "base_topic"
    with pytest.raises(Invalid) as unknown:
        data = resource_in(catalog_kind="base", base_topic="weather")
        resources.create_resource(db, actor=staff, data=data, rules=xiangtan)
    assert unknown.value.field == "base_topic"
