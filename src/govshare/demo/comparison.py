"""Demo comparison (示范比对, 一数一源): the public-security bureau's population register
against the health commission's copy of it (全员人口个案信息), with planted differences, and
the cases they open settling over two weeks.

市卫健委 keeps its own business database, built from the register and its own registrations,
with the faults such copies have (`PLANTED`, by row of the register):

- records it lacks (people it never received) and stray records the register no longer has;
- a differing 姓名, 户籍地址 or 婚姻状况 (for those, the register is authoritative);
- a differing 出生日期: there the birth certificate, and so 市卫健委, is authoritative, so the
  register's department gets those cases;

and differences of form only, which the comparison's normalisation must not report: birth
dates written YYYYMMDD, ID numbers ending in a lower-case x, full-width digits in addresses, a
trailing ideographic space after names.

The story, through the services as the demo's people, each step at its moment on a working day
counted back from today: 市卫健委 connects its database and syncs it into the center, the
operator defines a weekly comparison and runs it, 市卫健委 corrects some records at its source
(a sync carries them into the center) and disputes one, 市公安局 disputes two birth dates, the
operator settles one dispute and sends the other back, and later runs close the corrected cases,
so the comparison's history shows the mismatch count falling. Built once: a city that has the
comparison is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.demo import exchange as exchange_demo
from govshare.demo import sources
from govshare.demo.sources import Database, Table
from govshare.demo.verification import Story
from govshare.exchange import demo_data
from govshare.exchange.models import RunKind
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.verification.comparison_models import (
    Comparison,
    Mismatch,
    MismatchKind,
    Schedule,
    Side,
)
from govshare.verification.comparison_schemas import CaseAnswerIn, ComparisonIn, MediationIn
from govshare.verification.service import comparisons

NAME = "人口基本信息比对（市公安局—市卫健委）"
STRAY_ROWS = 30  # people in the copy whom the register does not hold
AGE = timedelta(days=60)  # the copy's rows were last changed at least this long before today

# --- the copy and its planted differences ----------------------------------------------------

# Planted by the register's row index: i % 400 picks a kind, i % 1000 == 449 a birth date.
_BY_REMAINDER = {17: "only_left", 101: "姓名", 233: "户籍地址", 367: "婚姻状况"}
_OTHER_MARITAL = {"已婚": "离婚", "未婚": "已婚", "离婚": "已婚", "丧偶": "已婚"}
_NAME_CHARS = "华明芳军杰静敏丽强伟"
_HOUSE_NUMBER = re.compile(r"(\d+)号")
_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def planted(index: int) -> str | None:
    """What differs for the register's row `index` in the copy: "only_left" (the copy lacks
    it), the data item that differs, or None."""
    if index >= exchange_demo.POPULATION_ROWS:
        return None
    if index % 1000 == 449:
        return "出生日期"
    return _BY_REMAINDER.get(index % 400)


def _other_name(name: str) -> str:
    return name[:-1] + next(c for c in _NAME_CHARS if c != name[-1])


def _old_address(address: str) -> str:
    """The address the person registered before moving house."""
    moved = _HOUSE_NUMBER.sub(lambda m: f"{int(m[1]) + 7}号", address, count=1)
    return moved if moved != address else address + "（旧址）"


def copy_row(row: Sequence[Any], index: int, *, faulty: bool = True) -> tuple[Any, ...]:
    """The copy's row for a row of the register (columns of `COPY`): with its planted
    difference when `faulty`, always with the differences of form."""
    id_number, name, gender, birth, ethnicity = row[:5]
    address, marital, education, updated_at = row[7], row[9], row[10], row[13]
    kind = planted(index) if faulty else None
    if kind == "姓名":
        name = _other_name(name)
    elif kind == "户籍地址":
        address = _old_address(address)
    elif kind == "婚姻状况":
        marital = _OTHER_MARITAL.get(marital, "已婚")
    elif kind == "出生日期":
        birth += timedelta(days=1)  # as the birth certificate has it
    if index % 13 == 0:
        name += "\u3000"
    if index % 7 == 0:
        address = address.translate(_FULL_WIDTH_DIGITS)
    return (
        id_number.replace("X", "x"),
        name,
        gender,
        ethnicity,
        birth.strftime("%Y%m%d"),
        address,
        marital,
        education,
        updated_at - AGE,
    )


def _register() -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The register's rows with their indices, then the stray people's (indices past it)."""
    yield from enumerate(exchange_demo.POPULATION.rows())
    start = exchange_demo.POPULATION_ROWS + exchange_demo.RESIDENCE_ROWS
    yield from enumerate(demo_data.population_rows(STRAY_ROWS, start=start), start=start)


def _copy_rows() -> Iterator[tuple[Any, ...]]:
    for index, row in _register():
        if planted(index) != "only_left":
            yield copy_row(row, index)


# The copy keeps the register's items under its column names (in `copy_row`'s order), birth
# dates as text.
_ITEMS = ("公民身份号码", "姓名", "性别", "民族", "出生日期", "户籍地址", "婚姻状况", "文化程度")
_COLUMNS = {c: t for c, t in exchange_demo.POPULATION.columns}
COPY = Table(
    name="qyrk_person",
    columns=(
        *[
            (column, "text" if column == "birth_date" else _COLUMNS[column])
            for column in (exchange_demo.POPULATION.items[i] for i in _ITEMS)
        ],
        ("updated_at", "timestamp"),
    ),
    key=("id_number",),
    rows=_copy_rows,
    resource="wjw_population",
    items={i: exchange_demo.POPULATION.items[i] for i in _ITEMS},
)
DATABASE = Database("wjw", "全员人口信息系统业务库（只读副本）", "provider/wjw/wjw.db", (COPY,))


@dataclass(frozen=True)
class Planted:
    """The differences the comparison must find, as keys (the register's ID numbers)."""

    only_left: frozenset[str]  # the copy lacks them
    only_right: frozenset[str]  # the stray people
    differing: dict[str, str]  # key → the data item that differs


def planted_differences() -> Planted:
    only_left, only_right, differing = set(), set(), {}
    for index, row in _register():
        kind = planted(index)
        if index >= exchange_demo.POPULATION_ROWS:
            only_right.add(row[0])
        elif kind == "only_left":
            only_left.add(row[0])
        elif kind is not None:
            differing[row[0]] = kind
    return Planted(frozenset(only_left), frozenset(only_right), differing)


# --- the comparison ----------------------------------------------------------------------------

# item → (normalisation, authoritative side); the register (left) is the source of all but the
# birth date, which the birth certificate (the copy's department, right) decides.
ITEMS: dict[str, tuple[list[str], Side]] = {
    "姓名": (["trim"], Side.LEFT),
    "性别": ([], Side.LEFT),
    "民族": ([], Side.LEFT),
    "出生日期": (["date"], Side.RIGHT),
    "户籍地址": (["halfwidth", "trim"], Side.LEFT),
    "婚姻状况": ([], Side.LEFT),
    "文化程度": ([], Side.LEFT),
}


def definition(left_id: int, right_id: int) -> ComparisonIn:
    return ComparisonIn.model_validate(
        {
            "name": NAME,
            "description": (
                "以公民身份号码比对市公安局常住人口基本信息和市卫健委全员人口个案信息。"
                "出生日期以出生医学证明为准（市卫健委），其余比对项和人员是否在册以公安户籍登记为准。"
            ),
            "left_resource_id": left_id,
            "right_resource_id": right_id,
            "keys": [
                {
                    "name": "公民身份号码",
                    "left": "公民身份号码",
                    "right": "公民身份号码",
                    "normalise": ["trim", "case"],
                }
            ],
            "items": [
                {"name": n, "left": n, "right": n, "normalise": steps, "authority": side}
                for n, (steps, side) in ITEMS.items()
            ],
            "key_authority": Side.LEFT,
            "schedule": Schedule.WEEKLY,
        }
    )


# --- the story ---------------------------------------------------------------------------------


class _Demo:
    def __init__(self, runtime: Runtime, story: Story) -> None:
        self.runtime = runtime
        self.story = story  # its moments count back from the real today
        self.rows = {row[0]: (index, row) for index, row in _register()}
        self.planted = planted_differences()

    def moment(self, ago: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.story.day(ago), time(hour, minute), tzinfo=clock.CITY_TZ)

    def at(self, ago: int, hour: int, step: Callable[[Session], Any], minute: int = 0) -> Any:
        with clock.frozen(self.moment(ago, hour, minute)), self.runtime.transaction() as db:
            return step(db)

    @staticmethod
    def who(db_session: Session, username: str) -> Actor:
        user = db_session.scalars(sa.select(User).where(User.username == username)).one()
        return actor_for_user(user)

    # 市卫健委's database
    def connect(self, db_session: Session) -> int:
        connection_id, _ = sources.connect(self.runtime, db_session, DATABASE)
        resource = exchange_demo.demo_resource(db_session, COPY.resource)
        binding_id, _ = sources.bind(
            self.runtime, db_session, DATABASE, connection_id, COPY, resource
        )
        return binding_id

    def correct_at_source(self, keys: Sequence[str]) -> None:
        """市卫健委 corrects records in its own system: each row as the register has it."""
        path = self.runtime.settings.data_dir / DATABASE.path
        engine = sa.create_engine(f"sqlite:///{path}")
        try:
            table = sa.Table(COPY.name, sa.MetaData(), autoload_with=engine)
            now = clock.now().replace(tzinfo=None)  # the source keeps naive UTC
            fixed = []
            for key in keys:
                index, row = self.rows[key]
                columns = [c for c, _ in COPY.columns]
                values = dict(zip(columns, copy_row(row, index, faulty=False), strict=True))
                fixed.append(values | {"updated_at": now})
            with engine.begin() as connection:
                ids = [f["id_number"] for f in fixed]
                connection.execute(table.delete().where(table.c.id_number.in_(ids)))
                connection.execute(table.insert(), fixed)
        finally:
            engine.dispose()

    def sync(self, binding_id: int) -> None:
        sources.sync(self.runtime, binding_id, DATABASE.department, RunKind.INCREMENTAL)

    # cases
    def cases(self, db_session: Session, kind: MismatchKind, item: str | None = None) -> list:
        found = db_session.scalars(
            sa.select(Mismatch)
            .join(Comparison, Comparison.id == Mismatch.comparison_id)
            .where(Comparison.name == NAME, Mismatch.kind == kind)
            .order_by(Mismatch.key_text)
        ).all()
        return [m for m in found if item is None or m.items[0]["item"] == item]

    def answer(self, db_session: Session, username: str, cases: Sequence[Mismatch], **data: Any):
        actor = self.who(db_session, username)
        for case in cases:
            comparisons.answer_case(
                db_session, actor=actor, mismatch_id=case.id, data=CaseAnswerIn(**data)
            )

    def corrected(self, binding_id: int, when: tuple[int, int], kind: MismatchKind,
                  item: str | None, count: int, answer: str) -> None:  # fmt: skip
        """At `when` (working days ago, hour), 市卫健委 corrects `count` of its cases of `kind`
        (and `item`) at its source, a sync carries them into the center, and it answers them
        as corrected. The cases' keys are the register's ID numbers (the key normalisation
        writes the check digit X in upper case, as the register does)."""
        ago, hour = when
        keys = self.at(ago, hour, lambda db: [c.key[0] for c in self.cases(db, kind, item)[:count]])
        with clock.frozen(self.moment(ago, hour, 20)):
            self.correct_at_source(keys)
            self.sync(binding_id)
        self.at(
            ago,
            hour,
            lambda db: self.answer(
                db,
                "wjw_officer",
                [c for c in self.cases(db, kind, item) if c.key[0] in keys],
                corrected=True,
                answer=answer,
            ),
            minute=40,
        )

    def run(self, db_session: Session) -> None:
        comparison = db_session.scalars(sa.select(Comparison).where(Comparison.name == NAME)).one()
        comparisons.run_now(
            db_session,
            actor=self.who(db_session, "operator"),
            profile=self.runtime.profile,
            center=self.runtime.center,
            comparison_id=comparison.id,
        )

    def define(self, db_session: Session) -> None:
        left = exchange_demo.demo_resource(db_session, "gaj_population")
        right = exchange_demo.demo_resource(db_session, COPY.resource)
        comparisons.define(
            db_session,
            actor=self.who(db_session, "operator"),
            center=self.runtime.center,
            data=definition(left.id, right.id),
        )

    def tell(self) -> None:
        binding_id = self.at(12, 9, self.connect)
        with clock.frozen(self.moment(12, 9, 30)):
            sources.first_sync(self.runtime, binding_id, DATABASE.department)
        self.at(12, 11, self.define)
        self.at(11, 10, self.run)  # the first run: every planted difference, a case each
        self.corrected(binding_id, (9, 14), MismatchKind.DIFFERS, "姓名", 50,
                       "已按户籍登记更正全员人口信息库中的姓名")  # fmt: skip
        self.corrected(binding_id, (9, 16), MismatchKind.ONLY_LEFT, None, 25,
                       "已从户籍系统补录缺失人员")  # fmt: skip
        self.at(8, 10, self.disputes)
        self.at(7, 11, self.mediation)
        self.at(6, 10, self.run)  # the corrected cases are gone
        self.corrected(binding_id, (4, 15), MismatchKind.DIFFERS, "户籍地址", 25,
                       "已按户籍登记更正户籍地址")  # fmt: skip
        self.at(2, 10, self.run)
        self.corrected(binding_id, (1, 15), MismatchKind.DIFFERS, "婚姻状况", 10,
                       "已按婚姻登记信息更正婚姻状况，待下次比对确认")  # fmt: skip

    def disputes(self, db_session: Session) -> None:
        births = self.cases(db_session, MismatchKind.DIFFERS, "出生日期")
        self.answer(
            db_session,
            "gaj_officer",
            births[:2],
            corrected=False,
            answer="户籍底册和身份证号码记载的出生日期一致，出生医学证明登记有误",
            evidence="户籍底册复印件（档案号 HJ-2003-0417）；居民身份证申领登记表",
        )
        stray = self.cases(db_session, MismatchKind.ONLY_RIGHT)
        self.answer(
            db_session,
            "wjw_officer",
            stray[:1],
            corrected=False,
            answer="该人员户籍已迁出，但仍在本市长期居住并建有家庭医生签约档案，需保留",
            evidence="家庭医生签约服务协议（签约编号 JT-2025-18832）",
        )

    def mediation(self, db_session: Session) -> None:
        operator = self.who(db_session, "operator")
        births = self.cases(db_session, MismatchKind.DIFFERS, "出生日期")[:2]
        outcomes = (
            (
                "settle",
                "经调取出生医学证明存根核实，以户籍登记为准，由市卫健委更正出生医学证明信息",
            ),
            ("reopen", "出生医学证明存根与卫健委记录一致，请市公安局核查原始档案后在源头更正"),
        )
        for case, (outcome, note) in zip(births, outcomes, strict=True):
            comparisons.mediate(
                db_session,
                actor=operator,
                profile=self.runtime.profile,
                mismatch_id=case.id,
                data=MediationIn(outcome=outcome, note=note),
            )


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds 市卫健委's copy and the demo comparison unless the comparison is there; returns
    whether it added them."""
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session):
            return False
        if db_session.scalar(sa.select(Comparison.id).where(Comparison.name == NAME)):
            return False
        story = Story(runtime, db_session)
    progress("数据比对")
    _Demo(runtime, story).tell()
    return True
