"""What the pages show whatever the profile: stale data (数据已过期) against the declared update
frequency, and the operator's warning when the active profile's regulation has expired."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.identity.models import User
from govshare.sharing.schemas import DataUpdateIn
from govshare.sharing.service import freshness
from govshare.web.app import create_app
from tests.catalog.builders import published
from tests.http import sign_in
from tests.sharing.builders import sharing_world

PUBLISHED = "2026-09-01T10:00:00+08:00"  # a daily resource published now is due by 09-03


def app_for(db: Session, tmp_path: Path, profile: str) -> FastAPI:
    environ = {"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_POLICY_PROFILE": profile}
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(runtime)


def as_user(client: TestClient, db: Session, actor: Actor) -> None:
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200


@pytest.mark.parametrize("profile", ["shangrao", "xiangtan", "binzhou"])
def test_stale_data_is_marked_on_its_page_and_in_its_providers_list_under_every_profile(
    db: Session, tmp_path: Path, profile: str
) -> None:
    app = app_for(db, tmp_path, profile)
    with clock.frozen(PUBLISHED):
        w = sharing_world(db)
        daily = published(db, w.consumer_officer, w.op, name="最低生活保障对象信息")
        db.commit()
    page, mine = f"/catalog/resources/{daily.id}", "/catalog/mine"
    with TestClient(app) as client:
        as_user(client, db, w.consumer_officer)
        with clock.frozen("2026-09-03T23:00:00+08:00"):  # the last day it is due
            shown = client.get(page).text
            assert "数据已过期" not in shown and "下次应于 2026-09-03 前更新" in shown
            assert "数据已过期" not in client.get(mine).text
        with clock.frozen("2026-09-04T08:00:00+08:00"):
            shown = client.get(page).text
            assert 'id="stale-tag"' in shown
            assert "最近数据更新 2026-09-01，应于 2026-09-03 前更新，已逾期 1 天" in shown
            assert 'class="tag red stale"' in client.get(mine).text
            # Anyone looking at the resource sees it, not only its provider.
            as_user(client, db, w.provider_officer)
            assert 'id="stale-tag"' in client.get(page).text
            # Binzhou also bars the stale provider from new grants; the others do not.
            as_user(client, db, w.consumer_officer)
            restricted = client.get("/api/v1/sharing/restriction").json()["restricted"]
            assert restricted is (profile == "binzhou")
            # A refresh (as a successful sync records one) clears the mark.
            freshness.record_data_update(
                db, actor=w.consumer_officer, resource_id=daily.id, data=DataUpdateIn()
            )
            db.commit()
            assert 'id="stale-tag"' not in client.get(page).text
            assert "数据已过期" not in client.get(mine).text


@pytest.mark.parametrize(
    ("profile", "today", "warned"),
    [
        ("binzhou", "2022-11-05T20:00:00+08:00", False),
        ("binzhou", "2022-11-06T09:00:00+08:00", True),
        ("shangrao", "2026-12-01T09:00:00+08:00", False),
    ],
)
def test_the_operator_is_warned_on_every_page_when_the_regulation_has_expired(
    db: Session, tmp_path: Path, profile: str, today: str, warned: bool
) -> None:
    app = app_for(db, tmp_path, profile)
    with clock.frozen(today):
        w = sharing_world(db)
        db.commit()
        with TestClient(app) as client:
            as_user(client, db, w.op)
            for path in ("/", "/sharing", "/catalog"):
                shown = client.get(path).text
                assert ('id="policy-expired"' in shown) is warned, path
            if warned:
                assert "有效期至 2022-11-05（第三十三條），已经失效" in shown
            as_user(client, db, w.provider_officer)  # departments are not the ones to act
            assert 'id="policy-expired"' not in client.get("/").text
