"""Benchmark of catalog search (CAT-11): the service call and the HTTP search page.

    .venv/bin/python bench/catalog_search.py                  # 100,000 resources, both databases
    .venv/bin/python bench/catalog_search.py --resources 2000 --backends sqlite

For each database it builds a throwaway catalog of N realistic resources (Chinese names and
summaries, 10–40 data items each, synonyms among the item names), then runs a fixed mix of
200 queries — keywords, synonyms, facet filters, paging, every sort — through
`catalog.service.search.search` and through `GET /catalog` served by uvicorn in a thread,
signed in over real HTTP. It prints p50/p95/max per database and, as its last line, one JSON
object with every figure measured.

The catalog is written straight into the tables (resources, versions, items and the search
index, whose terms come from the same `document_terms` the service uses and whose term
bitmaps are made by `search_index.term_pieces`) with executemany on
SQLite and COPY on PostgreSQL: going through the services would take hours at 100,000, and
the rows bypass the audit log, which is why the bench only ever writes into a throwaway
database — a temporary SQLite file, and on PostgreSQL a database (`govshare_bench` unless
--pg-url names another) that is created at the start and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, make_url, text

from govshare.catalog import synonyms
from govshare.catalog.search_index import STAMP, new_stamp, pieces, term_pieces
from govshare.catalog.search_text import document_terms, name_key
from govshare.catalog.service.search import FACETS
from govshare.core import migrate
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings

PASSWORD = "bench2026pw"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/govshare_bench"

# --- vocabulary ----------------------------------------------------------------------------

# department → (domain, subjects); a subject → its own data items
DEPARTMENTS: dict[str, tuple[str, list[str]]] = {
    "市公安局": ("safety", ["户籍人口", "居民身份证", "出入境证件", "流动人口", "暂住登记"]),
    "市公安局交通警察支队": ("transport", ["机动车登记", "驾驶人", "交通违法", "交通事故"]),
    "市民政局": (
        "public_administration",
        ["婚姻登记", "最低生活保障", "殡葬服务", "社会组织登记", "养老机构"],
    ),
    "市人力资源和社会保障局": (
        "employment",
        ["就业登记", "失业登记", "职业资格证书", "劳动合同备案"],
    ),
    "市社会保险事业管理局": (
        "social_security",
        ["社保缴纳", "养老保险待遇", "工伤保险", "失业保险金"],
    ),
    "市医疗保障局": ("health", ["医保参保", "医保结算", "定点医药机构", "大病保险"]),
    "市市场监督管理局": (
        "enterprise_registration",
        ["企业注册", "个体工商户", "食品经营许可", "行政处罚", "特种设备"],
    ),
    "市行政审批局": (
        "public_administration",
        ["企业开办", "建设项目审批", "施工许可", "政务服务事项"],
    ),
    "市自然资源和规划局": ("geography", ["不动产登记", "土地出让", "建设用地规划许可", "测绘成果"]),
    "市不动产登记中心": ("geography", ["不动产登记", "抵押登记", "查封登记", "预告登记"]),
    "市住房和城乡建设局": ("economy", ["商品房预售", "房屋租赁备案", "建筑企业资质", "物业企业"]),
    "市住房公积金管理中心": ("finance", ["公积金缴存", "公积金贷款", "公积金提取"]),
    "市卫生健康委员会": (
        "health",
        ["出生医学证明", "医疗机构执业", "医师执业注册", "预防接种", "死亡医学证明"],
    ),
    "市教育局": ("education", ["学籍信息", "学校基本信息", "教师资格", "招生录取"]),
    "市交通运输局": ("transport", ["道路运输经营许可", "营运车辆", "出租汽车", "公交线路"]),
    "市生态环境局": ("environment", ["排污许可", "环境监测", "环境影响评价", "环境行政处罚"]),
    "市税务局": ("finance", ["纳税人登记", "纳税信用等级", "发票信息", "欠税公告"]),
    "市财政局": ("finance", ["财政预算", "政府采购", "非税收入"]),
    "市统计局": ("statistics", ["统计年鉴", "经济普查", "人口抽样调查"]),
    "市气象局": ("weather", ["气象观测", "天气预报", "气象灾害预警"]),
    "市应急管理局": (
        "safety",
        ["安全生产许可", "危险化学品经营", "应急救援队伍", "安全生产行政处罚"],
    ),
    "市司法局": ("public_administration", ["律师执业", "公证机构", "人民调解", "社区矫正"]),
    "市农业农村局": (
        "agriculture",
        ["农村土地承包", "农业补贴", "农产品质量检测", "农民专业合作社"],
    ),
    "市文化广电旅游局": ("culture", ["旅行社", "文物保护单位", "演出许可", "星级饭店"]),
    "市发展和改革委员会": ("credit", ["社会信用", "价格监测", "固定资产投资项目", "失信联合惩戒"]),
    "市工业和信息化局": ("economy", ["规模以上工业企业", "专精特新企业", "工业用电"]),
    "市科学技术局": ("science", ["高新技术企业", "科技项目", "科技特派员"]),
    "市水利局": ("environment", ["取水许可", "河道采砂", "水文监测"]),
    "市退役军人事务局": ("social_security", ["退役军人", "优抚对象", "军休干部"]),
    "市残疾人联合会": ("social_security", ["残疾人证", "残疾人就业", "康复服务"]),
    "市城市管理局": ("public_administration", ["城市管理执法", "户外广告", "市政设施"]),
    "市商务局": ("economy", ["对外贸易经营者备案", "单用途预付卡", "再生资源回收"]),
    "市林业局": ("agriculture", ["林木采伐许可", "林权登记", "古树名木"]),
    "市审计局": ("finance", ["审计项目", "审计整改"]),
    "市档案馆": ("culture", ["档案目录", "婚姻档案", "知青档案"]),
    "市公共资源交易中心": ("economy", ["招标投标", "政府采购交易", "土地矿业权交易"]),
}
COUNTIES = [
    "信州区",
    "广丰区",
    "广信区",
    "玉山县",
    "铅山县",
    "横峰县",
    "弋阳县",
    "余干县",
    "鄱阳县",
    "万年县",
    "婺源县",
    "德兴市",
]
COUNTY_DEPARTMENTS = [
    "公安局",
    "民政局",
    "市场监督管理局",
    "人力资源和社会保障局",
    "自然资源局",
    "卫生健康委员会",
    "行政审批局",
    "税务局",
]

NAME_SUFFIXES = [
    "信息",
    "数据",
    "登记信息",
    "明细",
    "台账",
    "名录",
    "统计",
    "记录",
    "基本信息",
    "办理信息",
    "业务数据",
    "汇总表",
]
NAME_PREFIXES = [
    "",
    "",
    "",
    "全市",
    "年度",
    "历史",
    "2023年",
    "2024年",
    "2025年",
    "电子证照·",
    "中心城区",
]
SUMMARY_TEMPLATES = [
    "{dept}在{subject}业务办理中形成的{suffix}，包括{i1}、{i2}、{i3}等信息项，{freq}更新。",
    "本资源记录{subject}相关的{suffix}，覆盖{scope}，数据由{dept}负责维护。",
    "{subject}{suffix}，主要用于跨部门核验{i1}和{i2}，支撑“一网通办”。",
    "汇集{scope}{subject}的{i1}、{i2}及办理结果，供政务部门共享使用。",
    "{dept}提供的{subject}数据，含{i1}、{i2}、{i3}，已完成数据治理和质量核查。",
]
SCOPES = [
    "全市范围",
    "中心城区",
    "2010年以来",
    "各县（市、区）",
    "本级受理事项",
    "历年存量及增量数据",
]

PERSON_ITEMS = ["姓名", "性别", "民族", "出生日期", "户籍地址", "住址", "联系电话", "婚姻状况"]
ID_ITEMS = ["身份证号", "公民身份号码", "身份证号码", "居民身份证号码", "证件号码", "身份证件号码"]
PHONE_ITEMS = ["联系电话", "手机号码", "手机号", "联系方式"]
ORG_ITEMS = [
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "注册资本",
    "成立日期",
    "经营范围",
    "登记机关",
    "企业类型",
    "注册地址",
]
ORG_ID_ITEMS = ["统一社会信用代码", "社会信用代码", "信用代码"]
COMMON_ITEMS = [
    "业务流水号",
    "办理日期",
    "受理日期",
    "办结日期",
    "经办人",
    "经办机构",
    "审批结果",
    "备注",
    "数据来源",
    "更新时间",
    "行政区划代码",
    "所属区县",
    "状态",
    "有效期起",
    "有效期止",
    "证照编号",
    "发证日期",
    "发证机关",
    "事项名称",
    "申请人",
    "申请日期",
    "金额",
    "年度",
    "项目名称",
    "项目编号",
    "地址",
    "坐标经度",
    "坐标纬度",
    "附件",
    "审核意见",
    "联系人",
]
SUBJECT_ITEMS = {
    "婚姻登记": [
        "男方姓名",
        "女方姓名",
        "登记类型",
        "结婚证字号",
        "离婚证字号",
        "登记日期",
        "婚姻登记机关",
    ],
    "不动产登记": [
        "不动产单元号",
        "不动产权证号",
        "权利人",
        "坐落",
        "面积",
        "用途",
        "权利性质",
        "登记时间",
    ],
    "企业注册": [
        "企业名称",
        "企业类型",
        "注册资本",
        "经营范围",
        "成立日期",
        "核准日期",
        "登记状态",
    ],
    "社保缴纳": [
        "社会保障号码",
        "社保卡号",
        "缴费基数",
        "缴费月份",
        "险种类型",
        "缴费金额",
        "参保单位",
    ],
    "机动车登记": ["车牌号码", "号牌种类", "车辆品牌", "车辆识别代号", "发动机号", "注册登记日期"],
    "驾驶人": ["驾驶证号", "准驾车型", "初次领证日期", "累积记分", "驾驶证状态"],
    "户籍人口": ["户号", "与户主关系", "户籍地址", "迁入日期", "迁出日期", "文化程度"],
    "出生医学证明": ["新生儿姓名", "出生日期", "出生地点", "母亲姓名", "父亲姓名", "出生证编号"],
    "死亡医学证明": ["死亡日期", "死亡原因", "死亡地点"],
    "公积金缴存": ["个人账号", "缴存基数", "缴存比例", "月缴存额", "账户余额", "缴存单位"],
}
DESCRIPTIONS = [
    "",
    "",
    "",
    "",
    "按国家标准填写",
    "18位，含校验位",
    "格式YYYY-MM-DD",
    "取自业务系统",
    "见数据字典",
    "可为空",
    "以登记机关核准为准",
    "按GB/T 2261.1编码",
    "单位：元",
]
SEARCHES = [
    "婚姻登记",
    "不动产登记",
    "企业注册",
    "社保缴纳",
    "公民身份",
    "身份证号",
    "统一社会信用代码",
    "法定代表人",
    "出生医学证明",
    "公积金",
    "驾驶证",
    "车牌号码",
    "排污许可",
    "行政处罚",
    "养老保险",
    "学籍",
    "纳税信用",
    "气象",
    "手机号码",
    "死亡日期",
    "低保",
    "土地出让",
    "招标投标",
    "医保结算",
    "残疾人",
    "旅行社",
    "高新技术企业",
    "取水许可",
    "林权",
    "档案",
]
PAIRS = [
    "婚姻登记 身份证号",
    "不动产 抵押",
    "企业 法定代表人",
    "社保 缴费基数",
    "公民身份 出生日期",
    "驾驶人 记分",
    "婚姻 档案",
    "纳税人 信用",
    "医疗机构 执业",
    "安全生产 许可",
]
RARE = ["古树名木", "知青档案", "科技特派员", "单用途预付卡", "河道采砂", "军休干部"]

FORMATS = (
    ["database"] * 12
    + ["spreadsheet"] * 3
    + ["electronic_file"] * 2
    + ["service_interface"] * 2
    + ["image"]
)
SHARES = ["unconditional"] * 11 + ["conditional"] * 8 + ["not_shared"]
FREQUENCIES = [
    "realtime",
    "daily",
    "daily",
    "weekly",
    "monthly",
    "monthly",
    "quarterly",
    "half_yearly",
    "yearly",
    "irregular",
]
DATA_TYPES = ["C", "C", "C", "C", "N", "D", "T", "I"]


# --- the catalog -------------------------------------------------------------------------


@dataclass
class Organization:
    id: int
    name: str
    domain: str
    subjects: list[str]


@dataclass
class Catalog:
    resources: list[tuple[Any, ...]] = field(default_factory=list)
    versions: list[tuple[Any, ...]] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    texts: list[tuple[Any, ...]] = field(default_factory=list)
    facets: list[tuple[Any, ...]] = field(default_factory=list)
    terms: list[tuple[Any, ...]] = field(default_factory=list)


@functools.cache
def _normalized(name: str) -> str:
    return synonyms.normalize(name)


def _items(rng: random.Random, subject: str) -> list[str]:
    """10–40 data items: the subject's own, often a person's or a company's identity (with
    the synonyms departments really use), then common bookkeeping columns."""
    count = rng.randint(10, 40)
    wanted: list[str] = list(SUBJECT_ITEMS.get(subject, []))
    if rng.random() < 0.4:
        wanted += [rng.choice(ID_ITEMS), "姓名", rng.choice(PHONE_ITEMS)]
        wanted += rng.sample(PERSON_ITEMS, 3)
    if rng.random() < 0.3:
        wanted += [rng.choice(ORG_ID_ITEMS), *rng.sample(ORG_ITEMS, 4)]
    wanted += rng.sample(COMMON_ITEMS, min(len(COMMON_ITEMS), count))
    chosen: list[str] = []
    seen: set[str] = set()
    for name in wanted:
        key = _normalized(name)
        if key not in seen:
            seen.add(key)
            chosen.append(name)
        if len(chosen) == count:
            break
    chosen += [f"扩展字段{n}" for n in range(1, count - len(chosen) + 1)]
    return chosen


def _summary(rng: random.Random, org: Organization, subject: str, suffix: str) -> str:
    i1, i2, i3 = rng.sample(SUBJECT_ITEMS.get(subject, []) + COMMON_ITEMS[:8], 3)
    return rng.choice(SUMMARY_TEMPLATES).format(
        dept=org.name,
        subject=subject,
        suffix=suffix,
        i1=i1,
        i2=i2,
        i3=i3,
        freq=rng.choice(["每日", "每月", "实时", "每年"]),
        scope=rng.choice(SCOPES),
    )


def build_catalog(count: int, organizations: list[Organization], seed: int = 20261124) -> Catalog:
    """`count` resources, about 95 % published, the rest drafts or retired. Summaries come
    from a pool of a few per department and subject, as real catalogs repeat themselves
    (and jieba then segments each one once)."""
    rng = random.Random(seed)
    catalog = Catalog()
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    item_id = 0
    counters: dict[str, int] = {}
    summaries: dict[tuple[int, str], list[str]] = {}
    bitmaps: dict[tuple[str, str], bytearray] = {}
    for rid in range(1, count + 1):
        org = organizations[rng.randrange(len(organizations))]
        subject = rng.choice(org.subjects)
        suffix = rng.choice(NAME_SUFFIXES)
        name = f"{rng.choice(NAME_PREFIXES)}{subject}{suffix}"
        items = _items(rng, subject)
        pool = summaries.setdefault((org.id, subject), [])
        if len(pool) < 6:
            pool.append(_summary(rng, org, subject, suffix))
        summary = rng.choice(pool)
        kind = rng.choices(["department", "base", "theme"], [80, 10, 10])[0]
        domain = org.domain if rng.random() < 0.85 else rng.choice(ALL_DOMAINS)
        share = rng.choice(SHARES) if kind != "base" else "unconditional"
        open_type = "not_open"
        if share == "unconditional":
            open_type = rng.choices(["not_open", "unconditional", "conditional"], [6, 3, 1])[0]
        fmt = rng.choice(FORMATS)
        freq = rng.choice(FREQUENCIES)
        published_on = date(2019, 1, 1) + timedelta(days=rng.randrange(2880))
        roll = rng.random()
        status = "published" if roll < 0.95 else ("retired" if roll < 0.98 else "draft")
        published = status != "draft"
        class_code = {"base": "1", "theme": "2", "department": "3"}[kind]
        prefix = f"{class_code}{org.id % 100:02d}{rng.randint(1, 20):03d}"
        counters[prefix] = counters.get(prefix, 0) + 1
        code = f"{prefix}/{counters[prefix]:06d}"
        at = datetime.combine(published_on, datetime.min.time(), UTC)
        catalog.resources.append(
            (rid, code, org.id, kind, "population" if kind == "base" else None, None,
             class_code, prefix[1:3], prefix[3:6], None, status,
             published_on if published else None, at, "bench",
             "done" if status == "retired" else None, "职能调整" if status == "retired" else None,
             now if status == "retired" else None)
        )  # fmt: skip
        catalog.versions.append(
            (rid, rid, 1, "published" if published else "draft", name, summary, fmt, "", share,
             "限于履职需要" if share == "conditional" else "",
             "《政务信息资源共享管理暂行办法》" if share != "unconditional" else "",
             "", json.dumps(["table"]), "", freq, "", open_type,
             "申请后开放" if open_type == "conditional" else "", domain, "[]", "", False, "",
             None, published_on if published else None, at, "bench", at,
             at if published else None, at if published else None,
             "operator" if published else None, None,
             at if published else None, published_on if published else None)
        )  # fmt: skip
        item_rows = []
        for position, item in enumerate(items, start=1):
            item_id += 1
            data_type = rng.choice(DATA_TYPES)
            description = rng.choice(DESCRIPTIONS)
            item_rows.append((item, description))
            catalog.items.append(
                (item_id, rid, position, item, _normalized(item), data_type,
                 rng.randint(1, 200) if data_type in ("C", "N") else None, description,
                 item in PERSON_ITEMS or item in ID_ITEMS)
            )  # fmt: skip
        if status == "published":
            terms = document_terms(name, summary, item_rows)
            facets = (str(org.id), kind, domain, share, fmt, open_type, freq)
            catalog.entries.append(
                (rid, org.id, *facets[1:], published_on, name_key(name), terms.name_terms)
            )
            catalog.texts.append((rid, terms.terms))
            for facet, value in zip(FACETS, facets, strict=True):
                bits = bitmaps.setdefault((facet, value), bytearray((count >> 3) + 1))
                bits[rid >> 3] |= 1 << (rid & 7)
    catalog.facets = [
        (f, v, chunk, piece)
        for (f, v), bits in sorted(bitmaps.items())
        for chunk, piece in pieces(int.from_bytes(bits, "little"))
    ]
    catalog.facets.append((*STAMP, new_stamp()))
    names = {entry[0]: entry[-1] for entry in catalog.entries}
    catalog.terms = list(term_pieces((rid, names[rid], terms) for rid, terms in catalog.texts))
    return catalog


ALL_DOMAINS = sorted({d for d, _ in DEPARTMENTS.values()} | {"credit", "culture", "science"})

RESOURCE_COLUMNS = (
    "id, code, provider_id, catalog_kind, base_topic, theme_id, class_code, item_code, "
    "group_code, subgroup_code, status, first_published_on, created_at, created_by, "
    "retirement_state, retirement_reason, retired_at"
)
VERSION_COLUMNS = (
    "id, resource_id, number, state, name, summary, format, format_detail, share_type, "
    "share_conditions, legal_basis, share_scope, share_methods, offline_reason, "
    "update_frequency, timeliness, open_type, open_conditions, domain, related_codes, "
    "change_note, narrowing, narrowing_justification, requested_effective_on, effective_on, "
    "created_at, created_by, updated_at, submitted_at, reviewed_at, reviewed_by, "
    "review_comment, published_at, published_on"
)
ITEM_COLUMNS = (
    "id, version_id, position, name, normalized, data_type, length, description, personal"
)
ENTRY_COLUMNS = (
    "resource_id, provider_id, catalog_kind, domain, share_type, format, open_type, "
    "update_frequency, published_on, name_key, name_terms"
)
TABLES = [
    ("catalog_resource", RESOURCE_COLUMNS, "resources"),
    ("catalog_version", VERSION_COLUMNS, "versions"),
    ("catalog_item", ITEM_COLUMNS, "items"),
    ("catalog_search", ENTRY_COLUMNS, "entries"),
    ("catalog_search_text", "resource_id, terms", "texts"),
    ("catalog_search_facet", "facet, value, chunk, members", "facets"),
    ("catalog_search_term", "scope, term, chunk, members", "terms"),
]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load(engine: Engine, catalog: Catalog) -> None:
    """Writes the catalog straight into the tables (no services, no audit: throwaway data)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")
            cursor.execute("BEGIN")
            for table, columns, attr in TABLES:
                marks = ", ".join("?" for _ in columns.split(","))
                rows = (tuple(_sqlite_value(v) for v in row) for row in getattr(catalog, attr))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            cursor.execute("UPDATE catalog_resource SET current_version_id = id")
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            # Foreign keys are checked row by row by triggers: off for the load (the rows
            # are consistent by construction), as pg_restore does.
            cursor.execute("SET session_replication_role = replica")
            for table, columns, attr in TABLES:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in getattr(catalog, attr):
                        copy.write_row(row)
            cursor.execute("UPDATE catalog_resource SET current_version_id = id")
            for table in ("catalog_resource", "catalog_version", "catalog_item"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute("SET session_replication_role = DEFAULT")
            raw.commit()
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.cursor().execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


# --- a throwaway platform ----------------------------------------------------------------


def _uscc(serial: int) -> str:
    from govshare.core.uscc import check_character

    first17 = f"11361100{serial:09d}"
    return first17 + check_character(first17)


def _organizations(runtime: Runtime) -> list[Organization]:
    """The departments and the operator, created through the identity service."""
    from govshare.identity import service as identity
    from govshare.identity.schemas import OrganizationIn, UserIn

    console = Actor.command_line("bench")
    found: list[Organization] = []
    serial = 0

    def add(db: Any, name: str, level: str) -> int:
        nonlocal serial
        serial += 1
        data = OrganizationIn(name=name, uscc=_uscc(serial), level=level)
        return identity.create_organization(db, actor=console, data=data).id

    with runtime.transaction() as db:
        operator_org = add(db, "市大数据发展管理局", "city")
        identity.create_user(
            db,
            actor=console,
            data=UserIn(
                username="bench_operator",
                real_name="测试管理员",
                mobile="13800000000",
                organization_id=operator_org,
                roles=[Role.PLATFORM_OPERATOR],
                password=PASSWORD,
            ),
        )
        for name, (domain, subjects) in DEPARTMENTS.items():
            found.append(Organization(add(db, name, "city"), name, domain, subjects))
        by_suffix = {name.removeprefix("市"): (d, s) for name, (d, s) in DEPARTMENTS.items()}
        by_suffix["自然资源局"] = DEPARTMENTS["市自然资源和规划局"]
        for county in COUNTIES:
            for suffix in COUNTY_DEPARTMENTS:
                domain, subjects = by_suffix[suffix]
                name = county + suffix
                found.append(Organization(add(db, name, "county"), name, domain, subjects))
    return found


@dataclass
class Platform:
    backend: str
    runtime: Runtime
    url: str
    cleanup: Callable[[], None]


def _fresh_postgres(url: str) -> Callable[[], None]:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()

    return drop


def platform(backend: str, pg_url: str, workdir: Path) -> Platform:
    """A migrated, empty platform on `backend` in `workdir` (and a throwaway database)."""
    data_dir = workdir / backend
    data_dir.mkdir()
    environ = {"GOVSHARE_DATA_DIR": str(data_dir), "GOVSHARE_POLICY_PROFILE": "shangrao"}
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "postgresql":
        drop = _fresh_postgres(pg_url)
        environ["GOVSHARE_DATABASE_URL"] = pg_url
        url = pg_url
    else:
        url = f"sqlite:///{data_dir / 'govshare.db'}"
    runtime = build_runtime(load_settings(environ=environ))
    migrate.upgrade(runtime.engine)

    def cleanup() -> None:
        runtime.engine.dispose()
        drop()

    return Platform(backend, runtime, url, cleanup)


# --- the query mix -----------------------------------------------------------------------

FILTER_VALUES: dict[str, list[str]] = {
    "catalog_kind": ["department", "base", "theme"],
    "domain": ALL_DOMAINS,
    "share_type": ["unconditional", "conditional", "not_shared"],
    "format": ["database", "spreadsheet", "electronic_file", "service_interface"],
    "open_type": ["not_open", "unconditional", "conditional"],
    "update_frequency": ["realtime", "daily", "monthly", "yearly"],
}
MIX = {  # kind of query → share of the mix
    "browse": 0.15,
    "keyword": 0.35,
    "keyword+filter": 0.20,
    "two words": 0.125,
    "rare word": 0.075,
    "deep page": 0.10,
}


@dataclass(frozen=True)
class Probe:
    kind: str
    params: dict[str, Any]


def query_mix(organizations: list[Organization], count: int, seed: int) -> list[Probe]:
    """A fixed, seeded mix of `count` queries as a clerk's day would have them."""
    rng = random.Random(seed)

    def filters(n: int) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for facet in rng.sample(["provider_id", *FILTER_VALUES], n):
            if facet == "provider_id":
                chosen[facet] = rng.choice(organizations).id
            else:
                chosen[facet] = rng.choice(FILTER_VALUES[facet])
        return chosen

    def page() -> int:
        return 1 if rng.random() < 0.85 else rng.randint(2, 5)

    def sort(text: bool) -> str | None:
        roll = rng.random()
        return None if roll < (0.7 if text else 0.6) else ("published" if roll < 0.85 else "name")

    probes: list[Probe] = []
    for kind, share in MIX.items():
        for _ in range(round(count * share)):
            if kind == "browse":
                params = {**filters(rng.choice([0, 0, 1, 1, 2])), "sort": sort(False)}
                params["page"] = page()
            elif kind == "keyword":
                params = {"q": rng.choice(SEARCHES), "sort": sort(True), "page": page()}
            elif kind == "keyword+filter":
                params = {"q": rng.choice(SEARCHES), **filters(rng.choice([1, 1, 2])), "page": 1}
                params["sort"] = sort(True)
            elif kind == "two words":
                params = {"q": rng.choice(PAIRS), "sort": sort(True), "page": page()}
            elif kind == "rare word":
                params = {"q": rng.choice(RARE), "page": 1}
            else:
                text_ = rng.choice(["", "", *SEARCHES[:10]])
                params = {"q": text_, "sort": sort(bool(text_)), "page": rng.randint(10, 200)}
            probes.append(Probe(kind, {k: v for k, v in params.items() if v not in (None, "")}))
    rng.shuffle(probes)
    return probes[:count]


def click_filters(runtime: Runtime, probes: list[Probe], seed: int) -> list[Probe]:
    """Keyword queries with filters pick their filter values as a clerk does: by clicking a
    value the facets offer for that keyword (weighted by its count), not blindly."""
    from govshare.catalog.service import search

    rng = random.Random(seed)
    actor = _operator_actor(runtime)
    clicked = []
    for probe in probes:
        if probe.kind != "keyword+filter":
            clicked.append(probe)
            continue
        params = {"q": probe.params["q"], "sort": probe.params.get("sort")}
        for facet in [f for f in probe.params if f in FACETS]:
            query = search.SearchQuery(
                text=params["q"], **{f: params[f] for f in FACETS if f in params}
            )
            with runtime.transaction() as db:
                offered = search.search(db, actor=actor, query=query).facets[facet]
            offered = [v for v in offered if v.count and not v.selected]
            if offered:
                value = rng.choices(offered, [v.count for v in offered])[0].value
                params[facet] = int(value) if facet == "provider_id" else value
        clicked.append(Probe(probe.kind, {k: v for k, v in params.items() if v is not None}))
    return clicked


# --- measuring ---------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


def latency_figures(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def _operator_actor(runtime: Runtime) -> Actor:
    from sqlalchemy import select

    from govshare.identity import service as identity
    from govshare.identity.models import User

    with runtime.transaction() as db:
        account = db.execute(select(User).where(User.username == "bench_operator")).scalar_one()
        return identity.actor_for_user(account)


def time_service(runtime: Runtime, probes: list[Probe]) -> tuple[list[float], list[int]]:
    """Milliseconds of each `search` call (each in its own transaction, as a request has
    it), and the number of results each found."""
    from govshare.catalog.service import search

    actor = _operator_actor(runtime)
    took, totals = [], []
    for probe in probes:
        params = dict(probe.params)
        query = search.SearchQuery(text=params.pop("q", ""), **params)
        with runtime.transaction() as db:
            started = time.perf_counter()
            found = search.search(db, actor=actor, query=query)
            took.append((time.perf_counter() - started) * 1000)
        totals.append(found.total)
    return took, totals


@contextlib.contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    """The application served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from govshare.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def time_page(url: str, probes: list[Probe]) -> list[float]:
    """Milliseconds of each GET /catalog round trip, signed in, the page read in full."""
    took = []
    with httpx.Client(base_url=url, timeout=60) as client:
        # The sign-in form's hidden token, as a browser gets it (its cookie lands in client).
        form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        if form is None:
            raise RuntimeError("the sign-in form carries no token")
        credentials = {"username": "bench_operator", "password": PASSWORD}
        signed = client.post("/login", data=credentials | {"csrf_token": form.group(1)})
        if signed.status_code >= 400 or "gs_session" not in client.cookies:
            raise RuntimeError(f"sign-in failed: {signed.status_code}")
        for probe in probes:
            started = time.perf_counter()
            response = client.get("/catalog", params=probe.params)
            response.read()
            took.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or "条资源" not in response.text:
                raise RuntimeError(f"GET /catalog {probe.params}: {response.status_code}")
    return took


# --- the run -----------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    say = functools.partial(print, f"[{backend}]", file=sys.stderr, flush=True)
    place = platform(backend, args.pg_url, workdir)
    try:
        organizations = _organizations(place.runtime)
        started = time.perf_counter()
        catalog = build_catalog(args.resources, organizations, seed=args.seed)
        built = time.perf_counter() - started
        say(f"built {args.resources:,} resources, {len(catalog.items):,} items in {built:.0f} s")
        started = time.perf_counter()
        load(place.runtime.engine, catalog)
        loaded = time.perf_counter() - started
        say(f"loaded in {loaded:.0f} s")
        indexed = len(catalog.entries)
        del catalog
        probes = click_filters(
            place.runtime, query_mix(organizations, args.queries, args.seed), args.seed
        )
        time_service(place.runtime, probes)  # warm-up: jieba, caches, the database's pages
        service, totals = time_service(place.runtime, probes)
        say(f"service: {latency_figures(service)}")
        with serving(place.runtime) as url:
            time_page(url, probes[:20])  # warm-up
            page = time_page(url, probes)
        say(f"page: {latency_figures(page)}")
        by_kind: dict[str, Any] = {}
        for kind in MIX:
            picked = [i for i, p in enumerate(probes) if p.kind == kind]
            by_kind[kind] = {
                "queries": len(picked),
                "service_p95_ms": round(percentile([service[i] for i in picked], 0.95), 1),
                "page_p95_ms": round(percentile([page[i] for i in picked], 0.95), 1),
                "median_results": int(statistics.median(totals[i] for i in picked)),
            }
        slowest = sorted(range(len(probes)), key=lambda i: -service[i])[:5]
        return {
            "resources": args.resources,
            "indexed": indexed,
            "queries": len(probes),
            "load_s": round(loaded, 1),
            "service_ms": latency_figures(service),
            "page_ms": latency_figures(page),
            "by_kind": by_kind,
            "slowest_service": [
                {"params": probes[i].params, "ms": round(service[i], 1), "results": totals[i]}
                for i in slowest
            ],
        }
    finally:
        if not args.keep:
            place.cleanup()


def report(results: dict[str, dict[str, Any]]) -> None:
    """A readable table per database."""
    for backend, r in results.items():
        print(f"\n{backend} — {r['resources']:,} resources ({r['indexed']:,} published), "
              f"{r['queries']} queries, loaded in {r['load_s']} s")  # fmt: skip
        print(f"  {'':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   target p95")
        for label, key, target in (("service call search()", "service_ms", 50),
                                   ("HTTP GET /catalog", "page_ms", 150)):  # fmt: skip
            f = r[key]
            verdict = "met" if f["p95"] <= target else "MISSED"
            print(
                f"  {label:28} {f['p50']:>8} {f['p95']:>8} {f['max']:>8}   ≤ {target} ({verdict})"
            )
        print(
            f"  {'by kind of query':28} {'service p95':>11} {'page p95':>9} {'median results':>15}"
        )
        for kind, k in r["by_kind"].items():
            print(f"  {kind + ' (' + str(k['queries']) + ')':28} {k['service_p95_ms']:>11} "
                  f"{k['page_p95_ms']:>9} {k['median_results']:>15,}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", "--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a database the bench may drop")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="govshare-bench-") as tmp:
        workdir = Path(tempfile.mkdtemp(prefix="govshare-bench-") if args.keep else tmp)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results[backend] = run_backend(backend, args, workdir)
    report(results)
    print(json.dumps({"bench": "catalog_search", "targets_ms": {"service_p95": 50, "page_p95": 150},
                      **results}, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
