"""The home page's overview (全市概览): the city's figures for overseers, a department's own
for its people, each chart's numbers counted from the facts the other domains keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session

from govshare.catalog.models import Domain
from govshare.core import clock
from govshare.core.errors import NotFound
from govshare.exchange.models import UseKind
from govshare.exchange.service import usage
from govshare.sharing.models import Grant
from govshare.sharing.schemas import DecisionIn, DirectAccessIn
from govshare.sharing.service import decisions, grants
from govshare.supervision.models import ProbeTarget
from govshare.supervision.service import dashboard, ledgers, probes
from govshare.supervision.service.dashboard import Chart, Overview
from tests.builders import system_of
from tests.sharing.builders import SHANGRAO
from tests.supervision.builders import BUILT_AT, JOB, PAST_NOTICE, Overdue, overdue


@dataclass
class City:
    o: Overdue
    grant: Grant


def _use(city: City, at: str, *kinds: UseKind) -> None:
    with clock.frozen(at):
        for kind in kinds:
            usage.record_use(
                city.o.s.db, actor=city.o.s.consumer_officer, grant=city.grant, kind=kind, rows=3
            )


def _probe(db: Session, at: str, target: probes.Target, ok: bool) -> None:
    with clock.frozen(at):
        outcome = probes.Outcome(target, clock.now(), ok, 20 if ok else None, "" if ok else "拒绝")
        probes.record_probes(db, actor=JOB, outcomes=[outcome])


def known_city(db: Session) -> City:
    """市公安局 provides three entries (one of each share type) and sat on an application past
    its deadline, which became a notice due 2026-12-04, then decided it late; 市民政局 holds a grant and used it
    three times in November and once in October; in December 市公安局's interface answered one
    probe of two, 市民政局's database every one."""
    o = overdue(db)
    with clock.frozen(BUILT_AT):
        grant = grants.request_direct_access(
            db,
            actor=o.s.consumer_officer,
            rules=SHANGRAO.rules,
            data=DirectAccessIn(
                resource_id=o.s.unconditional.id,
                purpose="核对办事群众户籍",
                system_id=system_of(db, o.s.consumer.id),
                accept_restrictions=True,
            ),
        )
    with clock.frozen("2026-11-25T10:00:00+08:00"):  # eight days late
        decisions.decide(
            db,
            actor=o.s.provider_officer,
            profile=SHANGRAO,
            application_id=o.application.id,
            data=DecisionIn(approve=True),
        )
    city = City(o, grant)
    _use(city, "2026-11-10T10:00:00+08:00", UseKind.QUERY, UseKind.QUERY, UseKind.DOWNLOAD_XLSX)
    _use(city, "2026-11-03T11:00:00+08:00", UseKind.LOOKUP)
    interface = probes.Target(
        ProbeTarget.INTERFACE, 1, o.s.provider.id, "市公安局：人口核验接口", url=""
    )
    database = probes.Target(
        ProbeTarget.CONNECTION, 2, o.s.consumer.id, "市民政局：救助业务库", url=""
    )
    _probe(db, "2026-12-07T09:00:00+08:00", interface, ok=True)
    _probe(db, "2026-12-07T10:00:00+08:00", interface, ok=False)
    _probe(db, "2026-12-07T10:00:00+08:00", database, ok=True)
    db.flush()
    return city


def seen_by(city: City, who: str) -> Overview:
    with clock.frozen(PAST_NOTICE):  # 2026-12-08: the notice is four days overdue
        return dashboard.overview(city.o.s.db, actor=getattr(city.o.s, who))


def chart(overview: Overview, key: str) -> Chart:
    return next(c for c in overview.charts if c.key == key)


def rows(overview: Overview, key: str) -> dict[str, list[float]]:
    return dict(chart(overview, key).rows())


def test_the_city_overview_counts_every_departments_facts(db: Session) -> None:
    city = known_city(db)
    seen = seen_by(city, "op")
    assert seen.city and seen.scope == "全市" and seen.first == date(2026, 1, 1)
    assert rows(seen, "resources-by-department") == {"市公安局": [1, 1, 1]}  # by share type
    assert rows(seen, "resources-by-domain") == {Domain.PUBLIC_ADMINISTRATION.label: [3]}
    # The direct grant on 3 November, the approval on the 25th.
    assert rows(seen, "grants-by-month")["2026-11"] == [2]
    uses = chart(seen, "uses-by-month")
    assert uses.categories[0] == "2026-01" and uses.categories[-1] == "2026-12"
    # Served, by kind: 在线查询, 主键查询, 下载, 推送, 接口调用.
    assert rows(seen, "uses-by-month")["2026-11"] == [2, 1, 1, 0, 0]
    assert sum(sum(v) for v in rows(seen, "uses-by-month").values()) == 4
    assert rows(seen, "deadlines")["共享申请答复"] == [0, 1]  # in time, late
    assert rows(seen, "notices") == {"市公安局": [1, 0, 0]}  # overdue, waiting, in review
    assert rows(seen, "availability") == {"市公安局": [50.0], "市民政局": [100.0]}
    figures = {f.label: f for f in seen.figures}
    assert figures["已发布资源"].value == "3"
    assert figures["近12个月数据使用"].value == "4 次"
    assert figures["按期办理率"].value == "0.0%"
    assert figures["本月可用率"].value == "75.0%"
    assert figures["本月可用率"].note.endswith("最近一次探测失败 1 个")
    assert figures["未办结整改通知"].value == "1"
    assert figures["未办结整改通知"].note == "其中逾期 1 件" and figures["未办结整改通知"].tone


def test_a_department_sees_only_its_own_figures(db: Session) -> None:
    city = known_city(db)
    consumer = seen_by(city, "consumer_officer")
    assert not consumer.city and consumer.scope == "市民政局"
    assert "resources-by-department" not in {c.key for c in consumer.charts}
    assert chart(consumer, "resources-by-domain").empty  # it provides nothing
    assert rows(consumer, "grants-by-month")["2026-11"] == [0, 2]  # given, held
    assert rows(consumer, "uses-by-month")["2026-11"] == [0, 4]  # provided, used
    assert rows(consumer, "availability") == {"救助业务库": [100.0]}  # its own target only
    assert chart(consumer, "notices").empty
    figures = {f.label: f for f in consumer.figures}
    assert figures["近12个月数据使用"].value == "4 次"  # used, none provided
    assert figures["近12个月数据使用"].note == "本单位提供 0 次，使用 4 次"

    provider = seen_by(city, "provider_officer")
    assert provider.scope == "市公安局"
    # By share type: unconditional, conditional, not shared.
    assert rows(provider, "resources-by-domain") == {Domain.PUBLIC_ADMINISTRATION.label: [1, 1, 1]}
    assert rows(provider, "grants-by-month")["2026-11"] == [2, 0]
    assert rows(provider, "uses-by-month")["2026-11"] == [4, 0]
    assert rows(provider, "availability") == {"人口核验接口": [50.0]}
    assert rows(provider, "notices") == {"待整改": [1, 0, 0]}


def test_a_department_cannot_read_another_departments_months(db: Session) -> None:
    city = known_city(db)
    s = city.o.s
    with clock.frozen(PAST_NOTICE), pytest.raises(NotFound):
        ledgers.monthly(
            db,
            actor=s.consumer_officer,
            first=date(2026, 1, 1),
            after=date(2027, 1, 1),
            department_id=s.provider.id,
        )
    with clock.frozen(PAST_NOTICE):
        months = ledgers.monthly(
            db, actor=s.consumer_officer, first=date(2026, 11, 1), after=date(2026, 12, 1)
        )
    assert [m for m, _ in months] == [date(2026, 11, 1)]
    assert months[0][1]["made_query"] == 2 and months[0][1]["served_query"] == 0
