"""Objections (疑义, VER-1, VER-2, VER-4): raised by a consumer, verified by the provider on
deadline, answered, and closed when the correction is in the center.

Deadlines are working days through `core.calendar`, counted from the day the objection is
raised (the day itself does not count) with the day counts copied from the profile then
(Shaoyang: 5, and an extension approved by the provider's head may reach 15 in all, SY§25).
Every step is an audit entry and tells the other side through the inbox; an objection still
open after its deadline is overdue, which counts against the provider (SY§32(2)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Profile
from govshare.sharing.models import Grant, GrantState
from govshare.sharing.service.common import ANSWERERS, APPLICANTS, OVERSEERS, next_number
from govshare.verification.models import (
    ExtensionState,
    Objection,
    ObjectionState,
    ObjectionSubject,
    ServedOnProof,
)
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    MetadataObjectionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import evidence as evidence_service

# The attributes of a catalog entry an objection on metadata may name (SR§9 ¶2).
METADATA_ATTRIBUTES = (
    "资源名称",
    "资源摘要",
    "资源提供方",
    "数据项",
    "共享属性",
    "开放属性",
    "更新周期",
    "资源格式",
    "发布日期",
)
LINK = "/verification/objections/{id}"


# --- raising -----------------------------------------------------------------------------


def key_items(db_session: Session, resource_id: int) -> list[str]:
    """The data items that identify a record of the resource: its binding's key columns."""
    from govshare.exchange.models import TableBinding

    binding = db_session.scalars(
        sa.select(TableBinding).where(TableBinding.resource_id == resource_id)
    ).first()
    if binding is None:
        return []
    item_of = {c["column"]: c["item"] for c in binding.columns}
    return [item_of.get(c, c) for c in binding.key_columns]


def _check_records(data: RecordObjectionIn, key_items: list[str], readable: list[str]) -> None:
    if not key_items:
        raise Invalid("该资源没有绑定库表，无法按记录提出疑义；可对目录信息提出疑义", field="keys")
    for i, key in enumerate(data.keys):
        if sorted(key) != sorted(key_items):
            raise Invalid(
                f"第 {i + 1} 条记录的主键须恰好包含：{'、'.join(key_items)}", field="keys"
            )
    unknown = [item for item in data.items if item not in readable]
    if unknown:
        raise Invalid(f"数据项「{unknown[0]}」不在您获得授权的数据项中", field="items")
    stray = [item for item in data.claimed if item not in data.items]
    if stray:
        raise Invalid(f"正确值的数据项「{stray[0]}」不在提出疑义的数据项中", field="claimed")


def raise_on_records(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    grant_id: int,
    data: RecordObjectionIn,
    documents: Sequence[Document] = (),
) -> Objection:
    """A consumer disputes values of records it received under its grant (VER-1), with
    scanned `documents` as evidence if it has them."""
    require(actor, *APPLICANTS, action="提出疑义")
    grant = db_session.get(Grant, grant_id)
    if grant is None or grant.consumer_id != own_organization(actor):
        raise NotFound(f"没有编号为 {grant_id} 的本部门授权")
    if grant.state != GrantState.ACTIVE:
        raise Conflict(f"授权 {grant.number} 已{grant.state.label}，不能对其数据提出疑义")
    readable = [i.name for i in grant.version.items] if grant.whole_resource else grant.fields
    _check_records(data, key_items(db_session, grant.resource_id), readable)
    evidence_service.checked(documents)
    return _raise(
        db_session,
        actor=actor,
        profile=profile,
        subject=ObjectionSubject.RECORDS,
        resource=grant.resource,
        grant=grant,
        keys=[dict(k) for k in data.keys],
        items=list(data.items),
        claimed=dict(data.claimed),
        description=data.description,
        evidence=data.evidence,
        documents=documents,
    )


def raise_on_metadata(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    resource_id: int,
    data: MetadataObjectionIn,
    documents: Sequence[Document] = (),
) -> Objection:
    """A department disputes a catalog entry itself (VER-4, SR§9 ¶2)."""
    require(actor, *APPLICANTS, action="提出疑义")
    resource = db_session.get(Resource, resource_id)
    if resource is None or resource.current_version_id is None:
        raise NotFound(f"没有编号为 {resource_id} 的已发布资源")
    consumer_id = own_organization(actor)
    if consumer_id == resource.provider_id:
        raise Invalid("本部门的目录信息请直接修改，无须提出疑义", field="resource_id")
    unknown = [a for a in data.items if a not in METADATA_ATTRIBUTES]
    if unknown:
        raise Invalid(
            f"「{unknown[0]}」不是目录信息项；可选：{'、'.join(METADATA_ATTRIBUTES)}", field="items"
        )
    evidence_service.checked(documents)
    return _raise(
        db_session,
        actor=actor,
        profile=profile,
        subject=ObjectionSubject.METADATA,
        resource=resource,
        grant=None,
        keys=[],
        items=list(data.items),
        claimed=dict(data.claimed),
        description=data.description,
        evidence=data.evidence,
        documents=documents,
    )


def _raise(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    subject: ObjectionSubject,
    resource: Resource,
    grant: Grant | None,
    keys: list[dict[str, Any]],
    items: list[str],
    claimed: dict[str, Any],
    description: str,
    evidence: str,
    documents: Sequence[Document],
) -> Objection:
    rules = profile.rules
    raised_on = clock.today()
    due = working_days.load(db_session).add_working_days(
        raised_on, rules.objection_verify_days.value
    )
    objection = Objection(
        number=next_number(db_session, "YY"),
        subject=subject,
        resource_id=resource.id,
        grant_id=grant.id if grant else None,
        provider_id=resource.provider_id,
        consumer_id=own_organization(actor),
        keys=keys,
        items=items,
        claimed=claimed,
        description=description,
        evidence=evidence,
        raised_at=clock.now(),
        raised_on=raised_on,
        raised_by=actor.label,
        profile_code=profile.code,
        verify_days=rules.objection_verify_days.value,
        max_days=max(rules.objection_extension_max_days.value, rules.objection_verify_days.value),
        due_on=due.on,
        due_provisional=due.provisional,
        state=ObjectionState.OPEN,
        corrected={},
    )
    db_session.add(objection)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="verification.objection.raise",
        object_type="objection",
        object_id=objection.id,
        details={
            "number": objection.number,
            "subject": subject.value,
            "resource": resource.code,
            "grant": grant.number if grant else None,
            "keys": keys,
            "items": items,
            "claimed": claimed,
            "due_on": objection.due_on.isoformat(),
            "profile": profile.code,
        },
    )
    evidence_service.attach_to_objection(
        db_session, actor=actor, objection=objection, documents=documents
    )
    _tell(
        db_session,
        objection,
        [objection.provider_id],
        f"疑义待核实：{objection.number}",
        f"{objection.consumer.name}对「{resource.code}」提出疑义，请于 "
        f"{objection.due_on.isoformat()} 前核实答复。{description}",
    )
    return objection


# --- the provider's side -----------------------------------------------------------------


def _provider_objection(db_session: Session, actor: Actor, objection_id: int) -> Objection:
    objection = db_session.get(Objection, objection_id)
    if objection is None or objection.provider_id != actor.organization_id:
        raise NotFound(f"没有编号为 {objection_id} 的本部门待核实疑义")
    return objection


def _still_open(objection: Objection) -> None:
    if objection.state != ObjectionState.OPEN:
        raise Conflict(f"疑义 {objection.number} {objection.state.label}，不能再办理此步骤")


def request_extension(
    db_session: Session, *, actor: Actor, objection_id: int, data: ExtensionIn
) -> Objection:
    """The provider's data officer asks for more time, in working days in all from the day
    raised; the provider's head approves (SY§25)."""
    require(actor, *ANSWERERS, action="申请延期核实")
    objection = _provider_objection(db_session, actor, objection_id)
    _still_open(objection)
    if objection.extension in (ExtensionState.REQUESTED, ExtensionState.APPROVED):
        raise Conflict(f"疑义 {objection.number} {objection.extension.label}，不能再次申请")
    if not objection.verify_days < data.days <= objection.max_days:
        raise Invalid(
            f"延期后的核实期限须多于 {objection.verify_days} 个工作日、"
            f"至多 {objection.max_days} 个工作日（自提出之日起算）",
            field="days",
        )
    objection.extension = ExtensionState.REQUESTED
    objection.extension_days = data.days
    objection.extension_reason = data.reason
    objection.extension_requested_by = actor.label
    objection.extension_requested_at = clock.now()
    record(
        db_session,
        actor=actor,
        action="verification.objection.extension_request",
        object_type="objection",
        object_id=objection.id,
        details={"days": data.days, "reason": data.reason},
    )
    heads = inbox.recipients(db_session, organization_ids=[objection.provider_id])
    heads &= inbox.recipients(db_session, roles=[Role.DEPARTMENT_HEAD])
    _notify(
        db_session,
        objection,
        heads,
        f"疑义核实延期待审批：{objection.number}",
        f"{actor.label}申请将核实期限延长至 {data.days} 个工作日。理由：{data.reason}",
    )
    return objection


def decide_extension(
    db_session: Session, *, actor: Actor, objection_id: int, data: ExtensionDecisionIn
) -> Objection:
    """The provider's head approves or refuses the extension; the consumer is told."""
    require(actor, Role.DEPARTMENT_HEAD, action="审批疑义核实延期")
    objection = _provider_objection(db_session, actor, objection_id)
    _still_open(objection)
    if objection.extension != ExtensionState.REQUESTED or objection.extension_days is None:
        raise Conflict(f"疑义 {objection.number} 没有待审批的延期申请")
    objection.extension_decided_by = actor.label
    objection.extension_decided_at = clock.now()
    if data.approve:
        calendar = working_days.load(db_session)
        due = calendar.add_working_days(objection.raised_on, objection.extension_days)
        objection.extension = ExtensionState.APPROVED
        objection.due_on, objection.due_provisional = due.on, due.provisional
    else:
        objection.extension = ExtensionState.REFUSED
    record(
        db_session,
        actor=actor,
        action="verification.objection.extension_decide",
        object_type="objection",
        object_id=objection.id,
        details={
            "approve": data.approve,
            "comment": data.comment,
            "due_on": objection.due_on.isoformat(),
        },
    )
    if data.approve:
        _tell(
            db_session,
            objection,
            [objection.consumer_id, objection.provider_id],
            f"疑义核实已延期：{objection.number}",
            f"经{objection.provider.name}负责人同意，核实期限延长至 "
            f"{objection.due_on.isoformat()}。理由：{objection.extension_reason}",
        )
    else:
        _tell(
            db_session,
            objection,
            [objection.provider_id],
            f"疑义核实延期未获批准：{objection.number}",
            f"请于 {objection.due_on.isoformat()} 前核实答复。{data.comment}",
        )
    return objection


def answer(
    db_session: Session,
    *,
    actor: Actor,
    objection_id: int,
    data: AnswerIn,
    documents: Sequence[Document] = (),
) -> Objection:
    """Confirmed (records: with the corrected values, closed when they reach the center;
    metadata: closed, the entry corrected) or rejected with reasons; scanned `documents`
    support the answer."""
    require(actor, *ANSWERERS, action="答复疑义")
    objection = _provider_objection(db_session, actor, objection_id)
    _still_open(objection)
    # attached while the objection is open; an answer refused below takes them back with it
    evidence_service.attach_to_objection(
        db_session, actor=actor, objection=objection, documents=documents
    )
    now = clock.now()
    objection.answered_at, objection.answered_by, objection.answer = now, actor.label, data.answer
    if not data.confirmed:
        objection.state, objection.closed_at = ObjectionState.REJECTED, now
    elif objection.subject == ObjectionSubject.METADATA:
        objection.state, objection.closed_at = ObjectionState.CORRECTED, now
    else:
        missing = [item for item in objection.items if item not in data.corrected]
        if missing:
            raise Invalid(f"请填写数据项「{missing[0]}」更正后的值", field="corrected")
        objection.corrected = {item: data.corrected[item] for item in objection.items}
        objection.state = ObjectionState.CONFIRMED
    record(
        db_session,
        actor=actor,
        action="verification.objection.answer",
        object_type="objection",
        object_id=objection.id,
        details={
            "confirmed": data.confirmed,
            "answer": data.answer,
            "corrected": objection.corrected,
            "late": clock.today() > objection.due_on,
        },
    )
    outcome = {
        ObjectionState.REJECTED: f"已驳回。理由：{data.answer}",
        ObjectionState.CORRECTED: f"已确认并更正目录信息。{data.answer}",
        ObjectionState.CONFIRMED: f"已确认，提供部门正在源头更正，更正同步到数据资源中心后办结。{data.answer}",
    }[objection.state]
    _tell(db_session, objection, [objection.consumer_id], f"疑义答复：{objection.number}", outcome)
    return objection


# --- the correction reaching the center -----------------------------------------------------


def check_corrections(
    db_session: Session, *, actor: Actor, resource_id: int, run_id: int, read_row: Any
) -> list[Objection]:
    """After a sync run of the resource succeeded: each confirmed objection whose records now
    hold the corrected values in the center is closed, naming the run (VER-1).
    `read_row(key)` reads one record of the center by {item: value}, as {item: value}, or
    None."""
    confirmed = db_session.scalars(
        sa.select(Objection).where(
            Objection.resource_id == resource_id, Objection.state == ObjectionState.CONFIRMED
        )
    ).all()
    closed = []
    for objection in confirmed:
        rows = [read_row(key) for key in objection.keys]
        if not all(row is not None and _holds(row, objection.corrected) for row in rows):
            continue
        objection.state = ObjectionState.CORRECTED
        objection.correction_run_id = run_id
        objection.closed_at = clock.now()
        record(
            db_session,
            actor=actor,
            action="verification.objection.corrected",
            object_type="objection",
            object_id=objection.id,
            details={"run": run_id, "corrected": objection.corrected},
        )
        _tell(
            db_session,
            objection,
            [objection.consumer_id, objection.provider_id],
            f"疑义已办结：{objection.number}",
            f"更正后的数据已由同步任务 #{run_id} 送达数据资源中心。",
        )
        closed.append(objection)
    return closed


def _holds(row: Mapping[str, Any], corrected: Mapping[str, Any]) -> bool:
    return all(_text(row.get(item)) == _text(value) for item, value in corrected.items())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# --- serving citizens meanwhile (VER-2) ----------------------------------------------------


def record_served(
    db_session: Session, *, actor: Actor, objection_id: int, data: ServedIn
) -> ServedOnProof:
    """A clerk of the consumer records that a citizen was served on valid proof while the
    objection on their record was open."""
    require(actor, *APPLICANTS, action="登记凭有效证明办理")
    objection = db_session.get(Objection, objection_id)
    if objection is None or objection.consumer_id != actor.organization_id:
        raise NotFound(f"没有编号为 {objection_id} 的本部门疑义")
    if objection.state.closed:
        raise Conflict(f"疑义 {objection.number} 已办结（{objection.state.label}），无须登记")
    served = ServedOnProof(
        objection_id=objection.id,
        organization_id=objection.consumer_id,
        served_at=clock.now(),
        served_by=actor.label,
        person=data.person,
        proof=data.proof,
    )
    db_session.add(served)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="verification.objection.served",
        object_type="objection",
        object_id=objection.id,
        details={"person": data.person, "proof": data.proof},
    )
    return served


def under_verification(
    db_session: Session, resource_id: int, key_items: Iterable[str]
) -> set[tuple[str, ...]]:
    """The keys (values of `key_items`, as text) of the resource's records under an objection
    not closed: query, lookup and download mark them (VER-2)."""
    names = list(key_items)
    keys = db_session.scalars(
        sa.select(Objection.keys).where(
            Objection.resource_id == resource_id,
            Objection.state.in_([ObjectionState.OPEN, ObjectionState.CONFIRMED]),
        )
    ).all()
    return {key_text([key.get(n) for n in names]) for found in keys for key in found}


def key_text(values: Iterable[Any]) -> tuple[str, ...]:
    """A record's key values as `under_verification` holds them: text, trimmed, dates ISO."""
    return tuple(_text(v) for v in values)


# --- reading -----------------------------------------------------------------------------


def served_of(db_session: Session, *, actor: Actor, objection_id: int) -> list[ServedOnProof]:
    """The citizens served on valid proof under an objection, first first."""
    objection = get_objection(db_session, actor=actor, objection_id=objection_id)
    return list(
        db_session.scalars(
            sa.select(ServedOnProof)
            .where(ServedOnProof.objection_id == objection.id)
            .order_by(ServedOnProof.id)
        )
    )


def get_objection(db_session: Session, *, actor: Actor, objection_id: int) -> Objection:
    """One objection, for its consumer, its provider and those who oversee sharing."""
    objection = db_session.get(Objection, objection_id)
    if objection is None or not _may_read(actor, objection):
        raise NotFound(f"没有编号为 {objection_id} 的疑义")
    return objection


def _may_read(actor: Actor, objection: Objection) -> bool:
    if actor.has(*OVERSEERS):
        return True
    return actor.organization_id in (objection.provider_id, objection.consumer_id)


def list_objections(
    db_session: Session,
    *,
    actor: Actor,
    side: str = "all",  # provider | consumer | all (overseers: every department's)
    state: ObjectionState | None = None,
    overdue: bool = False,
) -> list[Objection]:
    """Objections the actor may see, most urgent first; `overdue`: still open past their
    deadline (SY§32(2)), as the operator lists them."""
    stmt = sa.select(Objection)
    if not actor.has(*OVERSEERS) or side != "all":
        org = own_organization(actor)
        if side == "provider":
            stmt = stmt.where(Objection.provider_id == org)
        elif side == "consumer":
            stmt = stmt.where(Objection.consumer_id == org)
        else:
            stmt = stmt.where(sa.or_(Objection.provider_id == org, Objection.consumer_id == org))
    if state is not None:
        stmt = stmt.where(Objection.state == state)
    if overdue:
        stmt = stmt.where(Objection.state == ObjectionState.OPEN, Objection.due_on < clock.today())
    return list(db_session.scalars(stmt.order_by(Objection.due_on, Objection.id)))


def is_overdue(objection: Objection, today: date | None = None) -> bool:
    return objection.state == ObjectionState.OPEN and (today or clock.today()) > objection.due_on


# --- telling -----------------------------------------------------------------------------


def _tell(
    db_session: Session, objection: Objection, organization_ids: list[int], title: str, body: str
) -> None:
    _notify(
        db_session,
        objection,
        inbox.recipients(db_session, organization_ids=organization_ids),
        title,
        body,
    )


def _notify(
    db_session: Session, objection: Objection, user_ids: set[int], title: str, body: str
) -> None:
    inbox.notify(
        db_session,
        user_ids=user_ids,
        notice=inbox.Notice("verification.objection", title, body, LINK.format(id=objection.id)),
    )


def check_after_run(
    db_session: Session, *, actor: Actor, center: Any, binding: Any, run_id: int
) -> list[Objection]:
    """`check_corrections` for a binding's successful run, reading the center's table."""
    table = center.table(binding.center_table, binding.columns, binding.key_columns)
    column_of = {c["item"]: c["column"] for c in binding.columns}
    item_of = {column: item for item, column in column_of.items()}

    def read_row(key: Mapping[str, Any]) -> dict[str, Any] | None:
        conditions = []
        for item, value in key.items():
            column = table.c[column_of.get(item, item)]
            conditions.append(column == _typed(value, column.type))
        with center.engine.connect() as connection:
            row = connection.execute(sa.select(table).where(*conditions)).mappings().first()
        return None if row is None else {item_of.get(c, c): v for c, v in row.items()}

    return check_corrections(
        db_session, actor=actor, resource_id=binding.resource_id, run_id=run_id, read_row=read_row
    )


def _typed(value: Any, column_type: Any) -> Any:
    """A key value given as text, as the center column's type compares it."""
    text = _text(value)
    try:
        if isinstance(column_type, sa.Integer):
            return int(text)
        if isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime):
            return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"主键值「{text}」与数据资源中心的列类型不符", field="keys") from None
    return text
