"""Benchmark of the open-data portal (OPN-1, OPN-3): search at scale, a large download, and
200 anonymous users browsing at once.

    .venv/bin/python bench/portal.py                  # 100,000 datasets, 1,000,000-row download
    .venv/bin/python bench/portal.py --quick          # 2,000 datasets, 50,000 rows, 5 s of load
    .venv/bin/python bench/portal.py --backends sqlite --datasets 20000

1. Search. A portal database — a temporary SQLite file, and a PostgreSQL database created and
   dropped by the run — is filled with N open datasets from about 200 departments across the
   SR§21 domains (Chinese titles, descriptions, open fields, tags; search terms made by
   `govshare.portal.catalog.dataset_terms`, as the publisher makes them). A fixed, seeded mix of
   anonymous searches — keywords, two words, fq filters whose values are picked among a
   keyword's matches as a person clicks them, tag filters, paging, every sort, facet.field — goes
   through the CKAN API (`GET /api/3/action/package_search`) and through the page
   (`GET /dataset?…`), both over real HTTP to the portal served by uvicorn in a thread. It prints
   p50/p95/max per database and per kind of query, and where the two answer different counts.
   Targets at 100,000 datasets: p95 ≤ 50 ms (API), ≤ 150 ms (page).
2. Download. A table of `--rows` open rows (8 columns: text, date, numeric; default 1,000,000)
   in the PostgreSQL portal database; `GET /dataset/{name}/download.csv` is timed over HTTP
   from the portal in a process of its own (`python -m uvicorn govshare.portal.main:app`), whose
   peak resident memory (VmHWM in /proc) is read after it, against PostgreSQL's own
   `COPY (SELECT …) TO STDOUT WITH CSV` of the same rows in the same order, measured in the same
   run. Targets: peak memory < 300 MB, at least half COPY's speed.
3. Concurrency. 200 connections (Debian's `wrk`, installed when missing, a Lua script rotating
   over a fixed mix of URLs: home, search pages with keywords, filters, a tag and paging,
   dataset pages with their preview, CKAN package_show) against the portal on PostgreSQL served
   by `uvicorn --workers 2` for `--duration` seconds, after a warm-up whose leftovers the server
   has worked off: requests/s, latency p50/p99, non-2xx answers and socket errors, and each
   URL's time alone (the costliest named). Target: no errors at 200 users.

It prints a table and, as its last line, one JSON object with every figure. Sections 2 and 3
need PostgreSQL; with `--backends sqlite` they are left out, and the report says so.

The datasets are written straight into the portal's tables (executemany on SQLite, COPY on
PostgreSQL), as the publisher would leave them but without it: publishing 100,000 datasets
through the platform would take hours. Table datasets name a rows table as published ones do;
only the ones the URL mix previews and the download table are actually created (the others are
never read). The PostgreSQL database (`govshare_bench_portal` unless --pg-url names another)
is dropped at the start and at the end: never point it at a database you keep.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import apt_tools  # bench/apt_tools.py
import httpx
from catalog_search import latency_figures, percentile  # bench/catalog_search.py
from gateway import free_port, process  # bench/gateway.py
from sqlalchemy import create_engine, make_url, text

import govshare
from govshare.catalog import search_text
from govshare.catalog.models import Domain, ResourceFormat, UpdateFrequency
from govshare.portal.catalog import dataset_terms
from govshare.portal.db import PortalDatabase
from govshare.portal.models import SCHEMA_VERSION, rows_table, rows_table_name

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/govshare_bench_portal"
TARGETS = {
    "api_p95_ms": 50,
    "page_p95_ms": 150,
    "download_peak_rss_mb": 300,
    "download_speed_of_copy": 0.5,
    "concurrency_errors": 0,
}
TARGET_SCALE = 100_000  # the search targets hold at this many datasets
SRC = Path(govshare.__file__).resolve().parent.parent  # the code the servers run

# --- vocabulary ------------------------------------------------------------------------------

# SR§21 domain → subjects of open data, each with its open fields (name, type)
SUBJECTS: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "credit": [
        ("行政许可", [("行政相对人名称", "text"), ("统一社会信用代码", "text"),
                  ("许可决定书文号", "text"), ("许可内容", "text"), ("许可决定日期", "date"),
                  ("有效期至", "date"), ("许可机关", "text")]),
        ("行政处罚", [("行政相对人名称", "text"), ("统一社会信用代码", "text"),
                  ("处罚决定书文号", "text"), ("违法事实", "text"), ("处罚依据", "text"),
                  ("罚款金额", "numeric"), ("处罚决定日期", "date"), ("处罚机关", "text")]),
        ("守信激励对象名单", [("主体名称", "text"), ("统一社会信用代码", "text"),
                      ("列入原因", "text"), ("列入日期", "date"), ("认定部门", "text")]),
        ("失信被执行人名单", [("被执行人名称", "text"), ("执行法院", "text"),
                      ("立案日期", "date"), ("执行依据文号", "text"), ("履行情况", "text")]),
        ("信用承诺", [("承诺主体名称", "text"), ("统一社会信用代码", "text"),
                  ("承诺类型", "text"), ("承诺事项", "text"), ("承诺日期", "date")]),
    ],
    "transport": [
        ("公交站点", [("站点名称", "text"), ("途经线路", "text"), ("经度", "numeric"),
                  ("纬度", "numeric"), ("所属区县", "text")]),
        ("公交线路", [("线路名称", "text"), ("起点站", "text"), ("终点站", "text"),
                  ("首班时间", "text"), ("末班时间", "text"), ("票价", "numeric"),
                  ("运营单位", "text")]),
        ("公共停车场", [("停车场名称", "text"), ("地址", "text"), ("泊位数", "integer"),
                   ("收费标准", "text"), ("开放时间", "text"), ("经度", "numeric"),
                   ("纬度", "numeric")]),
        ("出租汽车", [("车牌号码", "text"), ("所属企业", "text"), ("车辆类型", "text"),
                  ("运营状态", "text")]),
        ("新能源汽车充电桩", [("站点名称", "text"), ("地址", "text"), ("充电桩数量", "integer"),
                      ("运营单位", "text"), ("收费标准", "text")]),
        ("公共自行车站点", [("站点名称", "text"), ("地址", "text"), ("车桩数", "integer"),
                     ("经度", "numeric"), ("纬度", "numeric")]),
    ],
    "health": [
        ("医疗机构", [("机构名称", "text"), ("机构类别", "text"), ("地址", "text"),
                  ("床位数", "integer"), ("联系电话", "text"), ("医院等级", "text")]),
        ("药品零售企业许可", [("企业名称", "text"), ("统一社会信用代码", "text"),
                      ("经营地址", "text"), ("许可证编号", "text"), ("发证日期", "date"),
                      ("有效期至", "date")]),
        ("预防接种门诊", [("门诊名称", "text"), ("地址", "text"), ("接种时间", "text"),
                    ("联系电话", "text")]),
        ("发热门诊", [("医院名称", "text"), ("地址", "text"), ("开诊时间", "text"),
                  ("联系电话", "text")]),
        ("医疗器械经营备案", [("企业名称", "text"), ("备案编号", "text"), ("经营范围", "text"),
                      ("备案日期", "date")]),
    ],
    "employment": [
        ("招聘岗位", [("招聘单位", "text"), ("岗位名称", "text"), ("招聘人数", "integer"),
                  ("学历要求", "text"), ("薪资范围", "text"), ("发布日期", "date")]),
        ("职业培训机构", [("机构名称", "text"), ("培训项目", "text"), ("地址", "text"),
                    ("联系电话", "text")]),
        ("人力资源服务机构", [("机构名称", "text"), ("许可证编号", "text"),
                      ("服务范围", "text"), ("地址", "text")]),
        ("就业见习基地", [("基地名称", "text"), ("见习岗位数", "integer"), ("联系人", "text"),
                    ("联系电话", "text")]),
    ],
    "social_security": [
        ("社会保险经办网点", [("网点名称", "text"), ("地址", "text"), ("办公时间", "text"),
                      ("联系电话", "text")]),
        ("养老机构", [("机构名称", "text"), ("地址", "text"), ("床位数", "integer"),
                  ("收费标准", "text"), ("机构性质", "text")]),
        ("社会保险参保人数", [("统计年月", "text"), ("险种", "text"), ("参保人数", "integer"),
                      ("所属区县", "text")]),
        ("医保定点医药机构", [("机构名称", "text"), ("机构类型", "text"), ("地址", "text"),
                      ("医保编码", "text")]),
    ],
    "geography": [
        ("标准地名", [("标准名称", "text"), ("地名类别", "text"), ("所属区县", "text"),
                  ("经度", "numeric"), ("纬度", "numeric"), ("命名日期", "date")]),
        ("行政区划", [("区划代码", "text"), ("区划名称", "text"), ("上级区划", "text"),
                  ("面积", "numeric")]),
        ("地质灾害隐患点", [("隐患点名称", "text"), ("灾害类型", "text"),
                     ("威胁人数", "integer"), ("所在位置", "text"), ("防治责任单位", "text")]),
        ("不动产登记服务网点", [("网点名称", "text"), ("地址", "text"), ("办公时间", "text"),
                       ("联系电话", "text")]),
    ],
    "culture": [
        ("旅游景区", [("景区名称", "text"), ("景区等级", "text"), ("地址", "text"),
                  ("门票价格", "numeric"), ("开放时间", "text")]),
        ("公共图书馆", [("馆名", "text"), ("地址", "text"), ("藏书量", "integer"),
                   ("开放时间", "text"), ("联系电话", "text")]),
        ("文物保护单位", [("名称", "text"), ("年代", "text"), ("类别", "text"),
                    ("保护级别", "text"), ("地址", "text")]),
        ("非物质文化遗产项目", [("项目名称", "text"), ("类别", "text"), ("级别", "text"),
                       ("保护单位", "text"), ("公布日期", "date")]),
        ("星级饭店", [("饭店名称", "text"), ("星级", "text"), ("地址", "text"),
                  ("客房数", "integer")]),
    ],
    "education": [
        ("中小学校", [("学校名称", "text"), ("学段", "text"), ("办学性质", "text"),
                  ("地址", "text"), ("联系电话", "text")]),
        ("幼儿园", [("幼儿园名称", "text"), ("办园性质", "text"), ("班级数", "integer"),
                 ("地址", "text"), ("收费标准", "text")]),
        ("校外培训机构", [("机构名称", "text"), ("培训类别", "text"),
                    ("办学许可证号", "text"), ("地址", "text")]),
        ("招生计划", [("学校名称", "text"), ("招生人数", "integer"), ("招生范围", "text"),
                  ("年度", "text")]),
    ],
    "science": [
        ("高新技术企业", [("企业名称", "text"), ("统一社会信用代码", "text"),
                    ("证书编号", "text"), ("认定日期", "date"), ("技术领域", "text")]),
        ("科技计划项目", [("项目名称", "text"), ("承担单位", "text"),
                    ("资助金额", "numeric"), ("立项年度", "text")]),
        ("专利授权", [("专利名称", "text"), ("专利类型", "text"), ("专利权人", "text"),
                  ("授权日期", "date")]),
        ("科技企业孵化器", [("名称", "text"), ("级别", "text"), ("地址", "text"),
                     ("在孵企业数", "integer")]),
    ],
    "energy": [
        ("加油站", [("加油站名称", "text"), ("地址", "text"), ("经营单位", "text"),
                 ("油品种类", "text")]),
        ("燃气供应企业", [("企业名称", "text"), ("供气区域", "text"), ("服务电话", "text")]),
        ("供电营业厅", [("营业厅名称", "text"), ("服务区域", "text"), ("服务电话", "text"),
                   ("地址", "text")]),
        ("能源消费统计", [("统计年度", "text"), ("能源品种", "text"), ("消费量", "numeric"),
                    ("计量单位", "text")]),
    ],
    "agriculture": [
        ("农产品价格", [("品种", "text"), ("规格", "text"), ("价格", "numeric"),
                   ("市场名称", "text"), ("采集日期", "date")]),
        ("农民专业合作社", [("合作社名称", "text"), ("统一社会信用代码", "text"),
                     ("主营业务", "text"), ("成员数", "integer")]),
        ("家庭农场", [("农场名称", "text"), ("经营者", "text"), ("经营面积", "numeric"),
                  ("主营产品", "text")]),
        ("农产品质量抽检", [("样品名称", "text"), ("检测项目", "text"), ("检测结果", "text"),
                     ("检测日期", "date")]),
        ("古树名木", [("树种", "text"), ("树龄", "integer"), ("保护级别", "text"),
                  ("所在位置", "text")]),
    ],
    "environment": [
        ("空气质量日报", [("监测点名称", "text"), ("日期", "date"), ("空气质量指数", "integer"),
                    ("首要污染物", "text"), ("细颗粒物浓度", "numeric")]),
        ("地表水水质", [("断面名称", "text"), ("所在河流", "text"), ("水质类别", "text"),
                   ("监测日期", "date")]),
        ("排污许可", [("单位名称", "text"), ("许可证编号", "text"), ("行业类别", "text"),
                  ("有效期至", "date")]),
        ("建设项目环评审批", [("项目名称", "text"), ("建设单位", "text"), ("审批文号", "text"),
                      ("审批日期", "date")]),
        ("公共厕所", [("名称", "text"), ("地址", "text"), ("类别", "text"),
                  ("开放时间", "text"), ("经度", "numeric"), ("纬度", "numeric")]),
    ],
    "economy": [
        ("招标投标", [("项目名称", "text"), ("招标人", "text"), ("中标人", "text"),
                  ("中标金额", "numeric"), ("公告日期", "date")]),
        ("政府采购", [("采购项目名称", "text"), ("采购单位", "text"), ("成交供应商", "text"),
                  ("成交金额", "numeric"), ("公告日期", "date")]),
        ("商品房预售许可", [("项目名称", "text"), ("开发企业", "text"), ("预售许可证号", "text"),
                     ("预售面积", "numeric"), ("发证日期", "date")]),
        ("规模以上工业企业", [("企业名称", "text"), ("所属行业", "text"), ("所在园区", "text")]),
        ("重大建设项目", [("项目名称", "text"), ("建设单位", "text"), ("总投资", "numeric"),
                    ("建设内容", "text"), ("开工日期", "date")]),
    ],
    "finance": [
        ("财政预算", [("科目名称", "text"), ("预算数", "numeric"), ("年度", "text"),
                  ("预算单位", "text")]),
        ("政府债务", [("项目", "text"), ("金额", "numeric"), ("年度", "text")]),
        ("纳税信用A级纳税人", [("纳税人名称", "text"), ("纳税人识别号", "text"),
                       ("评价年度", "text")]),
        ("银行网点", [("网点名称", "text"), ("所属银行", "text"), ("地址", "text"),
                  ("营业时间", "text")]),
    ],
    "safety": [
        ("安全生产许可", [("企业名称", "text"), ("许可证编号", "text"), ("许可范围", "text"),
                    ("有效期至", "date")]),
        ("危险化学品经营许可", [("企业名称", "text"), ("许可证编号", "text"),
                       ("经营方式", "text"), ("经营品种", "text")]),
        ("应急避难场所", [("场所名称", "text"), ("地址", "text"), ("容纳人数", "integer"),
                    ("面积", "numeric")]),
        ("消防站", [("名称", "text"), ("地址", "text"), ("辖区范围", "text")]),
    ],
    "statistics": [
        ("国民经济主要指标", [("指标名称", "text"), ("统计期", "text"), ("数值", "numeric"),
                      ("计量单位", "text"), ("同比增长", "numeric")]),
        ("人口统计", [("统计年度", "text"), ("所属区县", "text"), ("常住人口", "integer"),
                  ("城镇化率", "numeric")]),
        ("统计公报", [("年度", "text"), ("标题", "text"), ("发布日期", "date")]),
        ("居民消费价格指数", [("统计月份", "text"), ("类别", "text"), ("指数", "numeric")]),
    ],
    "weather": [
        ("气象观测", [("站点名称", "text"), ("观测时间", "text"), ("气温", "numeric"),
                  ("降水量", "numeric"), ("风向", "text"), ("风速", "numeric")]),
        ("天气预报", [("预报日期", "date"), ("所属区县", "text"), ("天气现象", "text"),
                  ("最高气温", "integer"), ("最低气温", "integer")]),
        ("气象灾害预警", [("预警类型", "text"), ("预警级别", "text"), ("发布时间", "text"),
                    ("影响区域", "text")]),
        ("降水量统计", [("站点名称", "text"), ("月份", "text"), ("降水量", "numeric")]),
    ],
    "enterprise_registration": [
        ("市场主体登记", [("企业名称", "text"), ("统一社会信用代码", "text"),
                    ("企业类型", "text"), ("法定代表人", "text"), ("成立日期", "date"),
                    ("注册资本", "numeric"), ("登记机关", "text"), ("住所", "text")]),
        ("个体工商户登记", [("名称", "text"), ("经营者", "text"), ("经营场所", "text"),
                     ("组成形式", "text"), ("登记日期", "date")]),
        ("食品经营许可", [("经营者名称", "text"), ("许可证编号", "text"), ("经营项目", "text"),
                    ("经营场所", "text"), ("有效期至", "date")]),
        ("企业注销", [("企业名称", "text"), ("统一社会信用代码", "text"), ("注销日期", "date"),
                  ("注销原因", "text")]),
    ],
    "public_administration": [
        ("政务服务事项", [("事项名称", "text"), ("事项类型", "text"), ("实施主体", "text"),
                    ("办理时限", "text"), ("收费标准", "text")]),
        ("政务服务大厅", [("名称", "text"), ("地址", "text"), ("办公时间", "text"),
                    ("联系电话", "text")]),
        ("人大代表建议办理", [("建议标题", "text"), ("承办单位", "text"), ("办理结果", "text"),
                      ("答复日期", "date")]),
        ("政府信息公开目录", [("信息名称", "text"), ("发布机构", "text"), ("发布日期", "date"),
                      ("公开方式", "text")]),
        ("社会组织", [("组织名称", "text"), ("统一社会信用代码", "text"), ("登记机关", "text"),
                  ("业务主管单位", "text"), ("成立日期", "date")]),
    ],
}  # fmt: skip
COMMON_FIELDS = [("所属区县", "text"), ("数据更新日期", "date"), ("备注", "text"),
                 ("数据来源", "text"), ("行政区划代码", "text")]  # fmt: skip
FIELD_DESCRIPTIONS = ["", "", "", "", "格式YYYY-MM-DD", "单位：元", "WGS84坐标系",
                      "按GB/T 2260编码", "以登记机关核准为准", "可为空"]  # fmt: skip

# city departments → the domains they open data in
CITY_DEPARTMENTS: dict[str, list[str]] = {
    "市公安局": ["safety", "transport", "public_administration"],
    "市公安局交通警察支队": ["transport", "safety"],
    "市交通运输局": ["transport"],
    "市卫生健康委员会": ["health"],
    "市人力资源和社会保障局": ["employment", "social_security"],
    "市医疗保障局": ["social_security", "health"],
    "市民政局": ["social_security", "geography", "public_administration"],
    "市自然资源和规划局": ["geography"],
    "市文化广电旅游局": ["culture"],
    "市教育局": ["education"],
    "市科学技术局": ["science"],
    "市发展和改革委员会": ["credit", "energy", "economy"],
    "市农业农村局": ["agriculture"],
    "市生态环境局": ["environment"],
    "市住房和城乡建设局": ["economy", "environment"],
    "市财政局": ["finance", "economy"],
    "市税务局": ["finance", "credit"],
    "市应急管理局": ["safety"],
    "市统计局": ["statistics"],
    "市气象局": ["weather"],
    "市市场监督管理局": ["enterprise_registration", "credit", "health"],
    "市行政审批局": ["public_administration", "credit", "enterprise_registration"],
    "市政务服务管理局": ["public_administration"],
    "市公共资源交易中心": ["economy"],
    "市城市管理局": ["environment", "transport"],
    "市水利局": ["environment", "agriculture"],
    "市林业局": ["agriculture"],
    "市商务局": ["economy"],
    "市工业和信息化局": ["economy", "energy"],
    "市消防救援支队": ["safety"],
    "市供电公司": ["energy"],
    "市图书馆": ["culture"],
    "市档案馆": ["culture", "public_administration"],
    "市退役军人事务局": ["social_security"],
    "市残疾人联合会": ["social_security"],
    "市住房公积金管理中心": ["finance"],
    "市体育局": ["culture"],
    "市人民政府办公室": ["public_administration"],
}
COUNTIES = ["信州区", "广丰区", "广信区", "玉山县", "铅山县", "横峰县", "弋阳县", "余干县",
            "鄱阳县", "万年县", "婺源县", "德兴市"]  # fmt: skip
COUNTY_DEPARTMENTS: dict[str, list[str]] = {
    "公安局": ["safety", "transport"],
    "民政局": ["social_security", "geography"],
    "市场监督管理局": ["enterprise_registration", "credit"],
    "人力资源和社会保障局": ["employment", "social_security"],
    "自然资源局": ["geography"],
    "卫生健康委员会": ["health"],
    "行政审批局": ["public_administration", "credit"],
    "教育体育局": ["education", "culture"],
    "农业农村局": ["agriculture"],
    "交通运输局": ["transport"],
    "生态环境局": ["environment"],
    "文化广电新闻出版旅游局": ["culture"],
    "住房和城乡建设局": ["economy"],
    "统计局": ["statistics"],
}
TAGS: dict[str, list[str]] = {
    "credit": ["信用", "双公示", "许可", "处罚", "红黑名单"],
    "transport": ["公交", "出行", "停车", "交通", "充电"],
    "health": ["医疗", "药店", "就医", "疫苗", "健康"],
    "employment": ["就业", "招聘", "培训", "人才"],
    "social_security": ["社保", "养老", "医保", "民生保障"],
    "geography": ["地图", "地名", "地质灾害", "空间数据"],
    "culture": ["旅游", "景区", "图书馆", "文物", "休闲"],
    "education": ["学校", "教育", "招生", "幼儿园"],
    "science": ["科技", "专利", "创新", "高新企业"],
    "energy": ["能源", "电力", "燃气", "加油"],
    "agriculture": ["农业", "农产品", "价格", "乡村振兴"],
    "environment": ["环境", "空气", "水质", "环评"],
    "economy": ["招投标", "采购", "房地产", "项目建设"],
    "finance": ["财政", "预算", "税务", "金融"],
    "safety": ["安全", "应急", "消防", "危化品"],
    "statistics": ["统计", "年度数据", "经济指标", "人口"],
    "weather": ["气象", "天气", "降水", "预警"],
    "enterprise_registration": ["企业", "市场主体", "个体户", "登记"],
    "public_administration": ["政务服务", "办事指南", "政府信息", "社会组织"],
}
GENERIC_TAGS = ["民生", "便民服务", "名录", "实时数据", "历史数据", "地理位置", "开放接口"]

TITLE_PREFIXES = ["", "", "", "", "2023年", "2024年", "2025年", "历年"]
TITLE_SUFFIXES = ["信息", "信息", "名录", "数据", "目录", "清单", "公示", "统计", "明细", ""]
NOTES_TEMPLATES = [
    "{org}公开的{place}{subject}{suffix}，包括{f1}、{f2}、{f3}等字段，{freq}更新。",
    "本数据集提供{place}{subject}的{f1}、{f2}和{f3}，数据来源于{org}。",
    "{place}{subject}{suffix}，覆盖{scope}，可用于便民查询和社会化开发利用。",
    "汇集{scope}{subject}相关信息，包括{f1}、{f2}等，由{org}{freq}更新维护。",
    "{org}依法公开的{subject}数据，含{f1}、{f2}、{f3}，已经过脱敏处理和质量核查。",
]
SCOPES = ["全市范围", "中心城区", "2015年以来", "各县（市、区）", "本级", "历年存量及增量数据"]
FORMATS = ["database"] * 10 + ["spreadsheet"] * 5 + ["electronic_file"] * 2
FORMATS += ["image", "service_interface", "service_interface"]
FREQUENCIES = ["realtime", "daily", "daily", "weekly", "monthly", "monthly", "monthly",
               "quarterly", "half_yearly", "yearly", "yearly", "irregular"]  # fmt: skip
KINDS = {"electronic_file": "file", "image": "file", "service_interface": "service"}
CONDITIONS = [
    "仅限用于科学研究，须签署数据使用协议",
    "须说明使用场景，不得用于商业营销",
    "限于本市注册的企业和机构申请，用于公共服务类应用开发",
]

# searches a visitor types
KEYWORDS = ["公交", "停车场", "医疗机构", "药品", "学校", "幼儿园", "空气质量", "行政许可",
            "行政处罚", "招标", "景区", "图书馆", "气象", "降水", "养老", "招聘", "社保",
            "农产品", "价格", "充电桩", "水质", "地名", "加油站", "厕所", "财政预算", "文物",
            "专利", "统计公报", "个体工商户", "政务服务", "信用", "企业", "地址", "信州区",
            "婺源县", "2024年"]  # fmt: skip
PAIRS = ["公交 站点", "医疗机构 床位", "行政处罚 金额", "企业 许可", "景区 门票", "学校 地址",
         "空气质量 监测", "招标 中标", "养老 床位", "农产品 价格", "婺源县 旅游"]  # fmt: skip
RARE = ["古树名木", "非物质文化遗产", "地质灾害", "消防站", "孵化器", "避难场所", "量子计算"]

# the download table: a market-entity register (8 columns: text, date, numeric)
DOWNLOAD_FIELDS = [("企业名称", "text", ""), ("统一社会信用代码", "text", ""),
                   ("企业类型", "text", ""), ("法定代表人", "text", "保留姓氏"),
                   ("成立日期", "date", ""), ("注册资本（万元）", "numeric", ""),
                   ("登记机关", "text", ""), ("住所", "text", "隐去门牌号")]  # fmt: skip
BRANDS = ["信达", "华美", "恒通", "鑫源", "博远", "瑞丰", "宏发", "永盛", "金鼎", "和泰", "天成",
          "嘉禾", "锦程", "盛世", "东方", "赣鄱", "三清", "灵山", "信江", "龙腾"]  # fmt: skip
TRADES = ["商贸", "建材", "科技", "农业开发", "餐饮管理", "物流", "电子", "文化传媒", "医药",
          "建筑工程", "服装", "食品", "汽车服务", "信息技术", "旅游开发", "光学仪器"]  # fmt: skip
ENTITY_KINDS = ["有限责任公司（自然人投资或控股）", "有限责任公司（自然人独资）",
                "股份有限公司（非上市）", "个人独资企业", "合伙企业", "农民专业合作社"]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
STREETS = ["中山路", "解放路", "五三大道", "凤凰大道", "三清山大道", "滨江路", "广场路",
           "茶圣路", "紫阳大道", "迎宾大道", "站前路", "建设路"]  # fmt: skip


# --- the portal's data -----------------------------------------------------------------------


@dataclass
class Entry:
    """What the query mix needs to know of a dataset (to pick values a visitor would click)."""

    name: str
    terms: str
    domain: str
    organization: str
    format: str
    open_type: str
    update_frequency: str
    tags: list[str]
    kind: str


@dataclass
class Built:
    organizations: list[tuple[Any, ...]] = field(default_factory=list)
    datasets: list[tuple[Any, ...]] = field(default_factory=list)
    fields: list[tuple[Any, ...]] = field(default_factory=list)
    releases: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    field_types: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    download_id: int = 0
    download_name: str = ""


def _departments() -> list[tuple[str, list[str]]]:
    found = list(CITY_DEPARTMENTS.items())
    found += [(c + d, domains) for c in COUNTIES for d, domains in COUNTY_DEPARTMENTS.items()]
    return found


def build_portal(count: int, seed: int) -> Built:
    """`count` open datasets from about 200 departments; the last one is the download table.
    Descriptions come from a pool of a few per department and subject, as real catalogs repeat
    themselves (and jieba then segments each text once)."""
    rng = random.Random(seed)
    built = Built()
    departments = _departments()
    for oid, (title, _) in enumerate(departments, start=1):
        built.organizations.append((oid, f"org-{oid}", title, ""))
    domain_codes = {d.value: i for i, d in enumerate(Domain, start=1)}
    labels = {
        "domain": {d.value: d.label for d in Domain},
        "format": {f.value: f.label for f in ResourceFormat},
        "frequency": {f.value: f.label for f in UpdateFrequency},
    }
    counters: Counter[str] = Counter()
    pool: dict[tuple[int, str], list[str]] = {}
    first = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    release_id = 0
    for did in range(1, count + 1):
        oid = rng.randrange(len(departments)) + 1
        org_title, org_domains = departments[oid - 1]
        domain = rng.choice(org_domains) if rng.random() < 0.9 else rng.choice(list(SUBJECTS))
        subject, subject_fields = rng.choice(SUBJECTS[domain])
        if did == count:  # the download table
            oid = next(i for i, (t, _) in enumerate(departments, 1) if t == "市市场监督管理局")
            org_title = departments[oid - 1][0]
            domain, subject = "enterprise_registration", "市场主体登记"
        place = org_title[:3] if org_title[:3] in COUNTIES else ""
        suffix = rng.choice(TITLE_SUFFIXES)
        title = f"{rng.choice(TITLE_PREFIXES)}{place}{subject}{suffix}"
        if did == count:
            chosen = [(n, t) for n, t, _ in DOWNLOAD_FIELDS]
            title = "市场主体登记信息（全量）"
        else:
            extra = rng.sample(COMMON_FIELDS, rng.randint(0, 3))
            chosen = [f for f in subject_fields if f not in extra] + extra
        descriptions = [rng.choice(FIELD_DESCRIPTIONS) for _ in chosen]
        freq = rng.choice(FREQUENCIES)
        notes_pool = pool.setdefault((oid, subject), [])
        if len(notes_pool) < 6:
            f1, f2, f3 = rng.sample([n for n, _ in chosen] + ["名称", "地址"], 3)
            notes_pool.append(
                rng.choice(NOTES_TEMPLATES).format(
                    org=org_title, place=place, subject=subject, suffix=suffix or "信息",
                    f1=f1, f2=f2, f3=f3, freq=labels["frequency"][freq], scope=rng.choice(SCOPES),
                )
            )  # fmt: skip
        notes = rng.choice(notes_pool)
        fmt = "database" if did == count else rng.choice(FORMATS)
        kind_ = KINDS.get(fmt, "table")
        open_type = "conditional" if rng.random() < 0.15 and did != count else "unconditional"
        tags = rng.sample(TAGS[domain], rng.randint(1, 2))
        if rng.random() < 0.4:
            tags.append(rng.choice(GENERIC_TAGS))
        letter = "ABC"[oid % 3]
        prefix = f"{letter}{domain_codes[domain]:02d}{oid:03d}"
        counters[prefix] += 1
        code = f"{prefix}/{counters[prefix]:06d}"
        name = code.lower().replace("/", "-")
        modified = first + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        issued = (modified - timedelta(days=rng.randrange(0, 700))).date()
        terms, title_terms = dataset_terms(
            title,
            notes,
            list(zip([n for n, _ in chosen], descriptions, strict=True)),
            [org_title, labels["domain"][domain], *tags],
        )
        rows = rng.randrange(20, 500_000) if kind_ == "table" else None
        built.datasets.append(
            (did, name, code, title, notes, oid, domain, labels["domain"][domain], kind_, fmt,
             labels["format"][fmt], freq, labels["frequency"][freq], open_type,
             rng.choice(CONDITIONS) if open_type == "conditional" else "", json.dumps(tags),
             rng.randint(1, 4), issued, modified, modified if kind_ == "table" else None, rows,
             rows_table_name(did) if kind_ == "table" else None, terms, title_terms)
        )  # fmt: skip
        built.tags.extend((did, tag) for tag in dict.fromkeys(tags))
        for position, ((fname, ftype), desc) in enumerate(zip(chosen, descriptions, strict=True)):
            masking = DOWNLOAD_FIELDS[position][2] if did == count else ""
            built.fields.append((did, position, fname, f"c{position}", ftype, desc, masking))
        built.field_types[did] = [(f"c{i}", t) for i, (_, t) in enumerate(chosen)]
        for n in range(rng.choice([1, 1, 1, 2, 3])):
            release_id += 1
            at = modified - timedelta(days=90 * n)
            note = "首次开放" if n == 0 else "数据更新"
            built.releases.append((release_id, did, at, 1, rows, note))
        built.entries.append(
            Entry(name, terms, domain, f"org-{oid}", fmt, open_type, freq, tags, kind_)
        )
    built.download_id, built.download_name = count, built.entries[-1].name
    return built


# --- writing it ------------------------------------------------------------------------------

TABLES = [
    ("portal_organization", "id, name, title, description", "organizations"),
    ("portal_dataset",
     "id, name, code, title, notes, organization_id, domain, domain_label, kind, format, "
     "format_label, update_frequency, update_frequency_label, open_type, open_conditions, "
     "tags, version, issued, modified, data_updated, row_count, rows_table, terms, title_terms",
     "datasets"),
    ("portal_field", 'dataset_id, position, name, "column", type, description, masking',
     "fields"),
    ("portal_release", "id, dataset_id, published_at, version, row_count, note", "releases"),
    ("portal_dataset_tag", "dataset_id, tag", "tags"),
]  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _meta_row() -> tuple[Any, ...]:
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    return (1, SCHEMA_VERSION, "上饶市", "上饶市大数据发展管理局", "上饶市公共数据开放许可协议",
            "https://data.shangrao.example/licence", now)  # fmt: skip


META_COLUMNS = (
    "id, schema_version, city_name, publisher_name, licence_title, licence_url, updated_at"
)


def load(database: PortalDatabase, built: Built) -> None:
    """Writes the datasets straight into the portal tables, then `ensure_schema` (the search
    generation's row: the portal builds its in-memory index on the first search)."""
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if database.dialect == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("BEGIN")
            cursor.execute(
                f"INSERT INTO portal_meta ({META_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                tuple(_sqlite_value(v) for v in _meta_row()),
            )
            for table, columns, attr in TABLES:
                marks = ", ".join("?" for _ in columns.split(","))
                rows = (tuple(_sqlite_value(v) for v in row) for row in getattr(built, attr))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            cursor.execute("COMMIT")
            database.ensure_schema()
            cursor.execute("ANALYZE")
            raw.commit()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            # Foreign keys are checked row by row by triggers: off for the load (the rows are
            # consistent by construction), as pg_restore does.
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy(f"COPY portal_meta ({META_COLUMNS}) FROM STDIN") as copy:
                copy.write_row(_meta_row())
            for table, columns, attr in TABLES:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in getattr(built, attr):
                        copy.write_row(row)
            for table in ("portal_organization", "portal_dataset", "portal_release"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute("SET session_replication_role = DEFAULT")
            raw.commit()
            database.ensure_schema()
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.cursor().execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


def _sample_value(rng: random.Random, name: str, type_: str, n: int) -> Any:
    if type_ == "date":
        return date(2015, 1, 1) + timedelta(days=rng.randrange(4000))
    if type_ == "integer":
        return rng.randrange(1, 5000)
    if type_ == "numeric":
        return Decimal(rng.randrange(1, 10_000_000)) / 100
    return f"{rng.choice(COUNTIES)}{name}{n:04d}"


def create_rows_tables(database: PortalDatabase, built: Built, ids: Iterable[int]) -> None:
    """Rows tables of 100 rows for the table datasets whose pages the URL mix shows."""
    rng = random.Random(7)
    with database.engine.begin() as connection:
        for did in ids:
            types = built.field_types[did]
            names = [f[2] for f in built.fields if f[0] == did]
            table = rows_table(did, types)
            table.drop(connection, checkfirst=True)
            table.create(connection)
            rows = [
                {"_row": n, **{c: _sample_value(rng, nm, t, n) for (c, t), nm in zip(types, names, strict=True)}}
                for n in range(1, 101)
            ]  # fmt: skip
            connection.execute(table.insert(), rows)


def enterprise_rows(count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """`count` rows of a market-entity register, masked as an open view would be."""
    rng = random.Random(seed)
    for n in range(1, count + 1):
        county = COUNTIES[rng.randrange(len(COUNTIES))]
        name = (
            f"上饶市{county[:2]}{rng.choice(BRANDS)}{rng.choice(TRADES)}"
            f"{'有限公司' if rng.random() < 0.8 else '经营部'}"
        )
        yield (
            n,
            name,
            f"9136{1100 + rng.randrange(99)}MA{n:08X}",
            ENTITY_KINDS[rng.randrange(len(ENTITY_KINDS))],
            SURNAMES[rng.randrange(len(SURNAMES))] + "**",
            date(1995, 1, 1) + timedelta(days=rng.randrange(11_000)),
            Decimal(rng.randrange(100, 100_000_000)) / 100,
            f"{county}市场监督管理局",
            f"{county}{STREETS[rng.randrange(len(STREETS))]}***号",
        )


def load_download_table(database: PortalDatabase, built: Built, count: int, seed: int) -> None:
    """The download dataset's rows table, `count` rows, by COPY (PostgreSQL only)."""
    table = rows_table(built.download_id, built.field_types[built.download_id])
    with database.engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(
            text("UPDATE portal_dataset SET row_count = :n WHERE id = :id"),
            {"n": count, "id": built.download_id},
        )
    columns = ", ".join(c.name for c in table.columns)
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in enterprise_rows(count, seed):
                copy.write_row(row)
        raw.commit()
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        raw.cursor().execute(f"VACUUM ANALYZE {table.name}")
        raw.driver_connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


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


# --- the query mix ---------------------------------------------------------------------------

MIX = {  # kind of search → share of the mix
    "browse": 0.175,  # no words; a facet value or none
    "keyword": 0.30,
    "keyword+filter": 0.15,  # a keyword, then one or two facet values clicked among its matches
    "two words": 0.10,
    "sorted": 0.075,  # newest first or by title
    "deep page": 0.075,
    "tag filter": 0.05,  # a tag clicked (page) or fq=tags:… (API)
    "tags facet": 0.05,  # CKAN's own frontend's facets: organization, groups, tags, res_format, license_id
    "other sort": 0.025,  # API sorts the catalog does not do itself (name, metadata_created)
}
FACET_OF = {"groups": "domain", "organization": "organization", "res_format": "format",
            "open_type": "open_type", "update_frequency": "update_frequency"}  # fmt: skip
API_SORTS = {"relevance": None, "modified": "metadata_modified desc", "title": "title_string asc",
             "name": "name asc", "created": "metadata_created desc"}  # fmt: skip
STANDARD_FACETS = ("groups", "organization", "res_format")
CKAN_FACETS = ("organization", "groups", "tags", "res_format", "license_id")
PAGE_SIZE = 20  # the search page's


@dataclass(frozen=True)
class Probe:
    """One search, said once and sent both as a package_search call and as a page."""

    kind: str
    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    sort: str = "relevance"
    start: int = 0
    rows: int = 10
    facets: tuple[str, ...] = ()

    def api_params(self) -> dict[str, str]:
        params = {"rows": str(self.rows), "start": str(self.start)}
        if self.q:
            params["q"] = self.q
        if self.filters:
            params["fq"] = " ".join(f'{name}:"{value}"' for name, value in self.filters)
        if API_SORTS[self.sort]:
            params["sort"] = API_SORTS[self.sort]
        if self.facets:
            params["facet.field"] = json.dumps(list(self.facets))
        return params

    def page_params(self) -> list[tuple[str, str]]:
        params = [("q", self.q)] if self.q else []
        params += list(self.filters)
        sort = self.sort if self.sort in ("modified", "title") else "relevance"
        if self.sort in ("name", "created"):
            sort = "modified"
        if sort != "relevance":
            params.append(("sort", sort))
        page = self.start // PAGE_SIZE + 1
        if page > 1:
            params.append(("page", str(page)))
        return params


class Matches:
    """Which datasets a query's words find, by the reference semantics in Python
    (`search_text.document_matches`), to pick facet values among them as a visitor clicks."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries

    @functools.cache  # noqa: B019 - one instance per run
    def of(self, q: str) -> list[Entry]:
        words = search_text.parse_query(q)
        if not words:
            return self.entries
        return [e for e in self.entries if search_text.document_matches(e.terms, words)]


def _value(entry: Entry, facet: str) -> str:
    return getattr(entry, FACET_OF[facet])


def query_mix(built: Built, count: int, seed: int) -> list[Probe]:
    """A fixed, seeded mix of `count` anonymous searches."""
    rng = random.Random(seed)
    matches = Matches(built.entries)

    def clicked(q: str, n: int) -> tuple[tuple[str, str], ...]:
        # A value of a facet taken from a random match: weighted by its count, as clicks are.
        found = matches.of(q)
        if not found:
            return ()
        chosen = []
        for facet in rng.sample(list(FACET_OF), n):
            chosen.append((facet, _value(rng.choice(found), facet)))
        return tuple(chosen)

    def tag(q: str) -> tuple[tuple[str, str], ...]:
        found = [e for e in matches.of(q) if e.tags]
        return (("tags", rng.choice(rng.choice(found).tags)),) if found else ()

    def start(rows: int) -> int:
        return 0 if rng.random() < 0.85 else rows * rng.randint(1, 4)

    def facets() -> tuple[str, ...]:
        return STANDARD_FACETS if rng.random() < 0.5 else ()

    probes: list[Probe] = []
    for kind, share in MIX.items():
        for _ in range(round(count * share)):
            q = rng.choice(KEYWORDS)
            rows = rng.choice([10, 10, 10, 20])
            if kind == "browse":
                filters = clicked("", rng.choice([0, 1, 1, 2]))
                probe = Probe(kind, filters=filters, rows=rows, start=start(rows), facets=facets())
            elif kind == "keyword":
                probe = Probe(kind, q=q, rows=rows, start=start(rows), facets=facets())
            elif kind == "keyword+filter":
                filters = clicked(q, rng.choice([1, 1, 2]))
                probe = Probe(kind, q=q, filters=filters, rows=rows, facets=facets())
            elif kind == "two words":
                probe = Probe(kind, q=rng.choice(PAIRS), rows=rows, start=start(rows))
            elif kind == "sorted":
                q = rng.choice([q, ""])
                sort = rng.choice(["modified", "title"])
                probe = Probe(kind, q=q, sort=sort, rows=rng.choice([10, 100]), facets=facets())
            elif kind == "deep page":
                q = rng.choice([q, ""])
                probe = Probe(kind, q=q, rows=10, start=10 * rng.randint(10, 500))
            elif kind == "tag filter":
                q = rng.choice([q, ""])
                probe = Probe(kind, q=q, filters=tag(q), rows=rows, facets=facets())
            elif kind == "tags facet":
                q = rng.choice([q, q, ""])
                probe = Probe(kind, q=q, rows=rows, start=start(rows), facets=CKAN_FACETS)
            else:
                q = rng.choice([q, ""])
                sort = rng.choice(["name", "created"])
                probe = Probe(kind, q=q, sort=sort, rows=rng.choice([10, 100]))
            probes.append(probe)
    probes += [Probe("rare word", q=word) for word in RARE]
    rng.shuffle(probes)
    return probes


# --- measuring searches ----------------------------------------------------------------------


@contextlib.contextmanager
def serving(database: PortalDatabase) -> Iterator[str]:
    """The portal served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from govshare.portal.app import create_portal_app
    from govshare.portal.settings import PortalSettings

    app = create_portal_app(PortalSettings(database_url=database.url), database=database)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
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


PAGE_COUNT = re.compile(r'id="result-count">共 <strong>(\d+)</strong>')


def time_api(url: str, probes: list[Probe]) -> tuple[list[float], list[int]]:
    """Milliseconds of each package_search round trip (answer read in full), and its count."""
    took, counts = [], []
    with httpx.Client(base_url=url, timeout=600) as client:
        for probe in probes:
            started = time.perf_counter()
            response = client.get("/api/3/action/package_search", params=probe.api_params())
            response.read()
            took.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or not response.json().get("success"):
                raise RuntimeError(
                    f"package_search {probe.api_params()}: {response.status_code} "
                    f"{response.text[:300]}"
                )
            counts.append(response.json()["result"]["count"])
    return took, counts


def time_page(url: str, probes: list[Probe]) -> tuple[list[float], list[int]]:
    """Milliseconds of each GET /dataset round trip (page read in full), and its count."""
    took, counts = [], []
    with httpx.Client(base_url=url, timeout=600) as client:
        for probe in probes:
            started = time.perf_counter()
            response = client.get("/dataset", params=probe.page_params())
            response.read()
            took.append((time.perf_counter() - started) * 1000)
            found = PAGE_COUNT.search(response.text)
            if response.status_code != 200 or found is None:
                raise RuntimeError(f"GET /dataset {probe.page_params()}: {response.status_code}")
            counts.append(int(found.group(1)))
    return took, counts


def measure_search(database: PortalDatabase, probes: list[Probe]) -> dict[str, Any]:
    """The mix through the API and through the page, after a warm-up of 20 of each."""
    with serving(database) as url:
        time_api(url, probes[:20])
        time_page(url, probes[:20])
        api, counts = time_api(url, probes)
        page, page_counts = time_page(url, probes)
    by_kind: dict[str, Any] = {}
    for kind in [*MIX, "rare word"]:
        picked = [i for i, p in enumerate(probes) if p.kind == kind]
        if picked:
            by_kind[kind] = {
                "queries": len(picked),
                "api_p95_ms": round(percentile([api[i] for i in picked], 0.95), 1),
                "page_p95_ms": round(percentile([page[i] for i in picked], 0.95), 1),
                "median_results": int(statistics.median(counts[i] for i in picked)),
            }
    differ = [i for i in range(len(probes)) if counts[i] != page_counts[i]]
    slowest = sorted(range(len(probes)), key=lambda i: -api[i])[:5]
    return {
        "queries": len(probes),
        "api_ms": latency_figures(api),
        "page_ms": latency_figures(page),
        "by_kind": by_kind,
        "count_mismatches": [
            {"probe": probes[i].api_params(), "api": counts[i], "page": page_counts[i]}
            for i in differ
        ],
        "slowest_api": [
            {
                "kind": probes[i].kind,
                "params": probes[i].api_params(),
                "ms": round(api[i], 1),
                "results": counts[i],
            }
            for i in slowest
        ],
    }


# --- the portal in a process of its own ------------------------------------------------------


def portal_argv(port: int, workers: int | None = None) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", "govshare.portal.main:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return argv + (["--workers", str(workers)] if workers else [])


def portal_env(url: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return {"GOVSHARE_PORTAL_DATABASE_URL": url, "PYTHONPATH": path}


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def copy_speed(url: str, table: str, columns: list[str]) -> dict[str, Any]:
    """PostgreSQL's own COPY of the rows to CSV, read in full by the client; warmed once."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    sql = (
        f"COPY (SELECT {', '.join(columns)} FROM {table} ORDER BY _row) "
        "TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        for _ in range(2):  # the first run warms the caches
            size, started = 0, time.perf_counter()
            with cursor.copy(sql) as copy:
                for block in copy:
                    size += len(block)
            seconds = time.perf_counter() - started
    return {"bytes": size, "seconds": round(seconds, 2), "mb_s": round(size / 1e6 / seconds, 1)}


def measure_download(url: str, built: Built, rows: int) -> dict[str, Any]:
    """GET …/download.csv from the portal in its own process, its peak memory, against COPY."""
    columns = [c for c, _ in built.field_types[built.download_id]]
    copied = copy_speed(url, rows_table_name(built.download_id), columns)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path = f"/dataset/{built.download_name}/download.csv"
    with process(portal_argv(port), f"{base}/api/3/action/status_show", portal_env(url)) as pid:
        httpx.get(f"{base}/dataset/{built.download_name}", timeout=60).raise_for_status()
        baseline_kb = _status_kb(pid, "VmRSS")
        size = lines = 0
        started = time.perf_counter()
        with httpx.stream("GET", f"{base}{path}", timeout=600) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 20):
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        peak_kb = _status_kb(pid, "VmHWM")
    if lines != rows + 1:
        raise RuntimeError(f"download.csv had {lines} lines for {rows} rows and a header")
    return {
        "rows": rows,
        "bytes": size,
        "seconds": round(seconds, 2),
        "mb_s": round(size / 1e6 / seconds, 1),
        "rss_before_mb": round(baseline_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "copy": copied,
        "speed_of_copy": round(copied["seconds"] / seconds, 3),
    }


# --- concurrency -----------------------------------------------------------------------------


def browsing_mix(built: Built, seed: int) -> tuple[list[str], list[int]]:
    """The URLs 200 visitors rotate through, and the table datasets whose pages (with their
    preview) it shows, whose rows tables must exist."""
    rng = random.Random(seed)
    entries = built.entries[:-1]
    previewed = [
        i + 1 for i, e in enumerate(entries) if e.kind == "table" and e.open_type == "unconditional"
    ]
    previewed = rng.sample(previewed, min(12, len(previewed)))
    others = [e.name for e in entries if e.kind != "table" or e.open_type != "unconditional"]

    def page(params: list[tuple[str, str]]) -> str:
        return "/dataset?" + urlencode(params, quote_via=quote) if params else "/dataset"

    matches = Matches(built.entries)
    paths = ["/", "/", "/", "/dataset", "/dataset", "/organization", "/group"]
    paths += [page([("q", q)]) for q in rng.sample(KEYWORDS, 8)]
    paths += [page([("q", q), ("page", "2")]) for q in rng.sample(KEYWORDS, 2)]
    paths += [page([("q", rng.choice(PAIRS))])]
    paths += [page([("groups", rng.choice(entries).domain)]) for _ in range(3)]
    paths += [page([("organization", rng.choice(entries).organization)]) for _ in range(2)]
    for q in rng.sample(KEYWORDS, 2):
        found = matches.of(q) or entries
        paths.append(page([("q", q), ("res_format", rng.choice(found).format)]))
    paths += [page([("sort", "modified")]), page([("tags", rng.choice(rng.choice(entries).tags))])]
    paths += [f"/dataset/{built.entries[i - 1].name}" for i in previewed]
    paths += [f"/dataset/{name}" for name in rng.sample(others, min(3, len(others)))]
    names = [e.name for e in rng.sample(entries, 6)]
    paths += [f"/api/3/action/package_show?id={name}" for name in names]
    return paths, previewed


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if found is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(
    base: str, paths: list[str], *, connections: int, duration: float, workdir: Path
) -> dict[str, Any]:
    """One wrk run rotating over `paths` (each connection starts at its own place)."""
    script = workdir / "browse.lua"
    listed = ", ".join(json.dumps(p) for p in paths)  # ASCII: the paths are percent-encoded
    script.write_text(
        f"local paths = {{{listed}}}\n"
        "local counter = 0\n"
        "setup = function(thread) counter = counter + 1; thread:set('offset', counter * 7) end\n"
        "local i = nil\n"
        "request = function()\n"
        "  if i == nil then i = (offset or 0) end\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\n"
        "end\n"
    )
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration:g}s", "--latency"]
    argv += ["--timeout", "10s", "-s", str(script), base]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    figures: dict[str, Any] = {"connections": connections, "seconds": duration}
    figures["requests"] = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    figures["rps"] = round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1)  # type: ignore[union-attr]
    for share in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{share}%\s+(\S+)", output, re.M)
        figures[f"p{share}_ms"] = round(_ms(found.group(1)), 1) if found else None
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = int(failed.group(1)) if failed else 0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    kinds = ("connect", "read", "write", "timeout")
    figures["socket_errors"] = (
        dict(zip(kinds, map(int, errors.groups()), strict=True))
        if errors
        else dict.fromkeys(kinds, 0)
    )
    figures["errors"] = figures["non_2xx"] + sum(figures["socket_errors"].values())
    return figures


def _settle(base: str, timeout: float = 300) -> None:
    """Waits until the server has worked off what an earlier run left queued (it finishes
    requests whose client has gone): until a cheap call answers quickly twice running."""
    deadline, quick = time.monotonic() + timeout, 0
    with httpx.Client(base_url=base, timeout=timeout) as client:
        while quick < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the portal was still busy {timeout:g} s after the warm-up")
            started = time.perf_counter()
            client.get("/api/3/action/site_read").raise_for_status()
            quick = quick + 1 if time.perf_counter() - started < 0.1 else 0
            time.sleep(0.2)


def measure_concurrency(
    url: str, paths: list[str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """`--connections` visitors against `uvicorn --workers N` for `--duration` seconds."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = portal_argv(port, args.workers)
    alone: dict[str, float] = {}
    with process(argv, f"{base}/api/3/action/status_show", portal_env(url)):
        with httpx.Client(base_url=base, timeout=60) as client:
            for path in paths:  # every URL answers 200; each is warmed, then timed alone
                for _ in range(args.workers + 1):
                    started = time.perf_counter()
                    response = client.get(path)
                    alone[path] = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(
                            f"GET {path}: {response.status_code} {response.text[:300]}"
                        )
        wrk(base, paths, connections=args.connections, duration=2, workdir=workdir)
        _settle(base)
        figures = wrk(
            base, paths, connections=args.connections, duration=args.duration, workdir=workdir
        )
    slowest = sorted(alone, key=lambda p: -alone[p])[:3]
    figures["alone_ms"] = latency_figures(list(alone.values()))
    figures["slowest_alone"] = [{"url": p, "ms": round(alone[p], 1)} for p in slowest]
    return {"workers": args.workers, "urls": len(paths), **figures}


# --- the run ---------------------------------------------------------------------------------


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def run_backend(
    backend: str, built: Built, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Search on one database; on PostgreSQL also the download and the concurrency runs."""
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "postgresql":
        drop = _fresh_postgres(args.pg_url)
        url = args.pg_url
    else:
        url = f"sqlite:///{workdir / 'portal.db'}"
    database = PortalDatabase(url)
    result: dict[str, Any] = {}
    try:
        database.ensure_schema()
        started = time.perf_counter()
        load(database, built)
        result["load_s"] = round(time.perf_counter() - started, 1)
        say(f"[{backend}] loaded {len(built.datasets):,} datasets in {result['load_s']} s")
        result |= measure_search(database, query_mix(built, args.queries, args.seed))
        say(f"[{backend}] API {result['api_ms']}, page {result['page_ms']}")
        if backend == "postgresql":
            started = time.perf_counter()
            load_download_table(database, built, args.rows, args.seed)
            paths, previewed = browsing_mix(built, args.seed)
            create_rows_tables(database, built, previewed)
            say(f"[{backend}] {args.rows:,} download rows in {time.perf_counter() - started:.0f} s")
            result["download"] = measure_download(url, built, args.rows)
            say(f"[{backend}] download {result['download']}")
            result["concurrency"] = measure_concurrency(url, paths, args, workdir)
            say(f"[{backend}] concurrency {result['concurrency']}")
        return result
    finally:
        database.dispose()
        if not args.keep:
            drop()


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    scale = "" if args.datasets >= TARGET_SCALE else f" (targets are for {TARGET_SCALE:,})"
    for backend, r in results.items():
        print(f"\n{backend} — {args.datasets:,} open datasets, {r['queries']} searches, "
              f"loaded in {r['load_s']} s")  # fmt: skip
        print(f"  {'':30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   target p95{scale}")
        for label, key, target in (("API package_search", "api_ms", TARGETS["api_p95_ms"]),
                                   ("page GET /dataset", "page_ms", TARGETS["page_p95_ms"])):  # fmt: skip
            f = r[key]
            verdict = _verdict(f["p95"] <= target)
            print(
                f"  {label:30} {f['p50']:>8} {f['p95']:>8} {f['max']:>8}   ≤ {target} ({verdict})"
            )
        print(f"  {'by kind of search':30} {'API p95':>8} {'page p95':>9} {'median results':>15}")
        for kind, k in r["by_kind"].items():
            print(f"  {kind + ' (' + str(k['queries']) + ')':30} {k['api_p95_ms']:>8} "
                  f"{k['page_p95_ms']:>9} {k['median_results']:>15,}")  # fmt: skip
        mismatches = len(r["count_mismatches"])
        print(f"  API and page counts differ for {mismatches} of {r['queries']} searches")
        print("  slowest API calls: " + "; ".join(
            f"{s['kind']} {s['ms']} ms ({s['results']:,} found)" for s in r["slowest_api"][:3]))  # fmt: skip
    pg = results.get("postgresql")
    if pg is None:
        print("\ndownload and concurrency: not run (they need PostgreSQL; add it to --backends)")
        return
    d = pg["download"]
    print(f"\ndownload.csv of {d['rows']:,} rows ({d['bytes'] / 1e6:.0f} MB), PostgreSQL")
    print(f"  {'':30} {'seconds':>8} {'MB/s':>8}")
    print(f"  {'portal GET …/download.csv':30} {d['seconds']:>8} {d['mb_s']:>8}")
    c = d["copy"]
    print(f"  {'COPY (SELECT …) TO STDOUT CSV':30} {c['seconds']:>8} {c['mb_s']:>8}")
    speed_ok = d["speed_of_copy"] >= TARGETS["download_speed_of_copy"]
    print(f"  speed {d['speed_of_copy']:.0%} of COPY's (target ≥ 50 %: {_verdict(speed_ok)})")
    rss_ok = d["peak_rss_mb"] < TARGETS["download_peak_rss_mb"]
    print(f"  server memory: {d['rss_before_mb']} MB before, peak {d['peak_rss_mb']} MB "
          f"(target < {TARGETS['download_peak_rss_mb']} MB: {_verdict(rss_ok)})")  # fmt: skip
    w = pg["concurrency"]
    print(f"\n{w['connections']} concurrent visitors for {w['seconds']:g} s, "
          f"uvicorn --workers {w['workers']}, {w['urls']} URLs, PostgreSQL, {os.cpu_count()} CPUs")  # fmt: skip
    print(
        f"  {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'socket errors':>14}"
    )
    socket_errors = ", ".join(f"{k} {v}" for k, v in w["socket_errors"].items() if v) or "0"
    print(f"  {w['rps']:>9} {w['p50_ms']:>8} {w['p90_ms']:>8} {w['p99_ms']:>8} {w['non_2xx']:>8} "
          f"{socket_errors:>14}")  # fmt: skip
    print(
        f"  errors: {w['errors']} of {w['requests']:,} requests (target 0: {_verdict(w['errors'] == 0)})"
    )
    a = w["alone_ms"]
    slowest = ", ".join(f"{unquote(s['url'])} {s['ms']} ms" for s in w["slowest_alone"])
    print(f"  one request at a time: p50 {a['p50']} ms, mean {a['mean']} ms; slowest {slowest}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=TARGET_SCALE)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the download table")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of wrk load")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers under load")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a database the bench may drop")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--quick", action="store_true", help="2,000 datasets, 50,000 rows, 5 s")
    parser.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.rows, args.duration = 2000, 50_000, 5.0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"--backends: unknown {', '.join(sorted(unknown))} (sqlite, postgresql)")
    if "postgresql" in backends:
        apt_tools.require("wrk")  # the concurrency run is measured by wrk, so it is never dropped
    started = time.perf_counter()
    built = build_portal(args.datasets, args.seed)
    say(f"built {args.datasets:,} datasets, {len(built.fields):,} fields "
        f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="govshare-bench-portal-") as tmp:
        workdir = Path(tempfile.mkdtemp(prefix="govshare-bench-portal-") if args.keep else tmp)
        for backend in backends:
            results[backend] = run_backend(backend, built, args, workdir)
    report(results, args)
    summary = {
        "bench": "portal",
        "targets": TARGETS,
        "target_scale": TARGET_SCALE,
        "datasets": args.datasets,
        "fields": len(built.fields),
        "cpus": os.cpu_count(),
        **results,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
