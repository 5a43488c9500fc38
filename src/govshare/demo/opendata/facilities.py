"""Source tables of places the public looks for: bus stops, car parks, charging stations,
schools, training centres, social-security outlets, public toilets, tax halls and hotels of
江州市 (health care: `health`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

from govshare.demo.opendata import city
from govshare.demo.opendata.city import DISTRICTS, URBAN, District, words
from govshare.demo.opendata.tables import Context, Generator, Row, years_after

# Landmarks by district: bus stops, car parks, charging stations and toilets are named after them.
LANDMARKS: dict[str, tuple[str, ...]] = {
    "江城区": words("人民广场 市政府 市第一人民医院 市中医医院 江州中学 文昌阁 东门老街 百货大楼 江州宾馆 "
                 "汽车客运站 东门菜市场 水南街口 书院路口 城南公园 江城区政府 工人文化宫 清江码头 "
                 "五一广场 胜利桥 府前广场 实验小学 青年公园"),
    "滨江区": words("滨江公园 江州大学 体育中心 会展中心 市民中心 滨江购物中心 江州高铁站 科创园 "
                 "江州职业技术学院 市第二人民医院 新港码头 凤凰山公园 沙洲湿地 金融中心 滨江区政府 "
                 "大学城 江州图书馆 江州博物馆"),
    "北湖区": words("北湖公园 江州火车站 工业园区管委会 龙潭寺 湖田农贸市场 北湖区政府 长征广场 "
                 "石门老街 北湖医院 物流园 龙潭湖 火车站广场 创业大厦"),
    "青山县": words("青山县政府 青山县客运站 青山县人民医院 青山中学 青山公园 柳溪大桥 白沙老街 "
                 "茶博园 县体育馆 新城广场"),
}  # fmt: skip
ESTATES = words("锦绣花园 阳光小区 幸福里 金色家园 翡翠湾 江景苑 书香门第 桂花园 碧桂苑 和平小区 "
                "紫荆花园 龙湖名都 滨江一号 东湖小区 文昌苑 学府华庭 新港佳苑 凤凰城 清江花苑")  # fmt: skip


def _stop_names(rng, where: District, estates: list[str]) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(stop name, its road) of a district: landmarks, estates, villages, towns, crossings,
    and the ends and middle of its main roads."""
    roads = where.roads
    names = [(n, rng.choice(roads)) for n in (*LANDMARKS[where.name], *estates, *where.villages)]
    names += [
        (t if t.endswith(("镇", "乡")) else f"{t}办事处", rng.choice(roads)) for t in where.towns
    ]
    for i, road in enumerate(roads):
        for other in (roads[(i + 3) % len(roads)], roads[(i + 5) % len(roads)]):
            names.append((f"{road}{other}口", road))
        names.append((f"{road}中段", road))
        if i < 5:
            names += [(f"{road}东口", road), (f"{road}西口", road)]
    return names


def bus_stop(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("bus_stop")
    stops: list[dict] = []
    seen: set[str] = set()
    for n, where in enumerate(DISTRICTS):
        for name, road in _stop_names(rng, where, [e for i, e in enumerate(ESTATES) if i % 3 == n]):
            if name in seen:
                continue
            seen.add(name)
            lon, lat = city.point(rng, where, 0.9)
            stops.append(
                {
                    "name": name,
                    "road": road,
                    "district": where,
                    "lon": lon,
                    "lat": lat,
                    "index": len(stops),
                }
            )
    urban = [s for s in stops if not s["district"].rural]
    county = [s for s in stops if s["district"].rural]
    lines: dict[int, list[str]] = {i: [] for i in range(len(stops))}
    plans = [(f"{n}路", urban, rng.randint(14, 24)) for n in range(1, 41)]
    plans += [(f"K{n}路", urban, rng.randint(10, 14)) for n in range(1, 4)]
    plans += [(f"青山{n}路", county, rng.randint(8, 14)) for n in range(1, 7)]
    for number, pool, length in plans:
        _route(rng, stops, pool, number, lines, length)
    for i, stop in enumerate(stops):
        if not lines[i]:  # every stop is served: by the line of its nearest served neighbour
            near = min(
                (j for j in lines if lines[j] and stops[j]["district"] is stop["district"]),
                key=lambda j: _distance(stops[j], stop),
            )
            lines[i].append(lines[near][0])
        where: District = stop["district"]
        served = sorted(set(lines[i]), key=_line_order)
        yield {
            "stop_id": f"JZ{where.code[-2:]}{i + 1:05d}",
            "name": stop["name"],
            "district": where.name,
            "road": stop["road"],
            "lines": "、".join(served),
            "line_count": len(served),
            "shelter": "有" if rng.random() < (0.5 if where.rural else 0.85) else "无",
            "longitude": stop["lon"],
            "latitude": stop["lat"],
        }


def _line_order(name: str) -> tuple[int, int]:
    digits = "".join(c for c in name if c.isdigit())
    return (0 if name[0].isdigit() else 1 if name[0] == "K" else 2), int(digits)


def _distance(a: dict, b: dict) -> float:
    return math.hypot(float(a["lon"] - b["lon"]), float(a["lat"] - b["lat"]))


def _route(rng, stops, pool, number, lines, length) -> None:  # type: ignore[no-untyped-def]
    """A line through `length` stops of the pool: from a random stop onwards in a rough
    direction, each next stop one of the nearest three ahead."""
    angle = rng.uniform(0, 2 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    current = rng.choice(pool)
    path = [current]
    for _ in range(length - 1):
        here = float(current["lon"]) * dx + float(current["lat"]) * dy
        ahead = [s for s in pool if float(s["lon"]) * dx + float(s["lat"]) * dy > here]
        if not ahead:
            break
        current = rng.choice(sorted(ahead, key=lambda s: _distance(s, current))[:3])
        path.append(current)
    for stop in path:
        lines[stop["index"]].append(number)


def parking(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("parking")
    n = 0
    for where in DISTRICTS:
        places = [*LANDMARKS[where.name], *(ESTATES if not where.rural else ())]
        for place in rng.sample(places, min(len(places), 26 if not where.rural else 10)):
            kind = rng.choices(("地面", "地下", "立体"), weights=(50, 38, 12))[0]
            n += 1
            yield _car_park(rng, n, where, f"{place}{'地下' if kind == '地下' else ''}停车场", kind)
        for road in where.roads[: 9 if not where.rural else 3]:
            n += 1
            yield _car_park(rng, n, where, f"{road}路内停车泊位", "路内", road)


def _car_park(rng, n: int, where: District, name: str, kind: str, road: str = "") -> Row:  # type: ignore[no-untyped-def]
    spaces = {"地面": (40, 400), "地下": (150, 1200), "立体": (60, 300), "路内": (20, 120)}[kind]
    total = rng.randint(*spaces)
    first = {"路内": 2, "地面": 3, "地下": 5, "立体": 4}[kind] if not where.rural else 2
    fee = (
        f"首30分钟免费，之后每小时{first}元，当日最高{first * 10}元"
        if kind == "路内"
        else f"首小时{first}元，之后每小时{max(1, first // 2)}元，24小时内最高{first * 6}元"
    )
    owner = "江州城投停车管理有限公司" if not where.rural else "青山县城市建设投资有限公司"
    return {
        "parking_id": f"TC{where.code[-2:]}{n:05d}",
        "name": name,
        "kind": kind,
        "district": where.name,
        "address": f"{city.CITY}{where.name}{road}" if road else city.address(rng, where),
        "spaces": total,
        "charging_spaces": int(total * rng.choice((0, 0.05, 0.1, 0.15))) if kind != "路内" else 0,
        "fee": fee,
        "hours": "00:00-24:00" if kind != "路内" else "07:00-21:00（其余时段免费）",
        "operator": owner
        if kind == "路内" or rng.random() < 0.5
        else city.company(rng, "房地产业", set()).replace("房地产开发", "物业管理"),
        "longitude": city.point(rng, where)[0],
        "latitude": city.point(rng, where)[1],
    }


CHARGING_OPERATORS = ("江州城投新能源有限公司", "江州电力新能源服务有限公司", "江州公交集团充电服务有限公司",
                      "赣能智充科技有限公司", "江州恒达新能源科技有限公司", "青山县城市建设投资有限公司")  # fmt: skip


def charging_station(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("charging_station")
    n = 0
    for where in DISTRICTS:
        places = [
            *LANDMARKS[where.name],
            *ESTATES[: 12 if not where.rural else 0],
            *where.villages[:4],
        ]
        for place in places:
            if rng.random() < 0.25:
                continue
            n += 1
            fast = rng.choice((2, 4, 4, 6, 8, 10, 12, 20))
            lon, lat = city.point(rng, where)
            operator = (
                CHARGING_OPERATORS[-1]
                if where.rural and rng.random() < 0.6
                else rng.choice(CHARGING_OPERATORS[:5])
            )
            yield {
                "station_id": f"CD{where.code}{n:04d}",
                "name": f"{place}{'公共' if rng.random() < 0.5 else ''}充电站",
                "operator": operator,
                "district": where.name,
                "address": city.address(rng, where, village=place in where.villages),
                "fast_piles": fast,
                "slow_piles": rng.choice((0, 0, 2, 4, 6)),
                "max_power": rng.choice((60, 120, 120, 160, 240)),
                "price": f"电费{rng.choice(('0.58', '0.62', '0.65'))}元（分时电价）＋服务费"
                f"{rng.choice(('0.40', '0.50', '0.60', '0.80'))}元",
                "hours": "全天24小时" if rng.random() < 0.8 else "06:00-23:00",
                "longitude": lon,
                "latitude": lat,
            }


def school(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("school")
    numerals = (
        "一",
        "二",
        "三",
        "四",
        "五",
        "六",
        "七",
        "八",
        "九",
        "十",
        "十一",
        "十二",
        "十三",
        "十四",
        "十五",
        "十六",
        "十七",
        "十八",
    )
    county = DISTRICTS[3]
    # (name, stage, ownership, district, street address or None)
    plans: list[tuple[str, str, str, District, str | None]] = [
        (
            f"江州市第{numerals[i]}中学",
            "完全中学" if i < 4 else "初级中学",
            "公办",
            city.district(rng, URBAN),
            None,
        )
        for i in range(12)
    ]
    plans += [
        (f"江州市第{numerals[i]}小学", "小学", "公办", city.district(rng, URBAN), None)
        for i in range(18)
    ]
    plans += [
        ("江州中学", "高级中学", "公办", URBAN[0], None),
        ("江州市实验中学", "初级中学", "公办", URBAN[0], None),
        ("江州市实验小学", "小学", "公办", URBAN[0], None),
        ("江州大学附属中学", "完全中学", "公办", URBAN[1], None),
        ("江州外国语学校", "九年一贯制学校", "民办", URBAN[1], None),
        ("江州英才学校", "九年一贯制学校", "民办", URBAN[2], None),
        ("青山中学", "高级中学", "公办", county, None),
        ("青山县第二中学", "完全中学", "公办", county, None),
        ("青山县实验小学", "小学", "公办", county, None),
    ]
    for where in DISTRICTS:
        prefix = "青山县" if where.rural else where.name
        for road in where.roads[:7]:
            plans.append(
                (f"{prefix}{road}小学", "小学", "公办", where, f"{road}{rng.randint(1, 300)}号")
            )
        for town in where.towns:
            if not town.endswith(("镇", "乡")):
                continue
            plans.append((f"{prefix}{town}中心小学", "小学", "公办", where, town))
            stage = "初级中学" if rng.random() < 0.7 else "九年一贯制学校"
            plans.append((f"{prefix}{town}中学", stage, "公办", where, town))
            for village in rng.sample(where.villages, min(2, len(where.villages))):
                plans.append(
                    (
                        f"{prefix}{town}{village.removesuffix('村')}小学",
                        "小学",
                        "公办",
                        where,
                        f"{town}{village}",
                    )
                )
    codes = sorted(rng.sample(range(100_000, 999_999), len(plans)))
    for code, (name, stage, ownership, where, place) in zip(codes, plans, strict=True):
        small = place is not None and place.endswith("村")
        classes = rng.randint(6, 12) if small else rng.randint(18, 60)
        per_class = rng.randint(18, 35) if small else rng.randint(40, 50)
        students = classes * per_class
        yield {
            "code": f"2136{code}",
            "name": name,
            "stage": stage,
            "ownership": ownership,
            "district": where.name,
            "address": f"{city.CITY}{where.name}{place}" if place else city.address(rng, where),
            "classes": classes,
            "students": students,
            "teachers": max(8, round(students / rng.uniform(12, 17))),
            "boarding": "是" if stage != "小学" and (where.rural or ownership == "民办") else "否",
            "phone": city.landline(rng, where),
        }


TRAINING = {
    "体育": ("篮球", "足球", "游泳", "跆拳道", "武术", "乒乓球", "羽毛球", "轮滑"),
    "文化艺术": ("美术", "书法", "舞蹈", "钢琴", "声乐", "播音主持", "围棋", "戏剧表演"),
    "科技": ("编程", "机器人", "科学实验", "航模", "无人机"),
}
BRANDS = words("小天鹅 启明星 阳光 翰墨 童心 未来星 青苗 飞跃 博雅 乐思 星火 彩虹 蓝天 小海豚 智慧树 "
               "奔跑吧 墨香 跃动 七彩 新芽 创想 追梦")  # fmt: skip


def training(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("training")
    used: set[str] = set()
    for n in range(1, 96):
        category = rng.choices(list(TRAINING), weights=(35, 45, 20))[0]
        subjects = rng.sample(TRAINING[category], rng.randint(1, 3))
        where = city.district(rng)
        name = f"江州市{where.name}{rng.choice(BRANDS)}{subjects[0]}培训学校有限公司"
        if name in used:
            continue
        used.add(name)
        issued = ctx.origin - timedelta(days=rng.randint(60, 1400))
        yield {
            "licence_no": f"教民{where.code}{issued.year}{n:04d}号",
            "name": name,
            "uscc": city.uscc(rng, where),
            "category": category,
            "subjects": "、".join(subjects),
            "district": where.name,
            "address": city.address(rng, where),
            "supervision_bank": rng.choice(("江州银行", "江州农村商业银行", "青山农村商业银行"))
            + "资金监管专户",
            "valid_until": years_after(issued, 5),
        }


OUTLET_SERVICES = {
    "经办大厅": "社会保险登记；参保缴费；养老保险待遇申领；工伤保险待遇申领；失业保险金申领；社会保障卡业务；"
    "参保证明打印；关系转移接续",
    "街道（乡镇）服务站": "城乡居民养老保险参保登记和缴费；待遇资格认证；参保证明打印；社会保障卡申领",
    "银行合作网点": "社会保障卡申领、挂失、补换卡；社会保障卡金融账户激活；城乡居民养老保险缴费",
    "自助服务点": "参保证明打印；个人权益记录查询；社会保障卡密码修改；待遇资格认证",
}


def service_outlet(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("service_outlet")
    outlets = [
        ("江州市社会保险服务中心经办大厅", "经办大厅", URBAN[0]),
        ("江州市社会保险服务中心滨江分中心", "经办大厅", URBAN[1]),
        ("江州市社会保险服务中心北湖分中心", "经办大厅", URBAN[2]),
        ("青山县社会保险服务中心经办大厅", "经办大厅", DISTRICTS[3]),
    ]
    for where in DISTRICTS:
        prefix = "青山县" if where.rural else where.name
        outlets += [
            (f"{prefix}{t}劳动就业和社会保障服务站", "街道（乡镇）服务站", where)
            for t in where.towns
        ]
        for bank in rng.sample(("江州银行", "江州农村商业银行", "邮储银行江州市分行"), 2):
            branch = rng.choice(LANDMARKS[where.name])
            outlets.append((f"{bank}{branch}支行社保卡服务网点", "银行合作网点", where))
        outlets.append((f"{rng.choice(LANDMARKS[where.name])}社保自助服务点", "自助服务点", where))
    for name, kind, where in outlets:
        lon, lat = city.point(rng, where, 0.6)
        yield {
            "name": name,
            "kind": kind,
            "services": OUTLET_SERVICES[kind],
            "district": where.name,
            "address": city.address(rng, where),
            "hours": "24小时自助服务" if kind == "自助服务点" else city.WEEKDAY_HOURS,
            "phone": "12333" if kind != "街道（乡镇）服务站" else city.landline(rng, where),
            "longitude": lon,
            "latitude": lat,
        }


def public_toilet(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("public_toilet")
    n = 0
    for where in DISTRICTS:
        places = [
            *LANDMARKS[where.name],
            *[f"{r}{s}" for r in where.roads for s in ("东段", "西段", "中段")],
        ]
        for place in rng.sample(places, min(len(places), 90 if not where.rural else 24)):
            n += 1
            grade = rng.choices(("一类", "二类", "三类"), weights=(20, 50, 30))[0]
            kind = rng.choices(("独立式", "附属式", "活动式"), weights=(70, 25, 5))[0]
            lon, lat = city.point(rng, where)
            yield {
                "toilet_id": f"GC{where.code[-2:]}{n:04d}",
                "name": f"{place}公厕",
                "kind": kind,
                "grade": grade,
                "district": where.name,
                "address": city.address(rng, where),
                "hours": "全天开放" if grade != "三类" or rng.random() < 0.5 else "05:30-23:00",
                "male_stalls": rng.randint(2, 8),
                "female_stalls": rng.randint(3, 12),
                "accessible": "有" if grade != "三类" or rng.random() < 0.3 else "无",
                "family_room": "有"
                if grade == "一类" or (grade == "二类" and rng.random() < 0.4)
                else "无",
                "longitude": lon,
                "latitude": lat,
            }


TAX_HALLS = (("国家税务总局江州市江城区税务局办税服务厅", "国家税务总局江州市江城区税务局", "江城区"),
             ("国家税务总局江州市滨江区税务局办税服务厅", "国家税务总局江州市滨江区税务局", "滨江区"),
             ("国家税务总局江州市北湖区税务局办税服务厅", "国家税务总局江州市北湖区税务局", "北湖区"),
             ("国家税务总局江州市北湖区税务局工业园区税务分局办税服务厅", "国家税务总局江州市北湖区税务局", "北湖区"),
             ("国家税务总局青山县税务局办税服务厅", "国家税务总局青山县税务局", "青山县"),
             ("国家税务总局青山县税务局柳溪税务分局办税服务厅", "国家税务总局青山县税务局", "青山县"),
             ("江州市政务服务中心税务综合窗口", "国家税务总局江州市税务局", "滨江区"),
             ("国家税务总局江州市税务局第一税务分局办税服务厅", "国家税务总局江州市税务局", "江城区"),
             ("江州市不动产登记中心税费征收窗口", "国家税务总局江州市税务局", "江城区"))  # fmt: skip


def tax_hall(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("tax_hall")
    for name, authority, district in TAX_HALLS:
        where = city.BY_NAME[district]
        lon, lat = city.point(rng, where, 0.5)
        property_window = "不动产" in name
        yield {
            "name": name,
            "authority": authority,
            "district": district,
            "address": city.address(rng, where),
            "hours": "周一至周五 9:00-12:00，13:30-17:00（法定节假日除外）",
            "phone": f"12366；{city.landline(rng, where)}",
            "services": "存量房交易和新建商品房契税、增值税等税费征收"
            if property_window
            else "发票领用和代开；纳税申报；社会保险费和非税收入缴纳；涉税证明开具；税务登记和信息变更",
            "terminals": 0 if property_window else rng.randint(2, 12),
            "longitude": lon,
            "latitude": lat,
        }


GUESTHOUSES = ("山居", "小院", "人家", "茶舍", "溪畔")


def hotel(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("hotel")
    used: set[str] = set()
    named = [
        ("江州清江国际大酒店", "酒店", "五星级", URBAN[0]),
        ("江州滨江大酒店", "酒店", "五星级", URBAN[1]),
        *(
            (f"江州{t}大酒店", "酒店", "四星级", city.district(rng, URBAN))
            for t in rng.sample(city.TRADE_NAMES, 6)
        ),
        *(
            (f"江州{t}酒店", "酒店", "三星级", city.district(rng))
            for t in rng.sample(city.TRADE_NAMES, 12)
        ),
    ]
    for _ in range(230):
        kind = rng.choices(("酒店", "宾馆", "民宿", "招待所"), weights=(35, 35, 20, 10))[0]
        where = city.BY_NAME["青山县"] if kind == "民宿" else city.district(rng)
        word = rng.choice(city.TRADE_NAMES)
        if kind == "酒店":
            name = f"江州{word}{rng.choice(('商务酒店', '精品酒店', '酒店', '假日酒店'))}"
        elif kind == "民宿":
            village = rng.choice(where.villages)
            name = f"{village[:-1]}{rng.choice(GUESTHOUSES)}民宿"
            where = where.with_place(f"{rng.choice(where.towns[1:])}{village}")
        else:
            name = f"{'青山县' if where.rural else f'江州市{where.name}'}{word}{kind}"
        named.append((name, kind, "未评星", where))
    for n, (name, kind, star, where) in enumerate(named, start=1):
        if name in used:
            continue
        used.add(name)
        rooms = {"五星级": (300, 420), "四星级": (150, 280), "三星级": (80, 160)}.get(
            star, {"民宿": (4, 14), "招待所": (10, 40)}.get(kind, (20, 90))
        )
        count = rng.randint(*rooms)
        issued = ctx.origin - timedelta(days=rng.randint(30, 3000))
        town = rng.choice(where.towns)
        yield {
            "licence_no": f"江公特旅字第{36900 + n:06d}号",
            "name": name,
            "uscc": city.uscc(rng, where, kind="2" if kind == "民宿" else "1"),
            "kind": kind,
            "star": star,
            "rooms": count,
            "beds": round(count * rng.uniform(1.3, 1.7)),
            "district": where.name,
            "address": f"{city.CITY}{where.name}{where.place}"
            if where.place
            else city.address(rng, where),
            "phone": city.landline(rng, where),
            "legal_rep": city.person(rng),
            "issued_on": issued,
            "police_station": _police_station(where, town),
        }


def _police_station(where: District, town: str) -> str:
    stem = town.removesuffix("街道") if town.endswith("街道") else town[:-1]
    if where.rural:
        return f"青山县公安局{stem}派出所"
    return f"{city.CITY}公安局{where.name}分局{stem}派出所"


TABLES: dict[str, Generator] = {
    f.__name__: f
    for f in (bus_stop, parking, charging_station, school, training, service_outlet, public_toilet,
              tax_hall, hotel)
}  # fmt: skip
