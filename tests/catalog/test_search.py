"""Catalog search (CAT-11): keywords segmented with jieba, synonyms, facets with counts,
filters, sorting and paging over the published catalog, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog import search_index, search_text
from govshare.catalog.models import ResourceStatus
from govshare.catalog.schemas import RetirementIn, ReviewIn, VersionIn
from govshare.catalog.search_index import SearchEntry, SearchFacet, SearchTerm, SearchText
from govshare.catalog.service import contents, indexing, resources, retirements
from govshare.catalog.service import search as catalog_search
from govshare.catalog.service.search import FACETS, SearchQuery
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from tests.builders import actor_of, operator, organization, user
from tests.catalog.builders import published, resource_in
from tests.http import form_sign_in

BINZHOU = load_profile("binzhou").rules  # changes and retirements take effect on approval


@pytest.fixture
def world(db: Session):
    op, _ = operator(db)
    mz = organization(db, "江州市民政局")
    gaj = organization(db, "江州市公安局")
    mz_officer = actor_of(user(db, mz, [Role.DATA_OFFICER], "mz_officer"))
    gaj_officer = actor_of(user(db, gaj, [Role.DATA_OFFICER], "gaj_officer"))
    return op, mz_officer, gaj_officer


def run(db: Session, actor: Actor, text: str = "", **kw: Any) -> catalog_search.SearchResult:
    return catalog_search.search(db, actor=actor, query=SearchQuery(text=text, **kw))


def names(result: catalog_search.SearchResult) -> list[str]:
    return [row.name for row in result.rows]


def items(*names_: str) -> list[dict[str, Any]]:
    return [{"name": n, "data_type": "C", "length": 50} for n in names_]


def make(db: Session, officer: Actor, op: Actor, name: str, **kw: Any):
    """A published resource saying nothing but what the test gives it (the builder's
    defaults mention 婚姻登记 and 身份证号)."""
    fields: dict[str, Any] = {"summary": "本单位业务数据汇总", "items": items("编号")}
    return published(db, officer, op, name=name, **(fields | kw))


def test_a_keyword_finds_names_summaries_and_data_items(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, mz, op, "婚姻登记信息", summary="结婚、离婚登记记录", items=items("姓名"))
    make(db, gaj, op, "户籍人口信息", summary="本市户籍人口的婚姻登记状况摘录")
    make(db, gaj, op, "流动人口信息", summary="暂住登记", items=items("婚姻登记机关"))
    make(db, gaj, op, "出入境证件信息", summary="护照和通行证", items=items("证件类型"))
    found = run(db, op, "婚姻登记")
    assert sorted(names(found)) == ["婚姻登记信息", "户籍人口信息", "流动人口信息"]
    assert found.total == 3
    assert found.rows[0].name == "婚姻登记信息"  # the name matches: most relevant
    assert found.rows[0].provider == "江州市民政局"


def test_公民身份_finds_items_named_身份证号(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, gaj, op, "居民户籍信息", summary="户籍登记", items=items("身份证号"))
    make(db, mz, op, "低保救助信息", summary="救助对象", items=items("证件号码"))
    make(db, mz, op, "养老机构信息", summary="机构名录", items=items("机构名称"))
    assert sorted(names(run(db, op, "公民身份"))) == ["低保救助信息", "居民户籍信息"]
    assert sorted(names(run(db, op, "身份证号码"))) == ["低保救助信息", "居民户籍信息"]


def test_several_words_must_all_match(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, mz, op, "婚姻登记信息", items=items("姓名", "身份证号"))
    make(db, mz, op, "婚姻档案目录", items=items("档案号"))
    make(db, gaj, op, "户籍人口信息", items=items("身份证号"))
    assert names(run(db, op, "婚姻 身份证号")) == ["婚姻登记信息"]
    assert names(run(db, op, "婚姻  公民身份  ")) == ["婚姻登记信息"]
    assert run(db, op, "婚姻 驾驶证").total == 0


def test_punctuation_and_width_do_not_matter(db: Session, world) -> None:
    op, mz, _ = world
    make(db, mz, op, "ＰｏｓｔｇｒｅＳＱＬ库表清单", summary="数据库（2024年）清单")
    assert run(db, op, "postgresql").total == 1
    assert run(db, op, "《2024年》").total == 1
    assert run(db, op, "！！！").total == 1  # nothing to search for: everything published


def test_drafts_and_retired_resources_are_not_found(db: Session, world) -> None:
    op, mz, _ = world
    resources.create_resource(db, actor=mz, data=resource_in(name="婚姻登记草稿"), rules=BINZHOU)
    retired = make(db, mz, op, rules=BINZHOU, name="婚姻登记旧表")
    make(db, mz, op, rules=BINZHOU, name="婚姻登记现行表")
    assert run(db, op, "婚姻登记").total == 2
    retirements.request_retirement(
        db, actor=mz, resource_id=retired.id, data=RetirementIn(reason="已并入现行表")
    )
    retirements.review_retirement(
        db, actor=op, resource_id=retired.id, decision=ReviewIn(approve=True), rules=BINZHOU
    )
    assert retired.status is ResourceStatus.RETIRED
    found = run(db, op, "婚姻登记")
    assert names(found) == ["婚姻登记现行表"]
    assert found.facets["provider_id"][0].count == 1
    assert db.get(SearchEntry, retired.id) is None
    assert db.get(SearchText, retired.id) is None
    chunk, bit = divmod(retired.id, search_index.TERM_CHUNK)
    pieces = db.execute(select(SearchTerm.members).where(SearchTerm.chunk == chunk)).scalars()
    assert not any(len(m) > bit >> 3 and m[bit >> 3] >> (bit & 7) & 1 for m in pieces)
    assert all(m and m[-1] for m in db.execute(select(SearchTerm.members)).scalars())


def test_a_new_version_replaces_what_is_found(db: Session, world) -> None:
    op, mz, _ = world
    resource = make(db, mz, op, rules=BINZHOU, name="殡葬服务信息", domain="health")
    revision = resources.start_revision(db, actor=mz, resource_id=resource.id)
    data = contents.version_input(revision) | {"name": "殡葬管理信息", "domain": "culture"}
    resources.update_draft(
        db, actor=mz, version_id=revision.id, data=VersionIn.model_validate(data), rules=BINZHOU
    )
    before = run(db, op, "服务")
    assert names(before) == ["殡葬服务信息"]  # until the new version takes effect
    resources.submit_version(db, actor=mz, version_id=revision.id, rules=BINZHOU)
    resources.review_version(
        db, actor=op, version_id=revision.id, decision=ReviewIn(approve=True), rules=BINZHOU
    )
    assert run(db, op, "服务").total == 0
    after = run(db, op, "殡葬")
    assert names(after) == ["殡葬管理信息"]
    assert [(v.value, v.count) for v in after.facets["domain"]] == [("culture", 1)]


def test_facets_count_each_value_with_the_other_filters_applied(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, mz, op, "婚姻登记信息", domain="public_administration")
    make(db, mz, op, "婚姻档案信息", domain="culture", update_frequency="yearly")
    make(db, gaj, op, "婚姻状况核验", domain="safety", update_frequency="yearly")
    make(db, gaj, op, "户籍人口信息", domain="safety")
    found = run(db, op, "婚姻", update_frequency="yearly")
    assert found.total == 2
    by_value = {f: {v.value: v.count for v in vs} for f, vs in found.facets.items()}
    # Its own filter ignored: what choosing another frequency would give.
    assert by_value["update_frequency"] == {"daily": 1, "yearly": 2}
    assert [v.value for v in found.facets["update_frequency"] if v.selected] == ["yearly"]
    # The other facets count within the yearly ones.
    assert by_value["domain"] == {"culture": 1, "safety": 1}
    assert by_value["provider_id"] == {str(mz.organization_id): 1, str(gaj.organization_id): 1}
    labels = {v.label for v in found.facets["provider_id"]}
    assert labels == {"江州市民政局", "江州市公安局"}
    assert {v.label for v in found.facets["domain"]} == {"文化休闲", "安全生产"}


def test_a_selected_value_stays_listed_when_nothing_has_it(db: Session, world) -> None:
    op, mz, _ = world
    make(db, mz, op, "婚姻登记信息")
    found = run(db, op, "婚姻", open_type="conditional")
    assert found.total == 0
    assert [(v.value, v.count, v.selected) for v in found.facets["open_type"]] == [
        ("not_open", 1, False),
        ("conditional", 0, True),
    ]


def test_filters_narrow_the_results(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, mz, op, "婚姻登记信息", format="spreadsheet")
    make(db, gaj, op, "户籍人口信息", share_type="unconditional")
    make(
        db,
        gaj,
        op,
        "违法犯罪记录",
        share_type="conditional",
        share_conditions="仅限办案",
        legal_basis="《刑事诉讼法》",
        items=items("姓名", "案件编号"),
    )
    assert names(run(db, op, provider_id=mz.organization_id)) == ["婚姻登记信息"]
    assert names(run(db, op, format="spreadsheet")) == ["婚姻登记信息"]
    assert names(run(db, op, share_type="conditional")) == ["违法犯罪记录"]
    assert names(
        run(db, op, "姓名", provider_id=gaj.organization_id, share_type="conditional")
    ) == ["违法犯罪记录"]
    assert run(db, op, provider_id=999_999).total == 0


def test_sorting_and_paging(db: Session, world) -> None:
    op, mz, _ = world
    for day, name in [(3, "安全生产许可"), (1, "殡葬服务"), (4, "婚姻登记"), (2, "不动产登记")]:
        with clock.frozen(f"2026-05-0{day}T10:00:00+08:00"):
            make(db, mz, op, name + "信息")
    newest = run(db, op, page_size=3)
    assert names(newest) == ["婚姻登记信息", "安全生产许可信息", "不动产登记信息"]
    assert (newest.total, newest.page, newest.pages) == (4, 1, 2)
    assert [r.published_on for r in newest.rows] == [date(2026, 5, d) for d in (4, 3, 2)]
    assert names(run(db, op, page_size=3, page=2)) == ["殡葬服务信息"]
    assert names(run(db, op, page_size=3, page=3)) == []
    # By name in pinyin order (GB18030 order for common characters).
    assert names(run(db, op, sort="name")) == [
        "安全生产许可信息",
        "不动产登记信息",
        "婚姻登记信息",
        "殡葬服务信息",  # 殡 is not among the common characters: it sorts after them
    ]
    # Relevance: name matches first, each group newest first.
    found = run(db, op, "登记")
    assert names(found) == ["婚姻登记信息", "不动产登记信息"]
    assert found.query.sort == "relevance"
    assert run(db, op).query.sort == "published"


def test_relevance_puts_name_matches_before_item_matches(db: Session, world) -> None:
    op, mz, _ = world
    with clock.frozen("2026-05-01T10:00:00+08:00"):
        make(db, mz, op, "婚姻登记信息", items=items("登记日期"))
    with clock.frozen("2026-05-09T10:00:00+08:00"):
        make(db, mz, op, "养老机构信息", items=items("婚姻登记状况"))
    assert names(run(db, op, "婚姻登记")) == ["婚姻登记信息", "养老机构信息"]
    assert names(run(db, op, "婚姻登记", sort="published")) == ["养老机构信息", "婚姻登记信息"]


def test_results_carry_a_snippet_around_the_words(db: Session, world) -> None:
    op, mz, _ = world
    summary = (
        "本资源" + "汇集全市各类业务办理过程中形成的数据，" * 6 + "含婚姻登记机关办理的全部记录。"
    )
    make(db, mz, op, "综合业务数据", summary=summary)
    found = run(db, op, "婚姻登记")
    assert "婚姻登记" in found.rows[0].snippet
    assert found.rows[0].snippet.startswith("…")
    assert "婚姻登记" in found.highlights


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("page", 0),
        ("page_size", 0),
        ("page_size", 101),
        ("sort", "popularity"),
        ("domain", "astrology"),
        ("text", "词 " * 9),
        ("text", "长" * 201),
    ],
)
def test_a_bad_query_is_refused_naming_the_field(
    db: Session, world, field: str, value: Any
) -> None:
    op, _, _ = world
    with pytest.raises(Invalid) as refused:
        catalog_search.search(db, actor=op, query=SearchQuery(**{field: value}))
    assert refused.value.field == field


def test_searching_needs_a_signed_in_government_role(db: Session, world) -> None:
    with pytest.raises(Forbidden):
        run(db, Actor.anonymous("10.0.0.1"))


def test_reindexing_rebuilds_the_same_index_and_is_audited(db: Session, world) -> None:
    op, mz, gaj = world
    make(db, mz, op, "婚姻登记信息", items=items("身份证号"))
    make(db, gaj, op, "户籍人口信息", domain="safety")
    draft = resources.create_resource(db, actor=mz, data=resource_in(name="草稿"), rules=BINZHOU)
    before = _snapshot(db)
    assert indexing.reindex_all(db, actor=op) == 2
    assert _snapshot(db) == before
    assert db.get(SearchEntry, draft.id) is None
    action = db.execute(select(AuditEntry.action).order_by(AuditEntry.seq.desc())).scalar()
    assert action == "catalog.search.reindex"
    assert names(run(db, op, "公民身份")) == ["婚姻登记信息"]
    with pytest.raises(Forbidden):
        indexing.reindex_all(db, actor=mz)


def _snapshot(db: Session) -> tuple[Any, ...]:
    db.expire_all()
    entries = db.execute(select(SearchEntry).order_by(SearchEntry.resource_id)).scalars()
    texts = db.execute(
        select(SearchText.resource_id, SearchText.terms).order_by(SearchText.resource_id)
    ).all()
    bitmaps = db.execute(
        select(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk, SearchFacet.members)
        .where(SearchFacet.facet != search_index.STAMP[0])
        .order_by(SearchFacet.facet, SearchFacet.value, SearchFacet.chunk)
    ).all()
    terms = db.execute(
        select(SearchTerm.scope, SearchTerm.term, SearchTerm.chunk, SearchTerm.members).order_by(
            SearchTerm.scope, SearchTerm.term, SearchTerm.chunk
        )
    ).all()
    return (
        [tuple(getattr(e, c.key) for c in SearchEntry.__table__.columns) for e in entries],
        texts,
        [(f, v, c, int.from_bytes(m, "little")) for f, v, c, m in bitmaps],
        terms,  # byte for byte: both ways store pieces ending on a non-zero byte
    )


# --- a catalog of fifty, against the same search computed in Python ----------------------

SUBJECTS = [
    "婚姻登记",
    "不动产登记",
    "企业注册",
    "社保缴纳",
    "户籍人口",
    "出生医学证明",
    "公积金缴存",
]
SUFFIXES = ["信息", "台账", "名录", "明细", "数据"]
ITEM_POOL = [
    "姓名",
    "身份证号",
    "公民身份号码",
    "证件号码",
    "手机号码",
    "联系电话",
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "不动产单元号",
    "登记日期",
    "婚姻状况",
    "出生日期",
    "缴费基数",
    "户籍地址",
]
DOMAINS = ["public_administration", "geography", "enterprise_registration", "social_security"]
FREQUENCIES = ["daily", "monthly", "yearly", "realtime"]
QUERIES = [
    "",
    "婚姻登记",
    "公民身份",
    "身份证号码",
    "登记",
    "企业 法定代表人",
    "联系方式",
    "不动产",
    "缴费",
    "户籍 出生日期",
    "驾驶证",
    "台账",
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"domain": "geography"},
    {"update_frequency": "monthly", "format": "database"},
    {"share_type": "conditional"},
]


@dataclass(frozen=True)
class Expected:
    id: int
    name: str
    terms: str
    name_terms: str
    published_on: date
    facets: dict[str, str]


@pytest.fixture
def catalog(db: Session, world) -> list[Expected]:
    op, mz, gaj = world
    extra = organization(db, "江州市自然资源局")
    zr = actor_of(user(db, extra, [Role.DATA_OFFICER], "zr_officer"))
    officers = [mz, gaj, zr]
    rng = random.Random(11)
    made: list[Expected] = []
    for n in range(50):
        subject, suffix = rng.choice(SUBJECTS), rng.choice(SUFFIXES)
        chosen = rng.sample(ITEM_POOL, rng.randint(2, 6))
        share = rng.choice(["unconditional", "unconditional", "conditional"])
        fields: dict[str, Any] = {
            "name": f"{subject}{suffix}{n}",
            "summary": f"记录{subject}业务中的{chosen[0]}等信息",
            "items": [
                {"name": i, "data_type": "C", "length": 20, "description": rng.choice(["", "必填"])}
                for i in chosen
            ],
            "domain": rng.choice(DOMAINS),
            "update_frequency": rng.choice(FREQUENCIES),
            "format": rng.choice(["database", "database", "spreadsheet"]),
            "share_type": share,
        }
        if share == "conditional":
            fields |= {"share_conditions": "限于履职", "legal_basis": "《条例》第五条"}
        day = date(2026, 1 + n % 9, 1 + n % 27)
        with clock.frozen(f"{day.isoformat()}T10:00:00+08:00"):
            resource = published(db, rng.choice(officers), op, **fields)
        terms = search_text.document_terms(
            fields["name"],
            fields["summary"],
            [(i["name"], i["description"]) for i in fields["items"]],
        )
        made.append(
            Expected(
                resource.id,
                fields["name"],
                terms.terms,
                terms.name_terms,
                day,
                {
                    "provider_id": str(resource.provider_id),
                    "catalog_kind": "department",
                    "domain": fields["domain"],
                    "share_type": share,
                    "format": fields["format"],
                    "open_type": "not_open",
                    "update_frequency": fields["update_frequency"],
                },
            )
        )
    return made


def _expected(catalog: list[Expected], text: str, filters: dict[str, Any], sort: str | None):
    words = search_text.parse_query(text)
    matched = [e for e in catalog if search_text.document_matches(e.terms, words)]

    def passes(e: Expected, skip: str | None = None) -> bool:
        return all(e.facets[f] == str(v) for f, v in filters.items() if f != skip)

    selected = [e for e in matched if passes(e)]
    sort = sort or ("relevance" if words else "published")
    if sort == "name":
        selected.sort(key=lambda e: (search_text.name_key(e.name), e.id))
    else:
        selected.sort(key=lambda e: (-e.published_on.toordinal(), -e.id))
        if sort == "relevance":
            selected.sort(key=lambda e: not search_text.document_matches(e.name_terms, words))
    facets = {}
    for facet in FACETS:
        counts: dict[str, int] = {}
        for e in matched:
            if passes(e, skip=facet):
                counts[e.facets[facet]] = counts.get(e.facets[facet], 0) + 1
        facets[facet] = counts
    return [e.id for e in selected], facets


@pytest.mark.parametrize("sort", [None, "published", "name"])
def test_fifty_resources_give_what_the_rules_say(db: Session, world, catalog, sort) -> None:
    """Every query × filter × sort, paged by 7, against the same search done in Python."""
    op = world[0]
    for text in QUERIES:
        for filters in FILTERS:
            ids, facets = _expected(catalog, text, filters, sort)
            seen: list[int] = []
            page = 1
            while True:
                found = run(db, op, text, sort=sort, page=page, page_size=7, **filters)
                assert found.total == len(ids), (text, filters)
                got = {
                    f: {v.value: v.count for v in vs if v.count} for f, vs in found.facets.items()
                }
                assert got == facets, (text, filters)
                seen += [r.resource_id for r in found.rows]
                if page >= found.pages:
                    break
                page += 1
            assert seen == ids, (text, filters, sort)
    assert run(db, op, "公民身份").total > 0  # the queries do find things
    assert db.execute(select(func.count()).select_from(SearchEntry)).scalar_one() == 50


# --- the text analysis --------------------------------------------------------------------


def test_terms_are_letters_and_digits_with_synonym_canonicals() -> None:
    terms = search_text.document_terms("婚姻登记信息", "结婚、离婚（2024年）", [("手机号", "")])
    tokens = terms.terms.split()
    assert {"婚姻", "登记", "婚姻登记", "结婚", "离婚", "手机号"} <= set(tokens)
    assert {"联系电话", "联系", "电话"} <= set(tokens)  # 手机号's canonical, 联系电话
    assert all(t.isalnum() for t in tokens)
    assert tokens == sorted(set(tokens))
    assert set(terms.name_terms.split()) == {"婚姻", "登记", "婚姻登记", "信息"}


def test_a_query_word_is_an_or_of_its_synonyms() -> None:
    (word,) = search_text.parse_query("公民身份")
    assert frozenset({"公民", "身份"}) in word
    assert frozenset({"公民身份号码"}) in word  # the canonical of 身份证号 and its group
    assert search_text.parse_query("，。！") == ()
    assert len(search_text.parse_query("婚姻 婚姻")) == 1


def test_the_operator_reindexes_from_the_command_line(govshare_cli) -> None:
    done = govshare_cli("catalog", "reindex")
    assert done.exit_code == 0, done.output
    assert "已重建检索索引：0 个已发布资源" in done.output


# --- the page and the API, over HTTP ------------------------------------------------------


@pytest.fixture
def signed_in(tmp_path) -> Any:
    """A client signed in to a fresh platform (SQLite) holding three published resources."""
    from fastapi.testclient import TestClient

    from govshare.core import migrate
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.web.app import create_app

    settings = load_settings(
        environ={"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_POLICY_PROFILE": "shangrao"}
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    with runtime.transaction() as db:
        op, _ = operator(db)
        mz = actor_of(user(db, organization(db, "江州市民政局"), [Role.DATA_OFFICER], "mz_officer"))
        make(db, mz, op, "婚姻登记信息", items=items("身份证号"), domain="public_administration")
        make(db, mz, op, "殡葬服务信息", summary="火化<死亡>人员", domain="social_security")
        make(db, mz, op, "养老机构信息", items=items("机构名称"), domain="social_security")
    with TestClient(create_app(runtime)) as client:
        form_sign_in(client, "mz_officer")
        yield client
    runtime.engine.dispose()


def test_the_catalog_page_searches_and_toggles_facets(signed_in) -> None:
    page = signed_in.get("/catalog", params={"q": "公民身份"})
    assert page.status_code == 200
    assert "共 1 条资源" in page.text
    assert "婚姻登记信息" in page.text and "养老机构信息" not in page.text
    assert "命中信息项：<mark>身份证号</mark>" in page.text
    browse = signed_in.get("/catalog").text
    assert "共 3 条资源" in browse
    assert 'href="/catalog?domain=social_security"' in browse
    narrowed = signed_in.get("/catalog", params={"domain": "social_security"}).text
    assert "共 2 条资源" in narrowed and "婚姻登记信息" not in narrowed
    assert "火化&lt;死亡&gt;人员" in narrowed  # escaped
    assert 'href="/catalog"' in narrowed  # the chip that removes the filter
    refused = signed_in.get("/catalog", params={"domain": "astrology"}).text
    assert "所属领域“astrology”不存在" in refused and "共 3 条资源" in refused


def test_the_api_returns_rows_facets_and_paging(signed_in) -> None:
    found = signed_in.get(
        "/api/v1/catalog/search", params={"q": "信息", "sort": "name", "page_size": 2}
    )
    assert found.status_code == 200
    body = found.json()
    assert (body["total"], body["pages"], body["sort"]) == (3, 2, "name")
    assert [r["name"] for r in body["rows"]] == ["婚姻登记信息", "养老机构信息"]
    assert {v["value"]: v["count"] for v in body["facets"]["domain"]} == {
        "social_security": 2,
        "public_administration": 1,
    }
    bad = signed_in.get("/api/v1/catalog/search", params={"sort": "popularity"})
    assert bad.status_code == 422 and bad.json()["field"] == "sort"
    assert signed_in.get("/api/v1/catalog/search", params={"page_size": 101}).status_code == 422


def test_bitmaps_round_trip() -> None:
    ids = sorted(random.Random(3).sample(range(1, 5_000), 700))
    bits = search_index.bitmap_of(ids)
    assert bits.bit_count() == 700
    assert search_index.members_of(bits) == ids
    flags = search_index.byte_flags(bits)
    assert [n for n, flag in enumerate(flags) if flag] == ids
    stored = search_index.with_bit(bits.to_bytes(700, "little"), 9_000, True)
    assert int.from_bytes(stored, "little") == bits | 1 << 9_000
    assert search_index.with_bit(stored, 9_000, False).rstrip(b"\0") == bits.to_bytes(
        700, "little"
    ).rstrip(b"\0")
    assert search_index.members_of(0) == [] and search_index.bitmap_of([]) == 0
    far = bits | 1 << (3 * search_index.CHUNK + 5)
    assert [c for c, _ in search_index.pieces(far)] == [0, 3]
    assert search_index.joined(search_index.pieces(far)) == far
