"""江州市 as its open data describes it: three districts and 青山县, their streets, towns and
roads, where they lie, and the names of people, companies and places in them.

The city is fictional; it lies where the demo's bus lines run (about 117.8–118.1°E,
28.3–28.55°N), by the 清江. Everything is drawn from a `random.Random` the caller seeds, so
the same seed gives the same city."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from govshare.core import clock
from govshare.demo.identity import REGION_CITY, REGION_COUNTY, credit_code

CITY = "江州市"


def words(text: str) -> tuple[str, ...]:
    """The words of a list kept as one line of text."""
    return tuple(text.split())


@dataclass(frozen=True)
class District:
    """A county-level division (区县) of 江州市."""

    code: str
    name: str
    lon: float  # its centre
    lat: float
    spread: float  # how far (degrees) its places lie from the centre
    weight: int  # its share of the city's places
    towns: tuple[str, ...]  # 街道 and 乡镇
    roads: tuple[str, ...]
    villages: tuple[str, ...] = ()
    place: str = ""  # a place in it (a row's own), when one was chosen

    @property
    def rural(self) -> bool:
        return self.code == REGION_COUNTY

    def with_place(self, place: str) -> District:
        return dataclasses.replace(self, place=place)


DISTRICTS: tuple[District, ...] = (
    District(
        "369002", "江城区", 117.952, 28.452, 0.022, 36,
        ("人民街道", "文昌街道", "解放街道", "江东街道", "城南街道", "水南街道"),
        ("人民路", "解放路", "中山路", "文昌路", "胜利路", "五一路", "建设路", "府前路", "江东路",
         "城南大道", "书院路", "水南街", "东门街", "青年路", "光明路"),
    ),
    District(
        "369003", "滨江区", 118.012, 28.428, 0.025, 28,
        ("滨江街道", "新港街道", "学府街道", "沙洲街道", "凤凰镇"),
        ("滨江大道", "学府路", "新港大道", "凤凰大道", "江州大道", "沿江路", "湖滨路", "科创路",
         "体育路", "金融街", "会展路"),
        ("沙洲村", "凤凰村", "新港村", "江背村"),
    ),
    District(
        "369004", "北湖区", 117.962, 28.506, 0.028, 20,
        ("北湖街道", "龙潭街道", "工业园街道", "湖田镇", "石门镇"),
        ("北湖路", "龙潭路", "工业大道", "兴业路", "长征路", "湖田路", "石门路", "迎宾大道",
         "创业路", "站前路"),
        ("湖田村", "石门村", "龙潭村", "塘口村", "杨林村", "上坊村"),
    ),
    District(
        REGION_COUNTY, "青山县", 117.832, 28.328, 0.07, 16,
        ("青山镇", "柳溪镇", "白沙镇", "桃源乡", "云岭乡", "枫树乡", "茶山乡"),
        ("青山大道", "县前街", "柳溪路", "白沙路", "云岭路", "茶乡路", "新城大道", "东山路"),
        ("桃源村", "云岭村", "枫树村", "茶山村", "竹园村", "双溪村", "长岭村", "高桥村", "西坑村",
         "大坂村", "洪源村", "黄泥村"),
    ),
)  # fmt: skip
BY_NAME = {d.name: d for d in DISTRICTS}
URBAN = DISTRICTS[:3]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘余叶程"
    "汪蒋蔡杜魏吕丁姚卢钟熊邹江万饶涂占祝詹"
)
GIVEN = words(
    "伟 芳 娜 敏 静 磊 洋 艳 勇 军 杰 娟 涛 明 超 霞 平 刚 桂英 建华 海燕 志强 晓东 丽萍 "
    "建国 国平 文华 志刚 春梅 红霞 小红 金凤 俊杰 浩然 思远 雨婷 梓涵 子轩 欣怡 宇航 "
    "振华 永红 卫东 玉兰 秀英 德明 家豪 佳怡 晨曦 文斌 建军 丽华 美玲 国庆 海波"
)
# 字号 of companies and shops, and what they do (as it shows in a company's name).
TRADE_NAMES = words(
    "恒达 华信 鑫源 瑞丰 宏达 天成 金泰 博远 正和 康盛 祥瑞 嘉禾 兴旺 永泰 隆鑫 广源 润丰 "
    "盛世 中诚 信达 鸿运 锦程 东升 启航 新宇 卓越 汇通 益民 利民 安泰 百川 聚力 同心 "
    "德润 清源 青峰 绿源 天润 景华 金穗 丰泽 万家 九鼎 昌盛 福泰 宏图 君诚 明达 凯达 "
    "赣江 清江 北湖 青山 云岭 凤凰 龙潭 文昌 江城 滨江 柳溪 白沙 桃源 枫林 茶乡"
)
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "批发和零售业": ("商贸", "贸易", "百货", "医药", "建材", "农产品"),
    "住宿和餐饮业": ("餐饮管理", "酒店管理", "食品"),
    "制造业": ("实业", "机械制造", "光伏科技", "新材料", "服饰", "电子", "食品", "包装"),
    "建筑业": ("建筑工程", "建设工程", "装饰工程", "园林绿化工程"),
    "信息传输、软件和信息技术服务业": ("网络科技", "信息技术", "软件", "数据科技"),
    "租赁和商务服务业": ("企业管理咨询", "商务服务", "广告", "人力资源"),
    "交通运输、仓储和邮政业": ("物流", "运输", "供应链管理"),
    "农、林、牧、渔业": ("农业开发", "生态农业", "茶业", "林业"),
    "居民服务、修理和其他服务业": ("家政服务", "汽车服务"),
    "科学研究和技术服务业": ("工程技术", "检测", "环保科技"),
    "房地产业": ("房地产开发", "物业管理"),
    "文化、体育和娱乐业": ("文化传媒", "文化旅游", "体育发展"),
}
INDUSTRY_WEIGHTS = (30, 12, 14, 9, 6, 8, 5, 6, 4, 3, 2, 2)
WEEKDAY_HOURS = "周一至周五 8:30-12:00，14:30-17:30"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def mobile(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "137", "150", "152", "158", "187", "189", "133")) + (
        f"{rng.randrange(10**8):08d}"
    )


def landline(rng: random.Random, district: District) -> str:
    """A fixed-line number in the city's area code (0793, fictional here as elsewhere)."""
    first = "5" if district.rural else rng.choice("2378")
    return f"0793-{first}{rng.randrange(10**6):06d}"


def district(rng: random.Random, among: tuple[District, ...] = DISTRICTS) -> District:
    return rng.choices(among, weights=[d.weight for d in among])[0]


def address(rng: random.Random, where: District, *, village: bool = False) -> str:
    if village and where.villages:
        towns = [t for t in where.towns if t.endswith(("镇", "乡"))] or where.towns
        return f"{CITY}{where.name}{rng.choice(towns)}{rng.choice(where.villages)}"
    return f"{CITY}{where.name}{rng.choice(where.roads)}{rng.randint(1, 399)}号"


def point(rng: random.Random, where: District, scale: float = 1.0) -> tuple[Decimal, Decimal]:
    """A longitude and latitude in the district, six decimals."""
    lon = where.lon + rng.gauss(0, where.spread * scale)
    lat = where.lat + rng.gauss(0, where.spread * scale * 0.8)
    return Decimal(f"{lon:.6f}"), Decimal(f"{lat:.6f}")


def industry(rng: random.Random) -> str:
    return rng.choices(list(INDUSTRY_WORDS), weights=INDUSTRY_WEIGHTS)[0]


def company(rng: random.Random, industry_name: str, used: set[str], form: str | None = None) -> str:
    """A company name not in `used` (which it joins): 江州<字号><行业><组织形式>."""
    while True:
        suffix = form or rng.choices(("有限公司", "有限责任公司", "股份有限公司"), (85, 10, 5))[0]
        prefix = rng.choice(("江州", "江州市", "江州"))
        name = (
            f"{prefix}{rng.choice(TRADE_NAMES)}{rng.choice(INDUSTRY_WORDS[industry_name])}{suffix}"
        )
        if name not in used:
            used.add(name)
            return name


def uscc(rng: random.Random, where: District, *, kind: str = "1") -> str:
    """A valid unified social credit code of a company registered in the district."""
    return credit_code("9", kind, where.code if where.rural else REGION_CITY, rng)


def stamp(day: date, hour: int = 18, minute: int = 0) -> datetime:
    """A moment of the city's day as the source systems keep it (naive UTC)."""
    local = datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)
    return local.astimezone(UTC).replace(tzinfo=None)


def money(value: float, places: int = 2) -> Decimal:
    return Decimal(f"{value:.{places}f}")
