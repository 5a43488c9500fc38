"""The demo city's open-data portal: 25+ datasets across the SR§21 domains, each opened the
way the platform opens any resource (open view, secrecy review, confirmation), published one
way into the portal database with exactly the center's rows of its open view, no personal
item unmasked; building again adds nothing; the demo app serves the portal under /open.

The city is the package's (`tests/demo/conftest.py`): built once per backend."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare import demo
from govshare.catalog.models import OpenType, ShareType
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.demo import opendata as opendata_demo
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.models import SyncRun, TableBinding
from govshare.exchange.scope import Condition, row_matches
from govshare.exchange.service.delivery import masking_key
from govshare.opendata.models import OpenRelease, ReleaseState, SecrecyOutcome
from govshare.portal import catalog
from govshare.portal.models import PortalDataset, PortalField, PortalRelease
from govshare.portal.templating import plain
from govshare.sharing.models import MaskRule
from govshare.web.app import create_app
from govshare.web.cli import PORTAL_PATH, demo_app
from tests.demo.conftest import City


def _releases(db: Session) -> list[OpenRelease]:
    return list(db.execute(select(OpenRelease).order_by(OpenRelease.id)).scalars())


def _binding(db: Session, release: OpenRelease) -> TableBinding:
    return db.execute(
        select(TableBinding).where(TableBinding.resource_id == release.resource_id)
    ).scalar_one()


def _text(value: object) -> str:
    """A cell as the portal shows it; numbers as the doubles SQLite keeps them as (SQLAlchemy
    reads a SQLite center's numerics with ten places: 1270322.0700000001)."""
    if isinstance(value, Decimal | float):
        value = Decimal(repr(float(value)))
    return plain(value)


def _portal_rows(city: City, dataset: PortalDataset) -> list[tuple[str, ...]]:
    with city.runtime.portal.session() as ps:
        _, stmt = catalog.rows(ps, dataset, limit=None)
        return [tuple(_text(v) for v in row[1:]) for row in ps.execute(stmt)]


def _center_rows(city: City, binding: TableBinding) -> list[dict[str, Any]]:
    center = city.runtime.center
    table = center.table(binding.center_table, binding.columns, binding.key_columns)
    with center.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(table))]


def test_the_portal_has_25_datasets_across_12_domains(city: City) -> None:
    with city.runtime.portal.session() as ps:
        datasets = list(ps.scalars(select(PortalDataset)))
        assert len(datasets) == len(opendata_demo.DATASETS) >= 25
        assert len({d.domain for d in datasets}) >= 12
        assert all(d.kind == "table" and d.row_count and d.row_count >= 9 for d in datasets)
        assert all(
            d.organization.title.startswith(("江州市", "国家税务总局江州市")) for d in datasets
        )
        conditional = [d for d in datasets if d.open_type == "conditional"]
        assert 1 <= len(conditional) <= 2 and all(d.open_conditions for d in conditional)
        # every data item is described for the public
        assert not ps.scalars(select(PortalField.name).where(PortalField.description == "")).all()
    with city.session() as db:
        for release in _releases(db):
            version = release.resource.current_version
            assert version.share_type is ShareType.UNCONDITIONAL
            assert version.open_type in (OpenType.UNCONDITIONAL, OpenType.CONDITIONAL)


def test_each_dataset_holds_the_centers_rows_of_its_open_view(city: City) -> None:
    """The portal's rows are the center's, filtered and masked as the release says, computed
    here with the reference functions."""
    key = masking_key(city.runtime.settings)
    with city.session() as db, city.runtime.portal.session() as ps:
        releases = _releases(db)
        assert len(releases) == len(opendata_demo.DATASETS)
        for release in releases:
            binding = _binding(db, release)
            columns = {c["item"]: c["column"] for c in binding.columns if c["item"]}
            conditions = [
                Condition(columns[c["field"]], c["op"], tuple(c["values"]))
                for c in release.row_filter
            ]
            masks = {m["field"]: Mask(MaskRule(m["rule"]), m.get("n")) for m in release.masking}
            expected = [
                tuple(
                    _text(
                        mask_value(row[columns[f]], masks[f], key=key)
                        if f in masks and row[columns[f]] is not None
                        else row[columns[f]]
                    )
                    for f in release.fields
                )
                for row in _center_rows(city, binding)
                if row_matches(row, conditions)
            ]
            dataset = ps.get(PortalDataset, release.resource_id)
            assert dataset is not None, release.resource.code
            assert [f.name for f in dataset.fields] == release.fields
            got = _portal_rows(city, dataset)
            assert Counter(got) == Counter(expected) and len(got) == dataset.row_count > 0
            if conditions:  # the filter leaves some rows out
                assert len(expected) < len(_center_rows(city, binding))


def test_no_personal_item_is_opened_unmasked(city: City) -> None:
    with city.session() as db, city.runtime.portal.session() as ps:
        personal_seen = 0
        for release in _releases(db):
            items = {i.name: i for i in release.resource.current_version.items}
            personal = {name for name, item in items.items() if item.personal}
            fields = {f.name: f for f in ps.get(PortalDataset, release.resource_id).fields}
            for name in personal & set(fields):
                assert fields[name].masking, (release.resource.code, name)
                personal_seen += 1
            # no raw personal value of the center is anywhere in the portal's rows
            binding = _binding(db, release)
            columns = {c["item"]: c["column"] for c in binding.columns}
            raw = {
                str(row[columns[name]]) for row in _center_rows(city, binding) for name in personal
            }
            for row in _portal_rows(city, ps.get(PortalDataset, release.resource_id)):
                assert not raw & set(row), release.resource.code
        assert personal_seen >= 4  # names and a phone number are opened masked


def test_each_release_was_reviewed_for_secrets_and_confirmed(city: City) -> None:
    today = clock.today()
    with city.session() as db:
        releases = _releases(db)
        for release in releases:
            assert release.state is ReleaseState.OPEN
            assert release.secrecy_outcome is SecrecyOutcome.PASSED
            assert "（" in release.secrecy_reviewer and "保密" in release.secrecy_basis
            assert today - timedelta(days=14) <= release.secrecy_reviewed_on < today
            assert release.submitted_by.endswith("_officer") and release.decided_by == "operator"
            assert release.published_at is not None and release.publications >= 1
        actions = Counter(
            db.execute(
                select(AuditEntry.action).where(AuditEntry.action.like("opendata.%"))
            ).scalars()
        )
    n = len(releases)
    assert actions["opendata.release.define"] == actions["opendata.release.submit"] == n
    assert actions["opendata.release.secrecy_review"] == actions["opendata.release.confirm"] == n
    assert actions["opendata.publish"] == n + sum(d.updates for d in opendata_demo.DATASETS)


def test_the_growing_series_show_their_update_in_the_history(city: City) -> None:
    with city.session() as db:
        growing = {
            opendata_demo.resources(db)[d.key].id for d in opendata_demo.DATASETS if d.updates
        }
    with city.runtime.portal.session() as ps:
        for dataset_id in growing:
            history = list(
                ps.scalars(
                    select(PortalRelease)
                    .where(PortalRelease.dataset_id == dataset_id)
                    .order_by(PortalRelease.published_at)
                )
            )
            assert [r.note for r in history] == ["首次开放", "数据更新"]
            assert history[0].row_count < history[1].row_count
            assert history[0].published_at < history[1].published_at
        others = ps.scalar(
            select(func.count(PortalRelease.id)).where(PortalRelease.dataset_id.not_in(growing))
        )
        assert others == len(opendata_demo.DATASETS) - len(growing)


def test_building_again_adds_nothing_to_the_portal(city: City) -> None:
    def counts() -> tuple[int, ...]:
        with city.session() as db:
            platform = tuple(
                db.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (AuditEntry, OpenRelease, SyncRun, TableBinding)
            )
        with city.runtime.portal.session() as ps:
            portal = tuple(
                ps.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (PortalDataset, PortalField, PortalRelease)
            )
            rows = tuple(
                ps.execute(sa.text(f'SELECT count(*) FROM "{d.rows_table}"')).scalar_one()
                for d in ps.scalars(select(PortalDataset).order_by(PortalDataset.id))
            )
        return platform + portal + rows

    before = counts()
    assert not demo.build_city(city.runtime)
    assert not opendata_demo.build(city.runtime)
    assert counts() == before


def test_the_demo_app_serves_the_portal_under_open(city: City) -> None:
    with city.runtime.portal.session() as ps:
        dataset = ps.scalars(select(PortalDataset).order_by(PortalDataset.id)).first()
        name, title = dataset.name, dataset.title
    with TestClient(demo_app(city.runtime, 8000)) as client:
        home = client.get(f"{PORTAL_PATH}/")
        page = client.get(f"{PORTAL_PATH}/dataset/{name}")
        platform = client.get("/login")
    assert home.status_code == 200 and "江州市" in home.text
    assert f'href="{PORTAL_PATH}/dataset"' in home.text  # links stay under the mount
    assert page.status_code == 200 and title in page.text
    assert platform.status_code == 200
    # The platform's own app does not serve the portal (production runs it apart).
    with TestClient(create_app(city.runtime)) as client:
        assert client.get(f"{PORTAL_PATH}/").status_code == 404


def test_the_public_has_an_application_in_progress_a_request_and_usage(city: City) -> None:
    from govshare.opendata.models import (
        PublicApplication,
        PublicApplicationState,
        PublicDataRequest,
    )
    from govshare.portal import usage
    from govshare.portal.models import PortalAccount, PortalApplication

    with city.session() as db:
        applications = list(db.scalars(select(PublicApplication)))
        assert [a.state for a in applications] == [PublicApplicationState.PENDING]
        assert applications[0].due_on > applications[0].submitted_at.date()
        requests = list(db.scalars(select(PublicDataRequest)))
        assert len(requests) == 1 and requests[0].organization_id is not None
    with city.runtime.portal.session() as ps:
        assert ps.scalar(select(func.count()).select_from(PortalAccount)) == 2
        on_portal = ps.scalars(select(PortalApplication)).one()
        assert on_portal.state == "accepted" and on_portal.due_on == applications[0].due_on
        assert usage.totals(ps).views > 0
