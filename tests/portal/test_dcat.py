"""The DCAT-AP 3 feeds, read back with rdflib: the catalog, one dataset, paging, changes since."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS

from govshare.catalog.models import Domain, UpdateFrequency
from govshare.portal import dcat
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset
from govshare.portal.settings import PortalSettings
from tests.portal.sample import PUBLISHED

SITE = "https://data.jiangzhou.example"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
EU = "http://publications.europa.eu/resource/authority/"
FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}


@pytest.fixture(scope="module")
def client(sample_portal: PortalDatabase) -> Iterator[TestClient]:
    settings = PortalSettings(database_url=sample_portal.url, base_url=SITE)
    with TestClient(create_portal_app(settings, database=sample_portal)) as test_client:
        yield test_client


def _graph(client: TestClient, path: str, extension: str = "ttl") -> Graph:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(dcat.SERIALISATIONS[extension][1])
    return Graph().parse(data=answer.text, format=FORMATS[extension])


def _dataset(graph: Graph, code: str) -> URIRef:
    (found,) = graph.subjects(DCTERMS.identifier, Literal(code))
    assert isinstance(found, URIRef)
    return found


@pytest.mark.parametrize("extension", ["ttl", "jsonld", "rdf"])
def test_the_bus_stops_are_a_dcat_dataset_with_a_csv_download(
    client: TestClient, extension: str
) -> None:
    graph = _graph(client, f"/dataset/a01001-000001.{extension}", extension)
    bus = _dataset(graph, "A01001/000001")
    page = URIRef(f"{SITE}/dataset/a01001-000001")
    assert (bus, RDF.type, DCAT.Dataset) in graph
    assert graph.value(bus, DCTERMS.title) == Literal("公交站点信息", lang="zh")
    assert graph.value(bus, DCTERMS.description) == Literal(
        "全市公交站点名称、途经线路和坐标。", lang="zh"
    )
    assert graph.value(bus, DCAT.theme) == URIRef(EU + "data-theme/TRAN")
    assert graph.value(bus, DCTERMS.accrualPeriodicity) == URIRef(EU + "frequency/MONTHLY")
    assert graph.value(bus, DCTERMS.accessRights) == URIRef(EU + "access-right/PUBLIC")
    assert set(graph.objects(bus, DCAT.keyword)) == {
        Literal("公交", lang="zh"),
        Literal("出行", lang="zh"),
    }
    assert graph.value(bus, DCAT.landingPage) == page
    modified = graph.value(bus, DCTERMS.modified)
    assert isinstance(modified, Literal) and modified.toPython() == PUBLISHED
    publisher = graph.value(bus, DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal("江州市交通运输局", lang="zh")
    formats = {graph.value(d, DCTERMS.format): d for d in graph.objects(bus, DCAT.distribution)}
    assert set(formats) == {URIRef(EU + "file-type/" + t) for t in ("CSV", "JSON", "XLSX")}
    csv = formats[URIRef(EU + "file-type/CSV")]
    assert graph.value(csv, DCAT.downloadURL) == URIRef(f"{page}/download.csv")
    assert graph.value(csv, DCAT.accessURL) == page
    assert graph.value(csv, DCAT.mediaType) == URIRef(
        "http://www.iana.org/assignments/media-types/text/csv"
    )
    assert graph.value(csv, DCTERMS.license) == URIRef("https://data.jiangzhou.example/licence")


def test_conditional_data_is_restricted_and_offers_no_download(client: TestClient) -> None:
    graph = _graph(client, "/dataset/b02001-000002.jsonld", "jsonld")
    reports = _dataset(graph, "B02001/000002")
    assert graph.value(reports, DCTERMS.accessRights) == URIRef(EU + "access-right/RESTRICTED")
    assert graph.value(reports, DCAT.theme) == URIRef(EU + "data-theme/ECON")
    assert graph.value(reports, DCTERMS.accrualPeriodicity) == URIRef(EU + "frequency/ANNUAL")
    distributions = list(graph.objects(reports, DCAT.distribution))
    assert distributions
    for distribution in distributions:
        assert graph.value(distribution, DCAT.downloadURL) is None
        assert graph.value(distribution, DCAT.accessURL) == URIRef(f"{SITE}/dataset/b02001-000002")
        rights = graph.value(distribution, DCTERMS.rights)
        assert "学术研究" in str(graph.value(rights, RDFS.label))


@pytest.mark.parametrize("extension", ["ttl", "jsonld"])
def test_the_catalog_lists_every_dataset_with_its_publisher(
    client: TestClient, extension: str
) -> None:
    graph = _graph(client, f"/catalog.{extension}", extension)
    (catalog,) = graph.subjects(RDF.type, DCAT.Catalog)
    assert graph.value(catalog, DCTERMS.title) == Literal("江州市公共数据开放门户", lang="zh")
    publisher = graph.value(catalog, DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal("江州市大数据管理局", lang="zh")
    assert graph.value(catalog, FOAF.homepage) == URIRef(f"{SITE}/")
    datasets = set(graph.objects(catalog, DCAT.dataset))
    assert len(datasets) == 4
    assert all((d, RDF.type, DCAT.Dataset) in graph for d in datasets)
    (paging,) = graph.subjects(RDF.type, HYDRA.PagedCollection)
    assert graph.value(paging, HYDRA.totalItems) == Literal(4)
    assert graph.value(paging, HYDRA.next) is None


def test_the_catalog_pages_with_hydra_links(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dcat, "DATASETS_PER_PAGE", 3)
    first = _graph(client, "/catalog.ttl")
    (catalog,) = first.subjects(RDF.type, DCAT.Catalog)
    (paging,) = first.subjects(RDF.type, HYDRA.PagedCollection)
    assert len(set(first.objects(catalog, DCAT.dataset))) == 3
    assert first.value(paging, HYDRA.next) == URIRef(f"{SITE}/catalog.ttl?page=2")
    assert first.value(paging, HYDRA.last) == URIRef(f"{SITE}/catalog.ttl?page=2")
    assert first.value(paging, HYDRA.itemsPerPage) == Literal(3)
    second = _graph(client, "/catalog.ttl?page=2")
    (catalog,) = second.subjects(RDF.type, DCAT.Catalog)
    (paging,) = second.subjects(RDF.type, HYDRA.PagedCollection)
    assert len(set(second.objects(catalog, DCAT.dataset))) == 1
    assert second.value(paging, HYDRA.previous) == URIRef(f"{SITE}/catalog.ttl?page=1")
    assert second.value(paging, HYDRA.next) is None
    codes = {str(o) for g in (first, second) for o in g.objects(None, DCTERMS.identifier)}
    assert len(codes) == 4


def test_modified_since_keeps_the_datasets_changed_since(
    client: TestClient, sample_portal: PortalDatabase
) -> None:
    changed = PUBLISHED + timedelta(days=3)
    with sample_portal.session() as s:
        s.execute(sa.update(PortalDataset).where(PortalDataset.id == 103).values(modified=changed))
    try:
        # 2026-12-02 in the city is 2026-12-01T16:00Z: after the first publication.
        graph = _graph(client, "/catalog.jsonld?modified_since=2026-12-02", "jsonld")
        assert {str(o) for o in graph.objects(None, DCTERMS.identifier)} == {"C03001/000001"}
        (paging,) = graph.subjects(RDF.type, HYDRA.PagedCollection)
        assert graph.value(paging, HYDRA.first) == URIRef(
            f"{SITE}/catalog.jsonld?modified_since=2026-12-02&page=1"
        )
        # An instant with its offset, equal to the publication: every dataset.
        everything = _graph(client, "/catalog.ttl?modified_since=2026-12-01T10:00:00%2B08:00")
        assert len(set(everything.objects(None, DCTERMS.identifier))) == 4
        later = _graph(client, "/catalog.ttl?modified_since=2026-12-05T00:00:00Z")
        assert set(later.objects(None, DCTERMS.identifier)) == set()
    finally:
        with sample_portal.session() as s:
            s.execute(
                sa.update(PortalDataset).where(PortalDataset.id == 103).values(modified=PUBLISHED)
            )


def test_bad_feed_parameters_are_a_400_naming_them(client: TestClient) -> None:
    answer = client.get("/catalog.ttl?modified_since=上周")
    assert answer.status_code == 400
    assert "modified_since" in answer.text and "ISO 8601" in answer.text
    for page in ("0", "two", "-1"):
        answer = client.get(f"/catalog.ttl?page={page}")
        assert answer.status_code == 400
        assert "page" in answer.text
    assert client.get("/dataset/no-such-dataset.ttl").status_code == 404


def test_every_domain_and_frequency_has_its_eu_term() -> None:
    # The platform's lists (OPN-4) are the ones the portal receives from the publisher.
    assert {d.value for d in Domain} <= set(dcat.THEMES)
    assert {f.value for f in UpdateFrequency} <= set(dcat.FREQUENCIES)
    eu_themes = {"AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST"}
    eu_themes |= {"REGI", "SOCI", "TECH", "TRAN"}
    assert set(dcat.THEMES.values()) <= eu_themes


def test_mounted_under_open_every_address_carries_the_prefix(
    sample_portal: PortalDatabase,
) -> None:
    # As `govshare demo` mounts it, without a configured base_url.
    outer = FastAPI()
    settings = PortalSettings(database_url=sample_portal.url)
    outer.mount("/open", create_portal_app(settings, database=sample_portal))
    with TestClient(outer) as mounted:
        graph = _graph(mounted, "/open/dataset/a01001-000001.ttl")
        bus = _dataset(graph, "A01001/000001")
        assert graph.value(bus, DCAT.landingPage) == URIRef(
            "http://testserver/open/dataset/a01001-000001"
        )
        shown = mounted.get("/open/api/3/action/resource_show?id=a01001-000001-data").json()
        assert shown["result"]["url"] == "http://testserver/open/dataset/a01001-000001/download.csv"
        assert shown["help"].startswith("http://testserver/open/api/3/action/help_show")
