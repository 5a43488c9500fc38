"""Evidence (证明材料) as scanned documents: attached when an objection is raised or answered
and later while it is open; checked before anything is written; read by the parties only,
each reading logged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Role
from govshare.core.policy import load_profile
from govshare.sharing.models import Grant
from govshare.verification.models import Evidence, Objection
from govshare.verification.schemas import AnswerIn, RecordObjectionIn
from govshare.verification.service import evidence, objections
from tests.builders import actor_of, organization, user
from tests.exchange.builders import Exchange, audit_entries, exchange_world
from tests.sharing.builders import approved

SHAOYANG = load_profile("shaoyang")
SCAN = Document("居民户口簿首页.pdf", "application/pdf", b"%PDF-1.4\n% household register\n")
PHOTO = Document("结婚证.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)


@pytest.fixture
def x(db: Session, data_dir: Path) -> Iterator[Exchange]:
    with clock.frozen("2026-09-21T10:00:00+08:00"):
        yield exchange_world(db, data_dir)


def _raise(x: Exchange, *documents: Document) -> Objection:
    grant = x.s.db.get(Grant, approved(x.s, SHAOYANG).grant_id)
    assert grant is not None
    return objections.raise_on_records(
        x.s.db,
        actor=x.s.consumer_officer,
        profile=SHAOYANG,
        grant_id=grant.id,
        data=RecordObjectionIn(
            keys=[{"公民身份号码": "361100198001010000"}],
            items=["姓名"],
            claimed={"姓名": "张卫"},
            description="户籍登记姓名为张卫，共享数据为张伟",
        ),
        documents=list(documents),
    )


def test_scans_attached_when_raising_are_kept_and_read_by_the_parties_only(
    db: Session, x: Exchange
) -> None:
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        objection = _raise(x, SCAN, PHOTO)
    assert [(e.filename, e.size) for e in objection.attachments] == [
        (SCAN.filename, len(SCAN.content)),
        (PHOTO.filename, len(PHOTO.content)),
    ]
    first = objection.attachments[0]
    assert first.sha256 == hashlib.sha256(SCAN.content).hexdigest()
    assert first.organization_id == x.s.consumer.id

    read = evidence.read(db, actor=x.s.provider_officer, evidence_id=first.id)
    assert read.content == SCAN.content
    logged = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "verification.evidence.read")
    ).all()
    assert [(e.object_type, e.object_id) for e in logged] == [("objection", str(objection.id))]
    assert audit_entries(db, "verification.evidence.read")[0]["evidence"] == first.id
    attached = audit_entries(db, "verification.evidence.attach")
    assert [d["filename"] for d in attached] == [SCAN.filename, PHOTO.filename]

    stranger = actor_of(
        user(db, organization(db, "市交通运输局"), [Role.DEPARTMENT_STAFF], "jtj-staff")
    )
    with pytest.raises(NotFound):
        evidence.read(db, actor=stranger, evidence_id=first.id)
    assert evidence.read(db, actor=x.s.op, evidence_id=first.id).content == SCAN.content


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (Document("证明.pdf", "application/pdf", b"MZ\x90\x00"), "须为 PDF 或图片"),
        (Document("证明.pdf", "application/pdf", b""), "是空文件"),
        (Document("证明.exe", "application/x-msdownload", b"MZ\x90\x00"), "须为 PDF 或图片"),
        (Document("a\u202egpj.exe", "image/jpeg", PHOTO.content), "文字方向控制字符"),
        (Document("大.pdf", "application/pdf", b"%PDF" + b"0" * (10 * 1024 * 1024)), "超过 10 MB"),
    ],
)
def test_a_bad_file_is_refused_by_name_and_nothing_is_written(
    db: Session, x: Exchange, document: Document, message: str
) -> None:
    with clock.frozen("2026-09-28T09:30:00+08:00"), pytest.raises(Invalid) as refused:
        _raise(x, SCAN, document)
    assert refused.value.field == "attachments" and message in str(refused.value)
    assert db.scalar(select(func.count(Objection.id))) == 0
    assert db.scalar(select(func.count(Evidence.id))) == 0


def test_at_most_five_files_at_a_time(db: Session, x: Exchange) -> None:
    with clock.frozen("2026-09-28T09:30:00+08:00"), pytest.raises(Invalid, match="最多上传 5 个"):
        _raise(x, *[SCAN] * 6)
    assert db.scalar(select(func.count(Objection.id))) == 0


def test_either_party_adds_evidence_while_open_and_no_one_after_it_closes(
    db: Session, x: Exchange
) -> None:
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        objection = _raise(x)
        evidence.attach_to_objection(
            db, actor=x.s.consumer_officer, objection=objection, documents=[PHOTO]
        )
        objections.answer(
            db,
            actor=x.s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=False, answer="经核对户籍档案，登记无误"),
            documents=[SCAN],
        )
    owners = [e.organization_id for e in objection.attachments]
    assert owners == [x.s.consumer.id, x.s.provider.id]
    with pytest.raises(Conflict, match="已驳回"):
        evidence.attach_to_objection(
            db, actor=x.s.consumer_officer, objection=objection, documents=[PHOTO]
        )
    stranger = actor_of(
        user(db, organization(db, "市交通运输局"), [Role.DEPARTMENT_STAFF], "jtj-staff")
    )
    with pytest.raises(NotFound):
        evidence.attach_to_objection(db, actor=stranger, objection=objection, documents=[PHOTO])
