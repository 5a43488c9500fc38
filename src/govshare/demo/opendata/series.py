"""Source tables of measurements and statistics: daily air quality and weather at the
automatic monitoring stations, monthly surface-water quality, weekly market prices, and the
monthly and yearly statistics of housing funds, households and motor vehicles of 江州市.

The daily series depend on the day only (its weather is drawn from the day), so a later build
that covers more days adds rows without changing the earlier ones."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from govshare.demo.opendata import city
from govshare.demo.opendata.tables import Context, Generator, Row, days_back, months_before

SERIES_DAYS = 180  # the daily series start this many days before the first sync


@dataclass(frozen=True)
class Station:
    name: str
    code: str
    district: str
    pollution: float  # how much more than the city's average it measures
    warmth: float  # °C above the city's average


STATIONS = (
    Station("市监测站", "3690A", "江城区", 1.05, 0.6),
    Station("文昌路", "3691A", "江城区", 1.1, 0.8),
    Station("滨江新区", "3692A", "滨江区", 0.95, 0.3),
    Station("江州大学", "3693A", "滨江区", 0.9, 0.0),
    Station("北湖工业园", "3694A", "北湖区", 1.2, 0.4),
    Station("青山县城", "3695A", "青山县", 0.8, -0.9),
)
RAIN_CHANCE = (0.35, 0.4, 0.5, 0.55, 0.55, 0.6, 0.4, 0.35, 0.3, 0.25, 0.3, 0.3)  # by month


def _season(day: date, peak_day: int) -> float:
    """-1…1 over the year, highest on day-of-year `peak_day`."""
    return math.cos(2 * math.pi * (day.timetuple().tm_yday - peak_day) / 365.25)


@cache
def _day_weather(ctx: Context, day: date) -> tuple[float, bool, float, float]:
    """The city's weather on a day: temperature anomaly (smoothed over three days), whether it
    rained, how much, and the wind speed."""
    gauss = [ctx.rng("weather", day - timedelta(days=k)).gauss(0, 1) for k in range(3)]
    rng = ctx.rng("weather", day, "rain")
    rained = rng.random() < RAIN_CHANCE[day.month - 1]
    amount = rng.expovariate(1 / (16 if day.month in (5, 6) else 9)) if rained else 0.0
    wind = rng.uniform(1.0, 2.6) + (0.8 if rained else 0.0)
    return sum(gauss) / math.sqrt(3) * 2.4, rained, amount, wind


def weather_daily(ctx: Context) -> Iterator[Row]:
    for day in days_back(ctx.until, ctx.origin - timedelta(days=SERIES_DAYS)):
        anomaly, rained, amount, wind = _day_weather(ctx, day)
        mean_city = 18.6 + 11.4 * _season(day, 200) + anomaly - (1.5 if rained else 0)
        summer = _season(day, 200) > 0
        for station in STATIONS:
            rng = ctx.rng("weather", day, station.code)
            mean = mean_city + station.warmth + rng.uniform(-0.3, 0.3)
            yield {
                "station": station.name,
                "station_code": station.code,
                "day": day,
                "temp_mean": city.money(mean, 1),
                "temp_max": city.money(mean + rng.uniform(2.0, 3.5 if rained else 6.5), 1),
                "temp_min": city.money(mean - rng.uniform(1.5, 3.0 if rained else 5.5), 1),
                "humidity": min(98, round(rng.uniform(62, 78) + (15 if rained else 0))),
                "pressure": city.money(1012 - 9 * _season(day, 200) + rng.uniform(-3, 3), 1),
                "wind_dir": rng.choice(
                    ("南风", "西南风", "东南风") if summer else ("北风", "东北风", "西北风")
                ),
                "wind_speed": city.money(wind * rng.uniform(0.85, 1.15), 1),
                "precipitation": city.money(amount * rng.uniform(0.7, 1.3) if rained else 0, 1),
                "updated_at": city.stamp(day + timedelta(days=1), 1),
            }


# HJ 633-2012: concentration breakpoints of each pollutant for IAQI 0, 50, 100, 150, 200, 300, 400, 500.
BREAKPOINTS = {
    "so2": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "no2": (0, 40, 80, 180, 280, 565, 750, 940),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "co": (0, 2, 4, 14, 24, 36, 48, 60),
    "o3": (0, 100, 160, 215, 265, 800),
    "pm25": (0, 35, 75, 115, 150, 250, 350, 500),
}
IAQI_STEPS = (0, 50, 100, 150, 200, 300, 400, 500)
POLLUTANT_NAMES = {"pm25": "细颗粒物（PM2.5）", "pm10": "可吸入颗粒物（PM10）", "o3": "臭氧（O3）",
                   "no2": "二氧化氮（NO2）", "so2": "二氧化硫（SO2）", "co": "一氧化碳（CO）"}  # fmt: skip
LEVELS = ((50, "一级（优）"), (100, "二级（良）"), (150, "三级（轻度污染）"), (200, "四级（中度污染）"),
          (300, "五级（重度污染）"), (10**6, "六级（严重污染）"))  # fmt: skip


def iaqi(pollutant: str, value: float) -> int:
    """The individual air quality index of one pollutant's concentration (HJ 633-2012)."""
    points = BREAKPOINTS[pollutant]
    for i in range(1, len(points)):
        if value <= points[i]:
            low, high = points[i - 1], points[i]
            return math.ceil(
                (IAQI_STEPS[i] - IAQI_STEPS[i - 1]) / (high - low) * (value - low)
                + IAQI_STEPS[i - 1]
            )
    return 500


def air_daily(ctx: Context) -> Iterator[Row]:
    for day in days_back(ctx.until, ctx.origin - timedelta(days=SERIES_DAYS)):
        _, rained, _, wind = _day_weather(ctx, day)
        still = 1.35 - 0.2 * wind  # little wind, more particles
        washed = 0.6 if rained else 1.0
        for station in STATIONS:
            rng = ctx.rng("air", day, station.code)
            pm25 = max(
                6,
                round(
                    (31 + 17 * _season(day, 15))
                    * still
                    * washed
                    * station.pollution
                    * rng.uniform(0.8, 1.2)
                ),
            )
            values = {
                "pm25": pm25,
                "pm10": round(pm25 * rng.uniform(1.4, 1.9)),
                "so2": round(rng.uniform(5, 12) * station.pollution),
                "no2": round(
                    (22 + 8 * _season(day, 15)) * station.pollution**2 * rng.uniform(0.8, 1.2)
                ),
                "co": round((0.65 + 0.25 * _season(day, 15)) * rng.uniform(0.8, 1.2), 1),
                "o3": round(
                    (88 + 42 * _season(day, 200))
                    * (0.7 if rained else 1.15)
                    * rng.uniform(0.85, 1.15)
                ),
            }
            indices = {p: iaqi(p, v) for p, v in values.items()}
            aqi = max(indices.values())
            primary = (
                [POLLUTANT_NAMES[p] for p, v in indices.items() if v == aqi] if aqi > 50 else []
            )
            yield {
                "station": station.name,
                "station_code": station.code,
                "day": day,
                "aqi": aqi,
                "level": next(label for bound, label in LEVELS if aqi <= bound),
                "primary_pollutant": "、".join(primary) or "无",
                **{k: v for k, v in values.items() if k != "co"},
                "co": Decimal(str(values["co"])),
                "updated_at": city.stamp(day + timedelta(days=1), 1),
            }


# (section, water body, district, level, target class, lake)
SECTIONS = [
    line.split()
    for line in """
清江青山入境断面 清江 青山县 国控 Ⅱ类 河流
清江柳溪断面 清江 青山县 省控 Ⅱ类 河流
清江江州水厂断面 清江 江城区 国控 Ⅱ类 河流
清江滨江大桥断面 清江 滨江区 省控 Ⅲ类 河流
清江出境断面 清江 滨江区 国控 Ⅲ类 河流
白沙河入清江口断面 白沙河 青山县 省控 Ⅲ类 河流
柳溪河柳溪镇断面 柳溪河 青山县 市控 Ⅲ类 河流
龙潭河入湖口断面 龙潭河 北湖区 市控 Ⅲ类 河流
北湖湖心断面 北湖 北湖区 市控 Ⅲ类 湖库
青山湖湖心断面 青山湖 青山县 省控 Ⅱ类 湖库
""".strip().splitlines()
]
CLASSES = ("Ⅰ类", "Ⅱ类", "Ⅲ类", "Ⅳ类", "Ⅴ类")
# GB 3838-2002 class limits (Ⅰ…Ⅴ); dissolved oxygen is a lower bound, the others upper bounds.
LIMITS = {
    "permanganate": (2, 4, 6, 10, 15),
    "ammonia": (0.15, 0.5, 1.0, 1.5, 2.0),
    "phosphorus": (0.02, 0.1, 0.2, 0.3, 0.4),
    "phosphorus_lake": (0.01, 0.025, 0.05, 0.1, 0.2),
}
OXYGEN = (7.5, 6, 5, 3, 2)


def _water_class(oxygen: float, values: dict[str, float], lake: bool) -> int:
    worst = next((i for i, bound in enumerate(OXYGEN) if oxygen >= bound), 5)
    for name, value in values.items():
        limits = LIMITS["phosphorus_lake" if name == "phosphorus" and lake else name]
        worst = max(worst, next((i for i, bound in enumerate(limits) if value <= bound), 5))
    return worst


def surface_water(ctx: Context) -> Iterator[Row]:
    for section, body, district, level, target, kind in SECTIONS:
        lake = kind == "湖库"
        cleaner = CLASSES.index(target) == 1
        for month in months_before(ctx.origin, 24):
            rng = ctx.rng("surface_water", section, month)
            winter = _season(date(int(month[:4]), int(month[5:]), 15), 15)
            oxygen = 8.0 + 1.4 * winter + rng.uniform(-0.8, 0.8)
            values = {
                "permanganate": rng.uniform(1.4, 3.6 if cleaner else 5.2),
                "ammonia": rng.uniform(0.05, 0.42 if cleaner else 0.85),
                "phosphorus": rng.uniform(
                    0.01,
                    0.022 if lake and cleaner else 0.045 if lake else 0.09 if cleaner else 0.17,
                ),
            }
            found = _water_class(oxygen, values, lake)
            yield {
                "section": section,
                "water_body": body,
                "district": district,
                "level": level,
                "target": target,
                "month": month,
                "quality": CLASSES[found] if found < 5 else "劣Ⅴ类",
                "meets": "是" if found <= CLASSES.index(target) else "否",
                "dissolved_oxygen": city.money(oxygen, 1),
                "permanganate": city.money(values["permanganate"], 1),
                "ammonia": city.money(values["ammonia"], 3),
                "phosphorus": city.money(values["phosphorus"], 3),
            }


# (category, product, spec, unit, price in 元, seasonal swing)
PRODUCTS = [
    line.split()
    for line in """
粮油 粳米 一级散装 元/500克 3.10 0.01
粮油 晚籼米 一级散装 元/500克 2.60 0.01
粮油 面粉 富强粉散装 元/500克 2.90 0.01
粮油 菜籽油 一级桶装 元/5升 78.00 0.02
粮油 花生油 压榨一级桶装 元/5升 118.00 0.02
蔬菜 大白菜 新鲜中等 元/500克 1.60 0.25
蔬菜 青菜 新鲜中等 元/500克 2.50 0.3
蔬菜 芹菜 新鲜中等 元/500克 3.20 0.25
蔬菜 黄瓜 新鲜中等 元/500克 3.50 0.3
蔬菜 西红柿 新鲜中等 元/500克 4.00 0.25
蔬菜 土豆 新鲜中等 元/500克 2.20 0.1
蔬菜 白萝卜 新鲜中等 元/500克 1.50 0.2
蔬菜 茄子 新鲜中等 元/500克 3.80 0.3
蔬菜 青椒 新鲜中等 元/500克 4.20 0.3
蔬菜 豆角 新鲜中等 元/500克 5.00 0.3
肉禽蛋 猪肉 精瘦肉 元/500克 16.50 0.05
肉禽蛋 猪肉 五花肉 元/500克 14.00 0.05
肉禽蛋 牛肉 鲜牛腿肉 元/500克 42.00 0.03
肉禽蛋 鸡蛋 散装鲜鸡蛋 元/500克 5.20 0.06
肉禽蛋 白条鸡 鲜 元/500克 13.00 0.04
水产 草鱼 活鱼 元/500克 9.50 0.06
水产 鲫鱼 活鱼 元/500克 12.00 0.06
水产 鲢鱼 活鱼 元/500克 7.00 0.06
水果 苹果 富士一级 元/500克 6.50 0.08
水果 香蕉 一级 元/500克 3.80 0.08
水果 脐橙 一级 元/500克 5.50 -0.2
""".strip().splitlines()
]
MARKETS = (("江城区东门农贸市场", 1.03), ("滨江区新港农贸市场", 1.06), ("北湖区湖田农贸市场", 0.98),
           ("青山县城农贸市场", 0.94))  # fmt: skip


def farm_price(ctx: Context) -> Iterator[Row]:
    last_friday = ctx.until - timedelta(days=(ctx.until.weekday() - 4) % 7)
    fridays = [last_friday - timedelta(weeks=k) for k in range(25, -1, -1)]
    for category, product, spec, unit, price, swing in PRODUCTS:
        rng = ctx.rng("farm_price", product, spec)
        drift = 1.0
        for day in fridays:
            drift = min(1.2, max(0.85, drift * rng.uniform(0.97, 1.03)))
            base = float(price) * drift * (1 + float(swing) * _season(day, 15))
            for market, factor in MARKETS:
                yield {
                    "market": market,
                    "category": category,
                    "product": product
                    if spec in ("一级散装", "新鲜中等", "活鱼", "一级", "鲜")
                    else f"{product}（{spec}）",
                    "spec": spec,
                    "unit": unit,
                    "price": city.money(base * factor * rng.uniform(0.97, 1.03)),
                    "day": day,
                    "updated_at": city.stamp(day, 17),
                }


def gjj_monthly(ctx: Context) -> Iterator[Row]:
    for region, units, workers, balance in (
        ("市本级", 4820, 186_000, 1_268_000.0),
        ("青山县", 610, 21_400, 118_500.0),
    ):
        rng = ctx.rng("gjj_monthly", region)
        for i, month in enumerate(months_before(ctx.origin, 24)):
            grow = 1 + 0.004 * i
            staff = round(workers * grow * rng.uniform(0.995, 1.005))
            deposit = staff * rng.uniform(1020, 1100) / 10_000
            if month.endswith("-07"):  # the yearly adjustment of the contribution base
                deposit *= 1.06
            withdrawal = deposit * rng.uniform(0.68, 0.92)
            balance += deposit - withdrawal
            loans = round(rng.uniform(280, 520) if region == "市本级" else rng.uniform(28, 70))
            yield {
                "month": month,
                "region": region,
                "units": round(units * grow * rng.uniform(0.99, 1.01)),
                "depositors": staff,
                "deposit": city.money(deposit),
                "withdrawal": city.money(withdrawal),
                "loans": loans,
                "loan_amount": city.money(loans * rng.uniform(33, 42)),
                "balance": city.money(balance),
            }


# (district, registered residents ten years ago, yearly change)
POPULATION = (("江城区", 412_000, 0.004), ("滨江区", 318_000, 0.018), ("北湖区", 296_000, 0.009),
              ("青山县", 548_000, -0.006))  # fmt: skip


def population_stat(ctx: Context) -> Iterator[Row]:
    last = ctx.until.year - 1
    for name, people, change in POPULATION:
        rng = ctx.rng("population_stat", name)
        code = city.BY_NAME[name].code
        for year in range(last - 9, last + 1):
            k = year - (last - 9)
            total = round(people * (1 + change) ** k * rng.uniform(0.998, 1.002))
            elderly = round(total * (0.175 + 0.0065 * k + (0.02 if name == "青山县" else 0)))
            minors = round(total * (0.215 - 0.0035 * k))
            male = round(total * rng.uniform(0.508, 0.518))
            yield {
                "year": year,
                "region": name,
                "region_code": code,
                "households": round(total / rng.uniform(2.7, 2.95)),
                "population": total,
                "male": male,
                "female": total - male,
                "minors": minors,
                "working_age": total - minors - elderly,
                "elderly": elderly,
                "births": round(total * (0.0118 - 0.0006 * k) * rng.uniform(0.95, 1.05)),
                "deaths": round(total * (0.0066 + 0.0001 * k) * rng.uniform(0.95, 1.05)),
                "updated_at": city.stamp(date(year + 1, 1, 20), 10),
            }


# (kind, vehicles two years ago, monthly growth, new-energy share then, its monthly rise)
VEHICLES = (("载客汽车", 512_000, 0.006, 0.058, 0.0028), ("载货汽车", 64_500, 0.002, 0.012, 0.0006),
            ("摩托车", 183_000, -0.001, 0.0, 0.0), ("其他", 5_200, 0.0, 0.0, 0.0))  # fmt: skip


def vehicle_stat(ctx: Context) -> Iterator[Row]:
    for kind, count, growth, share, rise in VEHICLES:
        rng = ctx.rng("vehicle_stat", kind)
        for i, month in enumerate(months_before(ctx.origin, 24)):
            total = round(count * (1 + growth) ** i)
            festival = 0.6 if month.endswith("-02") else 1.0
            yield {
                "month": month,
                "kind": kind,
                "total": total,
                "new_energy": round(total * (share + rise * i)),
                "registered": round(
                    max(count * growth, count * 0.0015) * 1.4 * festival * rng.uniform(0.85, 1.15)
                ),
            }


TABLES: dict[str, Generator] = {
    f.__name__: f
    for f in (weather_daily, air_daily, surface_water, farm_price, gjj_monthly, population_stat,
              vehicle_stat)
}  # fmt: skip
