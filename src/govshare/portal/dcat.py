"""DCAT-AP 3 feeds of the open catalog, for harvesters (data.europa.eu-style portals, CKAN's
ckanext-dcat, national catalogs): `/catalog.ttl|.jsonld|.rdf` and
`/dataset/{name}.ttl|.jsonld|.rdf`.

The catalog is paged like ckanext-dcat's (`page`, 100 datasets a page, newest change first,
a `hydra:PagedCollection` with first, last, next and previous pages) and narrows to datasets
changed at or after `modified_since` (ISO 8601; a date or a time without offset is the city's
local time). Addresses are absolute: `settings.base_url`, else the address the portal was
reached at.

Each dataset is a `dcat:Dataset` at `<page>#dataset` (its landing page is the dataset's page)
with its catalog code as `dct:identifier`, Chinese (@zh) title, description and keywords, the
department as publisher and contact, the EU data theme and frequency below, issue and change
dates, and one `dcat:Distribution` per download format (CSV, JSON, XLSX). Unconditional
datasets are `PUBLIC` and their distributions carry a `dcat:downloadURL`; conditional ones are
`RESTRICTED`, their distributions lead to the page where the data is applied for (SR§22) and
state the conditions as `dct:rights`.

Domains (SR§21, OPN-4) onto the EU data-theme vocabulary: the EU has no theme for credit,
enterprise registration or finance of their own, so they join ECON ("Economy and finance");
culture shares EDUC ("Education, culture and sport"); employment and social security are
SOCI ("Population and society"); geography is REGI ("Regions and cities"); weather is ENVI;
safety is JUST ("Justice, legal system and public safety"); science is TECH; statistics,
public administration and any domain not listed are GOVE ("Government and public sector").
Frequencies: realtime is UPDATE_CONT, half-yearly ANNUAL_2, irregular IRREG, the rest by name.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, XSD
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.portal import catalog
from govshare.portal.catalog import SearchQuery
from govshare.portal.ckan.shapes import dataset_url, download_url, has_rows, is_open, site_url
from govshare.portal.models import PortalDataset, PortalMeta, PortalOrganization

router = APIRouter(tags=["DCAT-AP"])

# rdflib's DCAT namespace is DCAT 2 and closed; DCAT-AP 3 uses DCAT 3 terms (dcat:version).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority/"
THEME, FREQUENCY = Namespace(EU + "data-theme/"), Namespace(EU + "frequency/")
ACCESS_RIGHT, FILE_TYPE = Namespace(EU + "access-right/"), Namespace(EU + "file-type/")
LANGUAGE_ZH = URIRef(EU + "language/ZHO")
MEDIA_TYPE = "http://www.iana.org/assignments/media-types/"

DATASETS_PER_PAGE = 100  # as ckanext-dcat's default

# SR§21 domain → EU data theme (see the module docstring for the reasons)
THEMES = {
    "credit": "ECON",
    "transport": "TRAN",
    "health": "HEAL",
    "employment": "SOCI",
    "social_security": "SOCI",
    "geography": "REGI",
    "culture": "EDUC",
    "education": "EDUC",
    "science": "TECH",
    "energy": "ENER",
    "agriculture": "AGRI",
    "environment": "ENVI",
    "economy": "ECON",
    "finance": "ECON",
    "safety": "JUST",
    "statistics": "GOVE",
    "weather": "ENVI",
    "enterprise_registration": "ECON",
    "public_administration": "GOVE",
}
FALLBACK_THEME = "GOVE"
FREQUENCIES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "half_yearly": "ANNUAL_2",
    "yearly": "ANNUAL",
    "irregular": "IRREG",
}
# download extension → (EU file type, IANA media type)
FORMATS = {
    "csv": ("CSV", "text/csv"),
    "json": ("JSON", "application/json"),
    "xlsx": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
# feed extension → (rdflib format, media type)
SERIALISATIONS = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}
PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "vcard": VCARD,
    "rdfs": RDFS,
    "xsd": XSD,
    "hydra": HYDRA,
}


class FeedError(ValueError):
    """A feed parameter that cannot be used; the message names it (a 400)."""


# --- the graph ------------------------------------------------------------------------------


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def dataset_uri(site: str, name: str) -> URIRef:
    """The dataset itself, described by (and distinct from) its page."""
    return URIRef(dataset_url(site, name) + "#dataset")


def add_dataset(graph: Graph, data: PortalDataset, site: str, meta: PortalMeta | None) -> URIRef:
    """Adds one dataset as a DCAT-AP 3 dcat:Dataset with its distributions; returns its node."""
    ref = dataset_uri(site, data.name)
    page = URIRef(dataset_url(site, data.name))
    graph.add((ref, RDF.type, DCAT.Dataset))
    graph.add((ref, DCTERMS.identifier, Literal(data.code)))
    graph.add((ref, DCTERMS.title, Literal(data.title, lang="zh")))
    graph.add((ref, DCTERMS.description, Literal(data.notes or data.title, lang="zh")))
    publisher = _department(graph, site, data.organization)
    graph.add((ref, DCTERMS.publisher, publisher))
    contact = BNode()
    graph.add((ref, DCAT.contactPoint, contact))
    graph.add((contact, RDF.type, VCARD.Organization))
    graph.add((contact, VCARD.fn, Literal(data.organization.title, lang="zh")))
    graph.add((contact, VCARD.hasURL, page))
    graph.add((ref, DCAT.theme, THEME[THEMES.get(data.domain, FALLBACK_THEME)]))
    for tag in data.tags or ():
        graph.add((ref, DCAT.keyword, Literal(tag, lang="zh")))
    if data.update_frequency in FREQUENCIES:
        graph.add((ref, DCTERMS.accrualPeriodicity, FREQUENCY[FREQUENCIES[data.update_frequency]]))
    graph.add((ref, DCTERMS.issued, Literal(data.issued, datatype=XSD.date)))
    graph.add((ref, DCTERMS.modified, Literal(data.modified, datatype=XSD.dateTime)))
    graph.add((ref, DCAT.landingPage, page))
    graph.add((page, RDF.type, FOAF.Document))
    graph.add((ref, DCTERMS.language, LANGUAGE_ZH))
    graph.add((ref, DCAT.version, Literal(str(data.version))))
    graph.add(
        (ref, DCTERMS.accessRights, ACCESS_RIGHT["PUBLIC" if is_open(data) else "RESTRICTED"])
    )
    extensions = list(FORMATS) if has_rows(data) else [None]
    for extension in extensions:
        graph.add((ref, DCAT.distribution, _distribution(graph, data, site, meta, extension)))
    return ref


def _distribution(
    graph: Graph, data: PortalDataset, site: str, meta: PortalMeta | None, extension: str | None
) -> URIRef:
    """One download format of a table dataset (extension None: a file or service dataset,
    reached through its page)."""
    page = URIRef(dataset_url(site, data.name))
    ref = URIRef(f"{page}#distribution-{extension or 'page'}")
    graph.add((ref, RDF.type, DCAT.Distribution))
    graph.add((ref, DCAT.accessURL, page))
    if extension is not None:
        file_type, media_type = FORMATS[extension]
        graph.add((ref, DCTERMS.title, Literal(f"{data.title}（{file_type}）", lang="zh")))
        graph.add((ref, DCTERMS.format, FILE_TYPE[file_type]))
        graph.add((ref, DCAT.mediaType, URIRef(MEDIA_TYPE + media_type)))
        if is_open(data):
            graph.add((ref, DCAT.downloadURL, URIRef(download_url(site, data.name, extension))))
    else:
        graph.add((ref, DCTERMS.title, Literal(data.title, lang="zh")))
    if not is_open(data):
        rights = BNode()
        graph.add((ref, DCTERMS.rights, rights))
        graph.add((rights, RDF.type, DCTERMS.RightsStatement))
        conditions = f"有条件开放，须在开放门户上申请使用。开放条件：{data.open_conditions}"
        graph.add((rights, RDFS.label, Literal(conditions, lang="zh")))
    if meta is not None:
        graph.add((ref, DCTERMS.license, _licence(graph, meta)))
    if data.data_updated is not None:
        graph.add((ref, DCTERMS.modified, Literal(data.data_updated, datatype=XSD.dateTime)))
    return ref


def _department(graph: Graph, site: str, org: PortalOrganization) -> URIRef:
    ref = URIRef(f"{site}/organization/{org.name}")
    graph.add((ref, RDF.type, FOAF.Agent))
    graph.add((ref, FOAF.name, Literal(org.title, lang="zh")))
    return ref


def _licence(graph: Graph, meta: PortalMeta) -> URIRef | BNode:
    """The licence document: its own URI when the city publishes one, else described in
    place (an empty URI would name the feed itself)."""
    ref: URIRef | BNode = URIRef(meta.licence_url) if meta.licence_url else BNode()
    graph.add((ref, RDF.type, DCTERMS.LicenseDocument))
    graph.add((ref, DCTERMS.title, Literal(meta.licence_title, lang="zh")))
    return ref


def add_catalog(
    graph: Graph,
    datasets: list[PortalDataset],
    site: str,
    meta: PortalMeta | None,
    site_title: str,
) -> URIRef:
    """Adds the dcat:Catalog with `datasets`; returns its node."""
    ref = URIRef(f"{site}/catalog")
    title = f"{meta.city_name}{site_title}" if meta else site_title
    graph.add((ref, RDF.type, DCAT.Catalog))
    graph.add((ref, DCTERMS.title, Literal(title, lang="zh")))
    description = f"{meta.publisher_name}开放的公共数据目录" if meta else "公共数据开放目录"
    graph.add((ref, DCTERMS.description, Literal(description, lang="zh")))
    graph.add((ref, FOAF.homepage, URIRef(f"{site}/")))
    graph.add((ref, DCTERMS.language, LANGUAGE_ZH))
    graph.add((ref, DCAT.themeTaxonomy, URIRef(EU + "data-theme")))
    if meta is not None:
        publisher = BNode()
        graph.add((ref, DCTERMS.publisher, publisher))
        graph.add((publisher, RDF.type, FOAF.Agent))
        graph.add((publisher, FOAF.name, Literal(meta.publisher_name, lang="zh")))
        graph.add((ref, DCTERMS.modified, Literal(meta.updated_at, datatype=XSD.dateTime)))
        graph.add((ref, DCTERMS.license, _licence(graph, meta)))
    for data in datasets:
        graph.add((ref, DCAT.dataset, add_dataset(graph, data, site, meta)))
    return ref


def add_paging(graph: Graph, address: str, page: int, count: int) -> None:
    """The hydra:PagedCollection ckanext-dcat writes (its older *Page names too, which its
    harvester still reads). `address` is the feed's address with every parameter but `page`."""
    last = max(1, -(-count // DATASETS_PER_PAGE))
    joiner = "&" if "?" in address else "?"

    def at(number: int) -> URIRef:
        return URIRef(f"{address}{joiner}page={number}")

    ref = at(page)
    graph.add((ref, RDF.type, HYDRA.PagedCollection))
    graph.add((ref, HYDRA.totalItems, Literal(count)))
    graph.add((ref, HYDRA.itemsPerPage, Literal(DATASETS_PER_PAGE)))
    links = {"first": 1, "last": last}
    if page < last:
        links["next"] = page + 1
    if page > 1:
        links["previous"] = min(page - 1, last)
    for name, number in links.items():
        graph.add((ref, HYDRA[name], at(number)))
        graph.add((ref, HYDRA[f"{name}Page"], at(number)))


def catalog_page(
    db_session: Session, page: int, since: datetime | None
) -> tuple[int, list[PortalDataset]]:
    """(how many datasets the feed has, those of `page`), newest change first."""
    start = (page - 1) * DATASETS_PER_PAGE
    if since is None:
        found = catalog.search(
            db_session,
            SearchQuery(sort="modified", rows=DATASETS_PER_PAGE, start=start, facets=()),
        )
        return found.count, found.datasets
    # The datasets changed since then lead the newest-first order: read until the first older.
    recent: list[PortalDataset] = []
    while True:
        step = catalog.search(
            db_session,
            SearchQuery(sort="modified", rows=catalog.MAX_ROWS, start=len(recent), facets=()),
        )
        older = next((i for i, d in enumerate(step.datasets) if d.modified < since), None)
        recent.extend(step.datasets if older is None else step.datasets[:older])
        if older is not None or not step.datasets or len(recent) >= step.count:
            return len(recent), recent[start : start + DATASETS_PER_PAGE]


def parse_page(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.strip().isdecimal() or int(value) < 1:
        raise FeedError(f"page: 须为正整数（第几页，从 1 起），收到 {value!r}")
    return int(value)


def parse_since(value: str | None) -> datetime | None:
    """`modified_since` as an instant; a date or a time without offset is the city's time."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FeedError(
            "modified_since: 须为 ISO 8601 日期或时间，如 2026-12-01 或 "
            f"2026-12-01T08:00:00+08:00，收到 {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.CITY_TZ)


def render(graph: Graph, extension: str) -> Response:
    rdflib_format, media_type = SERIALISATIONS[extension]
    if rdflib_format == "json-ld":
        context = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
        text = graph.serialize(format="json-ld", context=context, auto_compact=True)
    else:
        text = graph.serialize(format=rdflib_format)
    return Response(text, media_type=f"{media_type}; charset=utf-8")


# --- routes ---------------------------------------------------------------------------------


def _catalog_feed(
    request: Request, extension: str, page_text: str | None, since_text: str | None
) -> Response:
    try:
        page = parse_page(page_text)
        since = parse_since(since_text)
    except FeedError as error:
        return PlainTextResponse(str(error), status_code=400)
    site = site_url(request)
    address = f"{site}/catalog.{extension}"
    if since is not None:
        address += "?modified_since=" + quote(since_text or "", safe="")
    graph = new_graph()
    with request.app.state.portal.session() as db_session:
        count, datasets = catalog_page(db_session, page, since)
        meta = db_session.get(PortalMeta, 1)
        add_catalog(graph, datasets, site, meta, request.app.state.settings.site_title)
    if count:
        add_paging(graph, address, page, count)
    return render(graph, extension)


def _dataset_feed(request: Request, name: str, extension: str) -> Response:
    site = site_url(request)
    graph = new_graph()
    with request.app.state.portal.session() as db_session:
        data = catalog.dataset(db_session, name)
        if data is None:
            return PlainTextResponse(f"没有数据集 {name}", status_code=404)
        add_dataset(graph, data, site, db_session.get(PortalMeta, 1))
    return render(graph, extension)


def _register(extension: str) -> None:
    media_type = SERIALISATIONS[extension][1]

    def catalog_feed(
        request: Request, page: str | None = None, modified_since: str | None = None
    ) -> Response:
        return _catalog_feed(request, extension, page, modified_since)

    def dataset_feed(request: Request, name: str) -> Response:
        return _dataset_feed(request, name, extension)

    router.add_api_route(
        f"/catalog.{extension}",
        catalog_feed,
        methods=["GET"],
        summary=f"DCAT-AP 3 目录（{media_type}）",
        response_class=Response,
    )
    router.add_api_route(
        f"/dataset/{{name}}.{extension}",
        dataset_feed,
        methods=["GET"],
        summary=f"DCAT-AP 3 数据集（{media_type}）",
        response_class=Response,
    )


for _extension in SERIALISATIONS:
    _register(_extension)
