"""Source tables of registers and lists: new companies, patents, the large power users,
A-rated taxpayers, job fairs, traditional villages and historic buildings, geological
hazard sites and protected areas of 江州市."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from govshare.demo.opendata import city
from govshare.demo.opendata.city import District, words
from govshare.demo.opendata.tables import Context, Generator, Row, months_before

# (type, weight, capital choices in 万元)
COMPANY_TYPES = (
    ("有限责任公司（自然人投资或控股）", 48, (10, 50, 100, 100, 200, 300, 500, 1000)),
    ("有限责任公司（自然人独资）", 26, (5, 10, 30, 50, 100, 200)),
    ("有限责任公司（非自然人投资或控股的法人独资）", 8, (100, 500, 1000, 2000, 5000)),
    ("股份有限公司（非上市、自然人投资或控股）", 2, (1000, 2000, 5000)),
    ("个人独资企业", 11, (1, 3, 5, 10, 20, 50)),
    ("有限合伙企业", 5, (100, 500, 1000, 3000)),
)
SCOPES = {
    "批发和零售业": "日用百货销售；五金产品零售；建筑材料销售；农副产品销售",
    "住宿和餐饮业": "餐饮服务；食品销售；住宿服务",
    "制造业": "通用设备制造（不含特种设备制造）；机械零件、零部件加工；金属制品销售",
    "建筑业": "建设工程施工；住宅室内装饰装修；园林绿化工程施工",
    "信息传输、软件和信息技术服务业": "软件开发；信息系统集成服务；信息技术咨询服务；数据处理服务",
    "租赁和商务服务业": "企业管理咨询；市场营销策划；会议及展览服务；人力资源服务",
    "交通运输、仓储和邮政业": "道路货物运输（不含危险货物）；普通货物仓储服务；国内货物运输代理",
    "农、林、牧、渔业": "蔬菜种植；水果种植；茶叶种植；牲畜饲养；农产品的生产、销售、加工、运输、贮藏",
    "居民服务、修理和其他服务业": "家政服务；机动车修理和维护；洗车服务",
    "科学研究和技术服务业": "工程和技术研究和试验发展；检验检测服务；环保咨询服务",
    "房地产业": "房地产开发经营；物业管理；住房租赁",
    "文化、体育和娱乐业": "组织文化艺术交流活动；体育赛事策划；旅游开发项目策划咨询",
}
LICENSED = "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
# What a sole proprietorship of each industry calls itself.
PROPRIETORSHIPS = {
    "批发和零售业": "商行", "住宿和餐饮业": "饭店", "制造业": "加工厂", "建筑业": "装饰工程部",
    "信息传输、软件和信息技术服务业": "软件工作室", "租赁和商务服务业": "商务咨询服务部",
    "交通运输、仓储和邮政业": "货运部", "农、林、牧、渔业": "家庭农场", "居民服务、修理和其他服务业": "家政服务部",
    "科学研究和技术服务业": "技术服务部", "房地产业": "房产经纪服务部", "文化、体育和娱乐业": "文化工作室",
}  # fmt: skip


def _authority(where: District) -> str:
    return "青山县市场监督管理局" if where.rural else f"{city.CITY}{where.name}市场监督管理局"


def new_enterprise(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("new_enterprise")
    used: set[str] = set()
    for _ in range(1250):
        kind, _, capitals = rng.choices(COMPANY_TYPES, weights=[t[1] for t in COMPANY_TYPES])[0]
        trade = city.industry(rng)
        where = city.district(rng)
        if kind == "个人独资企业":
            name = f"江州市{where.name}{rng.choice(city.TRADE_NAMES)}{PROPRIETORSHIPS[trade]}"
        elif kind == "有限合伙企业":
            trade = "租赁和商务服务业"
            name = f"江州{rng.choice(city.TRADE_NAMES)}企业管理咨询中心（有限合伙）"
        else:
            form = (
                "股份有限公司"
                if kind.startswith("股份")
                else rng.choice(("有限公司", "有限责任公司"))
            )
            name = city.company(rng, trade, used, form)
        if name in used and kind in ("个人独资企业", "有限合伙企业"):
            continue
        used.add(name)
        established = ctx.until - timedelta(days=int(rng.triangular(0, 730, 0)))
        yield {
            "uscc": city.uscc(rng, where),
            "name": name,
            "kind": kind,
            "legal_rep": city.person(rng),
            "capital": Decimal(rng.choice(capitals)),
            "established_on": established,
            "district": where.name,
            "address": city.address(rng, where, village=trade == "农、林、牧、渔业"),
            "industry": trade,
            "authority": "江州市市场监督管理局" if kind.startswith("股份") else _authority(where),
            "scope": SCOPES[trade] + LICENSED,
            "updated_at": city.stamp(established, 17),
        }


# Inventions by field: IPC main group, the industry of the companies holding them, what they
# are (device, material or method) and the things made.
FIELDS = (
    ("H02S 40/10", "制造业", "device", ("光伏组件清洗装置", "光伏支架", "太阳能电池片检测设备")),
    ("H01M 4/36", "制造业", "material", ("锂离子电池负极材料", "磷酸铁锂正极材料", "硅碳复合材料")),
    ("A23F 3/06", "农、林、牧、渔业", "device", ("茶叶杀青机", "茶叶揉捻装置", "红茶发酵设备")),
    ("B65G 47/91", "交通运输、仓储和邮政业", "device", ("快递包裹分拣装置", "物流输送线", "仓储搬运装置")),
    ("E04G 11/36", "建筑业", "device", ("建筑模板支撑架", "装配式墙板连接件", "脚手架防护网")),
    ("C02F 3/20", "科学研究和技术服务业", "device", ("污水处理用曝气装置", "一体化污水处理设备", "河道清淤装置")),
    ("F26B 17/12", "农、林、牧、渔业", "device", ("稻谷烘干设备", "中药材烘干箱", "油茶籽干燥装置")),
    ("G06F 16/27", "信息传输、软件和信息技术服务业", "method",
     ("数据共享交换方法", "数据质量检测方法", "地理信息数据处理方法")),
    ("C04B 28/04", "制造业", "material", ("高性能混凝土", "再生骨料透水砖", "陶瓷釉料")),
)  # fmt: skip
ADJECTIVES = ("高效", "节能型", "智能", "便携式", "自动化", "可调节", "低噪声", "模块化")
TECHNIQUES = ("区块链", "知识图谱", "深度学习", "多源数据融合", "时空索引")
UNIVERSITIES = ("江州大学", "江州职业技术学院", "江州市农业科学研究院")


def _patent_title(rng, kind: str, what: str, thing: str) -> str:  # type: ignore[no-untyped-def]
    if kind == "外观设计":
        return f"{thing.removesuffix('装置').removesuffix('设备')}（{rng.choice(('A型', 'B型', '2型', '升级款'))}）"
    if what == "method":
        return f"一种基于{rng.choice(TECHNIQUES)}的{thing}及系统"
    if what == "material":
        return f"一种{thing}及其制备方法"
    if kind == "发明":
        return f"一种{rng.choice(ADJECTIVES)}{thing}及其控制方法"
    return f"一种{rng.choice(ADJECTIVES)}{thing}"


def patent(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("patent")
    used: set[str] = set()
    holders = {
        trade: [(city.company(rng, trade, used), city.district(rng)) for _ in range(18)]
        for trade in {f[1] for f in FIELDS}
    }
    seen: set[str] = set()
    for _ in range(800):
        ipc, trade, what, things = rng.choice(FIELDS)
        kinds = ("发明",) if what != "device" else ("发明", "实用新型", "外观设计")
        kind = rng.choices(kinds, weights=(28, 60, 12)[: len(kinds)])[0]
        if rng.random() < 0.15:
            holder, where = rng.choice(UNIVERSITIES), city.BY_NAME["滨江区"]
        else:
            holder, where = rng.choice(holders[trade])
        granted = ctx.until - timedelta(days=rng.randint(0, 730))
        months = {"发明": (18, 40), "实用新型": (5, 12), "外观设计": (3, 8)}[kind]
        applied = granted - timedelta(days=30 * rng.randint(*months) + rng.randint(0, 29))
        number = _patent_number(applied.year, {"发明": 1, "实用新型": 2, "外观设计": 3}[kind], rng)
        if number in seen:
            continue
        seen.add(number)
        yield {
            "patent_no": number,
            "title": _patent_title(rng, kind, what, rng.choice(things)),
            "kind": kind,
            "holder": holder,
            "inventors": "；".join(city.person(rng) for _ in range(rng.randint(1, 4))),
            "district": where.name,
            "ipc": ipc
            if kind != "外观设计"
            else f"{rng.randint(1, 32):02d}-{rng.randint(1, 9):02d}",
            "applied_on": applied,
            "granted_on": granted,
            "updated_at": city.stamp(granted, 12),
        }


def _patent_number(year: int, kind: int, rng) -> str:  # type: ignore[no-untyped-def]
    """ZL + a 12-digit application number and its check character (weights 2…9, mod 11)."""
    digits = f"{year}{kind}{rng.randrange(10**7):07d}"
    check = sum(int(d) * (2 + i % 8) for i, d in enumerate(digits)) % 11
    return f"ZL{digits}.{'X' if check == 10 else check}"


@cache
def _companies(ctx: Context, name: str, count: int, trades: tuple[str, ...]) -> tuple[Row, ...]:
    rng = ctx.rng(name, "companies")
    used: set[str] = set()
    out = []
    for _ in range(count):
        trade = rng.choice(trades) if trades else city.industry(rng)
        where = city.district(rng)
        out.append(
            {
                "name": city.company(rng, trade, used),
                "uscc": city.uscc(rng, where),
                "district": where,
                "industry": trade,
            }
        )
    return tuple(out)


# Seasonal demand for power: winter heating and summer cooling high, the Spring Festival low.
POWER_SEASON = (1.02, 0.78, 1.0, 0.96, 1.0, 1.05, 1.16, 1.2, 1.06, 0.98, 0.97, 1.04)


def power_use(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("power_use")
    trades = (
        "制造业",
        "制造业",
        "制造业",
        "信息传输、软件和信息技术服务业",
        "批发和零售业",
        "交通运输、仓储和邮政业",
    )
    for company in _companies(ctx, "power_use", 80, trades):
        yearly = (
            rng.uniform(6e6, 1.2e8) if company["industry"] == "制造业" else rng.uniform(6e6, 3e7)
        )
        growth = rng.uniform(-0.12, 0.22)
        for month in months_before(ctx.origin, 12):
            factor = POWER_SEASON[int(month[5:]) - 1] * rng.uniform(0.93, 1.07)
            yoy = growth + rng.uniform(-0.05, 0.05)
            yield {
                "uscc": company["uscc"],
                "enterprise": company["name"],
                "industry": company["industry"],
                "district": company["district"].name,
                "month": month,
                "kwh": Decimal(round(yearly / 12 * factor)),
                "yoy": city.money(yoy * 100, 1),
            }


def a_taxpayer(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("a_taxpayer")
    pool = _companies(ctx, "a_taxpayer", 420, ())
    latest = ctx.until.year - 1 if ctx.until.month >= 4 else ctx.until.year - 2
    rated = set(rng.sample(range(len(pool)), 260))
    for year in (latest - 1, latest):
        if year == latest:  # most keep their rating, some lose it, others gain it
            rated = {i for i in rated if rng.random() < 0.82} | set(
                rng.sample(range(len(pool)), 60)
            )
        for i in sorted(rated):
            company = pool[i]
            where: District = company["district"]
            large = i % 9 == 0
            yield {
                "uscc": company["uscc"],
                "name": company["name"],
                "year": year,
                "grade": "A",
                "authority": "国家税务总局江州市税务局第一税务分局"
                if large
                else "国家税务总局青山县税务局"
                if where.rural
                else f"国家税务总局江州市{where.name}税务局",
                "updated_at": city.stamp(date(year + 1, 4, 20), 10),
            }


# The campaigns of the public employment services, by month.
FAIR_SEASONS = {
    1: "“就业援助月”专场招聘会", 2: "“春风行动”专场招聘会", 3: "“春风行动”专场招聘会",
    5: "“民营企业招聘月”专场招聘会", 6: "“百日千万”网络招聘专场", 9: "“金秋招聘月”专场招聘会",
    10: "“金秋招聘月”专场招聘会", 11: "高校毕业生秋季专场招聘会",
}  # fmt: skip


def job_fair(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("job_fair")
    day = ctx.until - timedelta(days=540)
    n = 0
    rounds: dict[tuple[int, str, bool], int] = {}
    while day <= ctx.until:
        day += timedelta(days=rng.randint(2, 7))
        if day > ctx.until or day.weekday() == 6:
            continue
        n += 1
        kind = rng.choices(("现场", "网络", "直播带岗"), weights=(60, 25, 15))[0]
        theme = (
            FAIR_SEASONS[day.month]
            if day.month in FAIR_SEASONS
            else rng.choice(
                (
                    "综合招聘会",
                    "制造业企业专场招聘会",
                    "现代服务业专场招聘会",
                    "退役军人专场招聘会",
                    "残疾人专场招聘会",
                )
            )
        )
        county = rng.random() < 0.2
        organizer = "青山县公共就业服务中心" if county else "江州市公共就业人才服务局"
        venue = {
            "现场": "青山县人力资源市场"
            if county
            else rng.choice(
                (
                    "江州市人力资源市场（人民路）",
                    "江州大学体育馆",
                    "江州会展中心",
                    "北湖区工业园区服务中心",
                )
            ),
            "网络": "江州就业网",
            "直播带岗": "“江州就业”视频号直播间",
        }[kind]
        employers = rng.randint(30, 220) if kind == "现场" else rng.randint(40, 120)
        jobs = employers * rng.randint(6, 20)
        seekers = employers * rng.randint(8, 25) * (1 if kind == "现场" else 6)
        key = (day.year, theme, county)
        rounds[key] = rounds.get(key, 0) + 1
        yield {
            "fair_id": f"ZP{day:%Y%m}{n:04d}",
            "title": f"{'青山县' if county else '江州市'}{day.year}年{theme}（第{rounds[key]}场）",
            "kind": kind,
            "organizer": organizer,
            "venue": venue,
            "held_on": day,
            "employers": employers,
            "jobs": jobs,
            "applicants": seekers,
            "intentions": round(seekers * rng.uniform(0.05, 0.18) / (1 if kind == "现场" else 8)),
            "updated_at": city.stamp(day, 18),
        }


STEMS = words("程 汪 余 詹 吴 胡 江 俞 王 李 洪 方 叶 董 祝 饶")
VILLAGE_ENDS = ("坑", "源", "坞", "湾", "畈", "坊")


def heritage(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("heritage")
    n = 0
    county = city.BY_NAME["青山县"]
    names: set[str] = set()
    for batch, year, kind, count in (
        ("第三批", 2014, "中国传统村落", 3),
        ("第五批", 2019, "中国传统村落", 4),
        ("第二批", 2018, "江西省传统村落", 9),
        ("第三批", 2022, "江西省传统村落", 10),
    ):
        for _ in range(count):
            n += 1
            where = county if rng.random() < 0.8 else city.BY_NAME["北湖区"]
            town = rng.choice([t for t in where.towns if not t.endswith("街道")])
            name = f"{rng.choice(STEMS)}家{rng.choice(VILLAGE_ENDS)}村"
            while name in names:
                name = f"{rng.choice(STEMS)}家{rng.choice(VILLAGE_ENDS)}村"
            names.add(name)
            yield {
                "code": f"CL{where.code}{n:03d}",
                "name": name,
                "kind": kind,
                "era": rng.choice(("明代", "明代", "清代", "清代", "宋代")),
                "district": where.name,
                "location": f"{city.CITY}{where.name}{town}{name}",
                "listed": f"{batch}{kind}名录（{year}年）",
                "protection": rng.choice(
                    (
                        "已编制保护发展规划，挂牌保护",
                        "已编制保护发展规划，古建筑修缮中",
                        "已挂牌保护，保护发展规划编制中",
                    )
                ),
            }
    buildings = (
        "江州老邮局旧址",
        "清江码头仓库旧址",
        "江州天主堂",
        "程氏宗祠",
        "江州中学红楼",
        "文昌阁",
        "东门老街商铺群",
        "江州百货大楼",
        "胜利桥",
        "江州火车站老站房",
        "北湖水利闸",
        "江州电影院旧址",
        "汪氏民居",
        "詹氏大宅",
        "水南街会馆",
        "江州钟楼",
        "青山县老县衙",
        "柳溪书院",
    )
    for name in buildings:
        n += 1
        where = (
            county
            if name.startswith(("青山", "柳溪"))
            else city.BY_NAME[rng.choice(("江城区", "江城区", "北湖区"))]
        )
        yield {
            "code": f"LS{where.code}{n:03d}",
            "name": name,
            "kind": "历史建筑",
            "era": rng.choice(("清代", "民国", "民国", "1950年代", "1960年代")),
            "district": where.name,
            "location": city.address(rng, where),
            "listed": f"{city.CITY}第{rng.choice(('一', '二'))}批历史建筑保护名录",
            "protection": rng.choice(
                ("已挂牌保护，正常使用", "已挂牌保护，修缮完成", "已挂牌保护，活化利用为展馆")
            ),
        }
    for name in ("东门老街历史文化街区", "水南街历史文化街区"):
        n += 1
        yield {
            "code": f"LS369002{n:03d}",
            "name": name,
            "kind": "历史文化街区",
            "era": "明清至民国",
            "district": "江城区",
            "location": f"{city.CITY}江城区{name[:3]}一带",
            "listed": "江西省人民政府公布的历史文化街区（2016年）",
            "protection": "已编制保护规划，实施街区风貌整治",
        }


HAZARDS = (("滑坡", 60), ("崩塌", 25), ("泥石流", 8), ("地面塌陷", 7))


def geohazard(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("geohazard")
    hilly = (city.BY_NAME["青山县"], city.BY_NAME["北湖区"], city.BY_NAME["滨江区"])
    for n in range(1, 126):
        where = rng.choices(hilly, weights=(72, 20, 8))[0]
        kind = rng.choices([h[0] for h in HAZARDS], weights=[h[1] for h in HAZARDS])[0]
        town = rng.choice([t for t in where.towns if not t.endswith("街道")] or where.towns)
        village = rng.choice(where.villages)
        group = rng.choice(
            ("上屋组", "下屋组", "新屋组", f"{rng.choice(STEMS)}家组", f"{rng.randint(1, 12)}组")
        )
        households = rng.randint(1, 28)
        lon, lat = city.point(rng, where, 1.1)
        yield {
            "code": f"{where.code}{n:04d}{'HP' if kind == '滑坡' else 'QT'}",
            "name": f"{town}{village}{group}{kind}",
            "kind": kind,
            "scale": rng.choices(("小型", "中型", "大型"), weights=(85, 13, 2))[0],
            "district": where.name,
            "location": f"{city.CITY}{where.name}{town}{village}{group}",
            "households": households,
            "people": households * rng.randint(2, 5),
            "property": Decimal(households * rng.randint(15, 45)),
            "monitor": city.person(rng),
            "monitor_phone": city.mobile(rng),
            "state": rng.choices(("监测中", "工程治理中", "已搬迁避让"), weights=(80, 10, 10))[0],
            "longitude": lon,
            "latitude": lat,
        }


PROTECTED = [
    line.split()
    for line in """
青山国家森林公园 森林公园 国家级 青山县 6850 1993 亚热带常绿阔叶林和森林景观
云岭省级自然保护区 自然保护区 省级 青山县 12400 2001 中亚热带常绿阔叶林生态系统和黄腹角雉等珍稀动物
北湖国家湿地公园 湿地公园 国家级 北湖区 1260 2015 湖泊湿地生态系统和越冬候鸟
清江省级湿地公园 湿地公园 省级 滨江区 860 2017 河流湿地和江心洲生态系统
柳溪省级森林公园 森林公园 省级 青山县 2300 2005 森林景观和溪流景观
青山湖风景名胜区 风景名胜区 省级 青山县 5600 1998 湖泊、山地自然景观和古村落人文景观
白沙省级地质公园 地质公园 省级 青山县 3200 2012 丹霞地貌和溶洞地质遗迹
龙潭市级森林公园 森林公园 市级 北湖区 420 2010 城郊森林景观
凤凰山城市森林公园 森林公园 市级 滨江区 380 2016 城市森林和登山步道
桃源县级自然保护区 自然保护区 县级 青山县 1800 2008 南方红豆杉等国家重点保护野生植物
茶山县级森林公园 森林公园 县级 青山县 650 2013 茶园和森林景观
沙洲湿地自然保护小区 自然保护区 县级 滨江区 210 2019 江心洲湿地和白鹭栖息地
""".strip().splitlines()
]


def protected_area(ctx: Context) -> Iterator[Row]:
    for name, kind, level, district, area, year, protects in PROTECTED:
        manager = (
            f"{name}管理处" if level in ("国家级", "省级") else f"{district}林业和湿地保护中心"
        )
        yield {
            "name": name,
            "kind": kind,
            "level": level,
            "district": district,
            "area": Decimal(area),
            "established": int(year),
            "manager": manager,
            "protects": protects,
        }


TABLES: dict[str, Generator] = {
    f.__name__: f
    for f in (new_enterprise, patent, power_use, a_taxpayer, job_fair, heritage, geohazard,
              protected_area)
}  # fmt: skip
