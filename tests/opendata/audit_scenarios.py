"""Audit scenarios for the open-data services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from govshare.core import clock
from govshare.core.db import make_engine
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.opendata import publishing, service
from govshare.opendata.models import OpenRelease
from govshare.opendata.schemas import ReleaseDecisionIn, WithdrawalIn
from govshare.opendata.service import public, requests
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalAccount, PortalApplication, PortalDataRequest
from tests.catalog.builders import published
from tests.exchange.builders import settings_of
from tests.opendata.builders import REVIEW, conditional_world, view
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import Sharing, sharing_world

SERVICE = "govshare.opendata.service.releases."
PUBLIC = "govshare.opendata.service.public."
INBOUND = "govshare.opendata.service.inbound."
REQUESTS = "govshare.opendata.service.requests."
SHANGRAO = load_profile("shangrao").rules
ITEMS = [
    {"name": n, "data_type": "C", "length": 60, "personal": n in ("公民身份号码", "户籍地址")}
    for n in ("公民身份号码", "性别", "出生日期", "行政区划代码", "户籍地址")
]


def _open(w: World) -> tuple[Sharing, Any]:
    s = sharing_world(w.db, w.op)
    resource = published(
        w.db,
        s.provider_officer,
        w.op,
        name="户籍人口统计样本",
        share_type="unconditional",
        open_type="unconditional",
        items=ITEMS,
    )
    return s, resource


def _defined(w: World) -> tuple[Sharing, OpenRelease]:
    s, resource = _open(w)
    release = service.define_view(
        w.db, actor=s.provider_officer, resource_code=resource.code, data=view()
    )
    return s, release


def _reviewed(w: World) -> tuple[Sharing, OpenRelease]:
    s, release = _defined(w)
    service.record_secrecy_review(
        w.db, actor=s.provider_officer, release_id=release.id, data=REVIEW
    )
    return s, release


def _submitted(w: World) -> tuple[Sharing, OpenRelease]:
    s, release = _reviewed(w)
    service.submit(w.db, actor=s.provider_officer, release_id=release.id)
    return s, release


def _define(w: World) -> Any:
    return _defined(w)


def _review(w: World) -> Any:
    return _reviewed(w)


def _submit(w: World) -> Any:
    return _submitted(w)


def _decide(w: World) -> Any:
    _, release = _submitted(w)
    return service.decide(
        w.db, actor=w.op, release_id=release.id, data=ReleaseDecisionIn(approve=True)
    )


def _withdraw(w: World) -> Any:
    s, release = _defined(w)
    return service.withdraw(
        w.db, actor=s.provider_officer, release_id=release.id, data=WithdrawalIn(reason="口径调整")
    )


def _portal_world(w: World) -> tuple[Any, PortalDatabase, int]:
    """A conditional open resource published to a throwaway portal, and a citizen's
    application on it, as the portal would have stored it."""
    folder = Path(tempfile.mkdtemp(prefix="govshare-opendata-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    center = Center(make_engine(f"sqlite:///{folder / 'center.db'}"), None)
    portal = PortalDatabase(f"sqlite:///{folder / 'portal.db'}")
    o = conditional_world(w.db, center, w.op)
    publishing.publish(
        w.db,
        actor=w.op,
        settings=settings_of(folder),
        center=center,
        portal=portal,
        city_name="江州市",
    )
    with portal.session() as ps:
        account = PortalAccount(
            kind="person",
            name="李明",
            id_number="11010519491231002X",
            mobile="13800138000",
            login="13800138000",
            password_hash="x",
            created_at=clock.now(),
        )
        ps.add(account)
        ps.flush()
        ps.add(
            PortalApplication(
                account_id=account.id,
                dataset_id=o.resource.id,
                purpose="学术研究",
                usage="校内研究",
                fields=["性别"],
                submitted_at=clock.now(),
                state="submitted",
            )
        )
    return o, portal, 0


def _receive(w: World) -> Any:
    _, portal, _ = _portal_world(w)
    return public.receive(w.db, actor=w.op, portal=portal, rules=SHANGRAO)


def _received(w: World) -> tuple[Any, PortalDatabase, Any]:
    o, portal, _ = _portal_world(w)
    return o, portal, public.receive(w.db, actor=w.op, portal=portal, rules=SHANGRAO)[0]


def _answered(w: World) -> tuple[Any, PortalDatabase, Any]:
    o, portal, application = _received(w)
    public.answer(
        w.db,
        actor=o.w.provider_officer,
        application_id=application.id,
        data=public.PublicAnswerIn(approve=True, valid_until=date(2027, 6, 30)),
    )
    return o, portal, application


def _deliver(w: World) -> Any:
    _, portal, _ = _answered(w)
    return public.deliver(w.db, actor=w.op, portal=portal)


def _asking_world(w: World) -> tuple[Sharing, PortalDatabase]:
    """The sharing cast and a throwaway portal holding one citizen's data request."""
    folder = Path(tempfile.mkdtemp(prefix="govshare-requests-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    portal = PortalDatabase(f"sqlite:///{folder / 'portal.db'}")
    portal.ensure_schema()
    with portal.session() as ps:
        account = PortalAccount(
            kind="person",
            name="李明",
            id_number="11010519491231002X",
            mobile="13800138000",
            login="13800138000",
            password_hash="x",
            created_at=clock.now(),
        )
        ps.add(account)
        ps.flush()
        ps.add(
            PortalDataRequest(
                account_id=account.id,
                title="公交车辆实时位置",
                description="用于开发公交到站提醒应用",
                domain="transport",
                department="市交通运输局",
                submitted_at=clock.now(),
                state="submitted",
            )
        )
    return sharing_world(w.db, w.op), portal


def _requested(w: World) -> tuple[Sharing, PortalDatabase, Any]:
    s, portal = _asking_world(w)
    return s, portal, requests.receive_requests(w.db, actor=w.op, portal=portal)[0]


def _assigned(w: World) -> tuple[Sharing, PortalDatabase, Any]:
    s, portal, found = _requested(w)
    requests.assign_request(
        w.db,
        actor=w.op,
        request_id=found.id,
        data=requests.RequestAssignmentIn(organization_id=s.provider.id),
        rules=SHANGRAO,
    )
    return s, portal, found


def _answered_request(w: World) -> tuple[Sharing, PortalDatabase, Any]:
    s, portal, found = _assigned(w)
    requests.answer_request(
        w.db,
        actor=s.provider_officer,
        request_id=found.id,
        data=requests.RequestAnswerIn(will_open=True, planned_on=date(2027, 12, 31)),
    )
    return s, portal, found


def _deliver_requests(w: World) -> Any:
    _, portal, _ = _answered_request(w)
    return requests.deliver_requests(w.db, actor=w.op, portal=portal)


SCENARIOS: dict[str, Writes | Reads] = {
    # helpers of `public.receive` and `requests.receive_requests`, audited by them
    INBOUND + "waiting": READ_ONLY,  # reads the portal's database only
    INBOUND + "already_read": READ_ONLY,
    INBOUND + "number": READ_ONLY,  # its counter row is part of the caller's change
    REQUESTS + "receive_requests": Writes("opendata.request.receive", _requested),
    REQUESTS + "assign_request": Writes("opendata.request.assign", _assigned),
    REQUESTS + "answer_request": Writes("opendata.request.answer", _answered_request),
    REQUESTS + "deliver_requests": Writes("opendata.request.deliver", _deliver_requests),
    REQUESTS + "get_request": Reads(
        lambda w: requests.get_request(w.db, actor=w.op, request_id=w.prepared.id),
        prepare=lambda w: _assigned(w)[2],
    ),
    REQUESTS + "list_requests": Reads(
        lambda w: requests.list_requests(w.db, actor=w.op), prepare=lambda w: _assigned(w)[2]
    ),
    REQUESTS + "link": READ_ONLY,
    REQUESTS + "permitted": READ_ONLY,
    REQUESTS + "is_overdue": READ_ONLY,
    PUBLIC + "may_answer": READ_ONLY,
    PUBLIC + "is_overdue": READ_ONLY,
    PUBLIC + "receive": Writes("opendata.application.receive", _receive),
    PUBLIC + "answer": Writes("opendata.application.answer", lambda w: _answered(w)),
    PUBLIC + "deliver": Writes("opendata.application.deliver", _deliver),
    PUBLIC + "get_application": Reads(
        lambda w: public.get_application(w.db, actor=w.op, application_id=w.prepared.id),
        prepare=lambda w: _received(w)[2],
    ),
    PUBLIC + "list_applications": Reads(
        lambda w: public.list_applications(w.db, actor=w.op), prepare=lambda w: _received(w)[2]
    ),
    SERVICE + "define_view": Writes("opendata.release.define", _define),
    SERVICE + "record_secrecy_review": Writes("opendata.release.secrecy_review", _review),
    SERVICE + "submit": Writes("opendata.release.submit", _submit),
    SERVICE + "decide": Writes("opendata.release.confirm", _decide),
    SERVICE + "withdraw": Writes("opendata.release.withdraw", _withdraw),
    SERVICE + "get_release": Reads(
        lambda w: service.get_release(w.db, actor=w.op, release_id=w.prepared.id),
        prepare=lambda w: _defined(w)[1],
    ),
    SERVICE + "list_releases": Reads(
        lambda w: service.list_releases(w.db, actor=w.op), prepare=lambda w: _defined(w)[1]
    ),
    SERVICE + "describe": READ_ONLY,
    SERVICE + "permitted": READ_ONLY,
    SERVICE + "get_openable": Reads(
        lambda w: service.get_openable(
            w.db, actor=w.prepared[0].provider_officer, resource_code=w.prepared[1].code
        ),
        prepare=_open,
    ),
    SERVICE + "openable_resources": Reads(
        lambda w: service.openable_resources(w.db, actor=w.prepared.provider_officer),
        prepare=lambda w: _open(w)[0],
    ),
}
