"""Source tables of health care the public looks for: hospitals and other medical
institutions, vaccination clinics, pharmacies, and the ones the medical insurance pays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import cache

from govshare.demo.opendata import city
from govshare.demo.opendata.city import DISTRICTS, District
from govshare.demo.opendata.facilities import LANDMARKS
from govshare.demo.opendata.tables import Context, Generator, Row, years_after

# (name, kind, grade, beds, district, ownership): the city's hospitals and public-health bodies.
HOSPITALS = [
    line.split()
    for line in """
江州市第一人民医院 综合医院 三级甲等 1800 江城区 非营利性
江州大学附属医院 综合医院 三级甲等 1500 滨江区 非营利性
江州市中医医院 中医医院 三级甲等 1000 江城区 非营利性
江州市第二人民医院 综合医院 三级乙等 900 滨江区 非营利性
江州市妇幼保健院 妇幼保健院 三级甲等 600 江城区 非营利性
江州市第三人民医院 精神病医院 二级甲等 500 北湖区 非营利性
江州市第五人民医院 传染病医院 二级甲等 300 北湖区 非营利性
江州市肿瘤医院 肿瘤医院 二级甲等 400 滨江区 非营利性
江城区人民医院 综合医院 二级甲等 450 江城区 非营利性
滨江区人民医院 综合医院 二级乙等 300 滨江区 非营利性
北湖区人民医院 综合医院 二级乙等 260 北湖区 非营利性
江州市口腔医院 口腔医院 二级甲等 60 江城区 非营利性
江州市康复医院 康复医院 二级乙等 200 北湖区 非营利性
青山县人民医院 综合医院 二级甲等 620 青山县 非营利性
青山县中医院 中医医院 二级甲等 320 青山县 非营利性
青山县妇幼保健院 妇幼保健院 二级乙等 120 青山县 非营利性
江州和美妇产医院 妇产医院 一级 80 滨江区 营利性
江州仁爱医院 综合医院 一级 150 北湖区 营利性
江州明视眼科医院 眼科医院 一级 60 江城区 营利性
江州博爱骨科医院 骨科医院 二级乙等 180 江城区 营利性
江州市疾病预防控制中心 疾病预防控制中心 未定级 0 滨江区 非营利性
江州市急救中心 急救中心 未定级 0 江城区 非营利性
江州市中心血站 采供血机构 未定级 0 北湖区 非营利性
""".strip().splitlines()
]
SUBJECTS = {
    "综合医院": "预防保健科；内科；外科；妇产科；儿科；眼科；耳鼻咽喉科；口腔科；皮肤科；急诊医学科；康复医学科；"
    "麻醉科；重症医学科；医学检验科；病理科；医学影像科；中医科",
    "中医医院": "内科；外科；妇产科；儿科；急诊医学科；康复医学科；医学检验科；医学影像科；中医科；中西医结合科",
    "社区卫生服务中心": "预防保健科；全科医疗科；中医科；康复医学科；医学检验科；医学影像科",
    "卫生院": "预防保健科；全科医疗科；内科；外科；妇产科；中医科；医学检验科；医学影像科",
    "门诊部": "内科；外科；口腔科；中医科；医学检验科",
    "诊所": "全科医疗科；中医科",
    "妇幼保健院": "预防保健科；妇产科；儿科；妇女保健科；儿童保健科；医学检验科；医学影像科",
    "妇产医院": "妇产科；妇科专业；产科专业；麻醉科；医学检验科；医学影像科",
    "精神病医院": "精神科；临床心理科；医学检验科；医学影像科",
    "传染病医院": "内科；感染科；结核病科；医学检验科；医学影像科",
    "肿瘤医院": "内科；外科；肿瘤科；放射治疗专业；麻醉科；病理科；医学检验科；医学影像科",
    "口腔医院": "口腔科；麻醉科；医学检验科；医学影像科",
    "眼科医院": "眼科；麻醉科；医学检验科；医学影像科",
    "骨科医院": "外科；骨科专业；康复医学科；麻醉科；医学检验科；医学影像科",
    "康复医院": "内科；康复医学科；中医科；医学检验科；医学影像科",
}
CLINICS = (("口腔门诊部", "门诊部", "口腔科；医学影像科"), ("中医诊所", "诊所", "中医科"),
           ("综合门诊部", "门诊部", SUBJECTS["门诊部"]), ("医学检验实验室", "医学检验实验室", "医学检验科"),
           ("血液透析中心", "血液透析中心", "肾病学专业；医学检验科"))  # fmt: skip
KIND_CODES = {"综合医院": "A100", "中医医院": "A210", "社区卫生服务中心": "B100", "卫生院": "C110",
              "门诊部": "D100", "诊所": "E100", "疾病预防控制中心": "J100"}  # fmt: skip


@cache
def medical_institutions(ctx: Context) -> tuple[Row, ...]:
    """The city's medical institutions; vaccination clinics and designated ones are among them."""
    rng = ctx.rng("medical_institution")
    out: list[Row] = []

    def add(name: str, kind: str, grade: str, beds: int, where: District, nonprofit: bool,
            subjects: str) -> None:  # fmt: skip
        lon, lat = city.point(rng, where, 0.7)
        code = KIND_CODES.get(kind, "A500") + "1"
        out.append(
            {
                "reg_no": f"{where.code}{'11' if nonprofit else '21'}{code}",  # after its organisation code
                "name": name,
                "kind": kind,
                "grade": grade,
                "ownership": "非营利性" if nonprofit else "营利性",
                "beds": beds,
                "departments": subjects,
                "district": where.name,
                "address": city.address(rng, where),
                "phone": city.landline(rng, where),
                "longitude": lon,
                "latitude": lat,
            }
        )

    for name, kind, grade, beds, district, ownership in HOSPITALS:
        subjects = SUBJECTS.get(kind, "内科；外科；医学检验科；医学影像科")
        if kind in ("疾病预防控制中心", "急救中心", "采供血机构"):
            subjects = {"急救中心": "急诊医学科", "采供血机构": "医学检验科"}.get(
                kind, "预防保健科；医学检验科"
            )
        add(name, kind, grade, int(beds), city.BY_NAME[district], ownership == "非营利性", subjects)
    for where in DISTRICTS:
        for town in where.towns:
            if where.rural or town.endswith("镇"):
                center = "中心卫生院" if town == "青山镇" else "卫生院"
                prefix = "青山县" if where.rural else where.name
                add(
                    f"{prefix}{town}{center}",
                    "卫生院",
                    "一级",
                    rng.randint(20, 60),
                    where,
                    True,
                    SUBJECTS["卫生院"],
                )
            else:
                add(
                    f"{where.name}{town}社区卫生服务中心",
                    "社区卫生服务中心",
                    "一级",
                    rng.choice((0, 0, 20, 30, 50)),
                    where,
                    True,
                    SUBJECTS["社区卫生服务中心"],
                )
    used: set[str] = set()
    for _ in range(72):
        where = city.district(rng)
        suffix, kind, subjects = rng.choice(CLINICS)
        name = f"江州{rng.choice(city.TRADE_NAMES)}{suffix}"
        if name in used:
            continue
        used.add(name)
        add(name, kind, "未定级", 0 if kind != "血液透析中心" else 20, where, False, subjects)
    codes = sorted(city.uscc(rng, DISTRICTS[0])[8:17] for _ in out)  # listed in this order
    return tuple(r | {"reg_no": code + r["reg_no"]} for code, r in zip(codes, out, strict=True))


def medical_institution(ctx: Context) -> Iterator[Row]:
    yield from (dict(r) for r in medical_institutions(ctx))


def vaccination_clinic(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("vaccination_clinic")
    for inst in medical_institutions(ctx):
        kinds = {
            "社区卫生服务中心": ["儿童预防接种门诊", "成人预防接种门诊"],
            "卫生院": ["儿童预防接种门诊"],
        }
        chosen = list(kinds.get(inst["kind"], []))
        if inst["kind"] == "社区卫生服务中心" and rng.random() < 0.6:
            chosen.pop()
        if inst["kind"] in ("综合医院", "妇幼保健院", "妇产医院") and inst["beds"] >= 80:
            chosen.append("产科接种室")
        if inst["kind"] == "综合医院" and inst["grade"] != "一级":
            chosen.append("狂犬病暴露预防处置门诊")
        for kind in chosen:
            yield {
                "name": f"{inst['name']}{kind}",
                "institution": inst["name"],
                "kind": kind,
                "district": inst["district"],
                "address": inst["address"],
                "hours": "全天24小时"
                if kind.startswith("狂犬病")
                else "周一至周五 8:00-11:30，14:30-17:00"
                if kind != "产科接种室"
                else "新生儿出生后24小时内在产科完成首针乙肝疫苗和卡介苗接种",
                "phone": inst["phone"],
                "longitude": inst["longitude"],
                "latitude": inst["latitude"],
            }


PHARMACY_CHAINS = ("江州康民大药房连锁有限公司", "江州仁和堂医药连锁有限公司", "江西赣仁大药房连锁有限公司",
                   "江州百姓健康大药房连锁有限公司", "青山县益寿堂药业连锁有限公司")  # fmt: skip
PHARMACY_SCOPE = "处方药、甲类非处方药、乙类非处方药：化学药、中成药、中药饮片、生物制品（除疫苗）"


@cache
def pharmacies(ctx: Context) -> tuple[Row, ...]:
    """Every pharmacy licence on file (some cancelled or lapsed)."""
    rng = ctx.rng("pharmacy")
    out: list[Row] = []
    used: set[str] = set()
    for n in range(1, 341):
        where = city.district(rng)
        chain = rng.random() < 0.6
        if chain:
            owner = PHARMACY_CHAINS[4] if where.rural else rng.choice(PHARMACY_CHAINS[:4])
            name = f"{owner.removesuffix('有限公司')}{rng.choice([*LANDMARKS[where.name], *where.roads])}店"
        else:
            name = f"江州市{where.name}{rng.choice(city.TRADE_NAMES)}{rng.choice(('大药房', '药店', '医药商店'))}"
        if name in used:
            continue
        used.add(name)
        issued = ctx.origin - timedelta(days=rng.randint(30, 1930))
        valid_until = years_after(issued, 5)
        status = "注销" if rng.random() < 0.06 else "过期" if valid_until < ctx.origin else "有效"
        head = city.person(rng)
        out.append(
            {
                "licence_no": f"赣{'CB' if chain else 'DA'}{7930 + (where.rural)}{n:03d}",
                "name": name,
                "uscc": city.uscc(rng, where),
                "kind": "零售（连锁）" if chain else "零售",
                "legal_rep": head if not chain and rng.random() < 0.7 else city.person(rng),
                "quality_head": head if not chain else city.person(rng),
                "contact_phone": city.mobile(rng),
                "district": where.name,
                "address": city.address(rng, where, village=where.rural and rng.random() < 0.3),
                "scope": PHARMACY_SCOPE
                if rng.random() < 0.7
                else PHARMACY_SCOPE.replace("、中药饮片", ""),
                "issued_on": issued,
                "valid_until": valid_until,
                "status": status,
            }
        )
    return tuple(out)


def pharmacy(ctx: Context) -> Iterator[Row]:
    yield from (dict(r) for r in pharmacies(ctx))


def designated(ctx: Context) -> Iterator[Row]:
    rng = ctx.rng("designated")
    for inst in medical_institutions(ctx):
        if inst["kind"] in ("疾病预防控制中心", "急救中心", "采供血机构", "医学检验实验室"):
            continue
        yield _designated(rng, ctx, inst, "定点医疗机构", "H")
    for shop in pharmacies(ctx):
        if shop["status"] == "有效" and rng.random() < 0.75:
            yield _designated(rng, ctx, shop | {"grade": "—"}, "定点零售药店", "P")


def _designated(rng, ctx: Context, org: Row, kind: str, letter: str) -> Row:  # type: ignore[no-untyped-def]
    where = city.BY_NAME[org["district"]]
    hospital = kind == "定点医疗机构"
    big = hospital and org["grade"].startswith(("二级", "三级"))
    return {
        "code": f"{letter}36{where.code[2:]}{rng.randrange(10**5):05d}",
        "name": org["name"],
        "kind": kind,
        "level": org["grade"] if hospital else "—",
        "district": org["district"],
        "address": org["address"],
        "insurance": "职工医保、居民医保" + ("、生育保险" if big else ""),
        "cross_region": "已开通" if big or rng.random() < (0.5 if hospital else 0.65) else "未开通",
        "chronic": "是" if big or (not hospital and rng.random() < 0.2) else "否",
        "signed_on": ctx.origin - timedelta(days=rng.randint(40, 1500)),
        "status": "暂停" if rng.random() < 0.04 else "正常",
    }


TABLES: dict[str, Generator] = {
    f.__name__: f for f in (medical_institution, vaccination_clinic, pharmacy, designated)
}
