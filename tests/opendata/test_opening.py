"""Acceptance: a resource with a personal item is not opened unmasked; with masking and a
recorded secrecy review it opens, and the portal's database holds only its open view."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.settings import Settings
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.scope import Condition, row_matches
from govshare.opendata import publishing, service
from govshare.opendata.models import ReleaseState, SecrecyOutcome
from govshare.opendata.schemas import ReleaseDecisionIn, SecrecyReviewIn, WithdrawalIn
from govshare.portal import catalog
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalBase, PortalDataset, PortalField, PortalRelease
from govshare.sharing.models import MaskRule
from tests.exchange.builders import MASK_KEY, audit_entries, settings_of
from tests.opendata.builders import OPEN_FIELDS, REVIEW, Open, open_world, opened, view


def _publish(
    db: Session, o: Open, settings: Settings, portal: PortalDatabase
) -> publishing.PublishReport:
    return publishing.publish(
        db,
        actor=o.w.op,
        settings=settings,
        center=o.center,
        portal=portal,
        city_name="江州市",
    )


def test_a_personal_item_is_refused_unmasked_by_name(db: Session, center: Center) -> None:
    o = open_world(db, center)
    with pytest.raises(Invalid) as refused:
        service.define_view(
            db,
            actor=o.w.provider_officer,
            resource_code=o.resource.code,
            data=view(masking=[{"field": "户籍地址", "rule": "address"}]),
        )
    assert "公民身份号码" in str(refused.value) and refused.value.field == "masking"
    # Not even the operator can confirm it: a release is only made through define_view.
    release = opened(db, o)
    assert release.state is ReleaseState.OPEN


def test_no_release_without_a_passed_secrecy_review(db: Session, center: Center) -> None:
    o = open_world(db, center)
    officer = o.w.provider_officer
    release = service.define_view(db, actor=officer, resource_code=o.resource.code, data=view())
    with pytest.raises(Conflict, match="保密审查"):
        service.submit(db, actor=officer, release_id=release.id)
    failed = REVIEW.model_copy(update={"outcome": SecrecyOutcome.NOT_PASSED})
    service.record_secrecy_review(db, actor=officer, release_id=release.id, data=failed)
    with pytest.raises(Conflict, match="未通过"):
        service.submit(db, actor=officer, release_id=release.id)
    # Another department's officer can neither define nor review it.
    with pytest.raises(Forbidden):
        service.define_view(
            db, actor=o.w.consumer_officer, resource_code=o.resource.code, data=view()
        )
    with pytest.raises(Invalid, match="保密审查日期"):
        service.record_secrecy_review(
            db,
            actor=officer,
            release_id=release.id,
            data=SecrecyReviewIn.model_validate(
                REVIEW.model_dump() | {"reviewed_on": "2027-01-04"}
            ),
        )
    # A resource the catalog does not open cannot be opened at all.
    with pytest.raises(Conflict, match="不予开放"):
        service.define_view(db, actor=officer, resource_code=o.w.unconditional.code, data=view())


def test_the_operator_confirms_or_returns_with_reasons(db: Session, center: Center) -> None:
    o = open_world(db, center)
    officer = o.w.provider_officer
    release = service.define_view(db, actor=officer, resource_code=o.resource.code, data=view())
    service.record_secrecy_review(db, actor=officer, release_id=release.id, data=REVIEW)
    service.submit(db, actor=officer, release_id=release.id)
    with pytest.raises(Forbidden):
        service.decide(
            db, actor=officer, release_id=release.id, data=ReleaseDecisionIn(approve=True)
        )
    with pytest.raises(ValueError, match="理由"):
        ReleaseDecisionIn(approve=False)
    returned = service.decide(
        db,
        actor=o.w.op,
        release_id=release.id,
        data=ReleaseDecisionIn(approve=False, comment="地址须进一步脱敏"),
    )
    assert returned.state is ReleaseState.RETURNED
    # Changing the view asks for the secrecy review again.
    again = service.define_view(
        db, actor=officer, resource_code=o.resource.code, data=view(tags=[])
    )
    assert again.id == release.id and again.secrecy_outcome is None
    assert len(audit_entries(db, "opendata.release.define")) == 2


def test_the_portal_database_holds_only_the_open_view(
    db: Session, center: Center, tmp_path: Path, portal: PortalDatabase
) -> None:
    o = open_world(db, center, rows=60)
    settings = settings_of(tmp_path)
    opened(db, o)
    report = _publish(db, o, settings, portal)
    assert report.published == [o.resource.code] and not report.problems
    # What the open view admits, computed from the source rows with the reference functions.
    region = (Condition("region_code", "in", ("361102",)),)
    admitted = sorted((r for r in o.rows if row_matches(r, region)), key=lambda r: r["id_number"])
    expected = [
        (
            mask_value(r["id_number"], Mask(MaskRule.HASH), key=MASK_KEY),
            r["gender"],
            r["birth_date"].isoformat(),
            r["region_code"],
            mask_value(r["address"], Mask(MaskRule.KEEP_FIRST, 6), key=MASK_KEY),
        )
        for r in admitted
    ]
    with portal.session() as ps:
        datasets = list(ps.scalars(sa.select(PortalDataset)))
        assert [d.code for d in datasets] == [o.resource.code]
        data = datasets[0]
        assert [f.name for f in data.fields] == OPEN_FIELDS
        assert data.row_count == len(expected) > 0
        _, stmt = catalog.rows(ps, data, limit=None)
        got = [
            tuple(str(v) if v is not None else None for v in row[1:]) for row in ps.execute(stmt)
        ]
        assert got == expected
        masked = {f.name: f.masking for f in data.fields}
        assert masked["公民身份号码"] == MaskRule.HASH.label and masked["性别"] == ""
        assert masked["户籍地址"] == MaskRule.KEEP_FIRST.label.replace(" n ", " 6 ")
        assert [r.note for r in ps.scalars(sa.select(PortalRelease))] == ["首次开放"]
    # Nothing else is anywhere in the portal database: no other dataset's rows, no raw ID
    # number, name, phone or full address, in any table.
    raw = {str(r[c]) for r in o.rows for c in ("id_number", "name", "phone", "address") if r[c]}
    with portal.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        assert set(tables) - set(PortalBase.metadata.tables) - {"portal_generation"} == {
            f"portal_data_{o.resource.id}"
        }
        for name in tables:
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                leaked = {str(v) for v in row} & raw
                assert not leaked, (name, leaked)
    entries = audit_entries(db, "opendata.publish")
    assert entries and entries[-1]["rows"] == len(expected)


def test_a_withdrawn_release_leaves_the_portal(
    db: Session, center: Center, tmp_path: Path, portal: PortalDatabase
) -> None:
    o = open_world(db, center)
    settings = settings_of(tmp_path)
    release = opened(db, o)
    _publish(db, o, settings, portal)
    assert _publish(db, o, settings, portal).unchanged == 1  # nothing changed: nothing copied
    service.withdraw(
        db,
        actor=o.w.provider_officer,
        release_id=release.id,
        data=WithdrawalIn(reason="数据口径调整"),
    )
    report = _publish(db, o, settings, portal)
    assert report.removed == [o.resource.code]
    with portal.session() as ps:
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalDataset)) == 0
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalField)) == 0
    assert not sa.inspect(portal.engine).has_table(f"portal_data_{o.resource.id}")
    assert audit_entries(db, "opendata.unpublish")


def test_the_portal_process_knows_nothing_of_the_platform_database(tmp_path: Path) -> None:
    """The portal is built from GOVSHARE_PORTAL_* alone and never loads the platform's
    settings, runtime, services or models."""
    script = (
        "import sys\n"
        "from starlette.testclient import TestClient\n"
        "from govshare.portal.app import create_portal_app\n"
        "from govshare.portal.settings import load_portal_settings\n"
        "app = create_portal_app(load_portal_settings())\n"
        "TestClient(app).get('/api/openapi.json').raise_for_status()\n"
        "forbidden = [m for m in sys.modules if m.startswith(('govshare.core.settings',"
        " 'govshare.core.runtime', 'govshare.identity', 'govshare.sharing', 'govshare.exchange',"
        " 'govshare.opendata', 'govshare.catalog.models', 'govshare.catalog.service'))]\n"
        "print(forbidden)\n"
        "sys.exit(1 if forbidden else 0)\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(sys.path),
        "GOVSHARE_PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # Without its own database setting the portal does not start, whatever else is set.
    env.pop("GOVSHARE_PORTAL_DATABASE_URL")
    env["GOVSHARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'govshare.db'}"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "GOVSHARE_PORTAL_DATABASE_URL" in done.stderr
