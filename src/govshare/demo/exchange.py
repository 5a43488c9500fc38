"""Demo exchange (示范数据交换): the demo city's data actually moving.

Two departments keep a business database, a SQLite file in the data directory filled with the
generated data of `exchange.demo_data`: the public-security bureau its population register and
its residence registrations of non-residents, the market regulator its company registry. Each
department registers its database, binds its published table resources to the tables, and a
first full sync, run through the run service as a worker would, copies the rows into the data
resource center (the steps of `demo.sources`). The grants of the demo story then decide what
each department gets: 市民政局 the whole population register, 市教育局 only residents who work
or trade in the city with their ID numbers masked, 市税务局 the company registry.

The transport bureau uploads a first version of its bus-line file, and the market regulator
publishes the demo company service (`exchange.demo_service`) behind the gateway; 市税务局's
grant on the company registry lets its systems call it there.

The generator makes no value for some catalog data items (出生地, 登记机关, …); those columns
are derived here from the generated row, so that every item of a resource has its column.

Unlike the other demo steps this one needs the runtime (settings, the center, a session
factory): a run works in transactions of its own. Every part is skipped when already there,
so building again changes nothing and a build interrupted half-way completes.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.demo import catalog as catalog_demo
from govshare.demo import sources
from govshare.demo.identity import REGION_CITY
from govshare.demo.sources import Database, Table
from govshare.exchange import demo_data, demo_service, filestore
from govshare.exchange.models import FileVersion, ServiceInterface
from govshare.exchange.service import files, interfaces

SERVICE_PORT = 8001  # where `govshare demo` serves the demo company service by default
POPULATION_ROWS = 20_000
RESIDENCE_ROWS = 3_000
COMPANY_ROWS = 5_000  # the demo service answers for the first DEFAULT_COMPANIES of them
SERVICE_PATHS = ("/enterprises/{uscc}", "/enterprises", "/licences/verify")
FILE_RESOURCE = "jtj_bus"
SERVICE_RESOURCE = "scjg_enterprise"
PROVINCE_CITY = "江西省" + demo_data.CITY


def service_url(port: int = SERVICE_PORT) -> str:
    return f"http://127.0.0.1:{port}"


# --- the business databases ----------------------------------------------------------------


def _age(birth: date) -> int:
    return demo_data.AGE_REFERENCE_YEAR - birth.year


def _relation_to_head(gender: str, birth: date, marital: str) -> str:
    """与户主关系, from age and marital status: the children of a household, the wife of a
    married couple, otherwise the head."""
    if _age(birth) < 18 or (marital == "未婚" and _age(birth) < 30):
        return "子" if gender == "男" else "女"
    return "妻" if marital == "已婚" and gender == "女" else "户主"


def _population() -> Iterator[tuple[Any, ...]]:
    """The population register, with the items the generator leaves out."""
    for row in demo_data.population_rows(POPULATION_ROWS):
        id_number, _, gender, birth, *_ = row
        county = demo_data.COUNTY_NAMES.get(id_number[:6], "")
        yield (
            *row,
            PROVINCE_CITY + county,  # birth_place
            "江西" + demo_data.CITY.removesuffix("市"),  # native_place
            _relation_to_head(gender, birth, row[9]),
            None,  # former_name: most people have none
            None,  # workplace: not kept by this register
        )


POPULATION = Table(
    name="population",
    columns=(
        *demo_data.POPULATION_COLUMNS,
        ("birth_place", "text"),
        ("native_place", "text"),
        ("relation_to_head", "text"),
        ("former_name", "text"),
        ("workplace", "text"),
    ),
    key=("id_number",),
    rows=_population,
    resource="gaj_population",
    items={
        "姓名": "name",
        "公民身份号码": "id_number",
        "性别": "gender",
        "民族": "ethnicity",
        "出生日期": "birth_date",
        "出生地": "birth_place",
        "籍贯": "native_place",
        "户籍地址": "address",
        "户号": "record_no",
        "与户主关系": "relation_to_head",
        "文化程度": "education",
        "婚姻状况": "marital_status",
        "户口类别": "household_type",
        "户籍登记日期": "registered_on",
        "行政区划代码": "region_code",
        "曾用名": "former_name",
        "服务处所": "workplace",
    },
)

_JIANGZHOU_ROADS = ("人民路", "解放路", "滨江大道", "江州大道", "文昌路", "学府路", "工业大道")
_REASONS = {"学生": "就学", "学龄前儿童": "投靠", "离退休人员": "投靠", "无业": "投靠"}


def _residence_reason(occupation: str) -> str:
    """居住事由: pupils study, children and the retired join family, traders trade, the rest
    work."""
    return _REASONS.get(occupation, "经商" if occupation == "个体工商户" else "务工")


def _residence() -> Iterator[tuple[Any, ...]]:
    """People registered in the generator's city who live in 江州市 (rows after the population
    register's, so no one is in both)."""
    rng = random.Random("govshare-demo-residence")
    for i, row in enumerate(demo_data.population_rows(RESIDENCE_ROWS, start=POPULATION_ROWS)):
        id_number, name, *_ = row
        phone, address, occupation, updated_at = row[5], row[7], row[11], row[13]
        registered = (updated_at - timedelta(days=rng.randrange(365))).date()
        yield (
            id_number,
            name,
            f"江州市{rng.choice(_JIANGZHOU_ROADS)}{rng.randint(1, 300)}号",
            PROVINCE_CITY + address,
            _residence_reason(occupation),
            f"{REGION_CITY}{registered.year}{i + 1:06d}",
            registered,
            registered + timedelta(days=365),
            phone,
            updated_at,
        )


RESIDENCE = Table(
    name="residence_permit",
    columns=(
        ("id_number", "text"),
        ("name", "text"),
        ("current_address", "text"),
        ("registered_address", "text"),
        ("reason", "text"),
        ("permit_no", "text"),
        ("registered_on", "date"),
        ("valid_until", "date"),
        ("phone", "text"),
        ("updated_at", "timestamp"),
    ),
    key=("id_number",),
    rows=_residence,
    resource="gaj_residence_permit",
    items={
        "姓名": "name",
        "公民身份号码": "id_number",
        "现住址": "current_address",
        "户籍地址": "registered_address",
        "居住事由": "reason",
        "居住证号码": "permit_no",
        "登记日期": "registered_on",
        "有效期至": "valid_until",
        "联系电话": "phone",
    },
)

# The transition of the 2024 Company Law: capital subscribed before 1 July 2024 is due by
# 30 June 2032, capital of companies set up since then within five years.
_NEW_COMPANY_LAW, _TRANSITION_DUE = date(2024, 7, 1), date(2032, 6, 30)
_PAID_SHARES = (Decimal("0"), Decimal("0.2"), Decimal("0.5"), Decimal("1"))


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _enterprise() -> Iterator[tuple[Any, ...]]:
    """The company registry, with the dates and amounts the 2024 Company Law added."""
    rng = random.Random("govshare-demo-enterprise")
    for row in demo_data.company_rows(COMPANY_ROWS):
        _, _, _, capital, established, kind, _, _, _, region, _, updated_at = row
        limited = "有限" in kind
        due = (
            None
            if not limited
            else _TRANSITION_DUE
            if established < _NEW_COMPANY_LAW
            else _years_after(established, 5)
        )
        paid = (capital * rng.choice(_PAID_SHARES)).quantize(Decimal("0.01")) if limited else None
        yield (
            *row,
            established,  # term_from
            None,  # term_to: 长期
            f"{demo_data.CITY}{demo_data.COUNTY_NAMES.get(region, '')}市场监督管理局",
            updated_at.date(),  # approved_on: the last change was approved that day
            due,
            paid,
        )


ENTERPRISE = Table(
    name="enterprise",
    columns=(
        *demo_data.COMPANY_COLUMNS,
        ("term_from", "date"),
        ("term_to", "date"),
        ("registration_authority", "text"),
        ("approved_on", "date"),
        ("subscription_due", "date"),
        ("paid_in_capital", "numeric"),
    ),
    key=("uscc",),
    rows=_enterprise,
    resource="scjg_enterprise",
    items={
        "统一社会信用代码": "uscc",
        "企业名称": "name",
        "企业类型": "company_type",
        "法定代表人": "legal_representative",
        "注册资本": "registered_capital",
        "成立日期": "established_on",
        "营业期限自": "term_from",
        "营业期限至": "term_to",
        "住所": "address",
        "经营范围": "industry",
        "登记机关": "registration_authority",
        "登记状态": "status",
        "核准日期": "approved_on",
        "行政区划代码": "region_code",
        "认缴出资期限": "subscription_due",
        "实缴出资额": "paid_in_capital",
    },
)

DATABASES = (
    Database(
        "gaj", "人口管理信息系统业务库（只读副本）", "provider/gaj/gaj.db", (POPULATION, RESIDENCE)
    ),
    Database("scjg", "市场主体登记系统业务库（只读副本）", "provider/scjg/scjg.db", (ENTERPRISE,)),
)


# --- the bus-line file -------------------------------------------------------------------

_BUS_LINES = (
    ("1", "江州火车站", "青山县客运站", 6, 30, 21, 0, 2),
    ("2", "江州大学", "滨江公园", 6, 0, 22, 0, 1),
    ("5", "市第一人民医院", "工业园区", 6, 30, 20, 30, 1),
    ("8", "汽车客运站", "体育中心", 6, 0, 21, 30, 1),
    ("12", "人民广场", "江州高铁站", 6, 15, 22, 30, 2),
)
# The data items of 公交线路及站点信息, as the file's header.
_BUS_COLUMNS = (
    "线路编号", "线路名称", "站点序号", "站点名称", "经度", "纬度", "首班时间", "末班时间", "票价",
)  # fmt: skip
_STOPS = (
    "人民广场", "市政府", "文昌路口", "解放路", "江州中学", "市第一人民医院", "滨江公园",
    "江州大学", "学府路", "体育中心", "万达广场", "汽车客运站", "工业园区", "江州火车站",
    "江州高铁站", "青山路口", "青山县政府", "青山县客运站", "江州大道中", "江州大道东",
)  # fmt: skip


def bus_lines_csv() -> bytes:
    """公交线路及站点信息 as the transport bureau's monthly CSV (UTF-8 with BOM, for Excel)."""
    rng = random.Random("govshare-demo-bus")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_BUS_COLUMNS)
    for number, start, end, first_h, first_m, last_h, last_m, fare in _BUS_LINES:
        middle = rng.sample([s for s in _STOPS if s not in (start, end)], rng.randint(8, 12))
        lon, lat = 117.90 + rng.random() * 0.1, 28.40 + rng.random() * 0.08
        for seq, stop in enumerate([start, *middle, end], start=1):
            lon += rng.uniform(-0.006, 0.006)
            lat += rng.uniform(-0.004, 0.004)
            writer.writerow(
                [
                    f"JZ{int(number):03d}",
                    f"{number}路（{start}—{end}）",
                    seq,
                    stop,
                    f"{lon:.6f}",
                    f"{lat:.6f}",
                    f"{first_h:02d}:{first_m:02d}",
                    f"{last_h:02d}:{last_m:02d}",
                    fare,
                ]
            )
    return ("\ufeff" + out.getvalue()).encode()


# --- building ----------------------------------------------------------------------------


def _spec(key: str) -> catalog_demo.Spec:
    return next(s for s in catalog_demo.RESOURCES if s.key == key)


def _provider(key: str) -> str:
    return _spec(key).dept


def demo_resource(db_session: Session, key: str) -> Resource:
    """A resource of the demo catalog by its key there (matched on its first version's name)."""
    spec = _spec(key)
    return db_session.execute(
        select(Resource)
        .join(ResourceVersion, ResourceVersion.resource_id == Resource.id)
        .where(ResourceVersion.number == 1, ResourceVersion.name == spec.name)
    ).scalar_one()


def _upload_file(runtime: Runtime, db_session: Session) -> bool:
    resource = demo_resource(db_session, FILE_RESOURCE)
    if db_session.execute(
        select(FileVersion.id).where(FileVersion.resource_id == resource.id)
    ).first():
        return False
    today = clock.today()
    files.upload_version(
        db_session,
        actor=sources.officer(db_session, _provider(FILE_RESOURCE)),
        store=filestore.store_for(runtime.settings),
        resource_code=resource.code,
        filename=f"江州市公交线路及站点信息（{today.year}年{today.month}月）.csv",
        content_type="text/csv",
        chunks=[bus_lines_csv()],
        note=f"{today.year}年{today.month}月版：全市公交线路、站点位置和首末班时间",
    )
    return True


def service_openapi(base_url: str) -> dict[str, Any]:
    """The demo service's OpenAPI document, with its business endpoints only (its /slow and
    /fail are for tests of the gateway) and the server it runs on."""
    document = demo_service.openapi_document()
    document["paths"] = {p: v for p, v in document["paths"].items() if p in SERVICE_PATHS}
    document["servers"] = [{"url": base_url}]
    return document


def _publish_service(runtime: Runtime, db_session: Session, base_url: str) -> bool:
    resource = demo_resource(db_session, SERVICE_RESOURCE)
    if db_session.execute(
        select(ServiceInterface.id).where(ServiceInterface.resource_id == resource.id)
    ).first():
        return False
    interfaces.register_interface(
        db_session,
        actor=sources.officer(db_session, _provider(SERVICE_RESOURCE)),
        resource_id=resource.id,
        data=interfaces.InterfaceIn(base_url=base_url, openapi=service_openapi(base_url)),
        default_timeout=runtime.settings.gateway_timeout_seconds,
    )
    return True


def build(
    runtime: Runtime,
    *,
    base_url: str = service_url(),
    progress: Callable[[str], None] = lambda _: None,
) -> bool:
    """Adds the exchange to the demo city in the runtime's databases (after the other steps);
    returns whether anything was added. `base_url`: where the demo company service is
    published from."""
    added: list[bool] = []
    synced: list[tuple[int, str]] = []  # (binding id, provider department)
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session):
            return False
        for database in DATABASES:
            progress(f"数据交换：{database.connection}")
            connection_id, new = sources.connect(runtime, db_session, database)
            added.append(new)
            for table in database.tables:
                resource = demo_resource(db_session, table.resource)
                binding_id, new = sources.bind(
                    runtime, db_session, database, connection_id, table, resource
                )
                added.append(new)
                synced.append((binding_id, database.department))
        progress("数据交换：文件资源")
        added.append(_upload_file(runtime, db_session))
        progress("数据交换：服务接口")
        added.append(_publish_service(runtime, db_session, base_url))
    for binding_id, department in synced:
        progress("数据交换：首次同步到数据资源中心")
        added.append(sources.first_sync(runtime, binding_id, department))
    return any(added)


def _published_service(db_session: Session) -> ServiceInterface | None:
    """The demo company service's registration (None outside a demo city)."""
    if not sources.is_demo_city(db_session):
        return None
    resource = demo_resource(db_session, SERVICE_RESOURCE)
    return db_session.execute(
        select(ServiceInterface).where(ServiceInterface.resource_id == resource.id)
    ).scalar_one_or_none()


def use_service(runtime: Runtime, base_url: str) -> bool:
    """Points the published demo service at `base_url` (where it runs now) when it was
    registered elsewhere, as its provider would; returns whether it changed."""
    with runtime.transaction() as db_session:
        interface = _published_service(db_session)
        if interface is None or interface.base_url == base_url.rstrip("/"):
            return False
        interfaces.update_interface(
            db_session,
            actor=sources.officer(db_session, _provider(SERVICE_RESOURCE)),
            interface_id=interface.id,
            data=interfaces.InterfaceIn(base_url=base_url, openapi=service_openapi(base_url)),
            default_timeout=runtime.settings.gateway_timeout_seconds,
        )
        return True


def example_company() -> str:
    """The USCC of the first active company the demo service knows, for an example call."""
    return next(
        row[0]
        for row in demo_data.company_rows(demo_service.DEFAULT_COMPANIES)
        if row[8] in demo_data.ACTIVE_STATUSES
    )


def gateway_path(db_session: Session) -> str | None:
    """The gateway path of an example call to the demo service (None when not published)."""
    interface = _published_service(db_session)
    if interface is None:
        return None
    return f"/gateway/{interface.resource.code}/enterprises/{example_company()}"
