"""Grants (SHR-1/3/5/6/7): direct access, the access check, suspension for misuse, expiry,
stale providers held back, use feedback and who uses a provider's data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Role
from govshare.identity.models import User
from govshare.sharing.models import Grant, GrantActionKind, GrantSource, GrantState
from govshare.sharing.schemas import DataUpdateIn, DirectAccessIn, FeedbackIn, GrantActionIn
from govshare.sharing.service import access, feedback, freshness, grants
from tests.builders import system_of
from tests.sharing.builders import BINZHOU, FIELDS, SHANGRAO, Sharing, approved, sharing_world

TODAY = "2026-10-12T09:00:00+08:00"


@pytest.fixture
def w(db) -> Sharing:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        return sharing_world(db)


def _direct(w: Sharing, rules=SHANGRAO.rules, **kw) -> Grant:
    data = {
        "resource_id": w.unconditional.id,
        "purpose": "政务服务事项办理指引",
        "system_id": w.consumer_system,
        "accept_restrictions": True,
    } | kw
    return grants.request_direct_access(
        w.db, actor=w.consumer_officer, rules=rules, data=DirectAccessIn(**data)
    )


def _inbox(w: Sharing, org_id: int) -> list[str]:
    return list(
        w.db.execute(
            select(Notification.title)
            .join(User, User.id == Notification.recipient_id)
            .where(User.organization_id == org_id)
        ).scalars()
    )


def test_direct_access_grants_the_whole_unconditional_resource_without_review(
    w: Sharing,
) -> None:
    with clock.frozen(TODAY):
        with pytest.raises(Invalid) as not_accepted:
            _direct(w, accept_restrictions=False)
        assert not_accepted.value.field == "accept_restrictions"
        grant = _direct(w)
        assert grant.source is GrantSource.DIRECT and grant.whole_resource
        assert grant.fields == FIELDS and grant.row_filter == [] and grant.masking == []
        assert grant.valid_until is None and grant.usable(clock.today())
        with pytest.raises(Conflict, match=grant.number):
            _direct(w)
        with pytest.raises(Conflict, match="申请"):
            _direct(w, resource_id=w.conditional.id)
        with pytest.raises(Invalid, match="本单位"):
            grants.request_direct_access(
                w.db,
                actor=w.provider_officer,
                rules=SHANGRAO.rules,
                data=DirectAccessIn(
                    resource_id=w.unconditional.id,
                    purpose="本局业务系统自用",
                    system_id=system_of(w.db, w.provider.id, "警务平台"),
                    accept_restrictions=True,
                ),
            )
    assert any("已获得授权" in t for t in _inbox(w, w.consumer.id))


def test_suspension_stops_access_at_once_and_says_why(w: Sharing) -> None:
    with clock.frozen(TODAY):
        grant = _direct(w)
        allowed = access.check_access(w.db, actor=w.consumer_officer, resource_id=grant.resource_id)
        assert allowed.allowed and allowed.grant is grant
        with pytest.raises(Forbidden):
            grants.suspend_grant(
                w.db,
                actor=w.consumer_officer,
                grant_id=grant.id,
                data=GrantActionIn(reason="自行暂停"),
            )
        grants.suspend_grant(
            w.db,
            actor=w.provider_officer,
            grant_id=grant.id,
            data=GrantActionIn(reason="发现将数据提供给第三方公司", report_to_authority=True),
        )
        refused = access.check_access(w.db, actor=w.consumer_officer, resource_id=grant.resource_id)
        assert not refused.allowed and "已被暂停" in refused.reason
        assert "发现将数据提供给第三方公司" in refused.reason
        assert any("暂停使用" in t for t in _inbox(w, w.consumer.id))
        authority_titles = w.db.execute(
            select(Notification.title).where(Notification.recipient_id == w.authority.user_id)
        ).scalars()
        assert any("违规使用报告" in t for t in authority_titles)
        with pytest.raises(Conflict):
            grants.suspend_grant(
                w.db, actor=w.op, grant_id=grant.id, data=GrantActionIn(reason="再次暂停")
            )
        grants.resume_grant(
            w.db, actor=w.op, grant_id=grant.id, data=GrantActionIn(reason="已整改并承诺")
        )
        assert access.check_access(
            w.db, actor=w.consumer_officer, resource_id=grant.resource_id
        ).allowed
        grants.end_grant(
            w.db,
            actor=w.consumer_officer,
            grant_id=grant.id,
            data=GrantActionIn(reason="业务系统停用", report_to_authority=False),
        )
        ended = access.check_access(w.db, actor=w.consumer_officer, resource_id=grant.resource_id)
        assert not ended.allowed and "已终止" in ended.reason
        with pytest.raises(Conflict):
            grants.resume_grant(
                w.db, actor=w.op, grant_id=grant.id, data=GrantActionIn(reason="恢复吧")
            )
    assert [a.kind for a in grant.actions] == [
        GrantActionKind.CREATE,
        GrantActionKind.SUSPEND,
        GrantActionKind.RESUME,
        GrantActionKind.END,
    ]
    assert grant.state is GrantState.ENDED


def test_access_without_a_grant_before_it_starts_and_after_it_expires(w: Sharing) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        none = access.check_access(w.db, actor=w.consumer_officer, resource_id=w.conditional.id)
        assert not none.allowed and none.grant is None and "请先申请" in none.reason
        application = approved(w)  # valid from 2026-10-01 to 2027-09-30
        early = access.check_access(w.db, actor=w.consumer_officer, resource_id=w.conditional.id)
        assert not early.allowed and "2026-10-01" in early.reason
    with clock.frozen("2026-10-01T00:30:00+08:00"):
        assert access.check_access(
            w.db, actor=w.consumer_officer, resource_id=w.conditional.id
        ).allowed
    with clock.frozen("2027-10-01T09:00:00+08:00"):
        late = access.check_access(w.db, actor=w.consumer_officer, resource_id=w.conditional.id)
        assert not late.allowed and "到期" in late.reason
        grant = w.db.get(Grant, application.grant_id)
        assert grants.status_label(grant, clock.today()) == "已过期"


def test_stale_providers_get_no_new_grants_under_binzhou(w: Sharing) -> None:
    from tests.catalog.builders import published
    from tests.sharing.builders import PEOPLE_ITEMS

    with clock.frozen("2026-09-01T09:00:00+08:00"):
        own = published(
            w.db,
            w.consumer_officer,
            w.op,
            name="城乡低保对象信息",
            update_frequency="monthly",
            items=PEOPLE_ITEMS,
        )
    with clock.frozen("2026-10-20T09:00:00+08:00"):  # 49 days later: a monthly resource is late
        stale = freshness.stale_resources(w.db, w.consumer.id)
        assert [s.code for s in stale] == [own.code]
        assert stale[0].due_on == date(2026, 10, 3)
        assert _direct(w).usable(clock.today())  # Shangrao does not restrict
        grants.end_grant(
            w.db,
            actor=w.op,
            grant_id=w.db.execute(select(Grant.id)).scalar_one(),
            data=GrantActionIn(reason="测试结束", report_to_authority=False),
        )
        with pytest.raises(Forbidden) as barred:
            _direct(w, rules=BINZHOU.rules)
        assert "城乡低保对象信息" in barred.value.message and "第二十一條" in barred.value.message
        freshness.record_data_update(
            w.db, actor=w.consumer_officer, resource_id=own.id, data=DataUpdateIn(note="月度更新")
        )
        assert freshness.stale_resources(w.db, w.consumer.id) == []
        assert _direct(w, rules=BINZHOU.rules).usable(clock.today())
        with pytest.raises(Forbidden):
            freshness.record_data_update(
                w.db, actor=w.provider_officer, resource_id=own.id, data=DataUpdateIn()
            )
        with pytest.raises(Invalid):
            freshness.record_data_update(
                w.db,
                actor=w.consumer_officer,
                resource_id=own.id,
                data=DataUpdateIn(updated_on=clock.today() + timedelta(days=1)),
            )


def test_feedback_and_who_uses_my_data(w: Sharing) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        application = approved(w)
        direct = _direct(w)
    with clock.frozen("2026-12-01T10:00:00+08:00"):
        grant = w.db.get(Grant, application.grant_id)
        with pytest.raises(Forbidden):
            feedback.record_feedback(
                w.db,
                actor=w.provider_officer,
                grant_id=grant.id,
                data=FeedbackIn(rating="good", effect="提供方不能代为反馈"),
            )
        feedback.record_feedback(
            w.db,
            actor=w.consumer_officer,
            grant_id=grant.id,
            data=FeedbackIn(rating="good", cases_handled=312, effect="低保复核免交户籍证明"),
        )
        rows = feedback.usage(w.db, actor=w.provider_officer)
        assert {r.resource.id: [g.id for g in r.grants] for r in rows} == {
            w.conditional.id: [grant.id],
            w.unconditional.id: [direct.id],
        }
        conditional = next(r for r in rows if r.resource.id == w.conditional.id)
        assert conditional.feedback[grant.id][0].cases_handled == 312
        with pytest.raises(Forbidden):
            feedback.usage(w.db, actor=w.consumer_officer, organization_id=w.provider.id)
        assert feedback.usage(w.db, actor=w.op, organization_id=w.provider.id)
        assert feedback.usage(w.db, actor=w.consumer_officer) == []
        # A page at a time, by resource code; a page past the last shows the last.
        paged = [
            feedback.usage_page(w.db, actor=w.op, every_provider=True, page=n, per_page=1)
            for n in (1, 2, 3)
        ]
        assert [(p.page, p.pages, p.resources) for p in paged] == [(1, 2, 2), (2, 2, 2), (2, 2, 2)]
        by_code = sorted(rows, key=lambda r: r.resource.code)
        assert [[r.resource.id for r in p.rows] for p in paged] == [
            [by_code[0].resource.id],
            [by_code[1].resource.id],
            [by_code[1].resource.id],
        ]
        assert paged[0].rows[0].grants == by_code[0].grants
        with pytest.raises(Forbidden):
            feedback.usage_page(w.db, actor=w.provider_officer, every_provider=True)
        assert any("使用成效反馈" in t for t in _inbox(w, w.provider.id))
        # BZ§27: the effect of use is reported to the operator too.
        operator = w.db.get(User, w.op.user_id)
        assert operator is not None
        assert any("使用成效反馈" in t for t in _inbox(w, operator.organization_id))
        assert [g.id for g in grants.my_grants(w.db, actor=w.consumer_officer)] == [
            direct.id,
            grant.id,
        ]
        out = grants.grant_out(grant)
        assert out.usable and out.restrictions and out.status_label == "有效"
    assert Role.AUTHORITY in w.authority.roles
