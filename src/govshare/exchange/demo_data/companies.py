"""The generated company registry (企业登记信息), with valid unified social credit codes."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from govshare.core import uscc as uscc_code
from govshare.exchange.demo_data.population import (
    _GIVEN,
    _ROADS,
    _SURNAME_WEIGHTS,
    CITY,
    COUNTIES,
    UPDATE_WINDOW,
    County,
    _default_as_of,
    _table,
    _urn,
    _weights,
)

# --- company registry (企业登记) ------------------------------------------------------------

COMPANY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uscc", "text"),
    ("name", "text"),
    ("legal_representative", "text"),
    ("registered_capital", "numeric"),  # 万元
    ("established_on", "date"),
    ("company_type", "text"),
    ("industry", "text"),
    ("address", "text"),
    ("status", "text"),
    ("region_code", "text"),
    ("licence_no", "text"),  # 许可证编号, checked by the demo service's /licences/verify
    ("updated_at", "timestamp"),
)
ACTIVE_STATUSES = ("存续", "在业")


@dataclass(frozen=True)
class _Industry:
    """An industry (GB/T 4754 门类) as it shows in names and licence numbers."""

    weight: float
    licence_prefix: str
    keywords: tuple[str, ...]  # in company names: 上饶市信州区恒达<商贸>有限公司
    shops: tuple[str, ...]  # in names of individual businesses: 信州区张记<小吃店>


_INDUSTRIES: dict[str, _Industry] = {
    name: _Industry(
        float(weight),
        prefix,
        tuple(words[: words.index("|")]),
        tuple(words[words.index("|") + 1 :]),
    )
    for name, weight, prefix, *words in _table("""
批发和零售业 30 JY1 商贸 贸易 百货 医药 建材 | 便利店 超市 五金店 副食店 建材商行
住宿和餐饮业 12 JY2 餐饮管理 酒店管理 食品 | 小吃店 饭店 面馆 早餐店 农家乐
制造业 10 XK 实业 机械制造 光伏科技 新材料 服饰 电子 | 加工厂 服装加工店
建筑业 8 JZ 建筑工程 建设工程 装饰工程 园林绿化工程 | 装修部 水电安装部
信息传输、软件和信息技术服务业 6 DX 科技 网络科技 信息技术 软件 | 电脑维修部 手机维修店
租赁和商务服务业 8 SW 企业管理咨询 商务服务 广告 人力资源 | 广告部 图文快印店
交通运输、仓储和邮政业 5 YS 物流 运输 供应链管理 | 货运部 快递服务部
农、林、牧、渔业 8 NY 农业开发 生态农业 茶业 林业 | 养殖场 种植园 家庭农场
居民服务、修理和其他服务业 7 FW 家政服务 汽车服务 | 理发店 洗车店 家电维修部 美容店
房地产业 2 FC 房地产开发 物业管理 置业 | 房产中介部
文化、体育和娱乐业 2 WH 文化传媒 文化旅游 体育发展 | 文具店 书店 棋牌室
科学研究和技术服务业 2 KJ 工程技术 检测 环保科技 | 测绘服务部
""")
}
_FARMING = "农、林、牧、渔业"
# company type, weight, USCC organisation-type digit (1 enterprise, 2 individual business,
# 3 cooperative), registered capital choices in 万元
_COMPANY_TYPES: dict[str, tuple[float, str, tuple[int, ...]]] = {
    kind: (float(weight), org_type, tuple(int(c) for c in capitals))
    for kind, weight, org_type, *capitals in _table("""
有限责任公司（自然人投资或控股） 30 1 50 100 200 300 500 1000 2000 5000
有限责任公司（自然人独资） 15 1 10 30 50 100 200 500
股份有限公司（非上市、自然人投资或控股） 2 1 1000 3000 5000 10000 30000
个人独资企业 5 1 1 5 10 30 50 100
合伙企业 1 1 100 500 1000 3000
个体工商户 42 2 1 2 3 5 10 20 50
农民专业合作社 5 3 10 50 100 200 500
""")
}
_STATUSES = _weights(_table("存续:65 在业:20 注销:10 吊销:5")[0])
_BRAND = "恒达鑫盛华瑞博创宏远金源兴旺丰泰润德信诚嘉和隆佳安康福顺祥万通明辉凯捷美新天宇众邦汇聚鼎昌宝力豪锦绿洁晨光"
_CROPS = _table("水稻种植 蔬菜种植 茶叶种植 生猪养殖 水产养殖 油茶种植 柑橘种植 中药材种植")[0]
_ORG_ALPHABET = uscc_code.ALPHABET  # the organisation code must fit the USCC's alphabet
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_check_character(body: str) -> str:
    """The 9th character of an organisation code (GB 11714) for its first 8."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def _organisation_code(seed: int, i: int, new_style: bool) -> str:
    """A unique organisation code for row i: codes issued since 2016 read MA3xxxxx (base 31),
    older ones eight digits; each is an affine bijection of the row index."""
    if new_style:
        n = (1_123_457 * i + 7_654_321 + seed * 7_919) % 31**5
        body = "MA3" + "".join(_ORG_ALPHABET[n // 31**k % 31] for k in range(4, -1, -1))
    else:
        body = str((48_271_349 * i + 27_182_818 + seed * 104_729) % 90_000_000 + 10_000_000)
    return body + organisation_check_character(body)


def _person_name(rng: random.Random, surnames: Sequence[str]) -> str:
    """A name for an adult born 1960-1999, the age of most company owners."""
    single_share, first, second = _GIVEN[(rng.randint(1, 2), rng.randint(0, 1))]
    given = (
        rng.choice(second)
        if rng.random() < single_share
        else rng.choice(first) + rng.choice(second)
    )
    return rng.choice(surnames) + given


def _company_name(
    rng: random.Random, county: County, kind: str, industry: str, surnames: Sequence[str]
) -> str:
    keywords, shops = _INDUSTRIES[industry].keywords, _INDUSTRIES[industry].shops
    brand = "".join(rng.sample(_BRAND, 2))
    place = f"{CITY}{county.name}" if county.name.endswith("区") else county.name
    if kind.startswith("有限责任公司"):
        scope = rng.choice((place, place, "江西", "上饶"))
        return f"{scope}{brand}{rng.choice(keywords)}有限公司"
    if kind.startswith("股份有限公司"):
        return f"江西{brand}{rng.choice(keywords)}股份有限公司"
    if kind == "合伙企业":
        return f"上饶{brand}{rng.choice(keywords)}合伙企业（有限合伙）"
    if kind == "农民专业合作社":
        return f"{county.name}{brand}{rng.choice(_CROPS)}专业合作社"
    if kind == "个体工商户" and rng.random() < 0.5:
        brand = rng.choice(surnames) + "记"
    return f"{place}{brand}{rng.choice(shops)}"


def company_capacity() -> int:
    """How many distinct companies (USCCs, licence numbers) the generator can produce."""
    return 10_000_000  # licence serials are seven digits


def company_rows(
    count: int, *, seed: int = 0, start: int = 0, as_of: datetime | None = None
) -> Iterator[tuple]:
    """Rows of COMPANY_COLUMNS for row indices start .. start+count-1, with unique valid USCCs."""
    if count < 0 or start < 0 or start + count > company_capacity():
        raise ValueError(f"row indices must lie in 0..{company_capacity() - 1}")
    return _company_rows(count, seed & 0xFFFFFFFF, start, _default_as_of(as_of))


@cache
def _company_urns() -> tuple[tuple[str, ...], ...]:
    """Counties, industries, company types, statuses and surnames, as 1024/4096-entry urns."""
    counties = _urn({c.code: float(c.population) for c in COUNTIES}, 1024)
    industries = _urn({k: v.weight for k, v in _INDUSTRIES.items()}, 1024)
    kinds = _urn({k: v[0] for k, v in _COMPANY_TYPES.items()}, 1024)
    return counties, industries, kinds, _urn(_STATUSES, 1024), _urn(_SURNAME_WEIGHTS, 4096)


def _company_rows(count: int, seed: int, start: int, as_of: datetime) -> Iterator[tuple]:
    county_urn, industry_urn, kind_urn, status_urn, surnames = _company_urns()
    by_code = {c.code: c for c in COUNTIES}
    road_numbers = [f"{n}号" for n in range(1, 400)]
    for i in range(start, start + count):
        rng = random.Random((seed << 32) | i)
        county = by_code[rng.choice(county_urn)]
        kind = rng.choice(kind_urn)
        industry = _FARMING if kind == "农民专业合作社" else rng.choice(industry_urn)
        _, org_type, capitals = _COMPANY_TYPES[kind]
        year = min(2024, 1995 + int(30 * rng.random() ** 0.6))  # more companies every year
        established = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        body = "9" + org_type + county.code + _organisation_code(seed, i, new_style=year >= 2016)
        uscc = body + uscc_code.check_character(body)
        updated = as_of - timedelta(seconds=rng.randrange(int(UPDATE_WINDOW.total_seconds())))
        updated = max(updated, datetime.combine(established, time(9)))
        capital = Decimal(rng.choice(capitals)) * Decimal(rng.choice(("1", "1", "1", "1.5", "0.8")))
        town = rng.choice([t for t in county.towns if not t.endswith("乡")])
        address = f"{county.name}{town}{rng.choice(_ROADS)}{rng.choice(road_numbers)}"
        licence_serial = (6_364_137 * i + 3_141_592 + seed * 9_973) % 10_000_000
        yield (
            uscc,
            _company_name(rng, county, kind, industry, surnames),
            _person_name(rng, surnames),
            capital.quantize(Decimal("0.01")),
            established,
            kind,
            industry,
            address,
            rng.choice(status_urn),
            county.code,
            f"{_INDUSTRIES[industry].licence_prefix}{county.code}{licence_serial:07d}",
            updated,
        )
