"""The keyed lookup's per-process caches (core.stamp): two engines on one committed database
stand for two app processes. Each lookup warms both caches; a change committed in one —
a grant suspended, its masking changed, a token revoked, the resource retired, the binding
re-pointed to another center table — is what the next lookup in the other one answers by."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from govshare.catalog.models import ResourceStatus
from govshare.core import clock, migrate, stamp
from govshare.core.audit.service import record
from govshare.core.db import make_engine, make_sessionmaker, unit_of_work
from govshare.core.errors import Unauthenticated
from govshare.core.settings import Settings
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.service import delivery
from govshare.identity import service as identity_service
from govshare.identity.models import ApiToken
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import Grant
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.conftest import POSTGRES_URL
from tests.exchange.builders import (
    BUILT_AT,
    MASK_KEY,
    USED_AT,
    Delivery,
    delivery_world,
    load_center,
    population,
    settings_of,
)


@dataclass
class Processes:
    """Two engines on one committed platform database: process A (where changes are made)
    and process B (which only answers lookups)."""

    a: sessionmaker[Session]
    b: sessionmaker[Session]
    admin: Session  # a session of A kept open for the changes
    d: Delivery
    settings: Settings

    def lookup(self, where: sessionmaker[Session], key: str) -> Any:
        with unit_of_work(where) as db_session:
            return delivery.lookup(
                db_session,
                actor=self.d.w.consumer_officer,
                settings=self.settings,
                center=self.d.center,
                resource_code=self.d.code,
                key=key,
            )

    def both(self, key: str) -> tuple[Any, Any]:
        return self.lookup(self.a, key), self.lookup(self.b, key)


def _database(engine: Engine, tmp_path: Path) -> Iterator[str]:
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
        return
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_lookup_cache")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def p(engine: Engine, center: Center, tmp_path: Path) -> Iterator[Processes]:
    for url in _database(engine, tmp_path):
        first, second = make_engine(url), make_engine(url)
        migrate.upgrade(first)
        a, b = make_sessionmaker(first), make_sessionmaker(second)
        admin = a()
        try:
            d = delivery_world(admin, center)
            admin.commit()
            with clock.frozen(USED_AT):
                yield Processes(a, b, admin, d, settings_of(tmp_path))
        finally:
            admin.close()
            first.dispose()
            second.dispose()


def inside(d: Delivery) -> dict[str, Any]:
    return next(r for r in d.rows if r["region_code"] == "361102")


def test_a_suspended_grant_is_refused_at_once_by_the_other_process(p: Processes) -> None:
    key = inside(p.d)["id_number"]
    assert all(len(found.rows) == 1 for found in p.both(key))  # both caches warm
    grants.suspend_grant(
        p.admin,
        actor=p.d.w.provider_officer,
        grant_id=p.d.grant.id,
        data=GrantActionIn(reason="超范围使用个人信息"),
    )
    p.admin.commit()
    for refused in p.both(key):
        assert isinstance(refused, delivery.Rejected)
        assert "已被暂停使用：超范围使用个人信息" in refused.error.message
    grants.resume_grant(
        p.admin,
        actor=p.d.w.provider_officer,
        grant_id=p.d.grant.id,
        data=GrantActionIn(reason="已整改"),
    )
    p.admin.commit()
    assert all(len(found.rows) == 1 for found in p.both(key))


def test_changed_masking_shows_on_the_next_lookup(p: Processes) -> None:
    row = inside(p.d)
    before = p.lookup(p.b, row["id_number"])
    assert before.rows[0]["name"] == mask_value(row["name"], Mask("name"), key=MASK_KEY)
    grant = p.admin.get(Grant, p.d.grant.id)
    assert grant is not None
    grant.masking = [m for m in grant.masking if m["field"] != "姓名"]  # the name in clear
    record(
        p.admin,
        actor=p.d.w.provider_officer,
        action="sharing.grant.amend",
        object_type="grant",
        object_id=grant.id,
        details={"masking": grant.masking},
    )
    p.admin.commit()
    after = p.lookup(p.b, row["id_number"])
    assert after.rows[0]["name"] == row["name"] != before.rows[0]["name"]


def test_a_revoked_token_is_refused_by_the_other_process(p: Processes) -> None:
    with clock.frozen(BUILT_AT):
        token, secret = identity_service.issue_api_token(
            p.admin,
            actor=p.d.w.consumer_officer,
            data=ApiTokenIn(name="社会救助信息系统", system_id=p.d.w.consumer_system),
        )
    p.admin.commit()
    for where in (p.a, p.b):
        with unit_of_work(where) as db_session:
            actor = identity_service.resolve_api_token(db_session, token=secret)
            assert actor.organization_id == p.d.w.consumer.id
    identity_service.revoke_api_token(p.admin, actor=p.d.w.consumer_officer, token_id=token.id)
    p.admin.commit()
    for where in (p.a, p.b):
        with unit_of_work(where) as db_session, pytest.raises(Unauthenticated, match="已吊销"):
            identity_service.resolve_api_token(db_session, token=secret)


def test_a_retired_resource_is_refused_by_the_other_process(p: Processes) -> None:
    key = inside(p.d)["id_number"]
    assert len(p.lookup(p.b, key).rows) == 1
    resource = p.d.resource
    resource.status = ResourceStatus.RETIRED
    resource.retirement_reason = "职能调整，数据不再维护"
    record(
        p.admin,
        actor=p.d.w.op,
        action="catalog.resource.retire",
        object_type="resource",
        object_id=resource.id,
    )
    p.admin.commit()
    refused = p.lookup(p.b, key)
    assert isinstance(refused, delivery.Rejected)
    assert refused.error.message == "资源已下架：职能调整，数据不再维护"


def test_a_re_pointed_binding_is_read_from_its_new_table(p: Processes) -> None:
    key = inside(p.d)["id_number"]
    assert p.lookup(p.b, key).rows[0]["name"] != "改表后的姓名"
    moved = [dict(r) for r in population(len(p.d.rows))]
    for r in moved:
        r["name"] = "改表后的姓名"
    binding = p.d.binding
    binding.center_table = f"{binding.center_table}_v2"
    load_center(p.d.center, binding, moved)
    record(
        p.admin,
        actor=p.d.w.provider_officer,
        action="exchange.binding.save",
        object_type="binding",
        object_id=binding.id,
        details={"center_table": binding.center_table},
    )
    p.admin.commit()
    found = p.lookup(p.b, key)
    assert found.rows[0]["name"] == mask_value("改表后的姓名", Mask("name"), key=MASK_KEY)


def test_bookkeeping_leaves_the_stamp_and_a_bulk_change_replaces_it(p: Processes) -> None:
    with unit_of_work(p.a) as db_session:
        before = stamp.read(db_session)
        db_session.execute(update(ApiToken).values(last_used_at=clock.now()))
    with unit_of_work(p.a) as db_session:
        assert stamp.read(db_session) == before  # a token's last use is not a change
        db_session.execute(update(Grant).values(rate_limit=100))
        record(db_session, actor=p.d.w.op, action="sharing.grant.amend", object_type="grant")
    with unit_of_work(p.b) as db_session:
        assert stamp.read(db_session) not in (before, None)
