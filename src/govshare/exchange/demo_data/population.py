"""The generated population register (人口基础信息) of Shangrao, and the places, names
and distributions it draws from."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from math import gcd

from govshare.core import clock


def _table(text: str) -> list[list[str]]:
    """The non-empty lines of a reference table, split on spaces (tables are kept as text so
    that a row of Chinese words stays one readable line)."""
    return [line.split() for line in text.strip().splitlines() if not line.startswith("#")]


def _weights(pairs: Iterable[str]) -> dict[str, float]:
    """{"value": weight} from words like "未婚:80"."""
    return {value: float(weight) for value, weight in (p.rsplit(":", 1) for p in pairs)}


@dataclass(frozen=True)
class County:
    """A county-level division (县级行政区) of Shangrao; the population weights the draw."""

    code: str
    name: str
    population: int  # registered residents in 10,000s, rounded
    rural_share: float  # share of addresses in a village rather than on a street
    towns: tuple[str, ...]  # 街道 and 乡镇


CITY = "上饶市"
_COUNTIES = """
# code   name   population (10k)  rural share  towns
361102 信州区 48 0.1 水南街道 东市街道 西市街道 北门街道 茅家岭街道 灵溪街道 沙溪镇 朝阳镇 秦峰镇
361103 广丰区 90 0.5 永丰街道 丰溪街道 芦林街道 下溪街道 洋口镇 五都镇 湖丰镇 吴村镇 排山镇
361104 广信区 75 0.5 旭日街道 罗桥街道 兴园街道 皂头镇 茶亭镇 田墩镇 董团乡 石狮乡 应家乡
361123 玉山县 60 0.6 冰溪街道 临湖镇 岩瑞镇 樟村镇 文成镇 四股桥乡 下塘乡 紫湖镇
361124 铅山县 44 0.6 河口镇 永平镇 石塘镇 鹅湖镇 湖坊镇 陈坊乡 虹桥乡 武夷山镇
361125 横峰县 22 0.6 岑阳镇 葛源镇 姚家乡 龙门畈乡 莲荷乡 港边乡
361126 弋阳县 37 0.6 弋江镇 曹溪镇 漆工镇 圭峰镇 南岩镇 朱坑镇 清湖乡
361127 余干县 97 0.7 玉亭镇 瑞洪镇 黄金埠镇 古埠镇 乌泥镇 石口镇 康山乡
361128 鄱阳县 150 0.7 鄱阳镇 谢家滩镇 石门街镇 饶丰镇 田畈街镇 油墩街镇 凰岗镇 莲湖乡
361129 万年县 39 0.6 陈营镇 石镇镇 青云镇 裴梅镇 梓埠镇 大源镇 湖云乡
361130 婺源县 34 0.6 紫阳镇 清华镇 江湾镇 秋口镇 思口镇 许村镇 段莘乡
361181 德兴市 31 0.4 银城街道 香屯街道 泗洲镇 花桥镇 海口镇 绕二镇 黄柏乡
"""
COUNTIES: tuple[County, ...] = tuple(
    County(code, name, int(pop), float(rural), tuple(towns))
    for code, name, pop, rural, *towns in _table(_COUNTIES)
)
COUNTY_NAMES: dict[str, str] = {c.code: c.name for c in COUNTIES}

_PLACES = _table("""
胜利路 解放路 中山路 人民路 建设路 滨江路 五三大道 凤凰大道 书院路 带湖路 广信大道 信江大道 三清山大道 紫阳大道 建国路
新华路 环城路 丰溪路 府前路 文化路 园林路 学府路 青年路 东风路 光明路 站前路 江南大道 迎宾大道 工业大道 兴业路
李家 王家 陈家 张家 徐家 胡家 吴家 余家 汪家 程家 塘口 新塘 上坊 下坊 石桥 前山 后山 东山 西坑 大坂 田畈 黄泥
高桥 新田 洪源 枫林 桃源 双溪 长岭 湖口 竹园 杨林
""")
_ROADS, _VILLAGES = _PLACES[0] + _PLACES[1], _PLACES[2] + _PLACES[3]

# Surnames per mille: national frequencies nudged towards Jiangxi (刘 余 汪 程 胡 熊 饶 占 祝 詹).
_SURNAME_WEIGHTS = _weights(
    word
    for line in _table("""
王:68 李:70 张:62 刘:62 陈:55 杨:28 黄:26 赵:18 吴:24 周:18 徐:20 孙:12 马:10 朱:13 胡:18 郭:10 何:12
高:10 林:11 罗:12 郑:9 梁:8 谢:9 宋:7 唐:8 许:8 韩:6 冯:6 邓:8 曹:7 彭:8 曾:8 肖:8 田:5 董:5 袁:5
潘:5 于:4 蒋:5 蔡:5 余:10 杜:5 叶:7 程:8 苏:4 魏:4 吕:4 丁:4 任:4 沈:4 姚:5 卢:4 姜:3 崔:3 钟:4
谭:3 陆:3 汪:8 范:3 金:3 石:3 廖:4 贾:2 夏:4 韦:1 付:5 方:5 白:2 邹:5 孟:2 熊:6 秦:2 邱:3 江:5
尹:2 薛:2 段:2 雷:3 侯:2 龙:2 史:2 陶:3 黎:2 贺:2 顾:2 毛:4 郝:1 龚:3 邵:3 万:5 钱:2 严:2 覃:1
戴:2 饶:4 占:3 祝:3 詹:3 俞:3 欧阳:1 甘:2 童:2 揭:1 涂:3
""")
    for word in line
)

# Given-name characters by birth era (0: before 1960, 1: 1960s-70s, 2: 1980s-90s, 3: since
# 2000) and gender (1 male): share of one-character names, first characters, second characters.
_GIVEN: dict[tuple[int, int], tuple[float, str, str]] = {
    (int(era), int(male)): (float(single), first, second)
    for era, male, single, first, second in _table("""
0 1 0.2 国建志德福水金长永光文家春明学忠和来发荣 华强明生根林平发财荣才贵清良福全海云山兴成顺富喜
0 0 0.15 秀桂玉凤金春冬菊翠美爱淑素兰月小 英兰珍花梅芳娥华莲香凤琴云仙娇
1 1 0.3 建卫红志国小海军文伟立新永振晓勇明华 军平华明强东峰林刚兵辉斌勇波伟武杰涛忠
1 0 0.3 丽红小晓美秀春海爱玉艳淑彩慧 萍红华芳丽霞燕琴英娟梅玲敏
2 1 0.35 俊文志子浩家鹏宇伟晓建明振金嘉永思智天 杰涛强鹏辉磊斌超宇飞龙峰伟浩波凯亮俊勇明
2 0 0.35 晓丽雅婷佳小思雪欣静慧梦海美诗文 婷丽静敏芳娟燕琳雪倩颖洁莉霞琴玲蕾娜丹
3 1 0.1 子梓浩宇俊思一嘉博承皓睿铭煜泽奕晨锦沐宸昊家 轩涵然宇辰泽睿博航杰阳铭豪诚翔洋浩瑞恒宸
3 0 0.1 欣梓子雨诗思可一佳语若紫梦依雅心芷沐晨 怡涵萱琪彤妍菲琳晴悦瑶馨汐诺冉雯婷然溪
""")
}

_ETHNICITIES = _weights(_table("汉族:1016 畲族:3 回族:1 苗族:1 壮族:1 满族:1 土家族:1")[0])
# Mobile prefixes of the three carriers; the older ranges hold more numbers.
_PHONE_PREFIXES = _weights(
    word
    for line in _table("""
134:4 135:4 136:4 137:4 138:4 139:4 150:4 151:4 152:4 157:4 158:4 159:4 182:4 183:4 187:4 188:4
130:3 131:3 132:3 155:3 156:3 185:3 186:3 133:3 153:3 180:3 181:3 189:3
147:1 172:1 178:1 184:1 195:1 198:1 145:1 166:1 175:1 176:1 196:1 149:1 173:1 177:1 190:1 191:1
193:1 199:1
""")
    for word in line
)

FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1930, 2024
AGE_REFERENCE_YEAR = 2025  # ages (for marital status, education, occupation) count from here
# Relative births per year in each five-year group from 1930 (China's population pyramid).
_BIRTH_GROUP_WEIGHTS = tuple(
    float(w)
    for w in _table("0.1 0.3 0.6 1.2 2.2 2.6 3.0 4.8 4.4 3.6 3.7 4.4 3.6 3.0 2.7 2.8 3.0 3.1 1.9")[
        0
    ]
)

# Attributes that depend on age: the first line of an attribute whose age bound is >= the age.
_BY_AGE = _table("""
household 17 家庭户:97 集体户:3
household 25 家庭户:88 集体户:12
household 200 家庭户:97 集体户:3
marital 19 未婚:1
marital 24 未婚:80 已婚:20
marital 29 未婚:40 已婚:58 离婚:2
marital 39 未婚:10 已婚:84 离婚:6
marital 59 未婚:3 已婚:88 离婚:6 丧偶:3
marital 74 未婚:2 已婚:80 离婚:3 丧偶:15
marital 200 未婚:1 已婚:50 离婚:1 丧偶:48
education 5 学龄前:1
education 11 小学:1
education 14 初中:95 小学:5
education 17 初中:40 高中:45 中等专科:15
education 22 初中:5 高中:30 中等专科:15 大学专科:25 大学本科:25
education 40 小学:3 初中:25 高中:20 中等专科:10 大学专科:18 大学本科:20 硕士研究生:3.5 博士研究生:0.5
education 60 不识字或识字很少:1 小学:15 初中:40 高中:22 中等专科:8 大学专科:8 大学本科:6
education 75 不识字或识字很少:8 小学:40 初中:32 高中:14 中等专科:3 大学专科:2 大学本科:1
education 200 不识字或识字很少:35 小学:45 初中:13 高中:5 大学专科:2
occupation 5 学龄前儿童:1
occupation 17 学生:1
occupation 22 学生:50 公司职员:15 工人:12 服务业人员:10 农民:5 个体工商户:3 无业:5
occupation 59 农民:22 工人:18 公司职员:15 个体工商户:10 服务业人员:10 教师:3 医务人员:2 公务员:2
occupation 59 事业单位人员:3 自由职业:5 无业:5 军人:0.5
occupation 200 离退休人员:40 农民:45 无业:15
""")


def _at_age(attribute: str, age: int) -> dict[str, float]:
    """The weights of an age-dependent attribute (all lines with the first matching bound)."""
    bound = min(int(line[1]) for line in _BY_AGE if line[0] == attribute and int(line[1]) >= age)
    return _weights(
        w for line in _BY_AGE if line[0] == attribute and int(line[1]) == bound for w in line[2:]
    )


POPULATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id_number", "text"),
    ("name", "text"),
    ("gender", "text"),
    ("birth_date", "date"),
    ("ethnicity", "text"),
    ("phone", "text"),
    ("region_code", "text"),
    ("address", "text"),
    ("household_type", "text"),
    ("marital_status", "text"),
    ("education", "text"),
    ("occupation", "text"),
    ("registered_on", "date"),
    ("updated_at", "timestamp"),
    ("record_no", "bigint"),
)
# The columns as catalog data items: column → (item name, catalog data type, length).
POPULATION_ITEMS: dict[str, tuple[str, str, int | None]] = {
    "id_number": ("公民身份号码", "C", 18),
    "name": ("姓名", "C", 50),
    "gender": ("性别", "C", 2),
    "birth_date": ("出生日期", "D", None),
    "ethnicity": ("民族", "C", 10),
    "phone": ("手机号码", "C", 11),
    "region_code": ("行政区划代码", "C", 6),
    "address": ("户籍地址", "C", 200),
    "household_type": ("户口性质", "C", 10),
    "marital_status": ("婚姻状况", "C", 10),
    "education": ("文化程度", "C", 20),
    "occupation": ("职业", "C", 50),
    "registered_on": ("户籍登记日期", "D", None),
    "updated_at": ("更新时间", "T", None),
    "record_no": ("记录编号", "I", None),
}
RECORD_NO_BASE = 3_611_000_000_000
UPDATE_WINDOW = timedelta(days=3 * 365)  # updated_at falls in the three years before as_of

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # indexed by the weighted sum modulo 11


def id_check_digit(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643) for its first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def valid_id_number(value: str) -> bool:
    """Whether `value` is an 18-character resident ID with a real birth date and check digit."""
    if len(value) != 18 or not value[:17].isdigit() or not value[:17].isascii():
        return False
    try:
        datetime.strptime(value[6:14], "%Y%m%d")
    except ValueError:
        return False
    return value[17] == id_check_digit(value[:17])


def _urn(weights: Mapping[str, float], size: int) -> tuple[str, ...]:
    """A table of `size` entries in which each value appears in proportion to its weight, so a
    draw is one index with random bits (largest-remainder rounding)."""
    total = sum(weights.values())
    exact = {k: w * size / total for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)
    for k in by_remainder[: size - sum(counts.values())]:
        counts[k] += 1
    return tuple(k for k, n in counts.items() for _ in range(n))


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin, exact below 3.3e24 (far beyond the key spaces here)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    if n in small:
        return True
    if any(n % p == 0 for p in small):
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@dataclass(frozen=True)
class _PopulationSpace:
    """The key space: cells of (county, birth year) sized by population, each holding
    days x sequence numbers. Its size is prime so that x -> x^e mod size is a bijection."""

    size: int
    cell_start: list[int]  # cumulative sizes, for bisect
    cell_county: list[int]
    cell_year: list[int]  # index from FIRST_BIRTH_YEAR
    year_days: list[int]
    year_first_day: list[int]  # day index (from FIRST_BIRTH_YEAR-01-01) of 1 January


@cache
def _population_space() -> _PopulationSpace:
    years = range(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR + 1)
    year_weight = [_BIRTH_GROUP_WEIGHTS[(y - FIRST_BIRTH_YEAR) // 5] for y in years]
    year_days = [(date(y + 1, 1, 1) - date(y, 1, 1)).days for y in years]
    base = date(FIRST_BIRTH_YEAR, 1, 1).toordinal()
    year_first_day = [date(y, 1, 1).toordinal() - base for y in years]
    # 999 sequence numbers (001-999) a day; the busiest cell fills exactly that.
    scale = min(
        year_days[y] * 999 / (c.population * year_weight[y])
        for c in COUNTIES
        for y in range(len(years))
    )
    caps = [int(scale * c.population * w) for c in COUNTIES for w in year_weight]
    busiest = caps.index(max(caps))
    while not _is_prime(sum(caps)):
        caps[busiest] -= 1
    starts, total = [], 0
    for cap in caps:
        starts.append(total)
        total += cap
    n_years = len(years)
    return _PopulationSpace(
        size=total,
        cell_start=starts,
        cell_county=[i // n_years for i in range(len(caps))],
        cell_year=[i % n_years for i in range(len(caps))],
        year_days=year_days,
        year_first_day=year_first_day,
    )


@dataclass(frozen=True)
class _PopulationTables:
    """Everything a row needs, as lists indexed by small integers (seed-dependent parts too)."""

    mult: int
    add: int
    power: int
    mult2: int
    add2: int
    seq_perm: list[int]
    day_str: list[str]  # YYYYMMDD per day index
    day_sum: list[int]  # the ID's weighted digit sum over those 8 digits
    day_date: list[date]
    seq_str: list[str]
    seq_sum: list[int]
    county_sum: list[int]
    surnames: tuple[str, ...]  # 4096
    given: list[list[tuple[str, ...]]]  # [era][male] -> 1024
    ethnicities: tuple[str, ...]  # 1024
    phone_prefixes: tuple[str, ...]  # 128
    four_digits: list[str]  # 16384 four-digit strings
    road_prefix: list[list[str]]  # [county] -> 512
    village_prefix: list[list[str]]  # [county] -> 512
    rural_per_1024: list[int]
    road_numbers: tuple[str, ...]  # 1024
    village_numbers: tuple[str, ...]  # 256
    year_era: list[int]
    year_household: list[tuple[str, ...]]  # 256 each
    year_marital: list[tuple[str, ...]]
    year_education: list[tuple[str, ...]]
    year_occupation: list[tuple[str, ...]]


def _given_names(
    rng: random.Random, single_share: float, first: str, second: str
) -> tuple[str, ...]:
    singles = round(1024 * single_share)
    names = [rng.choice(second) for _ in range(singles)]
    names += [rng.choice(first) + rng.choice(second) for _ in range(1024 - singles)]
    return tuple(names)


def _address_prefixes(rng: random.Random, county: County, village: bool) -> list[str]:
    towns = [
        t for t in county.towns if (t.endswith(("镇", "乡")) if village else not t.endswith("乡"))
    ]
    prefixes = []
    for _ in range(512):
        town = rng.choice(towns)
        if village:
            prefixes.append(f"{county.name}{town}{rng.choice(_VILLAGES)}村{rng.randint(1, 12)}组")
        else:
            prefixes.append(f"{county.name}{town}{rng.choice(_ROADS)}")
    return prefixes


def _road_number(rng: random.Random) -> str:
    number = f"{rng.randint(1, 360)}号"
    if rng.random() < 0.35:
        number += f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
    return number


@lru_cache(maxsize=8)
def _population_tables(seed: int) -> _PopulationTables:
    space = _population_space()
    rng = random.Random(f"govshare-demo-population:{seed}")
    power = next(e for e in (3, 5, 7, 11, 13, 17, 19, 23) if gcd(e, space.size - 1) == 1)
    # Sequence numbers in shuffled (odd, even) pairs: each cell fills them in order, so men
    # and women alternate and every cell is balanced.
    pairs = [(n, n + 1) if rng.random() < 0.5 else (n + 1, n) for n in range(1, 999, 2)]
    rng.shuffle(pairs)
    seq_perm = [n for pair in pairs for n in pair] + [999]
    first = date(FIRST_BIRTH_YEAR, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(2027, 1, 1) - first).days)]
    day_str = [d.strftime("%Y%m%d") for d in days]
    n_years = LAST_BIRTH_YEAR - FIRST_BIRTH_YEAR + 1
    ages = [AGE_REFERENCE_YEAR - FIRST_BIRTH_YEAR - y for y in range(n_years)]
    return _PopulationTables(
        mult=rng.randrange(1, space.size),
        add=rng.randrange(space.size),
        power=power,
        mult2=rng.randrange(1, space.size),
        add2=rng.randrange(space.size),
        seq_perm=seq_perm,
        day_str=day_str,
        day_sum=[_weighted(s, 6) for s in day_str],
        day_date=days,
        seq_str=[f"{s:03d}" for s in range(1000)],
        seq_sum=[_weighted(f"{s:03d}", 14) for s in range(1000)],
        county_sum=[_weighted(c.code, 0) for c in COUNTIES],
        surnames=_urn(_SURNAME_WEIGHTS, 4096),
        given=[[_given_names(rng, *_GIVEN[(era, male)]) for male in (0, 1)] for era in range(4)],
        ethnicities=_urn(_ETHNICITIES, 1024),
        phone_prefixes=_urn(_PHONE_PREFIXES, 128),
        four_digits=[f"{i % 10000:04d}" for i in range(16384)],
        road_prefix=[_address_prefixes(rng, c, village=False) for c in COUNTIES],
        village_prefix=[_address_prefixes(rng, c, village=True) for c in COUNTIES],
        rural_per_1024=[round(c.rural_share * 1024) for c in COUNTIES],
        road_numbers=tuple(_road_number(rng) for _ in range(1024)),
        village_numbers=tuple(f"{rng.randint(1, 120)}号" for _ in range(256)),
        year_era=[min(3, max(0, (FIRST_BIRTH_YEAR + y - 1940) // 20)) for y in range(n_years)],
        year_household=[_urn(_at_age("household", age), 256) for age in ages],
        year_marital=[_urn(_at_age("marital", age), 256) for age in ages],
        year_education=[_urn(_at_age("education", age), 256) for age in ages],
        year_occupation=[_urn(_at_age("occupation", age), 256) for age in ages],
    )


def _weighted(digits: str, offset: int) -> int:
    return sum(int(c) * _ID_WEIGHTS[offset + i] for i, c in enumerate(digits))


def population_capacity() -> int:
    """How many distinct rows (resident IDs) the generator can produce."""
    return _population_space().size


def _default_as_of(as_of: datetime | None) -> datetime:
    """Midnight UTC of the (injectable) clock's day: stable for a day, so reruns agree."""
    if as_of is not None:
        return (
            as_of.replace(tzinfo=None)
            if as_of.tzinfo is None
            else as_of.astimezone(UTC).replace(tzinfo=None)
        )
    return datetime.combine(clock.now().astimezone(UTC).date(), time())


_BLOCK = 4096  # rows per random stream; a row draws exactly _WORDS 32-bit words
_WORDS = 7
_MALE = ("女", "男")


def population_rows(
    count: int, *, seed: int = 0, start: int = 0, as_of: datetime | None = None
) -> Iterator[tuple]:
    """Rows of POPULATION_COLUMNS for row indices start .. start+count-1; unique keys for any
    indices below population_capacity(); updated_at in the three years before `as_of`
    (naive; default: today's midnight UTC from the platform clock)."""
    space, t = _population_space(), _population_tables(seed)
    if count < 0 or start < 0 or start + count > space.size:
        raise ValueError(f"row indices must lie in 0..{space.size - 1}")
    return _population_rows(space, t, count, seed & 0xFFFFFFFFFFFF, start, _default_as_of(as_of))


def _population_rows(
    space: _PopulationSpace,
    t: _PopulationTables,
    count: int,
    seed: int,
    start: int,
    as_of: datetime,
) -> Iterator[tuple]:
    size, cell_start, cell_county, cell_year = (
        space.size,
        space.cell_start,
        space.cell_county,
        space.cell_year,
    )
    year_days, year_first_day = space.year_days, space.year_first_day
    mult, add, power, mult2, add2 = t.mult, t.add, t.power, t.mult2, t.add2
    day_str, day_sum, day_date, seq_perm, seq_str, seq_sum = (
        t.day_str, t.day_sum, t.day_date, t.seq_perm, t.seq_str, t.seq_sum
    )  # fmt: skip
    codes, county_sum = [c.code for c in COUNTIES], t.county_sum
    surnames, given, ethnicities, phone_prefixes, four = (
        t.surnames, t.given, t.ethnicities, t.phone_prefixes, t.four_digits
    )  # fmt: skip
    road_prefix, village_prefix, rural, road_no, village_no = (
        t.road_prefix, t.village_prefix, t.rural_per_1024, t.road_numbers, t.village_numbers
    )  # fmt: skip
    year_era, households, maritals, educations, occupations = (
        t.year_era, t.year_household, t.year_marital, t.year_education, t.year_occupation
    )  # fmt: skip
    base = date(FIRST_BIRTH_YEAR, 1, 1)
    since_1958, since_1985 = (date(1958, 1, 1) - base).days, (date(1985, 1, 1) - base).days
    last_registration = (date(2025, 6, 30) - base).days
    as_of_day = (as_of.date() - base).days
    recent = as_of_day - UPDATE_WINDOW.days  # registrations after this bound updated_at
    window = int(UPDATE_WINDOW.total_seconds())
    check, bisect, seconds = _ID_CHECK, bisect_right, timedelta

    rng = random.Random()
    bits = rng.getrandbits
    for i in range(start, start + count):
        if i == start or i % _BLOCK == 0:
            rng.seed((seed << 40) | (i // _BLOCK))
            bits(32 * _WORDS * (i % _BLOCK))  # skip the rows of this block before i
        p = (mult2 * pow((mult * i + add) % size, power, size) + add2) % size
        cell = bisect(cell_start, p) - 1
        offset = p - cell_start[cell]
        county, year = cell_county[cell], cell_year[cell]
        days_in_year = year_days[year]
        day = year_first_day[year] + offset % days_in_year
        seq = seq_perm[offset // days_in_year]
        male = seq & 1
        w1, w2, w3, w4, w5, w6, w7 = bits(32), bits(32), bits(32), bits(32), bits(32), bits(32), bits(32)  # fmt: skip

        if w4 & 1023 < rural[county]:
            address = village_prefix[county][(w4 >> 10) & 511] + village_no[(w4 >> 19) & 255]
        else:
            address = road_prefix[county][(w4 >> 10) & 511] + road_no[(w4 >> 19) & 1023]
        if w5 & 255 < 166:  # registered at birth (records start with the 1958 household system)
            registered = max(day, since_1958) + w6 % 90
        else:  # moved in as an adult (or a child with the family)
            low = max(day + 6570, since_1985)
            registered = (
                low + w6 % (last_registration - low) if low < last_registration else day + w6 % 90
            )
        registered = min(registered, last_registration)
        if registered > recent:
            w7 = w7 % ((as_of_day - registered) * 86400) if as_of_day > registered else 0
        code = codes[county]
        yield (
            code
            + day_str[day]
            + seq_str[seq]
            + check[(county_sum[county] + day_sum[day] + seq_sum[seq]) % 11],
            surnames[w1 & 4095] + given[year_era[year]][male][(w1 >> 12) & 1023],
            _MALE[male],
            day_date[day],
            ethnicities[(w1 >> 22) & 1023],
            phone_prefixes[w3 & 127] + four[w2 & 16383] + four[(w2 >> 14) & 16383],
            code,
            address,
            households[year][(w3 >> 7) & 255],
            maritals[year][(w3 >> 15) & 255],
            educations[year][(w3 >> 23) & 255],
            occupations[year][(w4 >> 24) & 255],
            day_date[registered],
            as_of - seconds(seconds=w7 % window),
            RECORD_NO_BASE + i,
        )
