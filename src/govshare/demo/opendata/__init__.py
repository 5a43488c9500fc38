"""Demo open data (示范开放数据): 江州市's open-data portal with the datasets of
`data/opendata.yaml`, each opened the way the platform opens any resource.

The story, counted back from the build day (weekends move back to the Friday):
- about two months ago each department's data officer compiles the dataset's catalog
  resource (shared unconditionally, open to the public; one conditional), submits it, and
  the platform operator publishes it after review;
- ten days ago each department registers its business database (`demo.sources`: a SQLite
  file of generated data in its source directory), binds the tables and runs a first full
  sync into the data resource center;
- the officer then defines the open view (personal items masked or left out), records the
  secrecy review of the department's reviewer (保密审查), submits the release, and the
  operator confirms it; the operator publishes everything to the portal a week ago;
- today the air-quality and weather series have the days since: an incremental sync and the
  publisher's periodic run copy them, so those datasets show a second entry in their history.

Every part is skipped when already there: building again changes nothing, and a build that
stopped half-way completes. The services do the work (and write the audit entries)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core import clock
from govshare.core.errors import Conflict
from govshare.core.permissions import Actor
from govshare.core.policy import load_profile
from govshare.core.runtime import Runtime
from govshare.demo import catalog as catalog_demo
from govshare.demo import sources
from govshare.demo.opendata import facilities, health, public, records, series
from govshare.demo.opendata.tables import Context, Generator, as_tuples
from govshare.exchange.models import RunKind, RunState, SyncRun, TableBinding
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.opendata import jobs
from govshare.opendata import service as releases
from govshare.opendata.models import OpenRelease, ReleaseState, SecrecyOutcome
from govshare.opendata.schemas import OpenViewIn, ReleaseDecisionIn, SecrecyReviewIn

GENERATORS: dict[str, Generator] = (
    facilities.TABLES | health.TABLES | records.TABLES | series.TABLES
)
# A data item's catalog type as its source column's portable type (demo_data.load_table).
COLUMN_TYPES = {"C": "text", "M": "text", "N": "numeric", "Y": "numeric", "B": "numeric",
                "F": "numeric", "I": "integer", "D": "date", "T": "timestamp", "L": "boolean"}  # fmt: skip
TABLE = re.compile(r"^(?P<name>\w+)\((?P<keys>[\w, ]+)\)$")
# Days before the build day.
COMPILED, SYNCED, DEFINED, REVIEWED, CONFIRMED = -58, -10, -9, -8, -7
BASIS = (
    "依据《中华人民共和国保守国家秘密法》及其实施条例、《江州市公共数据开放管理暂行办法》和本单位"
    "保密事项范围，对“{name}”拟开放的信息项和数据逐项审查：不涉及国家秘密和工作秘密，{personal}。"
    "同意按所定开放范围开放。"
)


@dataclass(frozen=True)
class Dataset:
    """One open dataset: its catalog entry, its source table and its open view."""

    key: str
    dept: str
    name: str
    summary: str
    domain: str
    freq: str
    table: str
    items: str  # `列名 [*]名称:类型[长度][:说明]` per line
    tags: tuple[str, ...] = ()
    open: str = "unconditional"
    open_conditions: str = ""
    closed: tuple[str, ...] = ()
    masking: dict[str, str] = field(default_factory=dict)
    row_filter: tuple[dict[str, Any], ...] = ()
    updates: bool = False

    @property
    def source(self) -> tuple[str, tuple[str, ...]]:
        """The source table's name and key columns."""
        match = TABLE.match(self.table)
        if match is None:
            raise ValueError(f"bad demo table {self.table!r}: expected name(key, …)")
        return match["name"], tuple(k.strip() for k in match["keys"].split(","))

    @property
    def columns(self) -> dict[str, str]:
        """Data item name → its source column."""
        out = {}
        for line in self.items.strip().splitlines():
            column, spec = line.split(maxsplit=1)
            out[spec.lstrip("*").split(":", 1)[0]] = column
        return out

    def catalog_entry(self) -> catalog_demo.Spec:
        lines = "\n".join(line.split(maxsplit=1)[1] for line in self.items.strip().splitlines())
        return catalog_demo.Spec(
            key=self.key,
            dept=self.dept,
            name=self.name,
            summary=self.summary,
            items=lines,
            freq=self.freq,
            open=self.open,
            open_conditions=self.open_conditions,
            domain=self.domain,
        )

    def source_columns(self) -> tuple[tuple[str, str], ...]:
        types = {
            self.columns[item["name"]]: COLUMN_TYPES[item["data_type"]]
            for item in catalog_demo.parse_items(self.catalog_entry().items)
        }
        return (*types.items(), (sources.CHANGE_COLUMN, "timestamp"))

    def view(self) -> OpenViewIn:
        return OpenViewIn.model_validate(
            {
                "fields": [i for i in self.columns if i not in self.closed],
                "masking": [{"field": f, "rule": r} for f, r in self.masking.items()],
                "row_filter": list(self.row_filter),
                "tags": list(self.tags),
            }
        )

    def personal(self) -> list[str]:
        return [
            i["name"] for i in catalog_demo.parse_items(self.catalog_entry().items) if i["personal"]
        ]

    def rows(self, context: Context) -> Iterable[tuple[Any, ...]]:
        columns = [c for c, _ in self.source_columns()]
        return as_tuples(GENERATORS[self.source[0]](context), columns, context)

    def source_table(self, context: Context) -> sources.Table:
        name, key = self.source
        return sources.Table(
            name=name,
            columns=self.source_columns(),
            key=key,
            rows=lambda: self.rows(context),
            resource=self.key,
            items=self.columns,
        )


def _dataset(data: dict[str, Any]) -> Dataset:
    values = dict(data)
    for name in ("tags", "closed", "row_filter"):
        if name in values:
            values[name] = tuple(values[name])
    return Dataset(**values)


_DATA = catalog_demo.load_data("opendata.yaml")
DATASETS: list[Dataset] = [_dataset(d) for d in _DATA["datasets"]]
DEPARTMENTS: dict[str, dict[str, str]] = _DATA["departments"]


def database(dept: str, context: Context) -> sources.Database:
    """The department's business database with the tables of its open datasets."""
    info = DEPARTMENTS[dept]
    return sources.Database(
        department=dept,
        connection=info["connection"],
        path=f"provider/{dept}/{info['file']}",
        tables=tuple(d.source_table(context) for d in DATASETS if d.dept == dept),
    )


# --- building ----------------------------------------------------------------------------


def _moment(today: date, offset: int, hour: int, minute: int = 0) -> datetime:
    day = catalog_demo.workday(today + timedelta(days=offset))
    return datetime.combine(day, time(hour, minute % 60), tzinfo=clock.CITY_TZ)


def _users(db_session: Session) -> dict[str, User]:
    return {u.username: u for u in db_session.execute(select(User)).scalars()}


def resources(db_session: Session) -> dict[str, Resource]:
    """The datasets' catalog resources there are, by dataset key (matched on provider and
    first version's name)."""
    providers = dict(db_session.execute(select(User.username, User.organization_id)).all())
    wanted = {(providers[f"{d.dept}_officer"], d.name): d.key for d in DATASETS}
    found = db_session.execute(
        select(Resource, ResourceVersion.name)
        .join(ResourceVersion, ResourceVersion.resource_id == Resource.id)
        .where(ResourceVersion.number == 1, ResourceVersion.name.in_([d.name for d in DATASETS]))
    ).all()
    return {
        wanted[(resource.provider_id, name)]: resource
        for resource, name in found
        if (resource.provider_id, name) in wanted
    }


def _compile(db_session: Session, today: date) -> bool:
    """The datasets' catalog resources compiled, submitted and published where missing."""
    there = resources(db_session)
    missing = [d for d in DATASETS if d.key not in there]
    if not missing:
        return False
    builder = catalog_demo.Builder(
        db_session, Actor.command_line("demo"), load_profile(catalog_demo.PROFILE).rules
    )
    steps: list[tuple[datetime, int, Callable[[], None]]] = []
    for i, dataset in enumerate(missing):
        builder.specs[dataset.key] = dataset.catalog_entry()
        day, minute = COMPILED + i * 21 // len(missing), i * 50 // len(missing)
        for offset, hour, step in (
            (0, 9, lambda k=dataset.key: builder.create(k)),
            (1, 10, lambda k=dataset.key: builder.submit(k)),
            (3, 15, lambda k=dataset.key: builder.review(k, "审核通过，同意开放")),
        ):
            steps.append((_moment(today, day + offset, hour, minute), len(steps), step))
    for when, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
        with clock.frozen(when):
            step()
    return True


def _first_synced_on(db_session: Session, binding_id: int) -> date | None:
    finished = db_session.execute(
        select(SyncRun.finished_at)
        .where(SyncRun.binding_id == binding_id, SyncRun.state == RunState.SUCCEEDED)
        .order_by(SyncRun.id)
        .limit(1)
    ).scalar_one_or_none()
    return clock.to_city(finished).date() if finished is not None else None


def _connect(runtime: Runtime, today: date) -> tuple[list[tuple[Dataset, int]], bool]:
    """Every department's database registered and its tables bound: the bindings, and whether
    anything was added."""
    synced = catalog_demo.workday(today + timedelta(days=SYNCED))
    context = Context(origin=synced, until=synced - timedelta(days=1))
    bound: list[tuple[Dataset, int]] = []
    added = False
    with clock.frozen(_moment(today, SYNCED, 9)), runtime.transaction() as db_session:
        there = resources(db_session)
        for dept in DEPARTMENTS:
            db = database(dept, context)
            connection_id, new = sources.connect(runtime, db_session, db)
            added |= new
            for dataset, table in zip(
                [d for d in DATASETS if d.dept == dept], db.tables, strict=True
            ):
                binding_id, new = sources.bind(
                    runtime, db_session, db, connection_id, table, there[dataset.key]
                )
                added |= new
                bound.append((dataset, binding_id))
    return bound, added


def _open(db_session: Session, today: date) -> bool:
    """Each dataset without a release: its open view defined, its secrecy review recorded,
    submitted by the data officer and confirmed by the operator."""
    users = _users(db_session)
    operator = actor_for_user(users["operator"])
    pending = []
    there = resources(db_session)
    released = set(db_session.execute(select(OpenRelease.resource_id)).scalars())
    for dataset in DATASETS:
        resource = there[dataset.key]
        if resource.id in released:
            continue
        pending.append((dataset, resource, actor_for_user(users[f"{dataset.dept}_officer"])))
    for i, (dataset, resource, officer) in enumerate(pending):
        with clock.frozen(_moment(today, DEFINED, 10, i)):
            release = releases.define_view(
                db_session, actor=officer, resource_code=resource.code, data=dataset.view()
            )
        with clock.frozen(_moment(today, REVIEWED, 15, i)):
            releases.record_secrecy_review(
                db_session, actor=officer, release_id=release.id, data=_review(dataset, today)
            )
        with clock.frozen(_moment(today, REVIEWED, 16, i)):
            releases.submit(db_session, actor=officer, release_id=release.id)
        with clock.frozen(_moment(today, CONFIRMED, 10, i)):
            releases.decide(
                db_session,
                actor=operator,
                release_id=release.id,
                data=ReleaseDecisionIn(
                    approve=True, comment="保密审查意见齐全，开放范围符合规定，同意开放"
                ),
            )
    return bool(pending)


def _review(dataset: Dataset, today: date) -> SecrecyReviewIn:
    personal = dataset.personal()
    return SecrecyReviewIn(
        reviewer=DEPARTMENTS[dataset.dept]["reviewer"],
        reviewed_on=_moment(today, REVIEWED, 9).date(),
        basis=BASIS.format(
            name=dataset.name,
            personal=f"个人信息项“{'”“'.join(personal)}”已脱敏或不予开放"
            if personal
            else "不含个人信息",
        ),
        outcome=SecrecyOutcome.PASSED,
    )


def _unpublished(db_session: Session) -> bool:
    return (
        db_session.execute(
            select(OpenRelease.id).where(
                OpenRelease.state == ReleaseState.OPEN, OpenRelease.published_at.is_(None)
            )
        ).first()
        is not None
    )


def _publish(runtime: Runtime, actor: Actor | None = None) -> None:
    report = jobs.publish(runtime, **({"actor": actor} if actor else {}))
    if report.problems:
        raise Conflict(f"示范开放数据发布失败：{'；'.join(report.problems)}")


def _update(runtime: Runtime, bound: list[tuple[Dataset, int]], today: date) -> bool:
    """The growing series get the days since their first sync, through an incremental run."""
    updated = False
    for dataset, binding_id in bound:
        if not dataset.updates:
            continue
        with runtime.transaction() as db_session:
            if sources.synced_runs(db_session, binding_id) != 1:
                continue
            origin = _first_synced_on(db_session, binding_id)
            binding = db_session.get(TableBinding, binding_id)
            assert binding is not None
            path = binding.connection.database
        assert origin is not None
        context = Context(origin=origin, until=today - timedelta(days=1))
        table = dataset.source_table(context)
        sources.write_table(runtime.settings.data_dir / path, table)
        sources.sync(runtime, binding_id, dataset.dept, RunKind.INCREMENTAL)
        updated = True
    return updated


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the open-data portal to the demo city (after the exchange); returns whether
    anything was added."""
    today = clock.today()
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session):
            return False
        progress("开放数据：编制开放资源目录")
        added = _compile(db_session, today)
    progress("开放数据：业务库、库表绑定和首次同步")
    bound, new = _connect(runtime, today)
    added |= new
    for i, (dataset, binding_id) in enumerate(bound):
        with clock.frozen(_moment(today, SYNCED, 10, i)):
            added |= sources.first_sync(runtime, binding_id, dataset.dept)
    progress("开放数据：开放范围、保密审查和平台确认")
    with runtime.transaction() as db_session:
        added |= _open(db_session, today)
        unpublished = _unpublished(db_session)
        operator = actor_for_user(_users(db_session)["operator"])
    if unpublished:
        progress("开放数据：发布到开放门户")
        with clock.frozen(_moment(today, CONFIRMED, 17, 30)):
            _publish(runtime, operator)
        added = True
    if _update(runtime, bound, today):
        progress("开放数据：更新空气质量和气象数据")
        _publish(runtime)  # the publisher's periodic run
        added = True
    progress("开放数据：公众账户、有条件开放申请、数据开放需求和使用记录")
    added |= public.build(runtime, operator, today)
    return added
