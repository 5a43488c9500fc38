"""Demo organisations and users: 江州市 (a fictional city) and its county 青山县."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy.orm import Session

from govshare.core import uscc
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.identity.models import Level, Organization, OrganizationKind
from govshare.identity.schemas import ConfidentialityAgreementIn, OrganizationIn, UserIn

DEMO_PASSWORD = "demo2026"
REGION_CITY, REGION_COUNTY = "369000", "369021"  # fictional division codes

# (key, full name, short name, kind)
CITY_DEPARTMENTS = [
    ("zfb", "江州市人民政府办公室", "市政府办", OrganizationKind.GOVERNMENT),
    ("dsj", "江州市大数据中心", "市大数据中心", OrganizationKind.DELEGATED_INSTITUTION),
    ("gaj", "江州市公安局", "市公安局", OrganizationKind.GOVERNMENT),
    ("scjg", "江州市市场监督管理局", "市市场监管局", OrganizationKind.GOVERNMENT),
    ("mzj", "江州市民政局", "市民政局", OrganizationKind.GOVERNMENT),
    ("rsj", "江州市人力资源和社会保障局", "市人社局", OrganizationKind.GOVERNMENT),
    ("zrzy", "江州市自然资源和规划局", "市自然资源和规划局", OrganizationKind.GOVERNMENT),
    ("wjw", "江州市卫生健康委员会", "市卫健委", OrganizationKind.GOVERNMENT),
    ("jyj", "江州市教育局", "市教育局", OrganizationKind.GOVERNMENT),
    ("swj", "国家税务总局江州市税务局", "市税务局", OrganizationKind.GOVERNMENT),
    ("zjj", "江州市住房和城乡建设局", "市住建局", OrganizationKind.GOVERNMENT),
    ("jtj", "江州市交通运输局", "市交通运输局", OrganizationKind.GOVERNMENT),
    ("sthj", "江州市生态环境局", "市生态环境局", OrganizationKind.GOVERNMENT),
    ("ybj", "江州市医疗保障局", "市医保局", OrganizationKind.GOVERNMENT),
    ("fgw", "江州市发展和改革委员会", "市发改委", OrganizationKind.GOVERNMENT),
    ("czj", "江州市财政局", "市财政局", OrganizationKind.GOVERNMENT),
    ("xzsp", "江州市行政审批服务局", "市行政审批局", OrganizationKind.GOVERNMENT),
    ("gjj", "江州市住房公积金管理中心", "市公积金中心", OrganizationKind.DELEGATED_INSTITUTION),
    ("water", "江州市供水有限公司", "市供水公司", OrganizationKind.PUBLIC_ENTERPRISE),
]
COUNTY_DEPARTMENTS = [
    ("qs_gaj", "青山县公安局", "县公安局", "gaj"),
    ("qs_mzj", "青山县民政局", "县民政局", "mzj"),
    ("qs_rsj", "青山县人力资源和社会保障局", "县人社局", "rsj"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "海燕",
    "志强",
    "晓东",
    "丽萍",
]


def organization_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714) with its check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(authority: str, kind: str, region: str, rng: random.Random) -> str:
    """A valid unified social credit code for demo data."""
    first17 = authority + kind + region + organization_code(rng)[:9]
    return first17[:17] + uscc.check_character(first17[:17])


def build(db_session: Session, actor: Actor) -> None:
    """Creates the organisations, one account per role, and data officers."""
    rng = random.Random(2026)
    orgs: dict[str, Organization] = {}

    def add(
        key: str, name: str, short: str, kind: OrganizationKind, level: Level, parent: str | None
    ) -> None:
        authority = "9" if kind is OrganizationKind.PUBLIC_ENTERPRISE else "1"
        region = REGION_COUNTY if level is Level.COUNTY else REGION_CITY
        code = credit_code(authority, "1", region, rng)
        orgs[key] = identity_service.create_organization(
            db_session,
            actor=actor,
            data=OrganizationIn(
                name=name,
                short_name=short,
                uscc=code,
                level=level,
                kind=kind,
                parent_id=orgs[parent].id if parent else None,
            ),
        )

    add("city", "江州市人民政府", "江州市政府", OrganizationKind.GOVERNMENT, Level.CITY, None)
    for key, name, short, kind in CITY_DEPARTMENTS:
        add(key, name, short, kind, Level.CITY, "city")
    add("county", "青山县人民政府", "青山县政府", OrganizationKind.GOVERNMENT, Level.COUNTY, "city")
    for key, name, short, _ in COUNTY_DEPARTMENTS:
        add(key, name, short, OrganizationKind.GOVERNMENT, Level.COUNTY, "county")

    def person(username: str, org: str, roles: list[Role]) -> int:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        mobile = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        user = identity_service.create_user(
            db_session,
            actor=actor,
            data=UserIn(
                username=username,
                real_name=name,
                mobile=mobile,
                organization_id=orgs[org].id,
                roles=roles,
                password=DEMO_PASSWORD,
            ),
        )
        return user.id

    person("operator", "dsj", [Role.PLATFORM_OPERATOR])
    person("authority", "zfb", [Role.AUTHORITY])
    person("auditor", "dsj", [Role.AUDITOR])
    handlers = []
    for key, *_ in [*CITY_DEPARTMENTS, *COUNTY_DEPARTMENTS]:
        if key in ("zfb", "dsj"):
            continue
        officer = person(f"{key}_officer", key, [Role.DEPARTMENT_STAFF])
        person(f"{key}_head", key, [Role.DEPARTMENT_HEAD])
        handlers.append(officer)
        # The first officer of the public-security bureau left; the history shows both terms.
        if key == "gaj":
            former = person("gaj_former", key, [Role.DEPARTMENT_STAFF])
            identity_service.appoint_data_officer(
                db_session,
                actor=actor,
                organization_id=orgs[key].id,
                user_id=former,
                started_on=date(2024, 3, 1),
            )
            identity_service.appoint_data_officer(
                db_session,
                actor=actor,
                organization_id=orgs[key].id,
                user_id=officer,
                started_on=date(2025, 9, 1),
            )
        else:
            identity_service.appoint_data_officer(
                db_session,
                actor=actor,
                organization_id=orgs[key].id,
                user_id=officer,
                started_on=date(2025, 1, 2),
            )
    person("gaj_staff", "gaj", [Role.DEPARTMENT_STAFF])
    for user_id in handlers:
        identity_service.record_confidentiality_agreement(
            db_session,
            actor=actor,
            user_id=user_id,
            data=ConfidentialityAgreementIn(
                signed_on=date(2025, 1, 2),
                expires_on=date(2027, 12, 31),
                document_ref=f"江州数保〔2025〕{user_id:03d}号",
            ),
        )


SIGN_INS = [
    ("operator", "平台管理员（市大数据中心）"),
    ("authority", "主管部门（市政府办）"),
    ("auditor", "审计员"),
    ("gaj_officer", "市公安局数据专员"),
    ("gaj_head", "市公安局负责人"),
    ("scjg_officer", "市市场监管局数据专员"),
    ("gaj_staff", "市公安局工作人员"),
]
