"""The portal's public pages over the sample portal database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.pages import SearchParams, pages_of
from govshare.portal.settings import PortalSettings
from govshare.portal.templating import environment

BUS_STOPS = "a01001-000001"
PHARMACIES = "b02001-000001"
AIR = "c03001-000001"
CONDITIONAL = "b02001-000002"


@pytest.fixture(scope="module")
def client(sample_portal: PortalDatabase) -> Iterator[TestClient]:
    app = create_portal_app(PortalSettings(database_url=sample_portal.url), database=sample_portal)
    with TestClient(app) as test_client:
        yield test_client


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, dict[str, str | None]]] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open.append((dict(attrs).get("href") or "", dict(attrs), []))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, attrs, text = self._open.pop()
            self.links.append((href, "".join(text).strip(), attrs))


def links(html: str) -> list[tuple[str, str, dict[str, str | None]]]:
    """(href, text, attributes) of every link of a page."""
    parser = _Links()
    parser.feed(html)
    return parser.links


def link_to(html: str, text: str) -> tuple[str, dict[str, str | None]]:
    """The link whose text starts with `text` (facet links end with a count elsewhere)."""
    found = [(href, attrs) for href, shown, attrs in links(html) if shown.lstrip("✓") == text]
    assert found, f"no link 「{text}」 on the page"
    return found[0]


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def test_home_shows_the_site_the_domains_and_the_newest(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "<title>江州市公共数据开放门户</title>" in page.text
    href, _ = link_to(page.text, "交通出行1 个数据集")
    assert query_of(href) == {"groups": ["transport"]}
    assert "<strong>4</strong> 个数据集" in page.text
    assert "<strong>3</strong> 个提供部门" in page.text
    for title in ("公交站点信息", "药品零售企业许可信息", "空气质量日报", "企业年报抽查结果"):
        assert title in page.text
    assert 'action="/dataset"' in page.text


@pytest.mark.parametrize(
    "path",
    ["/", "/dataset", f"/dataset/{BUS_STOPS}", "/organization", "/organization/org-11", "/group"],
)
def test_every_page_is_chinese_with_the_site_header_and_a_footer(
    client: TestClient, path: str
) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert '<a class="site-title" href="/">江州市公共数据开放门户</a>' in page.text
    assert '<footer class="site-footer">' in page.text
    assert "主办：江州市大数据管理局" in page.text


def test_the_stylesheet_is_served(client: TestClient) -> None:
    css = client.get("/portal-static/portal.css")
    assert css.status_code == 200
    assert "@media (max-width: 700px)" in css.text


def test_a_chinese_keyword_finds_the_bus_stops(client: TestClient) -> None:
    page = client.get("/dataset", params={"q": "公交"})
    assert page.status_code == 200
    assert "共 <strong>1</strong> 个数据集" in page.text
    href, _ = link_to(page.text, "公交站点信息")
    assert href == f"/dataset/{BUS_STOPS}"
    assert "<mark>公交</mark>" in page.text
    assert "药品零售企业许可信息" not in page.text
    assert "江州市交通运输局" in page.text
    assert "无条件开放" in page.text
    assert "每月更新" in page.text
    assert "更新于 <time" in page.text


def test_a_facet_value_adds_its_filter_and_a_chosen_one_removes_it(client: TestClient) -> None:
    everything = client.get("/dataset")
    assert "共 <strong>4</strong> 个数据集" in everything.text
    href, _ = link_to(everything.text, "交通出行")
    assert query_of(href) == {"groups": ["transport"]}

    narrowed = client.get(href)
    assert "共 <strong>1</strong> 个数据集" in narrowed.text
    assert "公交站点信息" in narrowed.text
    assert "空气质量日报" not in narrowed.text
    chosen, attrs = link_to(narrowed.text, "交通出行")
    assert attrs.get("class") == "selected"
    assert query_of(chosen) == {}  # clicking it again removes the filter
    # Another value of the same facet is an alternative: both domains are then shown.
    other, _ = link_to(narrowed.text, "医疗卫生")
    assert query_of(other) == {"groups": ["transport", "health"]}
    both = client.get(other)
    assert "共 <strong>2</strong> 个数据集" in both.text


def test_filters_of_different_facets_narrow_together_and_keep_the_keyword(
    client: TestClient,
) -> None:
    page = client.get("/dataset", params={"organization": "org-12", "open_type": "unconditional"})
    assert "共 <strong>1</strong> 个数据集" in page.text
    assert "药品零售企业许可信息" in page.text
    assert "企业年报抽查结果" not in page.text
    assert "提供部门：江州市市场监督管理局" in page.text  # the chosen filter, by its label
    # the search form keeps the filters as hidden fields
    assert '<input type="hidden" name="organization" value="org-12">' in page.text

    conditional = client.get("/dataset", params={"open_type": "conditional"})
    assert "企业年报抽查结果" in conditional.text
    assert "有条件开放" in conditional.text


def test_a_tag_on_a_result_filters_by_it(client: TestClient) -> None:
    page = client.get("/dataset")
    href, _ = link_to(page.text, "药店")
    assert query_of(href) == {"tags": ["药店"]}
    tagged = client.get(href)
    assert "共 <strong>1</strong> 个数据集" in tagged.text
    assert "药品零售企业许可信息" in tagged.text


def test_sort_and_page_links_keep_the_search(client: TestClient) -> None:
    page = client.get("/dataset", params={"q": "江州", "sort": "title"})
    assert page.status_code == 200
    href, _ = link_to(page.text, "最近更新")
    assert query_of(href) == {"q": ["江州"], "sort": ["modified"]}
    beyond = client.get("/dataset", params={"page": "2"})
    assert beyond.status_code == 200
    assert "这一页没有结果" in beyond.text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page": "0"}, "页码（page）"),
        ({"page": "-1"}, "页码（page）"),
        ({"page": "abc"}, "页码（page）"),
        ({"page": "2.5"}, "页码（page）"),
        ({"page": "99999999999999999999"}, "页码（page）"),
        ({"sort": "price"}, "排序方式（sort）"),
        ({"q": "公交" * 51}, "搜索关键词（q）最多 100 个字"),
        ({"q": "公交\x00"}, "搜索关键词（q）不能含控制字符"),
        ({"groups": "x" * 101}, "领域（groups）最多 100 个字"),
        ({"organization": "org\x00"}, "提供部门（organization）不能含控制字符"),
        ({"tags": [f"t{i}" for i in range(21)]}, "标签（tags）最多同时选 20 个"),
    ],
)
def test_a_bad_parameter_is_a_chinese_message_with_status_400(
    client: TestClient, params: dict[str, object], named: str
) -> None:
    page = client.get("/dataset", params=params)
    assert page.status_code == 400
    assert named in page.text
    assert 'id="search-error"' in page.text
    assert '<html lang="zh-CN">' in page.text


@pytest.mark.parametrize("q", ['"', "'", "AND", "OR NOT", "*", "(", "公交 (", "%_", "\\", "NEAR("])
def test_odd_keywords_are_searched_not_failed(client: TestClient, q: str) -> None:
    assert client.get("/dataset", params={"q": q}).status_code == 200


def test_the_keyword_is_escaped_on_the_page(client: TestClient) -> None:
    page = client.get("/dataset", params={"q": "<script>公交</script>"})
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_the_dataset_page_shows_dictionary_preview_history_and_downloads(
    client: TestClient,
) -> None:
    page = client.get(f"/dataset/{BUS_STOPS}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>公交站点信息" in text
    assert "全市公交站点名称、途经线路和坐标。" in text
    assert "江州市交通运输局" in text and "交通出行" in text and "每月" in text
    # the data dictionary: names, types in Chinese, descriptions
    assert "<strong>站点名称</strong>" in text
    assert '<td data-label="类型">文本</td>' in text
    assert '<td data-label="说明">WGS84</td>' in text
    # the preview: the rows, in order
    assert text.index("江州火车站") < text.index("人民广场") < text.index("滨江公园")
    assert "前 4 条，共 4 条" in text
    # the update history
    assert "2026-12-01 10:00" in text  # 02:00 UTC shown in the city's time
    assert "第 1 版" in text and "首次开放" in text
    hrefs = [href for href, _, _ in links(text)]
    for extension in ("csv", "xlsx", "json"):
        assert f"/dataset/{BUS_STOPS}/download.{extension}" in hrefs
    # interface notes with this request's base URL
    assert f"curl 'http://testserver/api/3/action/package_show?id={BUS_STOPS}'" in text
    assert (
        f"curl 'http://testserver/api/3/action/datastore_search?resource_id={BUS_STOPS}-data&amp;limit=10'"
        in text
    )


def test_masked_items_say_so_and_dates_show_in_iso(client: TestClient) -> None:
    page = client.get(f"/dataset/{PHARMACIES}")
    assert '<span class="badge masked">已脱敏：保留前 11 位</span>' in page.text
    assert '<span class="badge masked">已脱敏：地址</span>' in page.text
    assert '<td data-label="类型">日期</td>' in page.text
    assert "<td>2021-05-06</td>" in page.text
    assert "<td>91420100MA4K*******</td>" in page.text


def test_numbers_in_the_preview_are_plain(client: TestClient) -> None:
    page = client.get(f"/dataset/{AIR}")
    assert '<td class="num">40</td>' in page.text
    assert '<td class="num">30.5</td>' in page.text
    assert '<td data-label="类型">整数</td>' in page.text
    assert '<td data-label="类型">数值</td>' in page.text


def test_a_conditional_dataset_must_be_applied_for_and_offers_no_download(
    client: TestClient,
) -> None:
    page = client.get(f"/dataset/{CONDITIONAL}")
    assert page.status_code == 200
    assert '<span class="badge conditional">有条件开放</span>' in page.text
    assert "须向提供部门申请，获得批准后方可使用" in page.text
    assert "开放条件：仅限用于学术研究，须签署数据使用协议" in page.text
    assert "download." not in page.text
    assert 'id="preview"' not in page.text
    assert "<strong>抽查结果</strong>" in page.text  # the dictionary is still public
    assert "datastore_search" not in page.text


def test_the_configured_base_url_is_used_in_the_interface_notes(
    sample_portal: PortalDatabase,
) -> None:
    settings = PortalSettings(
        database_url=sample_portal.url, base_url="https://data.jiangzhou.example"
    )
    with TestClient(create_portal_app(settings, database=sample_portal)) as client:
        page = client.get(f"/dataset/{BUS_STOPS}")
    assert (
        f"curl 'https://data.jiangzhou.example/api/3/action/package_show?id={BUS_STOPS}'"
        in page.text
    )


@pytest.mark.parametrize(
    "name", ["nope", "a01001-000009", "99999999999999999999999", "%C2%B2", "%00", "x" * 101]
)
def test_an_unknown_dataset_is_a_chinese_404(client: TestClient, name: str) -> None:
    page = client.get(f"/dataset/{name}")
    assert page.status_code == 404
    assert "找不到您要的内容" in page.text
    assert "的开放数据集" in page.text


def test_a_dataset_is_found_by_its_id_too(client: TestClient) -> None:
    assert "<h1>公交站点信息" in client.get("/dataset/101").text


def test_departments_list_their_counts_and_their_datasets(client: TestClient) -> None:
    listing = client.get("/organization")
    href, _ = link_to(listing.text, "江州市市场监督管理局2 个数据集")
    assert href == "/organization/org-12"
    page = client.get(href)
    assert "<h1>江州市市场监督管理局</h1>" in page.text
    assert "共 2 个开放数据集" in page.text
    assert "药品零售企业许可信息" in page.text and "企业年报抽查结果" in page.text
    assert "公交站点信息" not in page.text
    search, _ = link_to(page.text, "在数据目录中检索")
    assert query_of(search) == {"organization": ["org-12"]}


def test_an_unknown_department_is_a_404_and_a_bad_page_a_400(client: TestClient) -> None:
    assert client.get("/organization/org-99").status_code == 404
    bad = client.get("/organization/org-12", params={"page": "x"})
    assert bad.status_code == 400
    assert "页码（page）" in bad.text


def test_domains_lead_into_the_catalog(client: TestClient) -> None:
    page = client.get("/group")
    href, _ = link_to(page.text, "生态环境1 个数据集")
    assert query_of(href) == {"groups": ["environment"]}


def test_links_stay_under_the_path_the_portal_is_mounted_at(
    sample_portal: PortalDatabase,
) -> None:
    outer = FastAPI()
    portal = create_portal_app(
        PortalSettings(database_url=sample_portal.url), database=sample_portal
    )
    outer.mount("/open", portal)
    with TestClient(outer) as client:
        page = client.get("/open/dataset", params={"q": "公交"})
        assert page.status_code == 200
        href, _ = link_to(page.text, "公交站点信息")
        assert href == f"/open/dataset/{BUS_STOPS}"
        assert 'href="/open/portal-static/portal.css"' in page.text
        assert client.get("/open/portal-static/portal.css").status_code == 200
        dataset = client.get(href)
        assert f"/open/dataset/{BUS_STOPS}/download.csv" in dataset.text
        assert "http://testserver/open/api/3/action/package_show" in dataset.text


def test_the_pager_shows_the_pages_around_the_current_one() -> None:
    assert pages_of(0, 1) == {"page": 1, "last": 1, "numbers": [1]}
    assert pages_of(95, 3)["numbers"] == [1, 2, 3, 4, 5]
    pager = pages_of(400, 10)
    assert pager == {"page": 10, "last": 20, "numbers": [1, 8, 9, 10, 11, 12, 20]}
    macros = environment.get_template("portal/macros.html").module
    html = str(macros.pager(pager, SearchParams(q="公交", page=10), "/dataset"))  # type: ignore[attr-defined]
    hrefs = {text: href for href, text, _ in links(html)}
    assert hrefs["上一页"] == "/dataset?q=%E5%85%AC%E4%BA%A4&page=9"
    assert hrefs["下一页"] == "/dataset?q=%E5%85%AC%E4%BA%A4&page=11"
    assert hrefs["1"] == "/dataset?q=%E5%85%AC%E4%BA%A4"
    assert '<span class="current" aria-current="page">10</span>' in html
    assert html.count('<span class="gap">…</span>') == 2
