"""Comparisons (比对, 一数一源 多元校核, VER-3, SY§14, BZ§15): the operator defines them, they
run on demand and on schedule, and every mismatch is a case for the department that must
settle it: correct its source, or dispute with evidence for the operator to mediate.

Who settles a mismatch (`settling_sides`):

- an item that differs: the department of the side that is *not* the item's authoritative
  source (一数一源). A key whose differing items have different authorities gives one case
  per side;
- a record on one side only: the side missing it should hold it, so that side settles —
  unless that side is authoritative for the records' existence (`key_authority`): then the
  record is the other side's stray copy, and the other side settles;
- a key found more than once on a side: that side settles (both, if both).

A run streams the engine's differences into cases in batches of `BATCH` keys (Core inserts
and updates, nothing held per key), so memory stays flat at any table size. A case found
again is updated, never duplicated (matched by comparison, key, kind and side); a live case
a run no longer finds is closed as gone, which is how a comparison's history shows the
mismatch count falling as cases settle. Deadlines are the profile's `mismatch_settle_days`
working days from the day a case is opened, or from the day the operator's mediation sends it
back (no seed regulation sets a figure, so every shipped profile states the platform default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

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
from govshare.exchange.center import Center
from govshare.exchange.models import TableBinding
from govshare.sharing.service.common import ANSWERERS, OVERSEERS
from govshare.verification.comparison import (
    ComparisonError,
    ComparisonSpec,
    Difference,
    DifferenceKind,
    Pair,
    compare,
)
from govshare.verification.comparison.model import KEY_SEPARATOR
from govshare.verification.comparison_models import (
    LIVE_STATES,
    Comparison,
    ComparisonRunRecord,
    Mismatch,
    MismatchKind,
    MismatchState,
    RunState,
    RunTrigger,
    Schedule,
    Side,
    names_text,
)
from govshare.verification.comparison_schemas import CaseAnswerIn, ComparisonIn, MediationIn
from govshare.verification.service import evidence as evidence_service

BATCH = 500  # differences taken into cases at a time
PERIOD = {Schedule.DAILY: timedelta(days=1), Schedule.WEEKLY: timedelta(days=7)}
LINK = "/verification/mismatches/{id}"
LIST_LINK = "/verification/mismatches?comparison_id={id}"
ROWS_ITEM = "记录数"  # the pseudo-item a duplicate key's case shows its row counts under

T = TypeVar("T")


# --- defining --------------------------------------------------------------------------------


def _binding(db_session: Session, resource: Resource, side: Side) -> TableBinding:
    binding = db_session.scalars(
        sa.select(TableBinding).where(TableBinding.resource_id == resource.id)
    ).first()
    if binding is None:
        raise Invalid(
            f"{side.label}资源 {resource.code} 尚未绑定库表，不能比对",
            field=f"{side.value}_resource_id",
        )
    return binding


def _resource(db_session: Session, resource_id: int, side: Side) -> Resource:
    resource = db_session.get(Resource, resource_id)
    if resource is None:
        raise Invalid(f"没有编号为 {resource_id} 的资源", field=f"{side.value}_resource_id")
    return resource


def _pairs(
    pairs: Sequence[dict[str, Any]], bindings: dict[Side, TableBinding], path: str
) -> tuple[Pair, ...]:
    """Pairs of data items as pairs of the center's columns (the bindings map them)."""
    noun = "主键" if path == "keys" else "比对项"
    planned = []
    for index, pair in enumerate(pairs):
        columns = {}
        for side in Side:
            column = bindings[side].column_of(pair[side.value])
            if column is None:
                raise Invalid(
                    f"{noun}「{pair['name']}」：{side.label}资源没有数据项「{pair[side.value]}」",
                    field=f"{path}[{index}].{side.value}",
                )
            columns[side] = column
        planned.append(
            Pair(pair["name"], columns[Side.LEFT], columns[Side.RIGHT], tuple(pair["normalise"]))
        )
    return tuple(planned)


def _spec(
    db_session: Session, left: Resource, right: Resource, keys: Any, items: Any
) -> ComparisonSpec:
    bindings = {
        Side.LEFT: _binding(db_session, left, Side.LEFT),
        Side.RIGHT: _binding(db_session, right, Side.RIGHT),
    }
    return ComparisonSpec(
        bindings[Side.LEFT].center_table,
        bindings[Side.RIGHT].center_table,
        _pairs(keys, bindings, "keys"),
        _pairs(items, bindings, "items"),
    )


def _checked(db_session: Session, center: Center, data: ComparisonIn) -> tuple[Resource, Resource]:
    """The definition checked: two bound resources of different departments, items that
    exist, and whatever the engine refuses (types, normalisations, duplicate names)."""
    left = _resource(db_session, data.left_resource_id, Side.LEFT)
    right = _resource(db_session, data.right_resource_id, Side.RIGHT)
    if left.provider_id == right.provider_id:
        raise Invalid("比对的两个资源须属于不同部门", field="right_resource_id")
    keys = [k.model_dump(mode="json") for k in data.keys]
    items = [i.model_dump(mode="json") for i in data.items]
    spec = _spec(db_session, left, right, keys, items)
    try:
        compare(center, spec)  # plans the comparison: checks it against the center's tables
    except ComparisonError as error:
        field = {"left_table": "left_resource_id", "right_table": "right_resource_id"}
        raise Invalid(str(error), field=field.get(error.field, error.field)) from None
    return left, right


def _apply(comparison: Comparison, data: ComparisonIn, actor: Actor) -> None:
    now = clock.now()
    comparison.name = data.name
    comparison.description = data.description
    comparison.left_resource_id = data.left_resource_id
    comparison.right_resource_id = data.right_resource_id
    comparison.keys = [k.model_dump(mode="json") for k in data.keys]
    comparison.items = [i.model_dump(mode="json") for i in data.items]
    comparison.key_authority = data.key_authority
    if comparison.schedule != data.schedule or comparison.next_run_at is None:
        comparison.next_run_at = now if data.schedule in PERIOD else None
    comparison.schedule = data.schedule
    comparison.active = data.active
    comparison.updated_at, comparison.updated_by = now, actor.label


def _unique_name(db_session: Session, name: str, own_id: int | None = None) -> None:
    found = db_session.scalars(sa.select(Comparison.id).where(Comparison.name == name)).first()
    if found is not None and found != own_id:
        raise Conflict(f"已有名为「{name}」的比对", field="name")


def _details(comparison: Comparison) -> dict[str, Any]:
    return {
        "name": comparison.name,
        "left": comparison.left_resource.code,
        "right": comparison.right_resource.code,
        "keys": comparison.keys,
        "items": comparison.items,
        "key_authority": comparison.key_authority.value if comparison.key_authority else None,
        "schedule": comparison.schedule.value,
        "active": comparison.active,
    }


def define(db_session: Session, *, actor: Actor, center: Center, data: ComparisonIn) -> Comparison:
    """The operator defines a comparison between two departments' bound resources."""
    require(actor, Role.PLATFORM_OPERATOR, action="定义比对")
    _unique_name(db_session, data.name)
    _checked(db_session, center, data)
    now = clock.now()
    comparison = Comparison(created_at=now, created_by=actor.label, schedule=Schedule.NONE)
    _apply(comparison, data, actor)
    db_session.add(comparison)
    db_session.flush()
    db_session.refresh(comparison)
    record(
        db_session,
        actor=actor,
        action="verification.comparison.define",
        object_type="comparison",
        object_id=comparison.id,
        details=_details(comparison),
    )
    return comparison


def update(
    db_session: Session, *, actor: Actor, center: Center, comparison_id: int, data: ComparisonIn
) -> Comparison:
    """The operator changes a comparison; cases already opened keep their terms."""
    require(actor, Role.PLATFORM_OPERATOR, action="修改比对")
    comparison = _comparison(db_session, comparison_id)
    _unique_name(db_session, data.name, comparison.id)
    _checked(db_session, center, data)
    _apply(comparison, data, actor)
    db_session.flush()
    db_session.refresh(comparison)
    record(
        db_session,
        actor=actor,
        action="verification.comparison.update",
        object_type="comparison",
        object_id=comparison.id,
        details=_details(comparison),
    )
    return comparison


# --- running ---------------------------------------------------------------------------------


def run_now(
    db_session: Session, *, actor: Actor, profile: Profile, center: Center, comparison_id: int
) -> ComparisonRunRecord:
    """The operator runs a comparison now; a failure is recorded on the run, not raised."""
    require(actor, Role.PLATFORM_OPERATOR, action="执行比对")
    comparison = _comparison(db_session, comparison_id)
    return _run(db_session, actor, profile, center, comparison, RunTrigger.MANUAL)


def run_due(
    db_session: Session, *, actor: Actor, profile: Profile, center: Center
) -> list[ComparisonRunRecord]:
    """The scheduled comparisons that are due (daily or weekly), each run once."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="执行定时比对")
    due = db_session.scalars(
        sa.select(Comparison)
        .where(
            Comparison.active.is_(True),
            Comparison.schedule.in_(list(PERIOD)),
            Comparison.next_run_at <= clock.now(),
        )
        .order_by(Comparison.next_run_at, Comparison.id)
    ).all()
    return [_run(db_session, actor, profile, center, c, RunTrigger.SCHEDULED) for c in due]


def _run(
    db_session: Session,
    actor: Actor,
    profile: Profile,
    center: Center,
    comparison: Comparison,
    trigger: RunTrigger,
) -> ComparisonRunRecord:
    now = clock.now()
    settle_days = profile.rules.mismatch_settle_days.value
    run = ComparisonRunRecord(
        comparison_id=comparison.id,
        trigger=trigger,
        state=RunState.RUNNING,
        started_at=now,
        started_by=actor.label,
        differing_by_item={},
    )
    db_session.add(run)
    db_session.flush()
    # The start is an entry of its own: the savepoint below is a commit the audit guard checks.
    record(
        db_session,
        actor=actor,
        action="verification.comparison.run",
        object_type="comparison",
        object_id=comparison.id,
        details={"run": run.id, "trigger": trigger.value, "name": comparison.name},
    )
    opened: Counter[int] = Counter()
    try:
        # a savepoint: a run that fails half-way leaves no half of its cases behind
        with db_session.begin_nested():
            spec = _spec(
                db_session,
                comparison.left_resource,
                comparison.right_resource,
                comparison.keys,
                comparison.items,
            )
            engine_run = compare(center, spec)
            due = working_days.load(db_session).add_working_days(clock.today(), settle_days)
            for batch in _batched(engine_run, BATCH):
                opened += _take(db_session, comparison, run, batch, due.on, due.provisional)
            _counts(run, engine_run.counts)
            run.path = engine_run.path.value if engine_run.path else None
            run.cases_gone = _close_gone(db_session, comparison, run)
    except (ComparisonError, Invalid, sa.exc.SQLAlchemyError) as error:
        if isinstance(error, sa.exc.SQLAlchemyError) and db_session.is_active is False:
            raise
        run.state, run.error = RunState.FAILED, str(error).splitlines()[0][:2000]
        opened.clear()
    else:
        run.state = RunState.SUCCEEDED
        run.cases_opened = sum(opened.values())
    run.finished_at = clock.now()
    run.cases_live = _live_count(db_session, comparison.id)
    if comparison.schedule in PERIOD:
        comparison.next_run_at = now + PERIOD[comparison.schedule]
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="verification.comparison.result",
        object_type="comparison",
        object_id=comparison.id,
        details={
            "run": run.id,
            "state": run.state.value,
            "error": run.error,
            "matched": run.matched,
            "differing": run.differing,
            "only_left": run.only_left,
            "only_right": run.only_right,
            "cases_opened": run.cases_opened,
            "cases_gone": run.cases_gone,
            "profile": profile.code,
            "settle_days": settle_days,
        },
    )
    for department_id, count in opened.items():
        _tell(
            db_session,
            [department_id],
            f"比对发现不一致待处理：{comparison.name}",
            f"本次比对新发现 {count} 条需由贵单位处理的不一致，请在源头更正，或附证明材料提出异议。",
            LIST_LINK.format(id=comparison.id),
        )
    return run


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _counts(run: ComparisonRunRecord, counts: Any) -> None:
    for name in (
        "left_rows",
        "right_rows",
        "left_blank_keys",
        "right_blank_keys",
        "matched",
        "equal",
        "differing",
        "only_left",
        "only_right",
        "duplicate_keys_left",
        "duplicate_keys_right",
    ):
        setattr(run, name, getattr(counts, name))
    run.differing_by_item = dict(counts.differing_by_item)


def settling_sides(comparison: Comparison, difference: Difference) -> dict[Side, list[dict]]:
    """The sides that must settle a difference, each with the items it concerns (see the
    module docstring)."""
    values = [{"item": i.item, "left": i.left, "right": i.right} for i in difference.items]
    if difference.kind is DifferenceKind.DIFFERS:
        authority = {i["name"]: Side(i["authority"]) for i in comparison.items}
        sides: dict[Side, list[dict]] = {}
        for value in values:
            sides.setdefault(authority[value["item"]].other, []).append(value)
        return sides
    if difference.kind is DifferenceKind.DUPLICATE:
        rows = [{"item": ROWS_ITEM, "left": difference.left_rows, "right": difference.right_rows}]
        found = {Side.LEFT: difference.left_rows, Side.RIGHT: difference.right_rows}
        return {side: rows for side, count in found.items() if count > 1}
    missing = Side.RIGHT if difference.kind is DifferenceKind.ONLY_LEFT else Side.LEFT
    return {missing.other if comparison.key_authority is missing else missing: values}


def _take(
    db_session: Session,
    comparison: Comparison,
    run: ComparisonRunRecord,
    differences: Sequence[Difference],
    due_on: date,
    due_provisional: bool,
) -> Counter[int]:
    """One batch of differences into cases: the ones found again updated, new ones opened.
    Returns the cases opened per department."""
    table = Mismatch.__table__
    texts = list({KEY_SEPARATOR.join(d.key) for d in differences})
    existing = {
        (row.key_text, row.kind, row.side): row.id
        for row in db_session.execute(
            sa.select(table.c.id, table.c.key_text, table.c.kind, table.c.side).where(
                table.c.comparison_id == comparison.id,
                table.c.key_text.in_(texts),
                table.c.state != MismatchState.GONE,
            )
        )
    }
    departments = {side: comparison.resource(side).provider_id for side in Side}
    now, today = clock.now(), clock.today()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    opened: Counter[int] = Counter()
    for difference in differences:
        key_text = KEY_SEPARATOR.join(difference.key)
        kind = MismatchKind(difference.kind.value)
        for side, items in settling_sides(comparison, difference).items():
            found = existing.get((key_text, kind, side))
            if found is not None:
                updates.append({"_id": found, "_items": items, "_names": names_text(items)})
                continue
            opened[departments[side]] += 1
            inserts.append(
                {
                    "comparison_id": comparison.id,
                    "found_run_id": run.id,
                    "last_seen_run_id": run.id,
                    "key": list(difference.key),
                    "key_text": key_text,
                    "kind": kind,
                    "items": items,
                    "item_names": names_text(items),
                    "side": side,
                    "department_id": departments[side],
                    "state": MismatchState.OPEN,
                    "opened_at": now,
                    "opened_on": today,
                    "due_on": due_on,
                    "due_provisional": due_provisional,
                    "answer": "",
                    "evidence": "",
                    "mediation": "",
                }
            )
    if inserts:
        db_session.execute(sa.insert(table), inserts)
    if updates:
        db_session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("_id"))
            .values(
                items=sa.bindparam("_items"),
                item_names=sa.bindparam("_names"),
                last_seen_run_id=run.id,
            ),
            updates,
        )
    return opened


def _close_gone(db_session: Session, comparison: Comparison, run: ComparisonRunRecord) -> int:
    """Live cases this run did not find again are closed as gone."""
    result = db_session.execute(
        sa.update(Mismatch.__table__)
        .where(
            Mismatch.__table__.c.comparison_id == comparison.id,
            Mismatch.__table__.c.state.in_(LIVE_STATES),
            Mismatch.__table__.c.last_seen_run_id != run.id,
        )
        .values(state=MismatchState.GONE, closed_at=clock.now(), closed_run_id=run.id)
    )
    for loaded in list(db_session.identity_map.values()):  # Core wrote past them: reload
        if isinstance(loaded, Mismatch):
            db_session.expire(loaded)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _live_count(db_session: Session, comparison_id: int) -> int:
    return int(
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(Mismatch)
            .where(Mismatch.comparison_id == comparison_id, Mismatch.state.in_(LIVE_STATES))
        )
        or 0
    )


# --- the department's answer and the operator's mediation ------------------------------------


def answer_case(
    db_session: Session,
    *,
    actor: Actor,
    mismatch_id: int,
    data: CaseAnswerIn,
    documents: Sequence[Document] = (),
) -> Mismatch:
    """The department corrected its source (the next run will tell), or disputes the
    mismatch with evidence — described, or scanned `documents`, or both — for the operator
    to mediate."""
    require(actor, *ANSWERERS, action="处理比对不一致")
    mismatch = db_session.get(Mismatch, mismatch_id)
    if mismatch is None or mismatch.department_id != own_organization(actor):
        raise NotFound(f"没有编号为 {mismatch_id} 的本部门比对不一致")
    if mismatch.state != MismatchState.OPEN:
        raise Conflict(f"该比对不一致{mismatch.state.label}，不能再答复")
    if not data.corrected and not (
        data.evidence or documents or evidence_service.count(db_session, mismatch=mismatch)
    ):
        raise Invalid("提出异议须附证明材料（填写说明或上传扫描件）", field="evidence")
    evidence_service.attach_to_mismatch(
        db_session, actor=actor, mismatch=mismatch, documents=documents
    )
    mismatch.state = MismatchState.CORRECTED if data.corrected else MismatchState.DISPUTED
    mismatch.answer, mismatch.evidence = data.answer, data.evidence
    mismatch.answered_at, mismatch.answered_by = clock.now(), actor.label
    record(
        db_session,
        actor=actor,
        action="verification.mismatch.answer",
        object_type="mismatch",
        object_id=mismatch.id,
        details={
            "corrected": data.corrected,
            "answer": data.answer,
            "evidence": data.evidence,
            "late": clock.today() > mismatch.due_on,
        },
    )
    if not data.corrected:
        _notify(
            db_session,
            inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
            f"比对不一致有异议待协调：{mismatch.comparison.name}",
            f"{mismatch.department.name}对主键 {'、'.join(mismatch.key)} 的比对结果提出异议："
            f"{data.answer}",
            LINK.format(id=mismatch.id),
        )
    return mismatch


def mediate(
    db_session: Session, *, actor: Actor, profile: Profile, mismatch_id: int, data: MediationIn
) -> Mismatch:
    """The operator settles a case (with a note), or sends it back to the department with a
    new deadline (the profile's `mismatch_settle_days` from today)."""
    require(actor, Role.PLATFORM_OPERATOR, action="协调比对不一致")
    mismatch = db_session.get(Mismatch, mismatch_id)
    if mismatch is None:
        raise NotFound(f"没有编号为 {mismatch_id} 的比对不一致")
    if mismatch.state.closed:
        raise Conflict(f"该比对不一致{mismatch.state.label}，无须协调")
    if data.outcome == "reopen" and mismatch.state == MismatchState.OPEN:
        raise Conflict("该比对不一致仍待部门处理，无须退回", field="outcome")
    now = clock.now()
    mismatch.mediation, mismatch.mediated_at, mismatch.mediated_by = data.note, now, actor.label
    if data.outcome == "settle":
        mismatch.state, mismatch.closed_at = MismatchState.SETTLED, now
        title, body = "比对不一致已协调办结", f"协调意见：{data.note}"
    else:
        days = profile.rules.mismatch_settle_days.value
        due = working_days.load(db_session).add_working_days(clock.today(), days)
        mismatch.state = MismatchState.OPEN
        mismatch.due_on, mismatch.due_provisional = due.on, due.provisional
        title = "比对不一致退回重新处理"
        body = f"请于 {due.on.isoformat()} 前在源头更正。协调意见：{data.note}"
    record(
        db_session,
        actor=actor,
        action="verification.mismatch.mediate",
        object_type="mismatch",
        object_id=mismatch.id,
        details={
            "outcome": data.outcome,
            "note": data.note,
            "due_on": mismatch.due_on.isoformat(),
            "profile": profile.code,
        },
    )
    _tell(
        db_session,
        [mismatch.department_id],
        f"{title}：{mismatch.comparison.name}",
        body,
        LINK.format(id=mismatch.id),
    )
    return mismatch


# --- reading ---------------------------------------------------------------------------------


def _comparison(db_session: Session, comparison_id: int) -> Comparison:
    comparison = db_session.get(Comparison, comparison_id)
    if comparison is None:
        raise NotFound(f"没有编号为 {comparison_id} 的比对")
    return comparison


def _involved(actor: Actor, comparison: Comparison) -> bool:
    if actor.has(*OVERSEERS):
        return True
    departments = (comparison.left_resource.provider_id, comparison.right_resource.provider_id)
    return actor.organization_id is not None and actor.organization_id in departments


def get_comparison(db_session: Session, *, actor: Actor, comparison_id: int) -> Comparison:
    """One comparison, for those who oversee sharing and the two departments compared."""
    comparison = db_session.get(Comparison, comparison_id)
    if comparison is None or not _involved(actor, comparison):
        raise NotFound(f"没有编号为 {comparison_id} 的比对")
    return comparison


def list_comparisons(db_session: Session, *, actor: Actor) -> list[Comparison]:
    """The comparisons the actor may see (a department: those of its resources)."""
    found = db_session.scalars(sa.select(Comparison).order_by(Comparison.name)).unique().all()
    return [c for c in found if _involved(actor, c)]


def history(
    db_session: Session, *, actor: Actor, comparison_id: int, limit: int = 60
) -> list[ComparisonRunRecord]:
    """A comparison's latest runs, oldest first (the history chart's points)."""
    comparison = get_comparison(db_session, actor=actor, comparison_id=comparison_id)
    runs = db_session.scalars(
        sa.select(ComparisonRunRecord)
        .where(ComparisonRunRecord.comparison_id == comparison.id)
        .order_by(ComparisonRunRecord.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(runs))


def last_run(
    db_session: Session, *, actor: Actor, comparison_id: int
) -> ComparisonRunRecord | None:
    """A comparison's latest run, if it has run."""
    runs = history(db_session, actor=actor, comparison_id=comparison_id, limit=1)
    return runs[0] if runs else None


def get_mismatch(db_session: Session, *, actor: Actor, mismatch_id: int) -> Mismatch:
    """One case, for its department, the other side and those who oversee sharing."""
    mismatch = db_session.get(Mismatch, mismatch_id)
    if mismatch is None or not _involved(actor, mismatch.comparison):
        raise NotFound(f"没有编号为 {mismatch_id} 的比对不一致")
    return mismatch


def _mismatches(
    actor: Actor,
    *,
    comparison_id: int | None,
    state: MismatchState | Sequence[MismatchState] | None,
    kind: MismatchKind | None,
    overdue: bool,
    own: bool,
    item: str | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Mismatch)
    if own or not actor.has(*OVERSEERS):
        stmt = stmt.where(Mismatch.department_id == own_organization(actor))
    if comparison_id is not None:
        stmt = stmt.where(Mismatch.comparison_id == comparison_id)
    if isinstance(state, MismatchState):
        stmt = stmt.where(Mismatch.state == state)
    elif state is not None:
        stmt = stmt.where(Mismatch.state.in_(list(state)))
    if kind is not None:
        stmt = stmt.where(Mismatch.kind == kind)
    if item:  # cases whose values differ in the item (a record on one side has no such)
        stmt = stmt.where(
            Mismatch.kind == MismatchKind.DIFFERS,
            Mismatch.item_names.contains(f"|{item}|", autoescape=True),
        )
    if overdue:
        stmt = stmt.where(Mismatch.state == MismatchState.OPEN, Mismatch.due_on < clock.today())
    return stmt


def list_mismatches(
    db_session: Session,
    *,
    actor: Actor,
    comparison_id: int | None = None,
    state: MismatchState | Sequence[MismatchState] | None = None,
    kind: MismatchKind | None = None,
    item: str | None = None,
    overdue: bool = False,
    own: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[Mismatch]:
    """Cases the actor may see, most urgent first: a department sees those it must settle,
    overseers every department's (or, with `own`, none but their own department's);
    `state` one state or several; `item`: those whose values differ in that data item;
    `overdue`: still open past their deadline."""
    stmt = _mismatches(
        actor,
        comparison_id=comparison_id,
        state=state,
        kind=kind,
        overdue=overdue,
        own=own,
        item=item,
    )
    stmt = stmt.order_by(Mismatch.due_on, Mismatch.id).offset(offset).limit(limit)
    return list(db_session.scalars(stmt).unique())


def count_mismatches(
    db_session: Session,
    *,
    actor: Actor,
    comparison_id: int | None = None,
    state: MismatchState | Sequence[MismatchState] | None = None,
    kind: MismatchKind | None = None,
    item: str | None = None,
    overdue: bool = False,
    own: bool = False,
) -> int:
    """How many cases `list_mismatches` would give with the same filters (for the pages'
    filter counts and paging)."""
    stmt = _mismatches(
        actor,
        comparison_id=comparison_id,
        state=state,
        kind=kind,
        overdue=overdue,
        own=own,
        item=item,
    )
    counted = sa.select(sa.func.count()).select_from(stmt.with_only_columns(Mismatch.id).subquery())
    return int(db_session.scalar(counted) or 0)


def is_overdue(mismatch: Mismatch, today: date | None = None) -> bool:
    return mismatch.state == MismatchState.OPEN and (today or clock.today()) > mismatch.due_on


# --- telling ---------------------------------------------------------------------------------


def _tell(
    db_session: Session, organization_ids: list[int], title: str, body: str, link: str
) -> None:
    _notify(
        db_session,
        inbox.recipients(db_session, organization_ids=organization_ids),
        title,
        body,
        link,
    )


def _notify(db_session: Session, user_ids: set[int], title: str, body: str, link: str) -> None:
    inbox.notify(
        db_session,
        user_ids=user_ids,
        notice=inbox.Notice("verification.comparison", title, body, link),
    )
