"""Audit scenarios for the open-data services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from typing import Any

from govshare.opendata import service
from govshare.opendata.models import OpenRelease
from govshare.opendata.schemas import ReleaseDecisionIn, WithdrawalIn
from tests.catalog.builders import published
from tests.opendata.builders import REVIEW, view
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import Sharing, sharing_world

SERVICE = "govshare.opendata.service."
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


SCENARIOS: dict[str, Writes | Reads] = {
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
