"""Acceptance, end to end: a resource opened on the platform is found, previewed and
downloaded by an anonymous visitor on the portal, returned by CKAN's own client, and read
as a dcat:Dataset by rdflib — all from the portal's own database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import rdflib
from ckanapi import RemoteCKAN
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from govshare.exchange.center import Center
from govshare.opendata import publishing
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.settings import PortalSettings
from tests.exchange.builders import settings_of
from tests.opendata.builders import OPEN_FIELDS, open_world, opened
from tests.portal.serving import ckanapi_cli, served


def test_an_opened_resource_is_public_on_the_portal(
    db: Session, center: Center, tmp_path: Path, portal: PortalDatabase
) -> None:
    o = open_world(db, center, rows=60)
    opened(db, o)
    publishing.publish(
        db,
        actor=o.w.op,
        settings=settings_of(tmp_path),
        center=center,
        portal=portal,
        city_name="江州市",
    )
    slug = o.resource.code.lower().replace("/", "-")
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    visitor = TestClient(app)
    found = visitor.get("/dataset", params={"q": "户籍人口"})
    assert found.status_code == 200 and f"/dataset/{slug}" in found.text
    page = visitor.get(f"/dataset/{slug}")
    assert page.status_code == 200 and "数据预览" in page.text and "已脱敏" in page.text
    download = visitor.get(f"/dataset/{slug}/download.csv")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == OPEN_FIELDS
    assert len(rows) - 1 == sum(1 for r in o.rows if r["region_code"] == "361102") > 0
    assert not {r["id_number"] for r in o.rows} & {row[0] for row in rows[1:]}
    with served(app) as url:
        with RemoteCKAN(url) as ckan:
            shown = ckan.action.package_show(id=slug)
            assert shown["title"] == "户籍人口统计样本"
        searched = ckanapi_cli(url, "package_search", "q=户籍人口")
        assert [p["name"] for p in searched["results"]] == [slug]  # type: ignore[index]
        graph = rdflib.Graph().parse(f"{url}/catalog.ttl", format="turtle")
    vocab = rdflib.namespace
    datasets = set(graph.subjects(vocab.RDF.type, vocab.DCAT.Dataset))
    titles = {str(graph.value(d, vocab.DCTERMS.title)) for d in datasets}
    assert titles == {"户籍人口统计样本"}
    # The city publishes no licence page yet: the licence is described in place, never as
    # an empty URI (which would name the feed itself).
    licences = set(graph.objects(None, vocab.DCTERMS.license))
    assert licences and all(isinstance(x, rdflib.BNode) for x in licences)
    assert {str(graph.value(x, vocab.DCTERMS.title)) for x in licences} == {
        "江州市公共数据开放许可协议"
    }
