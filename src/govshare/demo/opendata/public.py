"""The public on the demo portal: two registered accounts, an application for conditional
open data awaiting its answer (its deadline set by the platform), a data request assigned to a
department, and each day's usage since the datasets were opened.

Everything goes through the services the portal and the platform use (registration and
applying on the portal; receiving, assigning on the platform), at moments counted back from
the build day. Skipped when the portal already has accounts.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.identity.models import Organization
from govshare.opendata.service import public, requests
from govshare.portal import accounts, usage
from govshare.portal.models import PortalAccount, PortalDataRequest, PortalDataset

PASSWORD = "demo2026pw"  # the demo accounts' password (the portal asks for letters and digits)
CITIZEN = accounts.Registration(
    kind="person",
    name="陈静",
    id_number="360102199003071228",
    mobile="13807910001",
    password=PASSWORD,
    confirm=PASSWORD,
)
COMPANY = accounts.Registration(
    kind="organization",
    name="江州数联信息技术有限公司",
    credit_code="91360100MA38H2J270",
    contact_name="刘洋",
    mobile="13807910002",
    password=PASSWORD,
    confirm=PASSWORD,
)
APPLIED, REQUESTED = -3, -5  # days before the build day
REQUEST_TITLE = "公共自行车站点及实时可借车辆数"
REQUEST_DEPARTMENT = "交通运输局"


def _at(today: date, days: int, hour: int) -> datetime:
    """A city time `days` from the build day (naive: the clock reads it as city time)."""
    return datetime.combine(today + timedelta(days=days), time(hour))


def build(runtime: Runtime, operator: Actor, today: date) -> bool:
    """The public's part of the demo portal; whether anything was added."""
    portal = runtime.portal
    with portal.session() as ps:
        if ps.scalar(sa.select(sa.func.count()).select_from(PortalAccount)):
            return False
        conditional = ps.scalars(
            sa.select(PortalDataset).where(PortalDataset.open_type == "conditional").limit(1)
        ).first()
        with clock.frozen(_at(today, APPLIED - 1, 20)):
            citizen = accounts.register(ps, form=CITIZEN)
            company = accounts.register(ps, form=COMPANY)
        if conditional is not None:
            with clock.frozen(_at(today, APPLIED, 10)):
                accounts.apply(
                    ps,
                    account_id=company.id,
                    data=conditional,
                    form=accounts.ApplicationForm(
                        purpose="测算本市工业园区用电负荷，为园区分布式光伏和储能项目做可行性研究",
                        usage="仅在本公司研究团队内部分析使用，成果以汇总统计形式提交园区管委会",
                        fields=tuple(f.name for f in conditional.fields[:4]),
                        agreed=True,
                    ),
                )
        with clock.frozen(_at(today, REQUESTED, 9)):
            ps.add(
                PortalDataRequest(
                    account_id=citizen.id,
                    title=REQUEST_TITLE,
                    description="希望开放全市公共自行车站点位置、桩位数和实时可借车辆数，"
                    "方便开发出行小程序，规划骑行换乘。",
                    domain="transport",
                    department="市交通运输局",
                    submitted_at=clock.now(),
                    state="submitted",
                )
            )
        _usage(ps, today)
    with clock.frozen(_at(today, APPLIED, 11)), runtime.transaction() as db_session:
        public.receive(db_session, actor=operator, portal=portal, rules=runtime.profile.rules)
    with clock.frozen(_at(today, REQUESTED, 10)), runtime.transaction() as db_session:
        received = requests.receive_requests(db_session, actor=operator, portal=portal)
        department = db_session.scalar(
            sa.select(Organization.id).where(Organization.name.like(f"%{REQUEST_DEPARTMENT}"))
        )
        if received and department is not None:
            requests.assign_request(
                db_session,
                actor=operator,
                request_id=received[0].id,
                data=requests.RequestAssignmentIn(
                    organization_id=department, note="请评估开放可行性并答复申请人"
                ),
                rules=runtime.profile.rules,
            )
            requests.deliver_requests(db_session, actor=operator, portal=portal)
    return True


def _usage(ps: Session, today: date) -> None:
    """Each day's views, downloads and API calls since each dataset was opened, more for the
    popular datasets."""
    rng = random.Random(2026)
    datasets = ps.execute(sa.select(PortalDataset.id, PortalDataset.issued)).all()
    for dataset_id, issued in datasets:
        popularity = rng.choice([1, 1, 2, 3, 5])
        day = issued
        while day < today:
            with clock.frozen(datetime.combine(day, time(12))):
                usage.count(ps, dataset_id, "views", rng.randint(5, 40) * popularity)
                usage.count(ps, dataset_id, "downloads", rng.randint(0, 8) * popularity)
                usage.count(ps, dataset_id, "api_calls", rng.randint(0, 60) * popularity)
            day += timedelta(days=1)
