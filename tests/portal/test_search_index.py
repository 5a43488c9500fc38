"""The portal's in-memory search index answers as the reference semantics do (matches by
`search_text.document_matches`, filters, facet counts over the other filters, orderings with
the id last), and follows every change to the database, made by any session."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from govshare.catalog import search_text
from govshare.portal import catalog
from govshare.portal.catalog import SearchQuery
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset, PortalDatasetTag, PortalOrganization
from tests.conftest import BACKENDS
from tests.portal.conftest import fresh_portal
from tests.portal.sample import _dataset

SUBJECTS = [
    "公交站点",
    "药店许可",
    "空气质量",
    "企业登记",
    "图书馆藏书",
    "社保经办机构",
    "学校名录",
]
WORDS = ["地址", "名称", "坐标", "电话", "日期", "信用代码"]
DOMAINS = [("transport", "交通出行"), ("health", "医疗卫生"), ("economy", "经济建设")]
FREQUENCIES = [("monthly", "每月"), ("daily", "每日"), ("yearly", "每年")]
TAGS = ["地理位置", "便民", "统计"]
COUNT = 240


@pytest.fixture(scope="module", params=BACKENDS)
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortalDatabase]:
    directory = tmp_path_factory.mktemp("portal-index")
    database = fresh_portal(request.param, "govshare_test_portal_index", directory)
    database.ensure_schema()
    rng = random.Random(7)
    with database.session() as s:
        orgs = [PortalOrganization(id=i, name=f"org-{i}", title=f"第{i}局") for i in (1, 2, 3)]
        s.add_all(orgs)
        s.flush()
        for n in range(1, COUNT + 1):
            subject = rng.choice(SUBJECTS)
            fields = [(w, "text", "", "") for w in rng.sample(WORDS, 3)]
            data = _dataset(
                n,
                f"A{n:05d}/000001",
                f"{subject}{'汇总' if n % 5 == 0 else ''}信息",
                f"{rng.choice(SUBJECTS)}的数据。",
                rng.choice(orgs),
                rng.choice(DOMAINS),
                fields,
                open_type="conditional" if n % 7 == 0 else "unconditional",
                frequency=rng.choice(FREQUENCIES),
                tags=rng.sample(TAGS, rng.randrange(3)),
            )
            data.modified = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(30))
            data.issued = date(2025, 1, 1) + timedelta(days=rng.randrange(30))
            s.add(data)
    yield database
    database.dispose()


def _reference(s: sa.orm.Session, q: SearchQuery) -> tuple[list[PortalDataset], dict]:
    """Every dataset checked one by one: the matches in order, and the facet counts."""
    words = search_text.parse_query(q.q)
    every = list(s.scalars(sa.select(PortalDataset)))
    org_names = {o.id: o.name for o in s.scalars(sa.select(PortalOrganization))}

    def value(d: PortalDataset, facet: str) -> list[str]:
        return {
            "groups": [d.domain],
            "organization": [org_names[d.organization_id]],
            "res_format": [d.format],
            "update_frequency": [d.update_frequency],
            "open_type": [d.open_type],
            "tags": list(d.tags),
        }[facet]

    def passes(d: PortalDataset, skip: str | None = None) -> bool:
        if words and not search_text.document_matches(d.terms, words):
            return False
        return all(set(value(d, f)) & set(vs) for f, vs in q.filters.items() if f != skip and vs)

    found = [d for d in every if passes(d)]
    found.sort(key=lambda d: d.id)  # stable sorts, the least significant key first
    for key, descending in reversed(q.order):
        found.sort(key=lambda d, k=key: getattr(d, k), reverse=descending)
    facets = {
        f: Counter(v for d in every if passes(d, skip=f) for v in value(d, f)) for f in q.facets
    }
    return found, facets


QUERIES = [
    SearchQuery(),
    SearchQuery(q="地址"),
    SearchQuery(q="公交 坐标"),
    SearchQuery(q="药店", filters={"groups": ("health", "economy")}),
    SearchQuery(filters={"tags": ("便民",), "open_type": ("unconditional",)}),
    SearchQuery(q="信息", filters={"organization": ("org-2",), "tags": ("统计", "便民")}),
    SearchQuery(q="没有这个词"),
    SearchQuery(filters={"groups": ("nowhere",)}),
]
ORDERS = [
    (("title", False),),
    (("modified", False), ("name", True)),
    (("issued", True),),
    (("modified", True),),
]
ALL_FACETS = ("groups", "organization", "res_format", "update_frequency", "open_type", "tags")


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_the_index_finds_and_counts_what_the_reference_does(
    portal: PortalDatabase, query: SearchQuery
) -> None:
    for order in ORDERS:
        q = SearchQuery(q=query.q, filters=query.filters, order=order, rows=1000, facets=ALL_FACETS)
        with portal.session() as s:
            result = catalog.search(s, q)
            expected, facets = _reference(s, q)
        assert result.count == len(expected)
        assert [d.id for d in result.datasets] == [d.id for d in expected], order
        assert {f: {v.value: v.count for v in vs} for f, vs in result.facets.items()} == {
            f: dict(c) for f, c in facets.items()
        }
        for values in result.facets.values():
            assert [v.count for v in values] == sorted((v.count for v in values), reverse=True)


def test_pages_are_slices_of_the_whole_order(portal: PortalDatabase) -> None:
    with portal.session() as s:
        whole = catalog.search(s, SearchQuery(q="信息", rows=1000, facets=())).datasets
        pages = [
            catalog.search(s, SearchQuery(q="信息", rows=7, start=start, facets=())).datasets
            for start in range(0, len(whole) + 7, 7)
        ]
    assert [d.id for page in pages for d in page] == [d.id for d in whole]


def test_a_word_in_the_title_ranks_before_one_elsewhere(portal: PortalDatabase) -> None:
    with portal.session() as s:
        found = catalog.search(s, SearchQuery(q="公交", rows=1000, facets=())).datasets
    in_title = ["公交" in d.title for d in found]
    assert any(in_title) and not all(in_title)
    assert in_title == sorted(in_title, reverse=True)


def test_domains_and_departments_are_counted_over_the_whole_catalog(
    portal: PortalDatabase,
) -> None:
    with portal.session() as s:
        every = list(s.scalars(sa.select(PortalDataset)))
        orgs = {o.id: o.name for o in s.scalars(sa.select(PortalOrganization))}
        domains = catalog.domains(s)
        departments = catalog.organizations(s)
    assert [(d.value, d.count) for d in domains] == sorted(Counter(d.domain for d in every).items())
    by_org = Counter(orgs[d.organization_id] for d in every)
    assert [(o.name, n) for o, n in departments] == sorted(by_org.items())


def test_the_index_follows_every_change_to_the_database(portal: PortalDatabase) -> None:
    def titles(q: str) -> list[str]:
        with portal.session() as s:
            return [d.title for d in catalog.search(s, SearchQuery(q=q, rows=1000)).datasets]

    assert titles("天文台") == []
    with portal.session() as s:  # a dataset changed by another session, as the publisher does
        data = s.get(PortalDataset, 1)
        assert data is not None
        data.title = "天文台观测记录"
        data.terms, data.title_terms = catalog.dataset_terms(data.title, "", [])
    assert titles("天文台") == ["天文台观测记录"]
    with portal.session() as s:
        s.add(PortalDatasetTag(dataset_id=2, tag="新标签"))
    with portal.session() as s:
        tags = catalog.search(s, SearchQuery(facets=("tags",))).facets["tags"]
        assert ("新标签", 1) in [(v.value, v.count) for v in tags]
        s.get(PortalOrganization, 3).title = "改名后的局"  # type: ignore[union-attr]
    with portal.session() as s:
        orgs = catalog.search(s, SearchQuery(facets=("organization",))).facets["organization"]
        assert "改名后的局" in [v.label for v in orgs]
        s.delete(s.get(PortalDataset, 1))
    assert titles("天文台") == []
