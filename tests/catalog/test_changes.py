"""Catalog update deadlines (CAT-5): working days from the profile, provisional across an
unknown year, closing with the updated resources and filing, overdue departments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import ChangeEvent
from govshare.catalog.schemas import ChangeEventIn
from govshare.catalog.service import changes
from govshare.core import calendar, clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from govshare.identity.models import Organization
from tests.builders import actor_of, operator, organization, user
from tests.catalog.builders import RULES, published
from tests.http import csrf_for, sign_in

SHAOYANG = load_profile("shaoyang").rules  # 15 working days, filed with the authority
SHANGRAO = RULES  # 15 working days (default), no filing


@dataclass
class People:
    op: Actor
    authority: Actor
    mz: Organization
    mz_officer: Actor
    mz_staff: Actor
    gaj: Organization
    gaj_officer: Actor


@pytest.fixture
def people(db: Session) -> People:
    op, _ = operator(db)
    zfb = organization(db, "江州市人民政府办公室")
    authority = actor_of(user(db, zfb, [Role.AUTHORITY], "authority"))
    mz = organization(db, "江州市民政局")
    gaj = organization(db, "江州市公安局")
    return People(
        op=op,
        authority=authority,
        mz=mz,
        mz_officer=actor_of(user(db, mz, [Role.DATA_OFFICER], "mz_officer")),
        mz_staff=actor_of(user(db, mz, [Role.DEPARTMENT_STAFF], "mz_staff")),
        gaj=gaj,
        gaj_officer=actor_of(user(db, gaj, [Role.DATA_OFFICER], "gaj_officer")),
    )


def event_in(occurred_on: date, **kw: object) -> ChangeEventIn:
    fields: dict[str, object] = {
        "cause": "law_change",
        "description": "《婚姻登记条例》修订，新增补领结婚证信息",
        "occurred_on": occurred_on,
    }
    return ChangeEventIn.model_validate(fields | kw)


def test_shaoyang_deadline_skips_national_day(db: Session, people: People) -> None:
    # Working days after Fri 2026-09-25 (Mid-autumn): 09-28, 09-29, 09-30 (3); National Day
    # 10-01…10-07 off; 10-08, 10-09, Sat 10-10 (swapped working day) (6); 10-12…10-16 (11);
    # 10-19, 10-20, 10-21, 10-22 (15).
    with clock.frozen("2026-09-28T09:00:00+08:00"):
        event = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 9, 25)), rules=SHAOYANG
        )
    assert event.due_on == date(2026, 10, 22)
    assert not event.due_provisional
    assert event.filing_required
    assert changes.deadline(event).label == "2026-10-22"
    notice = inbox.list_notifications(db, actor=people.mz_officer).rows[0]
    assert notice.title == "目录更新期限：2026-10-22"
    assert "备案" in notice.body and notice.link == f"/catalog/changes/{event.id}"


def test_a_december_event_reaching_into_2027_is_provisional(db: Session, people: People) -> None:
    # After Tue 2026-12-15: 12-16…12-18 (3), 12-21…12-25 (8), 12-28…12-31 (12); 2027's holidays
    # are not known yet, so Fri 2027-01-01 counts as a weekday (13), then 01-04 (14), 01-05 (15).
    with clock.frozen("2026-12-16T09:00:00+08:00"):
        event = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 12, 15)), rules=SHAOYANG
        )
        assert event.due_on == date(2027, 1, 5)
        assert event.due_provisional
        assert "暂定" in changes.deadline(event).label
        notice = inbox.list_notifications(db, actor=people.mz_officer).rows[0]
        assert "暂定" in notice.title

        # Once the operator enters 2027 (New Year's Day off), the same event counts firm.
        calendar.import_year(
            db,
            actor=people.op,
            year=2027,
            days=[(date(2027, 1, 1), False, "元旦")],
            source="国务院办公厅关于2027年部分节假日安排的通知",
        )
        firm = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 12, 15)), rules=SHAOYANG
        )
    assert (firm.due_on, firm.due_provisional) == (date(2027, 1, 6), False)


def test_cause_and_dates_are_checked_and_named(db: Session, people: People) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        with pytest.raises(Invalid) as wrong_cause:
            changes.record_change_event(
                db,
                actor=people.mz_staff,
                data=event_in(date(2026, 10, 30), cause="reorganisation"),
                rules=SHAOYANG,
            )
        assert wrong_cause.value.field == "cause"
        assert "部门职能变化" in wrong_cause.value.message
        with pytest.raises(Invalid) as future:
            changes.record_change_event(
                db, actor=people.mz_staff, data=event_in(date(2026, 11, 3)), rules=SHAOYANG
            )
        assert future.value.field == "occurred_on"
        by_label = changes.record_change_event(
            db,
            actor=people.mz_staff,
            data=event_in(date(2026, 10, 30), cause="部门职能变化"),
            rules=SHAOYANG,
        )
    assert by_label.cause.value == "duty_change"
    assert db.execute(select(ChangeEvent)).scalars().all() == [by_label]


def test_departments_record_their_own_and_the_operator_any(db: Session, people: People) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        with pytest.raises(Forbidden) as other:
            changes.record_change_event(
                db,
                actor=people.mz_staff,
                data=event_in(date(2026, 10, 30), organization_id=people.gaj.id),
                rules=SHAOYANG,
            )
        assert other.value.field == "organization_id"
        with pytest.raises(Forbidden):
            changes.record_change_event(
                db, actor=people.authority, data=event_in(date(2026, 10, 30)), rules=SHAOYANG
            )
        for_gaj = changes.record_change_event(
            db,
            actor=people.op,
            data=event_in(date(2026, 10, 30), organization_id=people.gaj.id),
            rules=SHAOYANG,
        )
    assert for_gaj.organization_id == people.gaj.id
    assert inbox.list_notifications(db, actor=people.gaj_officer).total == 1
    with pytest.raises(NotFound):
        changes.get_change_event(db, actor=people.mz_officer, event_id=for_gaj.id)
    assert changes.get_change_event(db, actor=people.authority, event_id=for_gaj.id) is for_gaj


def test_closing_names_own_resources_and_files_with_the_authority(
    db: Session, people: People
) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        own = published(db, people.mz_officer, people.op)
        foreign = published(db, people.gaj_officer, people.op, name="户籍人口信息")
        event = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 10, 30)), rules=SHAOYANG
        )
        for codes, words in (
            ([], "理由"),
            (["399999/000001"], "不存在"),
            ([foreign.code], "本单位"),
        ):
            with pytest.raises(Invalid) as refused:
                changes.close_change_event(
                    db, actor=people.mz_officer, event_id=event.id, updated_codes=codes
                )
            assert refused.value.field == "updated_codes" and words in refused.value.message
        with pytest.raises(Forbidden):
            changes.close_change_event(
                db, actor=people.mz_staff, event_id=event.id, updated_codes=[own.code]
            )
        last = db.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())).scalar()
        changes.close_change_event(
            db,
            actor=people.mz_officer,
            event_id=event.id,
            updated_codes=[own.code, own.code],
            note="补充补领结婚证信息项",
        )
        with pytest.raises(Conflict):
            changes.close_change_event(db, actor=people.mz_officer, event_id=event.id, note="再次")
    assert event.updated_codes == [own.code]
    assert event.closed_on == date(2026, 11, 2)
    actions = db.execute(select(AuditEntry.action).where(AuditEntry.seq > last)).scalars().all()
    assert actions == ["catalog.change.close", "catalog.change.file"]
    filed = inbox.list_notifications(db, actor=people.authority).rows[0]
    assert filed.title == "目录更新备案：江州市民政局"
    assert own.code in filed.body


def test_without_filing_closing_tells_no_authority(db: Session, people: People) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        event = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 10, 30)), rules=SHANGRAO
        )
        changes.close_change_event(
            db, actor=people.mz_officer, event_id=event.id, note="职能调整不涉及本单位目录"
        )
    assert not event.filing_required
    assert inbox.list_notifications(db, actor=people.authority).total == 0
    assert event.closure_note == "职能调整不涉及本单位目录" and event.updated_codes == []


def test_overdue_departments_on_a_frozen_day(db: Session, people: People) -> None:
    with clock.frozen("2026-12-02T09:00:00+08:00"):
        record = changes.record_change_event
        # 11-02 + 15 wd = 11-23; 11-20 + 15 wd = 12-11; 12-01 + 15 wd = 12-22.
        a1 = record(db, actor=people.mz_staff, data=event_in(date(2026, 11, 2)), rules=SHAOYANG)
        a2 = record(db, actor=people.mz_staff, data=event_in(date(2026, 11, 20)), rules=SHAOYANG)
        b_open = record(
            db, actor=people.gaj_officer, data=event_in(date(2026, 12, 1)), rules=SHAOYANG
        )
        b_closed = record(
            db, actor=people.gaj_officer, data=event_in(date(2026, 11, 2)), rules=SHAOYANG
        )
    assert [a1.due_on, a2.due_on, b_open.due_on] == [
        date(2026, 11, 23),
        date(2026, 12, 11),
        date(2026, 12, 22),
    ]
    with clock.frozen("2026-12-18T09:00:00+08:00"):
        changes.close_change_event(db, actor=people.gaj_officer, event_id=b_closed.id, note="无需")
    with clock.frozen("2026-12-20T10:00:00+08:00"):
        found = changes.overdue_departments(db, actor=people.authority)
        with pytest.raises(Forbidden):
            changes.overdue_departments(db, actor=people.mz_officer)
        assert changes.is_overdue(a1) and not changes.is_overdue(b_open)
        assert not changes.is_overdue(b_closed)
        listed = changes.list_change_events(db, actor=people.op, organization_id=people.gaj.id)
    # 11-24…11-27 (4), 11-30…12-04 (9), 12-07…12-11 (14), 12-14…12-18 (19); 12-19/20 weekend.
    assert [(d.name, d.overdue, d.oldest_due_on, d.working_days_late) for d in found] == [
        ("江州市民政局", 2, date(2026, 11, 23), 19)
    ]
    assert listed == [b_open, b_closed]  # open first, then closed
    own = changes.list_change_events(db, actor=people.mz_officer, open_only=True)
    assert own == [a1, a2]
    with pytest.raises(Forbidden):
        changes.list_change_events(db, actor=people.mz_officer, organization_id=people.gaj.id)


def _as(client: TestClient, app: FastAPI, username: str) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def test_pages_record_show_and_close(
    app: FastAPI, client: TestClient, db: Session, people: People
) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        own = published(db, people.mz_officer, people.op)
        late = changes.record_change_event(
            db, actor=people.mz_staff, data=event_in(date(2026, 9, 25)), rules=SHAOYANG
        )
        db.commit()
        headers = _as(client, app, "mz_officer")
        refused = client.post(
            "/catalog/changes",
            data={"cause": "law_change", "description": "短", "occurred_on": "2026-10-30"},
            headers=headers,
        )
        assert refused.status_code == 422 and "field-error" in refused.text
        created = client.post(
            "/catalog/changes",
            data={
                "cause": "duty_change",
                "description": "职能划入殡葬管理",
                "occurred_on": "2026-10-30",
            },
            headers=headers,
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        page = client.get("/catalog/changes")
        assert page.status_code == 200
        assert "2026-10-22" in page.text and "逾期未办结" in page.text  # the late one
        detail = client.get(f"/catalog/changes/{late.id}")
        assert own.code in detail.text and "已逾期" in detail.text
        closed = client.post(
            f"/catalog/changes/{late.id}/close",
            data={"updated_codes": [own.code], "note": ""},
            headers=headers,
        )
        assert closed.status_code == 200 and "逾期办结" in closed.text
        api = client.get("/api/v1/catalog/change-events", params={"open_only": True}).json()
        assert [e["cause"] for e in api] == ["duty_change"]
        _as(client, app, "authority")
        overdue = client.get("/api/v1/catalog/change-events/overdue")
        assert overdue.status_code == 200 and overdue.json() == []
        assert client.get("/catalog/changes").status_code == 200
