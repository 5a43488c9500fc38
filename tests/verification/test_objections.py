"""Objections (VER-1, VER-2, VER-4) under Shaoyang's profile: 5 working days to verify, an
extension approved by the provider's head up to 15 in all, counted over National Day; overdue
objections listed for the operator; a confirmed objection closes only when a sync run brings
the corrected value into the center."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Role
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.exchange.models import RunKind, RunState
from govshare.exchange.service import run_execution, runs
from govshare.sharing.models import Grant
from govshare.verification.models import ExtensionState, ObjectionState
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    MetadataObjectionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import objections
from tests.builders import actor_of, user
from tests.exchange.builders import Exchange, exchange_world, own_transaction
from tests.exchange.conftest import center as center  # the fixture
from tests.sharing.builders import approved

SHAOYANG = load_profile("shaoyang")
RAISED = "2026-09-28T09:30:00+08:00"  # a Monday, days before National Day


@pytest.fixture
def sessions(db: Session) -> sessionmaker[Session]:
    """Sessions the way a worker has them: each unit of work a savepoint of the test's."""
    return sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def x(db: Session, data_dir: Path) -> Iterator[Exchange]:
    with clock.frozen("2026-09-21T10:00:00+08:00"):
        yield exchange_world(db, data_dir)


def _grant(x: Exchange) -> Grant:
    application = approved(x.s, SHAOYANG)
    grant = x.s.db.get(Grant, application.grant_id)
    assert grant is not None
    return grant


def _key(x: Exchange) -> str:
    with sqlite3.connect(x.settings.data_dir / "sources" / "gaj.db") as source:
        return source.execute("SELECT id_number FROM people ORDER BY id_number").fetchone()[0]


def _raise(x: Exchange, grant: Grant, key: str) -> objections.Objection:
    return objections.raise_on_records(
        x.s.db,
        actor=x.s.consumer_officer,
        profile=SHAOYANG,
        grant_id=grant.id,
        data=RecordObjectionIn(
            keys=[{"公民身份号码": key}],
            items=["姓名"],
            claimed={"姓名": "张卫"},
            description="户籍登记姓名为张卫，共享数据为张伟",
            evidence="居民户口簿首页复印件",
        ),
    )


def test_the_deadline_is_five_working_days_over_national_day_and_an_extension_fifteen(
    db: Session, x: Exchange
) -> None:
    head = actor_of(user(db, x.s.provider, [Role.DEPARTMENT_HEAD]))
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        grant = _grant(x)
    with clock.frozen(RAISED):
        objection = _raise(x, grant, _key(x))
    assert (objection.raised_on, objection.due_on) == (date(2026, 9, 28), date(2026, 10, 10))
    assert objection.state == ObjectionState.OPEN and objection.number.startswith("YY2026")

    with clock.frozen("2026-10-09T09:00:00+08:00"):
        with pytest.raises(Invalid, match="至多 15 个工作日"):
            objections.request_extension(
                db,
                actor=x.s.provider_officer,
                objection_id=objection.id,
                data=ExtensionIn(days=16, reason="需要公安分局协查"),
            )
        with pytest.raises(Forbidden):
            objections.request_extension(
                db,
                actor=x.s.provider_staff,
                objection_id=objection.id,
                data=ExtensionIn(days=15, reason="需要公安分局协查"),
            )
        objections.request_extension(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=ExtensionIn(days=15, reason="需要公安分局协查"),
        )
        assert objection.extension == ExtensionState.REQUESTED
        assert objection.due_on == date(2026, 10, 10)  # until the head approves
        with pytest.raises(Forbidden):
            objections.decide_extension(
                db,
                actor=x.s.provider_officer,
                objection_id=objection.id,
                data=ExtensionDecisionIn(approve=True),
            )
        told_before = _notices(db, x.s.consumer_officer.user_id)
        objections.decide_extension(
            db, actor=head, objection_id=objection.id, data=ExtensionDecisionIn(approve=True)
        )
    assert objection.extension == ExtensionState.APPROVED
    assert objection.due_on == date(2026, 10, 23)
    told = _notices(db, x.s.consumer_officer.user_id)[len(told_before) :]
    assert any("2026-10-23" in body and "需要公安分局协查" in body for body in told)
    with clock.frozen("2026-10-23T17:00:00+08:00"):
        assert objections.list_objections(db, actor=x.s.op, overdue=True) == []
    with clock.frozen("2026-10-26T09:00:00+08:00"):
        assert objections.list_objections(db, actor=x.s.op, overdue=True) == [objection]
        with pytest.raises(Conflict, match="延期已批准，不能再次申请"):
            objections.request_extension(
                db,
                actor=x.s.provider_officer,
                objection_id=objection.id,
                data=ExtensionIn(days=15, reason="再延一次"),
            )


def _notices(db: Session, user_id: int | None) -> list[str]:
    rows = db.scalars(
        select(Notification).where(Notification.recipient_id == user_id).order_by(Notification.id)
    )
    return [f"{n.title} {n.body}" for n in rows]


def test_an_objection_not_answered_in_time_is_listed_as_overdue(db: Session, x: Exchange) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        grant = _grant(x)
    with clock.frozen(RAISED):
        objection = _raise(x, grant, _key(x))
    assert "疑义待核实" in " ".join(_notices(db, x.s.provider_officer.user_id))
    with clock.frozen("2026-10-10T17:00:00+08:00"):
        assert objections.list_objections(db, actor=x.s.op, overdue=True) == []
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        assert objections.list_objections(db, actor=x.s.op, overdue=True) == [objection]
        assert objections.is_overdue(objection)
        # the consumer sees its own, the provider its queue; neither sees another's
        assert objections.list_objections(db, actor=x.s.consumer_officer, side="consumer") == [
            objection
        ]
        assert objections.list_objections(db, actor=x.s.provider_officer, side="provider") == [
            objection
        ]
        with pytest.raises(ValidationError):
            AnswerIn(confirmed=False, answer="")  # a rejection gives its reasons
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=False, answer="经核对户籍档案，姓名登记无误"),
        )
        assert objection.state == ObjectionState.REJECTED and objection.closed_at is not None
        assert objections.list_objections(db, actor=x.s.op, overdue=True) == []
    assert "已驳回" in " ".join(_notices(db, x.s.consumer_officer.user_id))


def test_a_confirmed_objection_closes_when_a_sync_run_brings_the_correction(
    db: Session, x: Exchange, center: Center, sessions: sessionmaker[Session]
) -> None:
    grant, key = _synced(x, db, sessions, center)
    with clock.frozen(RAISED):
        objection = _raise(x, grant, key)
        assert objections.under_verification(db, x.people.id, ["公民身份号码"]) == {(key,)}
        objections.record_served(
            db,
            actor=x.s.consumer_officer,
            objection_id=objection.id,
            data=ServedIn(person="张卫", proof="居民户口簿原件"),
        )
    with clock.frozen("2026-09-29T10:00:00+08:00"):
        with pytest.raises(Invalid, match="姓名"):
            objections.answer(
                db,
                actor=x.s.provider_officer,
                objection_id=objection.id,
                data=AnswerIn(confirmed=True, answer="属实，已在源头更正"),
            )
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=True, answer="属实，已在源头更正", corrected={"姓名": "张卫"}),
        )
        assert objection.state == ObjectionState.CONFIRMED
        # a run that does not carry the correction leaves it open
        unchanged = _sync(x, db, sessions, center)
        assert unchanged.state == RunState.SUCCEEDED
        db.refresh(objection)
        assert objection.state == ObjectionState.CONFIRMED
        assert objections.under_verification(db, x.people.id, ["公民身份号码"]) == {(key,)}
        with sqlite3.connect(x.settings.data_dir / "sources" / "gaj.db") as source:
            source.execute("UPDATE people SET name = '张卫' WHERE id_number = ?", (key,))
        carried = _sync(x, db, sessions, center)
    db.refresh(objection)
    assert objection.state == ObjectionState.CORRECTED
    assert objection.correction_run_id == carried.id
    assert _center_name(center, x, key) == "张卫"
    assert objections.under_verification(db, x.people.id, ["公民身份号码"]) == set()
    assert "已办结" in " ".join(_notices(db, x.s.consumer_officer.user_id))
    with clock.frozen("2026-09-30T10:00:00+08:00"), pytest.raises(Conflict, match="已办结"):
        objections.record_served(
            db,
            actor=x.s.consumer_officer,
            objection_id=objection.id,
            data=ServedIn(person="张卫", proof="居民户口簿原件"),
        )


def _synced(
    x: Exchange, db: Session, sessions: sessionmaker[Session], center: Center
) -> tuple[Grant, str]:
    """The consumer's grant and the first record's key, the records synced into the center."""
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        grant = _grant(x)
        _sync(x, db, sessions, center)
        return grant, _key(x)


def _sync(x: Exchange, db: Session, sessions: sessionmaker[Session], center: Center) -> object:
    run = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    db.commit()
    done = run_execution.execute_run(sessions, settings=x.settings, center=center, run_id=run.id)
    assert done is not None and done.state == RunState.SUCCEEDED, done and done.error
    db.expire_all()
    return done


def _center_name(center: Center, x: Exchange, key: str) -> str:
    table = (
        f'"{center.schema}"."{x.binding.center_table}"' if center.schema else x.binding.center_table
    )
    with center.engine.connect() as conn:
        return conn.execute(
            text(f"SELECT name FROM {table} WHERE id_number = :k"), {"k": key}
        ).scalar_one()


def test_records_and_items_are_checked_against_the_grant(db: Session, x: Exchange) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        grant = _grant(x)
    with clock.frozen(RAISED):
        base = {"items": ["姓名"], "description": "姓名有误，请核实"}
        with pytest.raises(Invalid, match="主键须恰好包含：公民身份号码"):
            objections.raise_on_records(
                db,
                actor=x.s.consumer_officer,
                profile=SHAOYANG,
                grant_id=grant.id,
                data=RecordObjectionIn(keys=[{"姓名": "张伟"}], **base),
            )
        with pytest.raises(Invalid, match="「婚姻状况」不在您获得授权的数据项中"):
            objections.raise_on_records(
                db,
                actor=x.s.consumer_officer,
                profile=SHAOYANG,
                grant_id=grant.id,
                data=RecordObjectionIn(
                    keys=[{"公民身份号码": "1"}],
                    items=["婚姻状况"],
                    description="婚姻状况有误",
                ),
            )
        with pytest.raises(Invalid, match="正确值的数据项「性别」"):
            objections.raise_on_records(
                db,
                actor=x.s.consumer_officer,
                profile=SHAOYANG,
                grant_id=grant.id,
                data=RecordObjectionIn(
                    keys=[{"公民身份号码": "1"}], claimed={"性别": "男"}, **base
                ),
            )
        with pytest.raises(ValidationError):
            RecordObjectionIn(keys=[{"公民身份号码": " "}], **base)
        # the provider cannot object to its own grant's data as a consumer
        with pytest.raises(Exception, match="授权"):
            objections.raise_on_records(
                db,
                actor=x.s.provider_officer,
                profile=SHAOYANG,
                grant_id=grant.id,
                data=RecordObjectionIn(keys=[{"公民身份号码": "1"}], **base),
            )


def test_an_objection_to_a_catalog_entry(db: Session, x: Exchange) -> None:
    with clock.frozen(RAISED):
        with pytest.raises(Invalid, match="「字段」不是目录信息项"):
            objections.raise_on_metadata(
                db,
                actor=x.s.consumer_officer,
                profile=SHAOYANG,
                resource_id=x.s.unconditional.id,
                data=MetadataObjectionIn(items=["字段"], description="更新周期与实际不符"),
            )
        objection = objections.raise_on_metadata(
            db,
            actor=x.s.consumer_officer,
            profile=SHAOYANG,
            resource_id=x.s.unconditional.id,
            data=MetadataObjectionIn(
                items=["更新周期"],
                claimed={"更新周期": "每月"},
                description="目录写每日，实际每月更新",
            ),
        )
        assert objection.due_on == date(2026, 10, 10) and objection.grant_id is None
    with clock.frozen("2026-09-29T10:00:00+08:00"):
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=True, answer="已提交目录变更，更新周期改为每月"),
        )
    assert objection.state == ObjectionState.CORRECTED


def test_a_record_under_objection_is_marked_in_query_and_lookup_until_closed(
    db: Session, x: Exchange, center: Center, sessions: sessionmaker[Session]
) -> None:
    from govshare.exchange.service import delivery

    grant, key = _synced(x, db, sessions, center)
    with clock.frozen(RAISED):
        objection = _raise(x, grant, key)

    def marks() -> tuple[list[bool], tuple[bool, ...]]:
        asked = {"actor": x.s.consumer_officer, "settings": x.settings, "center": center}
        code = x.people.code
        page = delivery.query(db, **asked, resource_code=code, request=delivery.DataRequest())
        found = delivery.lookup(db, **asked, resource_code=code, key=key)
        assert isinstance(page, delivery.DataPage) and isinstance(found, delivery.DataPage)
        assert len(page.verifying) == len(page.rows) > 1 and len(found.rows) == 1
        return list(page.verifying), found.verifying

    with clock.frozen("2026-10-09T10:00:00+08:00"):
        in_query, in_lookup = marks()
        assert in_query.count(True) == 1 and in_lookup == (True,)
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=False, answer="经核对户籍档案，登记无误"),
        )
        in_query, in_lookup = marks()
        assert True not in in_query and in_lookup == (False,)


def test_a_record_under_objection_is_marked_in_downloads_until_closed(
    db: Session, x: Exchange, center: Center, sessions: sessionmaker[Session]
) -> None:
    """CSV and Excel get a last column 核实状态, JSON Lines a member on every line, while a
    record is under an objection; afterwards the downloads are as they always were."""
    from govshare.exchange.service import delivery

    grant, key = _synced(x, db, sessions, center)
    with clock.frozen(RAISED):
        objection = _raise(x, grant, key)

    def download(fmt: str) -> bytes:
        started = delivery.start_download(
            db,
            actor=x.s.consumer_officer,
            settings=x.settings,
            center=center,
            resource_code=x.people.code,
            request=delivery.DataRequest(),
            fmt=fmt,
        )
        assert isinstance(started, delivery.Download), started
        stream = delivery.stream_download(started, center=center, transaction=own_transaction(db))
        return b"".join(stream)

    def marked() -> tuple[list[list[str]], list[dict], list[tuple]]:
        table = list(csv.reader(io.StringIO(download("csv").decode("utf-8-sig"))))
        lines = [json.loads(line) for line in download("jsonl").decode().splitlines()]
        sheet = load_workbook(io.BytesIO(download("xlsx")), read_only=True).worksheets[0]
        rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
        width = len(rows[0])  # read-only sheets leave out a row's trailing empty cells
        return table, lines, [r + (None,) * (width - len(r)) for r in rows]

    with clock.frozen("2026-10-09T10:00:00+08:00"):
        table, lines, sheet = marked()
        assert table[0][-1] == "核实状态" and sheet[0][-1] == "核实状态"
        key_at = table[0].index("公民身份号码")
        assert [r[-1] for r in table[1:]] == [
            "核实中" if r[key_at] == key else "" for r in table[1:]
        ]
        assert [r[key_at] for r in table[1:] if r[-1]] == [key]
        assert [r[-1] for r in sheet[1:]] == [v or None for v in (r[-1] for r in table[1:])]
        assert [line["under_verification"] for line in lines] == [bool(r[-1]) for r in table[1:]]
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=False, answer="经核对户籍档案，登记无误"),
        )
        table, lines, sheet = marked()
        assert "核实状态" not in table[0] and "核实状态" not in sheet[0]
        assert all("under_verification" not in line for line in lines)
