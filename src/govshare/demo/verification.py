"""Demo objections (示范疑义校核): departments of the demo city dispute records they received
and a catalog entry, in every state the pages show: open and due soon, overdue, extended by the
provider's head, confirmed and waiting for the corrected values to arrive, rejected; a citizen
served on valid proof meanwhile.

Built after the exchange (the records named are in the center), through the verification
services as the demo's people, each step with the clock set to its moment on a working day
counted back from today, as `demo.sharing` tells its story.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.exchange.models import TableBinding
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.sharing.models import Grant, GrantState
from govshare.verification.models import Objection
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    MetadataObjectionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import objections


class Story:
    """The demo's people and working days, for steps told at their moments."""

    def __init__(self, runtime: Runtime, db_session: Session) -> None:
        self.runtime, self.db = runtime, db_session
        self.profile = runtime.profile
        self.calendar = working_days.load(db_session)
        self.today = clock.today()
        self.users = {u.username: u for u in db_session.scalars(sa.select(User))}

    def who(self, username: str) -> Any:
        return actor_for_user(self.users[username])

    def day(self, ago: int) -> date:
        """The `ago`-th working day before today."""
        day, counted = self.today, 0
        while counted < ago:
            day -= timedelta(days=1)
            counted += self.calendar.is_working_day(day)
        return day

    def at(self, ago: int, hour: int, step: Callable[[], Any]) -> Any:
        with clock.frozen(datetime.combine(self.day(ago), time(hour, 0), tzinfo=clock.CITY_TZ)):
            return step()

    def grant(self, consumer: str, provider: str) -> Grant | None:
        """An active grant of `consumer` on a bound resource of `provider` (by name parts)."""
        for grant in self.db.scalars(
            sa.select(Grant).where(Grant.state == GrantState.ACTIVE).order_by(Grant.id)
        ):
            bound = self.db.scalar(
                sa.select(TableBinding.id).where(TableBinding.resource_id == grant.resource_id)
            )
            if bound and provider in grant.provider.name and consumer in grant.consumer.name:
                return grant
        return None

    def keys(self, grant: Grant, count: int) -> list[str]:
        """The first `count` keys of the grant's resource in the center."""
        binding = self.db.scalars(
            sa.select(TableBinding).where(TableBinding.resource_id == grant.resource_id)
        ).one()
        center = self.runtime.center
        table = center.table(binding.center_table, binding.columns, binding.key_columns)
        column = table.c[binding.key_columns[0]]
        with center.engine.connect() as connection:
            found = connection.execute(sa.select(column).order_by(column).limit(count))
            return [str(v) for v in found.scalars()]

    def raise_on(
        self, grant: Grant, username: str, key: str, item: str, claimed: str, text: str
    ) -> Objection:
        key_item = objections.key_items(self.db, grant.resource_id)[0]
        return objections.raise_on_records(
            self.db,
            actor=self.who(username),
            profile=self.profile,
            grant_id=grant.id,
            data=RecordObjectionIn(
                keys=[{key_item: key}],
                items=[item],
                claimed={item: claimed},
                description=text,
                evidence="经办窗口收取的证明材料复印件（纸质件存档）",
            ),
        )


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the demo objections unless there are some; returns whether it added them."""
    with runtime.transaction() as db_session:
        if db_session.scalar(sa.select(sa.func.count(Objection.id))):
            return False
        story = Story(runtime, db_session)
        population = story.grant("民政", "公安")
        companies = story.grant("税务", "市场监")
        if population is None or companies is None:
            return False
        progress("疑义校核")
        people = story.keys(population, 4)
        firms = story.keys(companies, 2)
        gaj, head = story.who("gaj_officer"), story.who("gaj_head")
        scjg = story.who("scjg_officer")

        # overdue: raised eight working days ago, never answered
        story.at(
            8,
            10,
            lambda: story.raise_on(
                population, "mzj_officer", people[0], "姓名", "李秀英",
                "低保申请人户口簿登记姓名为李秀英，共享数据为李秀瑛，核对身份时不一致",
            ),
        )  # fmt: skip
        # extended: the provider's head approved more time
        extended = story.at(
            6,
            9,
            lambda: story.raise_on(
                population, "mzj_officer", people[1], "户籍地址", "江州市滨江区江滨路18号2栋",
                "申请人已于今年迁入新址，共享数据仍为旧户籍地址",
            ),
        )  # fmt: skip
        story.at(
            4,
            15,
            lambda: objections.request_extension(
                db_session,
                actor=gaj,
                objection_id=extended.id,
                data=ExtensionIn(
                    days=min(story.profile.rules.objection_extension_max_days.value, 12),
                    reason="迁移记录在派出所纸质档案中，需派出所调档核实",
                ),
            ),
        )
        story.at(
            3,
            9,
            lambda: objections.decide_extension(
                db_session,
                actor=head,
                objection_id=extended.id,
                data=ExtensionDecisionIn(approve=True, comment="同意，请派出所五日内反馈"),
            ),
        )
        story.at(
            2,
            11,
            lambda: objections.record_served(
                db_session,
                actor=story.who("mzj_officer"),
                objection_id=extended.id,
                data=ServedIn(person="王建国", proof="居民户口簿原件（新址登记页）"),
            ),
        )
        # confirmed, waiting for the corrected value to arrive with a sync
        confirmed = story.at(
            10,
            14,
            lambda: story.raise_on(
                population, "mzj_officer", people[2], "婚姻状况", "离婚",
                "申请人提供了离婚证，共享数据仍为已婚，影响家庭人口认定",
            ),
        )  # fmt: skip
        story.at(
            7,
            10,
            lambda: objections.answer(
                db_session,
                actor=gaj,
                objection_id=confirmed.id,
                data=AnswerIn(
                    confirmed=True,
                    answer="经核实属实，已在人口管理信息系统中更正婚姻状况",
                    corrected={"婚姻状况": "离婚"},
                ),
            ),
        )
        # rejected with reasons
        rejected = story.at(
            12,
            10,
            lambda: story.raise_on(
                companies, "swj_officer", firms[0], "住所", "江州市高新区创业大道66号",
                "企业称已搬迁，税务登记地址与共享的住所不一致",
            ),
        )  # fmt: skip
        story.at(
            9,
            16,
            lambda: objections.answer(
                db_session,
                actor=scjg,
                objection_id=rejected.id,
                data=AnswerIn(
                    confirmed=False,
                    answer="企业未办理住所变更登记，登记住所以营业执照为准；请告知企业先办理变更登记",
                ),
            ),
        )
        # open and due soon
        story.at(
            2,
            10,
            lambda: story.raise_on(
                companies, "swj_officer", firms[1], "法定代表人", "陈志强",
                "企业提交的变更材料显示法定代表人已变更",
            ),
        )  # fmt: skip
        # on a catalog entry
        story.at(
            1,
            15,
            lambda: objections.raise_on_metadata(
                db_session,
                actor=story.who("swj_officer"),
                profile=story.profile,
                resource_id=companies.resource_id,
                data=MetadataObjectionIn(
                    items=["更新周期"],
                    claimed={"更新周期": "每日"},
                    description="目录登记为每月更新，实际每日同步，建议更正以免使用部门误判数据时效",
                ),
            ),
        )
    return True
