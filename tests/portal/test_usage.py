"""Usage counts (views, downloads, API calls per day and month) and the quality indicator."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from govshare.core import clock
from govshare.portal import catalog, quality, usage
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalUsageDay


@pytest.fixture
def counted(sample_portal: PortalDatabase):  # type: ignore[no-untyped-def]
    with sample_portal.session() as s:
        s.execute(sa.delete(PortalUsageDay))
    yield sample_portal
    with sample_portal.session() as s:
        s.execute(sa.delete(PortalUsageDay))


def test_counts_add_up_per_day_and_month(counted: PortalDatabase) -> None:
    with counted.session() as s:
        usage.count(s, 101, "views")
        usage.count(s, 101, "views")
        usage.count(s, 101, "downloads")
        usage.count(s, 102, "api_calls", 5)
    with counted.session() as s:
        assert usage.totals(s, 101) == usage.Totals(views=2, downloads=1, api_calls=0)
        assert usage.totals(s) == usage.Totals(views=2, downloads=1, api_calls=5)
        assert s.scalar(sa.select(sa.func.count()).select_from(PortalUsageDay)) == 2
        months = usage.monthly(s, 101)
        assert len(months) == 12 and months[-1].month == f"{clock.today():%Y-%m}"
        assert (months[-1].views, months[-1].downloads) == (2, 1)
        assert all(m.views == 0 for m in months[:-1])
    # A count on another day is another row, and falls in its own month.
    with clock.frozen(clock.now() - timedelta(days=40)), counted.session() as s:
        usage.count(s, 101, "views")
    with counted.session() as s:
        months = usage.monthly(s, 101)
        assert sum(m.views for m in months) == 3 and months[-1].views == 2


def test_the_quality_indicator_checks_what_the_page_promises(sample_portal: PortalDatabase) -> None:
    with sample_portal.session() as s:
        bus = catalog.dataset(s, "a01001-000001")
        conditional = catalog.dataset(s, "b02001-000002")
        assert bus is not None and conditional is not None
        with clock.frozen(bus.modified + timedelta(days=3)):
            fresh = quality.quality(bus)
            assert all(c.passed for c in fresh.checks), fresh  # half its items explained
            assert fresh.stars == 5
            sparse = {c.name: c.passed for c in quality.quality(conditional).checks}
            assert not sparse["数据项有释义"]  # none of its two items is explained
        with clock.frozen(bus.modified + timedelta(days=40)):  # declared monthly
            late = {c.name: c.passed for c in quality.quality(bus).checks}
            assert not late["按声明周期更新"] and late["近期数据"]
        with clock.frozen(bus.modified + timedelta(days=400)):
            old = quality.quality(bus)
            assert not {c.name: c.passed for c in old.checks}["近期数据"]
            assert old.stars < fresh.stars


def test_views_downloads_and_api_calls_are_counted_where_they_happen(
    counted: PortalDatabase,
) -> None:
    from fastapi.testclient import TestClient

    from govshare.portal.app import create_portal_app
    from govshare.portal.settings import PortalSettings

    app = create_portal_app(PortalSettings(database_url=counted.url), database=counted)
    with TestClient(app) as visitor:
        for _ in range(2):
            assert visitor.get("/dataset/a01001-000001").status_code == 200
        assert visitor.get("/dataset/a01001-000001/download.csv").status_code == 200
        found = visitor.get(
            "/api/3/action/datastore_search", params={"resource_id": "a01001-000001-data"}
        )
        assert found.status_code == 200
        # A refused call counts nothing.
        refused = visitor.get(
            "/api/3/action/datastore_search", params={"resource_id": "b02001-000002-data"}
        )
        assert refused.status_code == 403
        page = visitor.get("/dataset/a01001-000001").text
    with counted.session() as s:
        assert usage.totals(s, 101) == usage.Totals(views=3, downloads=1, api_calls=1)
        assert usage.totals(s, 104) == usage.Totals()
    assert "使用情况" in page and "数据质量" in page and 'data-chart="' in page
