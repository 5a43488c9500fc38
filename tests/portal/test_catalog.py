"""The portal's reading of its own database: search with facets, datasets, rows."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from govshare.portal import catalog
from govshare.portal.catalog import RowFilter, SearchQuery
from govshare.portal.db import PortalDatabase
from govshare.portal.models import rows_table
from govshare.portal.templating import plain


def test_a_chinese_keyword_finds_the_dataset_by_its_words(sample_portal: PortalDatabase) -> None:
    with sample_portal.session() as s:
        found = catalog.search(s, SearchQuery(q="公交"))
        assert [d.code for d in found.datasets] == ["A01001/000001"]
        # A word of an item name finds it too, and a department's name.
        assert [d.code for d in catalog.search(s, SearchQuery(q="颗粒物")).datasets] == [
            "C03001/000001"
        ]
        by_org = catalog.search(s, SearchQuery(q="市场监督"))
        assert {d.code for d in by_org.datasets} == {"B02001/000001", "B02001/000002"}
        assert catalog.search(s, SearchQuery(q="不存在的词语")).count == 0


def test_facets_count_every_match_and_filters_narrow(sample_portal: PortalDatabase) -> None:
    with sample_portal.session() as s:
        everything = catalog.search(s, SearchQuery())
        assert everything.count == 4
        open_types = {v.value: v.count for v in everything.facets["open_type"]}
        assert open_types == {"unconditional": 3, "conditional": 1}
        orgs = {v.label: v.count for v in everything.facets["organization"]}
        assert orgs["江州市市场监督管理局"] == 2
        narrowed = catalog.search(s, SearchQuery(filters={"organization": ("org-12",)}))
        assert narrowed.count == 2
        # The facet being filtered still counts its other values.
        assert len(narrowed.facets["organization"]) == 3
        assert catalog.search(s, SearchQuery(filters={"tags": ("药店",)})).count == 1
        page = catalog.search(s, SearchQuery(sort="title", rows=2, start=2))
        assert page.count == 4 and len(page.datasets) == 2


def test_rows_of_a_dataset_filter_search_and_count(sample_portal: PortalDatabase) -> None:
    with sample_portal.session() as s:
        data = catalog.dataset(s, "a01001-000001")
        assert data is not None and catalog.dataset(s, "A01001/000001") is data
        fields, stmt = catalog.rows(s, data, limit=2)
        assert [f.name for f in fields] == ["站点名称", "途经线路", "经度", "纬度"]
        assert [r[1] for r in s.execute(stmt)] == ["江州火车站", "人民广场"]
        assert catalog.count_rows(s, stmt) == 4
        _, stmt = catalog.rows(s, data, q="K3", limit=None)
        assert [r[1] for r in s.execute(stmt)] == ["江州火车站", "滨江公园"]
        _, stmt = catalog.rows(s, data, where=[RowFilter("c0", "人民广场")], limit=None)
        assert len(list(catalog.stream_rows(s, stmt))) == 1


def test_a_decimal_number_reads_back_as_written(sample_portal: PortalDatabase) -> None:
    """SQLite keeps numerics as binary floats: 1270322.07 must not come back with ten places
    (1270322.0700000001), nor 0.1 as 0.1000000000."""
    written = [Decimal("1270322.07"), Decimal("0.1"), Decimal("117.954511"), Decimal("35")]
    table = rows_table(990_001, [("c0", "numeric")])
    with sample_portal.session() as s:
        table.create(s.connection())
        s.execute(table.insert(), [{"_row": i, "c0": v} for i, v in enumerate(written)])
        read = list(s.execute(sa.select(table.c.c0).order_by(table.c["_row"])).scalars())
        table.drop(s.connection())
    assert read == written and [plain(v) for v in read] == ["1270322.07", "0.1", "117.954511", "35"]
