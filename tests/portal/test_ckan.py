"""The CKAN Action API, read by CKAN's own client: ckanapi's RemoteCKAN and its command line,
unmodified, against the portal on a live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from ckanapi import RemoteCKAN
from ckanapi.errors import CKANAPIError, NotAuthorized, NotFound, ValidationError

from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.settings import PortalSettings
from tests.portal.serving import ckanapi_cli, served

BUS_STOPS = "a01001-000001"
PHARMACIES = "b02001-000001"
AIR = "c03001-000001"
CONDITIONAL = "b02001-000002"


@pytest.fixture(scope="module")
def portal_url(sample_portal: PortalDatabase) -> Iterator[str]:
    """The portal over the sample datasets, served by uvicorn on a free port."""
    app = create_portal_app(PortalSettings(database_url=sample_portal.url), database=sample_portal)
    with served(app) as url:
        yield url


@pytest.fixture
def ckan(portal_url: str) -> Iterator[RemoteCKAN]:
    with RemoteCKAN(portal_url) as remote:
        yield remote


def _cli(portal_url: str, *args: str) -> object:
    return ckanapi_cli(portal_url, *args)


# --- datasets -------------------------------------------------------------------------------


def test_package_search_finds_the_bus_stops_by_a_chinese_word(ckan: RemoteCKAN) -> None:
    found = ckan.action.package_search(q="公交")
    assert found["count"] == 1
    (package,) = found["results"]
    assert package["name"] == BUS_STOPS
    assert package["title"] == "公交站点信息"
    assert package["organization"]["name"] == "org-11"
    assert package["organization"]["title"] == "江州市交通运输局"
    assert [(g["name"], g["title"]) for g in package["groups"]] == [("transport", "交通出行")]
    assert {t["name"] for t in package["tags"]} == {"公交", "出行"}
    assert package["license_title"] == "江州市公共数据开放许可协议"
    assert package["metadata_modified"] == "2026-12-01T02:00:00.000000"
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["code"] == "A01001/000001"
    assert extras["open_type"] == "unconditional"
    assert extras["update_frequency"] == "monthly"
    assert package["num_resources"] == 1
    assert found["sort"] == "score desc, metadata_modified desc"
    assert ckan.action.package_search(q="不存在的词语")["count"] == 0


def test_fq_terms_filter_by_organization_domain_tags_and_open_type(ckan: RemoteCKAN) -> None:
    def names(**params: object) -> set[str]:
        return {p["name"] for p in ckan.action.package_search(**params)["results"]}

    assert names(fq="organization:org-12") == {PHARMACIES, CONDITIONAL}
    assert names(fq="+organization:org-12 AND open_type:conditional") == {CONDITIONAL}
    assert names(fq='tags:"药店"') == {PHARMACIES}
    assert names(fq="tags:(公交 OR 空气)") == {BUS_STOPS, AIR}
    assert names(fq="groups:transport update_frequency:monthly") == {BUS_STOPS}
    assert names(fq="update_frequency:daily OR update_frequency:yearly") == {AIR, CONDITIONAL}
    assert names(q="organization:org-13") == {AIR}
    assert names(q="*:*", fq="dataset_type:dataset") == {BUS_STOPS, PHARMACIES, AIR, CONDITIONAL}
    assert names(fq="dataset_type:harvest") == set()
    # Two values of a one-valued field hold together for none.
    assert names(fq="organization:org-11 organization:org-12") == set()


def test_rows_start_and_sort_page_the_results(ckan: RemoteCKAN) -> None:
    by_name = ckan.action.package_search(sort="name asc", rows=2, start=1)
    assert by_name["count"] == 4
    assert [p["name"] for p in by_name["results"]] == [PHARMACIES, CONDITIONAL]
    by_title = ckan.action.package_search(sort="title_string asc", rows=1000)
    titles = [p["title"] for p in by_title["results"]]
    assert titles == sorted(titles)
    descending = ckan.action.package_search(sort="name desc")
    assert [p["name"] for p in descending["results"]] == [AIR, CONDITIONAL, PHARMACIES, BUS_STOPS]
    assert ckan.action.package_search(sort="metadata_modified desc")["count"] == 4
    assert ckan.action.package_search(rows=0)["results"] == []


def test_facets_count_as_ckan_reports_them(ckan: RemoteCKAN) -> None:
    found = ckan.action.package_search(
        facet=True, **{"facet.field": ["organization", "groups", "tags", "open_type", "nothing"]}
    )
    assert found["facets"]["organization"] == {"org-11": 1, "org-12": 2, "org-13": 1}
    assert found["facets"]["open_type"] == {"unconditional": 3, "conditional": 1}
    assert found["facets"]["tags"] == {"公交": 1, "出行": 1, "药店": 1, "空气": 1}
    assert found["facets"]["nothing"] == {}
    items = found["search_facets"]["organization"]["items"]
    assert {"name": "org-12", "display_name": "江州市市场监督管理局", "count": 2} in items
    assert found["search_facets"]["groups"]["title"] == "groups"
    # Without facet.field there are no facets, as in CKAN.
    assert ckan.action.package_search(q="公交")["facets"] == {}


def test_package_show_by_name_code_or_id_and_not_found(ckan: RemoteCKAN) -> None:
    by_name = ckan.action.package_show(id=AIR)
    assert by_name["title"] == "空气质量日报"
    assert ckan.action.package_show(id="C03001/000001")["name"] == AIR
    assert ckan.action.package_show(id=by_name["id"])["name"] == AIR
    with pytest.raises(NotFound):
        ckan.action.package_show(id="no-such-dataset")
    with pytest.raises(ValidationError) as missing:
        ckan.action.package_show()
    assert "id" in missing.value.error_dict


def test_package_list_pages_the_names(ckan: RemoteCKAN) -> None:
    assert ckan.action.package_list() == [BUS_STOPS, PHARMACIES, CONDITIONAL, AIR]
    assert ckan.action.package_list(limit=2, offset=1) == [PHARMACIES, CONDITIONAL]


# --- organizations, groups, tags, site ------------------------------------------------------


def test_organizations_and_groups_list_and_show(ckan: RemoteCKAN) -> None:
    assert sorted(ckan.action.organization_list()) == ["org-11", "org-12", "org-13"]
    full = ckan.action.organization_list(all_fields=True, sort="package_count desc")
    assert (full[0]["name"], full[0]["package_count"]) == ("org-12", 2)
    assert full[0]["title"] == "江州市市场监督管理局"
    market = ckan.action.organization_show(id="org-12", include_datasets=True)
    assert market["package_count"] == 2
    assert {p["name"] for p in market["packages"]} == {PHARMACIES, CONDITIONAL}
    with pytest.raises(NotFound):
        ckan.action.organization_show(id="org-99")
    assert sorted(ckan.action.group_list()) == [
        "enterprise_registration",
        "environment",
        "health",
        "transport",
    ]
    transport = ckan.action.group_show(id="transport", include_datasets=True)
    assert transport["title"] == "交通出行"
    assert [p["name"] for p in transport["packages"]] == [BUS_STOPS]
    assert ckan.action.tag_list() == sorted(["公交", "出行", "药店", "空气"])
    assert ckan.action.tag_list(query="公") == ["公交"]


def test_status_show_names_the_site_and_its_extensions(ckan: RemoteCKAN, portal_url: str) -> None:
    status = ckan.action.status_show()
    assert status["site_title"] == "江州市公共数据开放门户"
    assert status["site_url"] == portal_url
    assert status["ckan_version"].startswith("2.10")
    assert set(status["extensions"]) >= {"datastore", "dcat"}
    assert "fq" in ckan.action.help_show(name="package_search")


# --- resources and the datastore ------------------------------------------------------------


def test_resource_show_is_the_csv_download_of_package_show(
    ckan: RemoteCKAN, portal_url: str
) -> None:
    (listed,) = ckan.action.package_show(id=BUS_STOPS)["resources"]
    resource = ckan.action.resource_show(id=listed["id"])
    assert resource == listed
    assert resource["url"] == f"{portal_url}/dataset/{BUS_STOPS}/download.csv"
    assert resource["format"] == "CSV"
    assert resource["datastore_active"] is True
    with pytest.raises(NotFound):
        ckan.action.resource_show(id="no-such-data")


def test_datastore_search_filters_on_item_names(ckan: RemoteCKAN) -> None:
    (resource,) = ckan.action.package_show(id=BUS_STOPS)["resources"]
    found = ckan.action.datastore_search(
        resource_id=resource["id"], filters={"站点名称": "人民广场"}
    )
    assert found["total"] == 1
    assert found["records"] == [
        {
            "_id": 2,
            "站点名称": "人民广场",
            "途经线路": "1路、2路",
            "经度": "114.2998",
            "纬度": "30.5870",
        }
    ]
    assert [f["id"] for f in found["fields"]] == ["_id", "站点名称", "途经线路", "经度", "纬度"]
    assert {f["type"] for f in found["fields"]} == {"int", "text"}
    either = ckan.action.datastore_search(
        resource_id=resource["id"], filters={"站点名称": ["人民广场", "滨江公园"]}
    )
    assert [r["_id"] for r in either["records"]] == [2, 4]
    words = ckan.action.datastore_search(resource_id=resource["id"], q="K3")
    assert [r["站点名称"] for r in words["records"]] == ["江州火车站", "滨江公园"]


def test_datastore_search_types_sorts_pages_and_chooses_fields(ckan: RemoteCKAN) -> None:
    air = f"{AIR}-data"
    first = ckan.action.datastore_search(
        resource_id=air, sort="空气质量指数 desc", limit=2, fields="日期,空气质量指数"
    )
    assert first["total"] == 5 and first["limit"] == 2
    assert first["records"] == [
        {"日期": "2026-12-02", "空气质量指数": 68},
        {"日期": "2026-12-01", "空气质量指数": 61},
    ]
    assert first["fields"] == [
        {"id": "日期", "type": "date", "info": {"label": "日期", "notes": ""}},
        {"id": "空气质量指数", "type": "int", "info": {"label": "空气质量指数", "notes": "AQI"}},
    ]
    assert "offset=2" in first["_links"]["next"]
    second = ckan.action.datastore_search(
        resource_id=air, sort="空气质量指数 desc", limit=2, offset=2
    )
    assert [r["空气质量指数"] for r in second["records"]] == [54, 47]
    assert second["records"][0]["细颗粒物浓度"] == 32.5
    by_date = ckan.action.datastore_search(resource_id=air, filters={"日期": "2026-11-29"})
    assert [r["空气质量指数"] for r in by_date["records"]] == [47]
    licensed = ckan.action.datastore_search(
        resource_id=f"{PHARMACIES}-data", filters={"发证日期": "2023-02-17"}
    )
    assert licensed["records"][0]["统一社会信用代码"] == "92420100MA4L*******"
    masked = next(f for f in licensed["fields"] if f["id"] == "统一社会信用代码")
    assert masked["info"]["masking"] == "保留前 11 位"


def test_conditional_data_must_be_applied_for(ckan: RemoteCKAN, portal_url: str) -> None:
    # The metadata is open: listed and shown.
    (resource,) = ckan.action.package_show(id=CONDITIONAL)["resources"]
    assert resource["url"] == f"{portal_url}/dataset/{CONDITIONAL}"
    with pytest.raises(NotAuthorized) as refused:
        ckan.action.datastore_search(resource_id=resource["id"])
    assert "申请" in refused.value.extra_msg["message"]
    answer = requests.get(
        f"{portal_url}/api/3/action/datastore_search",
        params={"resource_id": resource["id"]},
        timeout=60,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["__type"] == "Authorization Error"


# --- errors and the protocol ----------------------------------------------------------------


def test_bad_parameters_are_validation_errors_naming_the_field(
    ckan: RemoteCKAN, portal_url: str
) -> None:
    cases = [
        ("package_search", {"rows": "many"}, "rows"),
        ("package_search", {"start": -1}, "start"),
        ("package_search", {"sort": "popularity desc"}, "sort"),
        ("package_search", {"fq": "license:cc"}, "fq"),
        ("package_search", {"facet.field": "not json"}, "facet.field"),
        ("datastore_search", {"resource_id": f"{AIR}-data", "filters": {"风向": "北"}}, "filters"),
        (
            "datastore_search",
            {"resource_id": f"{AIR}-data", "filters": {"日期": "昨天"}},
            "filters",
        ),
        ("datastore_search", {"resource_id": f"{AIR}-data", "sort": "风向"}, "sort"),
        ("datastore_search", {"resource_id": f"{AIR}-data", "fields": ["风向"]}, "fields"),
        ("datastore_search", {"resource_id": f"{AIR}-data", "limit": "all"}, "limit"),
        ("datastore_search", {"resource_id": f"{AIR}-data", "colour": "red"}, "colour"),
    ]
    for action, params, field in cases:
        with pytest.raises(ValidationError) as raised:
            ckan.call_action(action, params)
        assert field in raised.value.error_dict, (action, params)
        assert raised.value.error_dict["__type"] == "Validation Error"
    # Filters that are not JSON, through a GET: 409 naming the parameter, never a 500.
    answer = requests.get(
        f"{portal_url}/api/3/action/datastore_search",
        params={"resource_id": f"{AIR}-data", "filters": "{站点"},
        timeout=60,
    )
    assert answer.status_code == 409
    assert answer.json()["success"] is False
    assert "filters" in answer.json()["error"]


def test_an_unknown_action_or_body_is_a_bad_request(ckan: RemoteCKAN, portal_url: str) -> None:
    with pytest.raises(CKANAPIError):
        ckan.action.package_create(name="x")
    answer = requests.post(f"{portal_url}/api/3/action/no_such_action", json={}, timeout=60)
    assert answer.status_code == 400
    assert "Action name not known" in answer.json()
    broken = requests.post(
        f"{portal_url}/api/3/action/package_show",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert broken.status_code == 400
    assert broken.json().startswith("Bad request: JSON Error")


def test_get_post_and_form_calls_answer_in_ckan_envelope(portal_url: str) -> None:
    url = f"{portal_url}/api/3/action/package_show"
    answers = [
        requests.get(url, params={"id": BUS_STOPS}, timeout=60),
        requests.post(url, json={"id": BUS_STOPS}, timeout=60),
        requests.post(url, data={"id": BUS_STOPS}, timeout=60),
        requests.post(f"{portal_url}/api/action/package_show", json={"id": BUS_STOPS}, timeout=60),
    ]
    for answer in answers:
        assert answer.status_code == 200
        body = answer.json()
        assert body["success"] is True
        assert body["help"] == f"{portal_url}/api/3/action/help_show?name=package_show"
        assert body["result"]["name"] == BUS_STOPS
    missing = requests.get(url, params={"id": "nothing"}, timeout=60)
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"


def test_get_only_client_sends_lists_as_repeated_parameters(portal_url: str) -> None:
    with RemoteCKAN(portal_url, get_only=True) as remote:
        found = remote.action.package_search(
            fq="organization:org-12", **{"facet.field": ["open_type", "groups"]}
        )
    assert found["count"] == 2
    assert found["facets"]["open_type"] == {"unconditional": 1, "conditional": 1}


# --- the command line -----------------------------------------------------------------------


def test_ckanapi_command_line_searches_and_reads_rows(portal_url: str) -> None:
    found = _cli(portal_url, "package_search", "q=公交")
    assert isinstance(found, dict) and found["count"] == 1
    assert found["results"][0]["name"] == BUS_STOPS
    rows = _cli(
        portal_url,
        "datastore_search",
        f"resource_id={BUS_STOPS}-data",
        'filters:{"站点名称": "江州大学"}',
    )
    assert isinstance(rows, dict)
    assert rows["records"][0]["途经线路"] == "5路、16路"
