"""A portal database filled directly with a few open datasets, as the publisher would leave it,
for tests of the portal's own reading (pages, CKAN API, DCAT) apart from the platform."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from govshare.portal.catalog import dataset_terms
from govshare.portal.db import PortalDatabase
from govshare.portal.models import (
    SCHEMA_VERSION,
    PortalDataset,
    PortalField,
    PortalMeta,
    PortalOrganization,
    PortalRelease,
    rows_table,
)

PUBLISHED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

BUS_STOPS = [
    ("江州火车站", "1路、5路、K3路", "114.3052", "30.5931"),
    ("人民广场", "1路、2路", "114.2998", "30.5870"),
    ("江州大学", "5路、16路", "114.3601", "30.5402"),
    ("滨江公园", "K3路", "114.3120", "30.6013"),
]
PHARMACIES = [
    (
        "江州市仁心大药房有限公司",
        "91420100MA4K*******",
        "江州市江岸区解放大道***",
        date(2021, 5, 6),
    ),
    ("江州市百草堂药店", "92420100MA4L*******", "江州市洪山区珞喻路****", date(2023, 2, 17)),
    (
        "江州市康民医药连锁有限公司",
        "91420100MA4M*******",
        "江州市武昌区中南路***",
        date(2019, 11, 30),
    ),
]
AIR = [
    (date(2026, 11, 28) + timedelta(days=i), 40 + i * 7, Decimal(f"{30 + i}.5")) for i in range(5)
]


def _dataset(
    id_: int,
    code: str,
    title: str,
    notes: str,
    org: PortalOrganization,
    domain: tuple[str, str],
    fields: list[tuple[str, str, str, str]],  # (name, type, description, masking label)
    *,
    open_type: str = "unconditional",
    conditions: str = "",
    frequency: tuple[str, str] = ("monthly", "每月"),
    tags: list[str] | None = None,
    rows: int | None = None,
) -> PortalDataset:
    terms, title_terms = dataset_terms(
        title, notes, [(f[0], f[2]) for f in fields], [org.title, domain[1], *(tags or [])]
    )
    return PortalDataset(
        id=id_,
        name=code.lower().replace("/", "-"),
        code=code,
        title=title,
        notes=notes,
        organization_id=org.id,
        domain=domain[0],
        domain_label=domain[1],
        kind="table",
        format="database",
        format_label="数据库",
        update_frequency=frequency[0],
        update_frequency_label=frequency[1],
        open_type=open_type,
        open_conditions=conditions,
        tags=tags or [],
        version=1,
        issued=date(2026, 12, 1),
        modified=PUBLISHED,
        data_updated=PUBLISHED,
        row_count=rows,
        rows_table=f"portal_data_{id_}",
        terms=terms,
        title_terms=title_terms,
        fields=[
            PortalField(
                position=i, name=name, column=f"c{i}", type=type_, description=desc, masking=mask
            )
            for i, (name, type_, desc, mask) in enumerate(fields)
        ],
    )


def fill(portal: PortalDatabase) -> None:
    """Three organisations' worth of open data: bus stops, licensed pharmacies (a masked
    item), daily air quality, and a conditional dataset."""
    portal.ensure_schema()
    with portal.session() as s:
        s.add(
            PortalMeta(
                id=1,
                schema_version=SCHEMA_VERSION,
                city_name="江州市",
                publisher_name="江州市大数据管理局",
                licence_title="江州市公共数据开放许可协议",
                licence_url="https://data.jiangzhou.example/licence",
                updated_at=PUBLISHED,
            )
        )
        transport = PortalOrganization(id=11, name="org-11", title="江州市交通运输局")
        market = PortalOrganization(id=12, name="org-12", title="江州市市场监督管理局")
        ecology = PortalOrganization(id=13, name="org-13", title="江州市生态环境局")
        s.add_all([transport, market, ecology])
        s.flush()
        datasets = [
            _dataset(
                101,
                "A01001/000001",
                "公交站点信息",
                "全市公交站点名称、途经线路和坐标。",
                transport,
                ("transport", "交通出行"),
                [
                    ("站点名称", "text", "", ""),
                    ("途经线路", "text", "", ""),
                    ("经度", "text", "WGS84", ""),
                    ("纬度", "text", "WGS84", ""),
                ],
                tags=["公交", "出行"],
                rows=len(BUS_STOPS),
            ),
            _dataset(
                102,
                "B02001/000001",
                "药品零售企业许可信息",
                "持有药品经营许可证的零售药店。",
                market,
                ("health", "医疗卫生"),
                [
                    ("企业名称", "text", "", ""),
                    ("统一社会信用代码", "text", "", "保留前 11 位"),
                    ("经营地址", "text", "", "地址"),
                    ("发证日期", "date", "", ""),
                ],
                tags=["药店"],
                rows=len(PHARMACIES),
            ),
            _dataset(
                103,
                "C03001/000001",
                "空气质量日报",
                "各国控监测点每日空气质量指数。",
                ecology,
                ("environment", "生态环境"),
                [
                    ("日期", "date", "", ""),
                    ("空气质量指数", "integer", "AQI", ""),
                    ("细颗粒物浓度", "numeric", "PM2.5，微克每立方米", ""),
                ],
                frequency=("daily", "每日"),
                tags=["空气"],
                rows=len(AIR),
            ),
            _dataset(
                104,
                "B02001/000002",
                "企业年报抽查结果",
                "企业年度报告抽查的结果。",
                market,
                ("enterprise_registration", "企业登记"),
                [("企业名称", "text", "", ""), ("抽查结果", "text", "", "")],
                open_type="conditional",
                conditions="仅限用于学术研究，须签署数据使用协议",
                frequency=("yearly", "每年"),
                rows=0,
            ),
        ]
        s.add_all(datasets)
        s.flush()
        for data, values in zip(datasets, [BUS_STOPS, PHARMACIES, AIR, []], strict=True):
            table = rows_table(data.id, [(f.column, f.type) for f in data.fields])
            table.create(s.connection())
            if values:
                s.execute(
                    table.insert(),
                    [
                        {"_row": n, **{f"c{i}": v for i, v in enumerate(row)}}
                        for n, row in enumerate(values, start=1)
                    ],
                )
            s.add(
                PortalRelease(
                    dataset_id=data.id,
                    published_at=PUBLISHED,
                    version=1,
                    row_count=len(values),
                    note="首次开放",
                )
            )


def dataset_count(portal: PortalDatabase) -> int:
    with portal.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(PortalDataset)) or 0
