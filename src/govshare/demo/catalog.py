"""Demo catalog (示范目录): about seventy resources of 江州市's departments, built through the
catalog services with a history of about five months.

The data sits in the tables below — `RESOURCES` (what each resource says), then the stories
(`DRAFTS`, `SUBMITTED`, `RETURNED`, `REVISIONS`, `RETIREMENTS`, `SUBSCRIPTIONS`) — and
`build` turns them into a time-ordered list of steps, each run with the clock set to its
moment (`clock.frozen`): departments compile and submit, the operator reviews, departments
subscribe, revise and retire. Dates count back from the day the demo is built and skip
weekends, so the same story reads the same whenever it is built: changes approved months ago
are in effect (the daily job, `apply_due_changes`, ran on their dates), one change and one
retirement approved this week are announced for next month (Shangrao: a month's notice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion, RetirementState, VersionState
from govshare.catalog.schemas import ResourceIn, RetirementIn, ReviewIn, ThemeIn, VersionIn
from govshare.catalog.service import resources, subscriptions, themes
from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.policy import Rules, load_profile
from govshare.identity.models import User
from govshare.identity.service import actor_for_user

PROFILE = "shangrao"  # the demo city follows the Shangrao regulation (a month's change notice)

# --- laws cited as the basis of conditional and not-shared resources (CAT-4) -------------

PIPL = "《中华人民共和国个人信息保护法》第十三条、第三十四条"
PIPL_SENSITIVE = "《中华人民共和国个人信息保护法》第二十八条、第三十四条"
SOCIAL_INSURANCE_LAW = "《中华人民共和国社会保险法》第八十一条"
TAX_LAW = "《中华人民共和国税收征收管理法》第八条"
HEALTH_LAW = "《中华人民共和国基本医疗卫生与健康促进法》第九十二条"
MINORS = "《中华人民共和国未成年人保护法》第七十二条；《中华人民共和国个人信息保护法》第三十一条"

CONDITIONAL_SCOPE = "经审核同意的政务部门，限申请用途"
ALL_DEPARTMENTS = "市、县（区）两级政务部门"

# Classification 项 (item code) of each catalog kind: base topics, themes, departments.
TOPIC_ITEM = {
    "population": "01",
    "legal_entity": "02",
    "natural_resources": "03",
    "e_licence": "04",
}
THEME_ITEM = {"营商环境": "01", "一老一小": "02"}
DEPARTMENT_ITEM = {
    "gaj": "01",
    "scjg": "02",
    "mzj": "03",
    "rsj": "04",
    "zrzy": "05",
    "wjw": "06",
    "jyj": "07",
    "swj": "08",
    "zjj": "09",
    "jtj": "10",
    "sthj": "11",
    "ybj": "12",
    "fgw": "13",
    "czj": "14",
    "xzsp": "15",
    "gjj": "16",
    "water": "17",
    "qs_mzj": "52",
    "qs_rsj": "53",
}

# (name, description, lead, contributors)
THEMES = [
    (
        "营商环境",
        "围绕企业开办、纳税、用工和工程建设项目审批，汇聚市场主体全生命周期数据，"
        "支撑“一件事一次办”和营商环境评价。",
        "scjg",
        ["swj", "rsj", "xzsp"],
    ),
    (
        "一老一小",
        "汇聚养老服务、婴幼儿照护、学前教育和城乡居民医保数据，"
        "支撑老年人和婴幼儿服务政策精准落实。",
        "mzj",
        ["wjw", "jyj", "ybj"],
    ),
]


# --- resource specifications ------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One resource as the demo compiles it; `items` holds one data item per line."""

    key: str
    dept: str
    name: str
    summary: str
    items: str
    kind: str = "department"
    topic: str | None = None
    theme: str | None = None
    fmt: str = "database"
    detail: str = ""
    share: str = "unconditional"
    conditions: str = ""
    basis: str = ""
    scope: str = ALL_DEPARTMENTS
    methods: tuple[str, ...] = ("table",)
    offline_reason: str = ""
    freq: str = "daily"
    timeliness: str = ""
    open: str = "not_open"
    open_conditions: str = ""
    domain: str = "public_administration"
    related: tuple[str, ...] = ()


ITEM = re.compile(
    r"^(?P<personal>\*)?(?P<name>[^:]+):(?P<type>[A-Z])(?P<length>\d*)(?::(?P<desc>.*))?$"
)


def parse_items(text: str) -> list[dict[str, Any]]:
    """Data items from compact lines `[*]名称:类型[长度][:说明]`; `*` marks personal data."""
    out: list[dict[str, Any]] = []
    for line in text.strip().splitlines():
        match = ITEM.match(line.strip())
        if match is None:
            raise ValueError(f"bad demo item spec: {line!r}")
        out.append(
            {
                "name": match["name"],
                "data_type": match["type"],
                "length": int(match["length"]) if match["length"] else None,
                "description": match["desc"] or "",
                "personal": bool(match["personal"]),
            }
        )
    return out


def base(key: str, dept: str, topic: str, name: str, summary: str, items: str, **kw: Any) -> Spec:
    return Spec(key, dept, name, summary, items, kind="base", topic=topic, **kw)


def theme(
    key: str, dept: str, name_of_theme: str, name: str, summary: str, items: str, **kw: Any
) -> Spec:
    return Spec(key, dept, name, summary, items, kind="theme", theme=name_of_theme, **kw)


def dept(key: str, provider: str, name: str, summary: str, items: str, **kw: Any) -> Spec:
    return Spec(key, provider, name, summary, items, **kw)


RESOURCES: list[Spec] = [
    # --- base catalog: population (人口) -----------------------------------------------------
    base(
        "gaj_population",
        "gaj",
        "population",
        "常住人口基本信息",
        "全市户籍人口的基本身份信息，来源于公安人口管理系统，覆盖1990年以来的户籍登记。",
        """
        *姓名:C50
        *公民身份号码:C18:18位公民身份号码
        性别:C1:GB/T 2261.1 人的性别代码
        民族:C2:GB 3304 民族代码
        出生日期:D
        *出生地:C200
        籍贯:C100
        *户籍地址:C200
        户号:C20
        与户主关系:C2:GB/T 4761 家庭关系代码
        文化程度:C2
        婚姻状况:C2:GB/T 2261.2 婚姻状况代码
        户口类别:C1:1家庭户 2集体户
        户籍登记日期:D
        行政区划代码:C12
        """,
        detail="Oracle",
        methods=("table",),
        timeliness="T+1",
    ),
    base(
        "mzj_cremation",
        "mzj",
        "population",
        "火化（死亡）人员信息",
        "全市殡仪馆火化的死亡人员信息，用于养老金停发、医保停保、户籍注销等业务，覆盖2012年以来的数据。",
        """
        *姓名:C50
        *身份证号:C18
        性别:C1
        出生日期:D
        死亡日期:D
        死亡原因类别:C2:正常死亡/非正常死亡
        火化日期:D
        殡仪馆名称:C100
        *户籍所在地:C200
        火化证明编号:C30
        """,
        detail="MySQL",
        methods=("table", "service"),
        timeliness="火化后1个工作日内",
        domain="social_security",
    ),
    base(
        "wjw_birth",
        "wjw",
        "population",
        "出生医学证明信息",
        "全市助产机构签发的《出生医学证明》信息，用于新生儿落户、医保参保和预防接种建档。",
        """
        出生医学证明编号:C10
        *新生儿姓名:C50
        性别:C1
        出生日期:D
        出生时间:T
        出生地点:C200
        出生孕周:N2
        出生体重:N5:单位：克
        *母亲姓名:C50
        *母亲身份证件号码:C18
        *父亲姓名:C50
        *父亲身份证件号码:C18
        接生机构名称:C100
        签发日期:D
        """,
        detail="PostgreSQL",
        methods=("table", "service"),
        timeliness="签发后1个工作日内",
        domain="health",
    ),
    # --- base catalog: legal entities (法人单位) -----------------------------------------------
    base(
        "scjg_enterprise",
        "scjg",
        "legal_entity",
        "企业登记基本信息",
        "全市各类企业（含分支机构）的设立、变更、注销登记信息，是法人库的主要来源。",
        """
        统一社会信用代码:C18
        企业名称:C200
        企业类型:C4:GB/T 38633 市场主体类型代码
        法定代表人:C50
        注册资本:N18:单位：万元
        成立日期:D
        营业期限自:D
        营业期限至:D
        住所:C200
        经营范围:C4000
        登记机关:C100
        登记状态:C2
        核准日期:D
        行政区划代码:C12
        """,
        detail="Oracle",
        methods=("table", "service"),
        timeliness="T+1",
        open="unconditional",
        domain="enterprise_registration",
    ),
    base(
        "scjg_individual",
        "scjg",
        "legal_entity",
        "个体工商户登记信息",
        "全市个体工商户的登记信息，含经营者、经营场所和经营范围。",
        """
        统一社会信用代码:C18
        个体工商户名称:C200
        *经营者姓名:C50
        *经营者身份证号码:C18
        组成形式:C1:个人经营/家庭经营
        经营场所:C200
        经营范围:C2000
        资金数额:N18:单位：万元
        注册日期:D
        登记机关:C100
        登记状态:C2
        """,
        detail="Oracle",
        methods=("table",),
        timeliness="T+1",
        open="conditional",
        open_conditions="经营者姓名、身份证号码脱敏后开放；经营者本人申请不公开的除外",
        domain="enterprise_registration",
        related=("scjg_enterprise",),
    ),
    base(
        "mzj_social_org",
        "mzj",
        "legal_entity",
        "社会组织登记信息",
        "全市登记的社会团体、民办非企业单位（社会服务机构）和基金会信息。",
        """
        统一社会信用代码:C18
        社会组织名称:C200
        社会组织类型:C1:社会团体/社会服务机构/基金会
        法定代表人:C50
        业务主管单位:C100
        注册资金:N18:单位：万元
        住所:C200
        业务范围:C2000
        登记日期:D
        登记管理机关:C100
        证书有效期至:D
        登记状态:C2
        """,
        detail="MySQL",
        freq="weekly",
        timeliness="T+5",
        open="unconditional",
        domain="enterprise_registration",
    ),
    base(
        "swj_taxpayer",
        "swj",
        "legal_entity",
        "纳税人登记信息",
        "在本市办理税务登记（含“多证合一”信息确认）的单位纳税人基本信息。",
        """
        纳税人识别号:C20
        纳税人名称:C200
        社会信用代码:C18
        法定代表人姓名:C50
        登记注册类型:C3
        行业:C4:GB/T 4754 国民经济行业代码
        主管税务机关:C100
        税务登记日期:D
        纳税人状态:C2
        增值税纳税人类型:C1:一般纳税人/小规模纳税人
        生产经营地址:C200
        """,
        detail="Oracle",
        methods=("table",),
        timeliness="T+1",
        domain="finance",
        related=("scjg_enterprise",),
    ),
    # --- base catalog: natural resources and geography (自然资源和空间地理) ----------------------
    base(
        "zrzy_plan",
        "zrzy",
        "natural_resources",
        "国土空间规划“一张图”成果",
        "经批准的市、县国土空间总体规划和详细规划成果，含规划分区、用地用海分类和控制线。",
        """
        地块编码:C30
        规划分区代码:C4
        规划分区名称:C50
        用地用海分类代码:C6:《国土空间调查、规划、用途管制用地用海分类指南》
        用地面积:N14:单位：平方米
        容积率:N6
        行政区划代码:C12
        批复文号:C50
        批复日期:D
        """,
        fmt="service_interface",
        detail="OGC WMTS/WFS",
        methods=("service", "file"),
        freq="irregular",
        timeliness="批复后10个工作日内",
        open="conditional",
        open_conditions="开放经保密审查的公众版成果，不含涉密坐标和控制线矢量",
        domain="geography",
    ),
    base(
        "zrzy_landuse",
        "zrzy",
        "natural_resources",
        "土地利用现状数据（国土变更调查）",
        "第三次全国国土调查成果及年度国土变更调查数据，按图斑记录地类和权属。",
        """
        图斑编号:C20
        地类编码:C6
        地类名称:C50
        图斑面积:N14:单位：平方米
        权属性质:C2
        权属单位名称:C100
        坐落单位代码:C19
        变更年度:N4
        """,
        fmt="electronic_file",
        detail="File Geodatabase",
        methods=("file",),
        freq="yearly",
        timeliness="变更调查成果通过国家核查后1个月内",
        domain="geography",
    ),
    base(
        "mzj_address",
        "mzj",
        "natural_resources",
        "标准地名地址信息",
        "全市经命名、更名的标准地名和门楼牌地址，含空间坐标，是各部门地址匹配的统一依据。",
        """
        地址编码:C30
        标准地址:C200
        行政区划代码:C12
        街路巷名称:C100
        门牌号:C20
        楼栋号:C20
        地名类别:C4
        经度:N12:CGCS2000
        纬度:N12:CGCS2000
        命名日期:D
        """,
        detail="PostgreSQL/PostGIS",
        methods=("table", "service"),
        freq="weekly",
        open="unconditional",
        domain="geography",
    ),
    # --- base catalog: e-licences (电子证照) ---------------------------------------------------
    base(
        "scjg_licence",
        "scjg",
        "e_licence",
        "营业执照电子证照",
        "市场监管部门核发的营业执照电子证照，与纸质执照同步生成，可在线核验和调用。",
        """
        证照编号:C40
        统一社会信用代码:C18
        企业名称:C200
        法定代表人:C50
        类型:C50
        住所:C200
        注册资本:N18:单位：万元
        成立日期:D
        发证机关:C100
        发证日期:D
        证照文件:G:OFD版式文件
        """,
        fmt="electronic_file",
        detail="OFD",
        methods=("service",),
        freq="realtime",
        timeliness="实时",
        domain="enterprise_registration",
        related=("scjg_enterprise",),
    ),
    base(
        "gaj_driving",
        "gaj",
        "e_licence",
        "机动车驾驶证电子证照",
        "公安交管部门核发的机动车驾驶证电子证照，支持亮证和扫码核验。",
        """
        驾驶证号:C18
        *姓名:C50
        性别:C1
        准驾车型:C10
        初次领证日期:D
        有效期起始日期:D
        有效期限:C10:6年/10年/长期
        发证机关:C100
        档案编号:C12
        证照状态:C2
        """,
        fmt="electronic_file",
        detail="OFD",
        methods=("service",),
        freq="realtime",
        timeliness="实时",
        domain="transport",
    ),
    base(
        "wjw_hospital",
        "wjw",
        "e_licence",
        "医疗机构执业许可证信息",
        "卫生健康部门核发的医疗机构执业许可证及其校验情况。",
        """
        登记号:C30
        机构名称:C200
        统一社会信用代码:C18
        法定代表人:C50
        主要负责人:C50
        地址:C200
        诊疗科目:C1000
        床位数:I
        所有制形式:C2
        发证机关:C100
        有效期限自:D
        有效期限至:D
        """,
        detail="PostgreSQL",
        freq="weekly",
        timeliness="T+5",
        open="unconditional",
        domain="health",
    ),
    base(
        "jyj_school_licence",
        "jyj",
        "e_licence",
        "民办学校办学许可证信息",
        "教育部门审批的民办学校（含幼儿园、培训机构）办学许可证信息。",
        """
        办学许可证编号:C30
        学校名称:C200
        统一社会信用代码:C18
        举办者:C200
        校长:C50
        办学地址:C200
        办学类型:C20
        办学内容:C500
        审批机关:C100
        发证日期:D
        有效期至:D
        """,
        detail="MySQL",
        freq="monthly",
        timeliness="每月5日前更新上月数据",
        open="unconditional",
        domain="education",
    ),
    base(
        "zjj_qualification",
        "zjj",
        "e_licence",
        "建筑业企业资质证书信息",
        "住建部门核发的建筑业企业资质证书，含资质类别、等级和有效期。",
        """
        证书编号:C30
        企业名称:C200
        统一社会信用代码:C18
        法人代表:C50
        资质类别及等级:C500
        注册地址:C200
        发证机关:C100
        发证日期:D
        有效期至:D
        """,
        detail="SQL Server",
        freq="weekly",
        open="unconditional",
        domain="economy",
    ),
    base(
        "sthj_permit",
        "sthj",
        "e_licence",
        "排污许可证信息",
        "生态环境部门核发的排污许可证，含行业类别、排放方式和有效期。",
        """
        许可证编号:C30
        单位名称:C200
        统一社会信用代码:C18
        行业类别:C50
        生产经营场所地址:C200
        主要污染物类别:C200
        排放方式:C50
        排污口数量:I
        有效期限自:D
        有效期限至:D
        发证机关:C100
        发证日期:D
        """,
        detail="MySQL",
        freq="weekly",
        open="unconditional",
        domain="environment",
    ),
    base(
        "jtj_transport_licence",
        "jtj",
        "e_licence",
        "道路运输经营许可证信息",
        "交通运输部门核发的道路旅客运输、货物运输经营许可证信息。",
        """
        经营许可证号:C30
        业户名称:C200
        统一社会信用代码:C18
        法定代表人:C50
        经营范围:C500
        经营地址:C200
        发证机关:C100
        核发日期:D
        有效期至:D
        证件状态:C2
        """,
        detail="Oracle",
        freq="weekly",
        open="unconditional",
        domain="transport",
    ),
    base(
        "scjg_food_licence",
        "scjg",
        "e_licence",
        "食品经营许可证信息",
        "市场监管部门核发的食品经营许可证，含主体业态和经营项目。",
        """
        许可证编号:C20
        经营者名称:C200
        社会信用代码:C18
        法定代表人:C50
        住所:C200
        经营场所:C200
        主体业态:C50
        经营项目:C500
        日常监督管理机构:C100
        发证机关:C100
        签发日期:D
        有效期至:D
        """,
        detail="Oracle",
        timeliness="T+1",
        open="unconditional",
        domain="health",
    ),
    # --- theme catalog: 营商环境 --------------------------------------------------------------
    theme(
        "scjg_startup",
        "scjg",
        "营商环境",
        "企业开办“一件事”办件信息",
        "企业开办“一件事一次办”的办件信息，记录设立登记、印章刻制、涉税、社保登记各环节办结时间。",
        """
        办件编号:C30
        企业名称:C200
        统一社会信用代码:C18
        申请日期:D
        设立登记办结日期:D
        印章刻制办结日期:D
        涉税事项办结日期:D
        社保登记办结日期:D
        全流程用时:N5:单位：工作日
        办理渠道:C10:线上/线下
        """,
        detail="MySQL",
        timeliness="T+1",
        domain="enterprise_registration",
        related=("scjg_enterprise",),
    ),
    theme(
        "scjg_abnormal",
        "scjg",
        "营商环境",
        "企业经营异常名录信息",
        "依照《企业经营异常名录管理办法》列入、移出经营异常名录的企业信息。",
        """
        统一社会信用代码:C18
        企业名称:C200
        列入日期:D
        列入原因:C500
        作出决定机关:C100
        移出日期:D
        移出原因:C500
        """,
        detail="Oracle",
        timeliness="T+1",
        open="unconditional",
        domain="credit",
    ),
    theme(
        "swj_new_taxpayer",
        "swj",
        "营商环境",
        "新办纳税人“套餐式”服务信息",
        "新办纳税人一次办结登记信息确认、发票领用、税控设备发行等事项的办理信息。",
        """
        纳税人识别号:C20
        纳税人名称:C200
        办理日期:D
        发票种类核定:C200
        税控设备发行:C1:是/否
        办理渠道:C10
        主管税务所:C100
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于企业开办“一件事”全流程监测，只提供办理环节和日期，不含发票数据",
        basis=TAX_LAW,
        scope=CONDITIONAL_SCOPE,
        timeliness="T+1",
        domain="finance",
    ),
    theme(
        "rsj_job_subsidy",
        "rsj",
        "营商环境",
        "失业保险稳岗返还发放信息",
        "向符合条件的参保企业发放失业保险稳岗返还资金的信息，按批次公示。",
        """
        统一社会信用代码:C18
        单位名称:C200
        参保职工人数:I
        返还金额:N12:单位：元
        发放批次:C20
        发放日期:D
        """,
        fmt="spreadsheet",
        detail="Excel",
        methods=("file",),
        freq="quarterly",
        open="unconditional",
        domain="employment",
    ),
    theme(
        "xzsp_construction",
        "xzsp",
        "营商环境",
        "工程建设项目审批办件信息",
        "工程建设项目审批管理系统中立项用地规划、工程建设许可、施工许可、竣工验收四个阶段的办件信息。",
        """
        项目代码:C24
        项目名称:C200
        建设单位:C200
        统一社会信用代码:C18
        审批阶段:C2
        审批事项名称:C200
        受理日期:D
        办结日期:D
        审批结果:C2
        审批部门:C100
        """,
        detail="人大金仓KingbaseES",
        timeliness="T+1",
        domain="economy",
    ),
    # --- theme catalog: 一老一小 ---------------------------------------------------------------
    theme(
        "mzj_elderly_home",
        "mzj",
        "一老一小",
        "养老机构信息",
        "全市备案的养老机构基本情况、床位和运营状态。",
        """
        机构名称:C200
        统一社会信用代码:C18
        法定代表人:C50
        地址:C200
        床位数:I
        护理型床位数:I
        收住对象:C100
        备案日期:D
        运营状态:C2
        联系电话:C20
        """,
        detail="MySQL",
        freq="monthly",
        open="unconditional",
        domain="social_security",
    ),
    theme(
        "mzj_elderly_allowance",
        "mzj",
        "一老一小",
        "高龄津贴发放信息",
        "全市80周岁以上老年人高龄津贴的按月发放信息。",
        """
        *姓名:C50
        *身份证号:C18
        出生日期:D
        *户籍所在地:C200
        津贴标准:N8:单位：元/月
        发放月份:C6
        发放金额:N10:单位：元
        发放方式:C10
        所属乡镇（街道）:C100
        """,
        detail="MySQL",
        share="conditional",
        conditions="用于老年人优待、养老服务补贴审核，按人核验，不批量导出",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        timeliness="每月10日前更新上月发放数据",
        domain="social_security",
        related=("gaj_population", "mzj_cremation"),
    ),
    theme(
        "wjw_childcare",
        "wjw",
        "一老一小",
        "托育机构备案信息",
        "全市备案的托育机构及其托位、收托月龄和服务类型。",
        """
        机构名称:C200
        统一社会信用代码:C18
        举办者:C200
        地址:C200
        托位数:I
        收托月龄范围:C20
        服务类型:C20:全日托/半日托/计时托/临时托
        备案日期:D
        备案机关:C100
        """,
        detail="PostgreSQL",
        freq="monthly",
        open="unconditional",
        domain="health",
    ),
    theme(
        "jyj_kindergarten",
        "jyj",
        "一老一小",
        "幼儿园基本信息",
        "全市公办和民办幼儿园的办园性质、规模、师资和等级评定。",
        """
        幼儿园名称:C200
        学校标识码:C10
        办园性质:C2:公办/普惠性民办/其他民办
        地址:C200
        班级数:I
        在园幼儿数:I
        专任教师数:I
        等级评定:C10
        行政区划代码:C12
        """,
        detail="MySQL",
        freq="half_yearly",
        timeliness="每学期开学后1个月内",
        open="unconditional",
        domain="education",
    ),
    theme(
        "ybj_resident",
        "ybj",
        "一老一小",
        "城乡居民医保参保缴费信息（老年人和学生儿童）",
        "60周岁以上老年人和在校学生、未成年人参加城乡居民基本医疗保险的参保缴费信息。",
        """
        *姓名:C50
        *公民身份号码:C18
        参保人员类别:C2:老年人/学生儿童
        参保日期:D
        缴费年度:N4
        个人缴费金额:N10:单位：元
        财政补助金额:N10:单位：元
        参保状态:C2
        参保地行政区划代码:C12
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于参保扩面核查和资助参保对象核对，按人核验",
        basis=SOCIAL_INSURANCE_LAW + "；" + PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="social_security",
    ),
    theme(
        "wjw_vaccination",
        "wjw",
        "一老一小",
        "儿童预防接种信息",
        "0至6岁儿童免疫规划疫苗接种记录，用于入托入学查验预防接种证。",
        """
        *儿童姓名:C50
        *身份证件号码:C18
        出生日期:D
        疫苗名称:C100
        剂次:I
        接种日期:D
        接种单位:C100
        """,
        detail="PostgreSQL",
        share="conditional",
        conditions="仅用于托育机构、幼儿园和小学入托入学查验接种证，不含其他健康信息",
        basis=HEALTH_LAW + "；" + MINORS,
        scope=CONDITIONAL_SCOPE,
        methods=("service",),
        domain="health",
    ),
    # --- department catalog: 市公安局 ----------------------------------------------------------
    dept(
        "gaj_migration",
        "gaj",
        "户籍迁移信息",
        "全市户口迁入、迁出登记信息，含迁移类型、原因和迁出迁入地。",
        """
        *姓名:C50
        *公民身份号码:C18
        迁移类型:C1:迁入/迁出
        迁移原因:C2
        迁出地行政区划代码:C12
        *迁出地详址:C200
        迁入地行政区划代码:C12
        *迁入地详址:C200
        准迁证编号:C20
        迁移日期:D
        办理派出所:C100
        """,
        detail="Oracle",
        share="conditional",
        conditions="限于社会保障、义务教育入学、住房保障等法定职责；按需申请所需信息项",
        basis=PIPL + "；《中华人民共和国户口登记条例》",
        scope=CONDITIONAL_SCOPE,
        timeliness="T+1",
        related=("gaj_population",),
    ),
    dept(
        "gaj_vehicle",
        "gaj",
        "机动车登记信息",
        "本市登记的机动车注册、转移、变更、抵押和注销登记信息。",
        """
        号牌号码:C15
        号牌种类:C2
        车辆识别代号:C17
        车辆类型:C3
        品牌型号:C100
        使用性质:C2
        *机动车所有人:C100
        *所有人身份证明号码:C20
        初次登记日期:D
        检验有效期止:D
        机动车状态:C2
        登记机关:C100
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于社会救助家庭经济状况核对、车辆税费征管等法定职责；所有人身份信息按人核验",
        basis=PIPL + "；《机动车登记规定》",
        scope=CONDITIONAL_SCOPE,
        timeliness="T+1",
        domain="transport",
    ),
    dept(
        "gaj_driver",
        "gaj",
        "机动车驾驶人信息",
        "本市机动车驾驶人的准驾车型、记分和驾驶证状态。",
        """
        驾驶证号码:C18
        *姓名:C50
        准驾车型:C10
        累积记分:I
        驾驶证状态:C2
        清分日期:D
        有效期止:D
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于道路运输从业人员资格管理和网约车驾驶员审核",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        domain="transport",
        related=("gaj_driving",),
    ),
    dept(
        "gaj_residence_permit",
        "gaj",
        "流动人口居住登记信息",
        "在本市居住半年以上的非户籍人口居住登记和居住证办理信息。",
        """
        *姓名:C50
        *公民身份号码:C18
        *现住址:C200
        *户籍地址:C200
        居住事由:C2
        居住证号码:C20
        登记日期:D
        有效期至:D
        *联系电话:C20
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于随迁子女入学、居住证持有人公共服务资格审核",
        basis=PIPL + "；《居住证暂行条例》",
        scope=CONDITIONAL_SCOPE,
        related=("gaj_population",),
    ),
    dept(
        "gaj_temporary",
        "gaj",
        "暂住人口登记信息（历史数据）",
        "2016年居住证制度实施前登记的暂住人口和暂住证信息，已停止新增。",
        """
        *姓名:C50
        *身份证号码:C18
        *暂住地址:C200
        暂住事由:C2
        暂住证编号:C20
        登记日期:D
        有效期至:D
        """,
        detail="Oracle",
        share="conditional",
        conditions="仅用于历史居住年限核实",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="irregular",
        related=("gaj_residence_permit",),
    ),
    dept(
        "gaj_portrait",
        "gaj",
        "居民身份证制证照片信息",
        "居民身份证办理时采集的人像照片；只提供“人像比对核验”结果，不提供照片本身。",
        """
        *公民身份号码:C18
        *人像照片:G:JPEG
        采集日期:D
        制证机关:C100
        """,
        fmt="image",
        detail="JPEG",
        share="not_shared",
        basis="《中华人民共和国居民身份证法》第六条第三款；" + PIPL_SENSITIVE,
        scope="不予共享；身份核验需求通过人像比对核验服务办理",
        methods=("offline",),
        offline_reason="照片属生物识别信息，不在平台共享；确因法定职责需要的，经协商以核验结果方式提供并备案",
        freq="irregular",
        domain="safety",
        related=("gaj_population",),
    ),
    # --- department catalog: 市市场监管局 ------------------------------------------------------
    dept(
        "scjg_penalty",
        "scjg",
        "行政处罚信息",
        "市场监管部门作出的行政处罚决定信息，依法在作出决定之日起7个工作日内公示。",
        """
        行政处罚决定书文号:C50
        当事人名称:C200
        统一社会信用代码:C18
        法定代表人:C50
        违法行为类型:C100
        违法事实:C2000
        处罚依据:C1000
        处罚类别:C50
        罚款金额:N14:单位：元
        处罚决定日期:D
        处罚机关:C100
        公示截止期:D
        """,
        detail="Oracle",
        timeliness="决定作出后7个工作日内",
        open="unconditional",
        domain="credit",
        related=("scjg_enterprise",),
    ),
    dept(
        "scjg_annual_report",
        "scjg",
        "企业年度报告信息",
        "企业按《企业信息公示暂行条例》报送的年度报告，含从业人数和资产经营状况。",
        """
        统一社会信用代码:C18
        企业名称:C200
        报告年度:N4
        从业人数:I
        资产总额:N18:单位：万元
        营业总收入:N18:单位：万元
        纳税总额:N18:单位：万元
        企业通信地址:C200
        报送日期:D
        """,
        detail="Oracle",
        freq="yearly",
        timeliness="每年7月15日年报截止后1个月内",
        domain="enterprise_registration",
        related=("scjg_enterprise",),
    ),
    dept(
        "scjg_special_equipment",
        "scjg",
        "特种设备使用登记信息",
        "锅炉、压力容器、电梯、起重机械等特种设备的使用登记和定期检验信息。",
        """
        使用登记证编号:C30
        设备类别:C20
        设备代码:C30
        使用单位名称:C200
        统一社会信用代码:C18
        设备使用地点:C200
        下次检验日期:D
        登记机关:C100
        登记日期:D
        """,
        detail="MySQL",
        freq="weekly",
        domain="safety",
    ),
    # --- department catalog: 市民政局 ----------------------------------------------------------
    dept(
        "mzj_marriage",
        "mzj",
        "婚姻登记信息",
        "全市婚姻登记机关办理的结婚、离婚和补领婚姻登记证信息，覆盖2003年以来的电子档案。",
        """
        登记类别:C1:结婚/离婚/补领
        登记日期:D
        结婚证字号:C30
        *男方姓名:C50
        *男方身份证件号码:C18
        *女方姓名:C50
        *女方身份证件号码:C18
        婚姻状态:C2
        登记机关:C100
        """,
        detail="MySQL",
        share="conditional",
        conditions="用于不动产登记、住房公积金提取、户籍办理等须核验婚姻状况的法定职责；"
        "以按人核验服务提供，不批量提供",
        basis="《婚姻登记条例》；《婚姻登记档案管理办法》；" + PIPL,
        scope=CONDITIONAL_SCOPE,
        methods=("service",),
        timeliness="登记后1个工作日内",
        related=("gaj_population",),
    ),
    dept(
        "mzj_low_income",
        "mzj",
        "最低生活保障对象信息",
        "城乡最低生活保障家庭及成员的保障类别、金额和保障期间。",
        """
        *户主姓名:C50
        *户主身份证号:C18
        家庭人口数:I
        *保障对象姓名:C50
        *保障对象身份证号:C18
        保障类别:C1:城市/农村
        月保障金额:N10:单位：元
        保障起始日期:D
        所属乡镇（街道）:C100
        行政区划代码:C12
        保障状态:C2
        """,
        detail="MySQL",
        share="conditional",
        conditions="用于医疗救助、教育资助、住房保障等救助衔接和资格核对；不得对外公开",
        basis=PIPL + "；《社会救助暂行办法》",
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="social_security",
        related=("gaj_population",),
    ),
    dept(
        "qs_mzj_left_behind",
        "qs_mzj",
        "青山县农村留守儿童信息",
        "青山县农村留守儿童的基本情况、监护和关爱帮扶信息。",
        """
        *儿童姓名:C50
        *身份证号:C18
        出生日期:D
        就读学校:C100
        *监护人姓名:C50
        监护类型:C2
        *监护人联系电话:C20
        帮扶责任人:C50
        """,
        fmt="spreadsheet",
        detail="Excel",
        share="conditional",
        conditions="仅用于未成年人关爱保护工作，经县民政局同意后按需提供",
        basis=MINORS,
        scope=CONDITIONAL_SCOPE,
        methods=("file",),
        freq="quarterly",
        domain="social_security",
    ),
    # --- department catalog: 市人社局 ----------------------------------------------------------
    dept(
        "rsj_insured",
        "rsj",
        "社会保险参保信息",
        "企业职工养老、工伤、失业保险和机关事业单位养老保险的参保缴费信息。",
        """
        *姓名:C50
        *社会保障号码:C18
        *身份证件号码:C18
        参保险种:C3
        参保状态:C2
        参保日期:D
        单位名称:C200
        统一社会信用代码:C18
        缴费基数:N12:单位：元
        最近缴费月份:C6
        参保地行政区划代码:C12
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于社会救助、就业补贴、人才引进等资格核对；缴费基数仅提供给税务和医保部门",
        basis=SOCIAL_INSURANCE_LAW + "；" + PIPL,
        scope=CONDITIONAL_SCOPE,
        methods=("table", "service"),
        timeliness="T+1",
        domain="social_security",
        related=("gaj_population",),
    ),
    dept(
        "rsj_employment",
        "rsj",
        "就业登记信息",
        "劳动者就业登记和用人单位招用人员备案信息。",
        """
        *姓名:C50
        *身份证件号码:C18
        就业登记日期:D
        单位名称:C200
        统一社会信用代码:C18
        就业形式:C2
        劳动合同起始日期:D
        劳动合同终止日期:D
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于就业补贴、人才政策和社会救助资格审核",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        domain="employment",
    ),
    dept(
        "rsj_qualification",
        "rsj",
        "技能人员职业资格证书信息",
        "人社部门核发的技能人员职业资格证书（国家职业资格）信息。",
        """
        证书编号:C30
        *姓名:C50
        *身份证号码:C18
        职业（工种）名称:C100
        等级:C10
        发证日期:D
        发证机关:C100
        """,
        detail="Oracle",
        freq="monthly",
        domain="employment",
    ),
    dept(
        "rsj_skill_level",
        "rsj",
        "职业技能等级证书信息",
        "经备案的用人单位和社会培训评价组织颁发的职业技能等级证书信息。",
        """
        证书编号:C30
        *姓名:C50
        *身份证件号码:C18
        职业（工种）名称:C100
        技能等级:C10
        评价机构:C200
        发证日期:D
        """,
        detail="Oracle",
        freq="monthly",
        domain="employment",
        related=("rsj_qualification",),
    ),
    # --- department catalog: 市自然资源和规划局 --------------------------------------------------
    dept(
        "zrzy_realty",
        "zrzy",
        "不动产登记信息",
        "全市土地、房屋等不动产的首次、转移、变更、抵押和查封登记信息。",
        """
        不动产单元号:C28
        不动产权证书号:C50
        坐落:C200
        *权利人:C200
        *证件号码:C30
        共有情况:C20
        权利类型:C2
        权利性质:C2
        用途:C50
        面积:N14:单位：平方米
        使用期限:C50
        登记日期:D
        登记机构:C100
        抵押状态:C1
        查封状态:C1
        """,
        detail="达梦DM8",
        share="conditional",
        conditions="用于住房保障、社会救助家庭经济状况核对、税收征管、住房公积金等法定职责；"
        "不得用于申请以外的目的",
        basis="《不动产登记暂行条例》第二十七条、第二十八条；《不动产登记资料查询暂行办法》",
        scope=CONDITIONAL_SCOPE,
        timeliness="登簿后1个工作日内",
        domain="geography",
        related=("mzj_address",),
    ),
    dept(
        "zrzy_land_supply",
        "zrzy",
        "国有建设用地供应信息",
        "以划拨、出让等方式供应国有建设用地的结果信息。",
        """
        电子监管号:C30
        项目名称:C200
        项目位置:C200
        面积:N14:单位：公顷
        土地用途:C50
        供地方式:C10
        成交价格:N14:单位：万元
        土地使用权人:C200
        合同签订日期:D
        约定开工日期:D
        """,
        fmt="spreadsheet",
        detail="Excel",
        methods=("file",),
        freq="monthly",
        open="unconditional",
        domain="geography",
    ),
    # --- department catalog: 市卫健委 ----------------------------------------------------------
    dept(
        "wjw_infectious",
        "wjw",
        "法定传染病个案报告信息",
        "医疗机构报告的法定传染病个案信息；汇总统计数据另行公开。",
        """
        报告卡编号:C30
        *患者姓名:C50
        *身份证件号码:C18
        疾病名称:C50
        发病日期:D
        诊断日期:D
        报告单位:C100
        *现住址:C200
        """,
        detail="PostgreSQL",
        share="not_shared",
        basis="《中华人民共和国传染病防治法》第十二条；" + HEALTH_LAW,
        scope="不予共享",
        methods=("offline",),
        offline_reason="涉及个人隐私，不在平台共享；突发公共卫生事件应急处置需要的，经市卫健委批准后以介质方式提供",
        freq="realtime",
        domain="health",
    ),
    dept(
        "wjw_physician",
        "wjw",
        "医师执业注册信息",
        "在本市注册执业的医师及其执业类别、范围和执业机构。",
        """
        *姓名:C50
        *身份证件号码:C18
        医师资格证书编码:C30
        执业证书编码:C30
        执业类别:C10
        执业范围:C100
        主要执业机构:C200
        注册日期:D
        发证机关:C100
        """,
        detail="PostgreSQL",
        freq="weekly",
        open="conditional",
        open_conditions="仅开放姓名、执业类别、执业范围和执业机构；身份证件号码不开放",
        domain="health",
        related=("wjw_hospital",),
    ),
    # --- department catalog: 市教育局 ----------------------------------------------------------
    dept(
        "jyj_student",
        "jyj",
        "中小学学籍信息",
        "全市中小学在籍学生的学籍、就读学校和学籍变动信息。",
        """
        全国学籍号:C19
        *姓名:C50
        *身份证件号码:C18
        性别:C1
        出生日期:D
        学校名称:C200
        学校标识码:C10
        年级:C10
        入学年月:C6
        学籍状态:C2
        *监护人姓名:C50
        *监护人联系电话:C20
        """,
        detail="MySQL",
        share="conditional",
        conditions="用于教育资助、随迁子女服务、控辍保学核查；只提供所需信息项",
        basis=MINORS + "；《中小学生学籍管理办法》",
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="education",
    ),
    # --- department catalog: 市税务局 ----------------------------------------------------------
    dept(
        "swj_credit",
        "swj",
        "纳税信用等级信息",
        "纳税人年度纳税信用评价结果；A级纳税人名单按年向社会公布。",
        """
        纳税人识别号:C20
        纳税人名称:C200
        评价年度:N4
        信用等级:C1:A/B/M/C/D
        评价得分:N5
        评价日期:D
        主管税务机关:C100
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于守信联合激励和失信联合惩戒；A级以外的评价结果只提供给相关联合奖惩部门",
        basis=TAX_LAW + "；《纳税信用管理办法（试行）》",
        scope=CONDITIONAL_SCOPE,
        freq="yearly",
        timeliness="评价结果发布后10个工作日内",
        domain="credit",
        related=("swj_taxpayer",),
    ),
    dept(
        "swj_tax_paid",
        "swj",
        "企业纳税缴款信息",
        "单位纳税人分税种的缴款入库信息。",
        """
        纳税人识别号:C20
        社会信用代码:C18
        纳税人名称:C200
        税种:C10
        所属期起:D
        所属期止:D
        实缴金额:N18:单位：元
        入库日期:D
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于招商引资政策兑现、企业贡献评价等，须经纳税人授权或依法定职责申请",
        basis=TAX_LAW,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="finance",
        related=("swj_taxpayer",),
    ),
    # --- department catalog: 市住建局 ----------------------------------------------------------
    dept(
        "zjj_presale",
        "zjj",
        "商品房预售许可信息",
        "全市商品房预售许可证核发信息及预售资金监管账户。",
        """
        预售许可证号:C30
        项目名称:C200
        开发企业名称:C200
        统一社会信用代码:C18
        坐落:C200
        预售楼栋:C200
        预售套数:I
        预售面积:N14:单位：平方米
        预售资金监管银行:C100
        发证日期:D
        """,
        detail="SQL Server",
        freq="weekly",
        open="unconditional",
        domain="economy",
    ),
    dept(
        "zjj_contract",
        "zjj",
        "商品房买卖合同网签备案信息",
        "新建商品房和存量房买卖合同网签备案信息。",
        """
        合同备案号:C30
        项目名称:C200
        房屋坐落:C200
        不动产单元代码:C28
        建筑面积:N10:单位：平方米
        合同总价:N14:单位：元
        *买受人姓名:C200
        *买受人证件号码:C30
        备案日期:D
        """,
        detail="SQL Server",
        share="conditional",
        conditions="用于住房公积金贷款、契税征收和不动产登记",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        domain="economy",
        related=("zjj_presale",),
    ),
    # --- department catalog: 市交通运输局 ------------------------------------------------------
    dept(
        "jtj_bus",
        "jtj",
        "公交线路及站点信息",
        "全市公交线路、站点位置和首末班时间。",
        """
        线路编号:C10
        线路名称:C50
        站点序号:I
        站点名称:C50
        经度:N12
        纬度:N12
        首班时间:C5
        末班时间:C5
        票价:N5:单位：元
        """,
        fmt="spreadsheet",
        detail="CSV",
        methods=("file",),
        freq="monthly",
        open="unconditional",
        domain="transport",
    ),
    dept(
        "jtj_ride_hailing",
        "jtj",
        "网络预约出租汽车驾驶员证信息",
        "交通运输部门核发的网络预约出租汽车驾驶员证信息。",
        """
        驾驶员证号:C30
        *姓名:C50
        *身份证号码:C18
        驾驶证号码:C18
        服务平台:C100
        发证日期:D
        有效期至:D
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于网约车行业监管和交通执法",
        basis=PIPL + "；《网络预约出租汽车经营服务管理暂行办法》",
        scope=CONDITIONAL_SCOPE,
        domain="transport",
        related=("gaj_driver",),
    ),
    # --- department catalog: 市生态环境局 ------------------------------------------------------
    dept(
        "sthj_air",
        "sthj",
        "环境空气质量监测数据",
        "全市国控、省控空气质量自动监测站的小时监测数据。",
        """
        监测点位名称:C50
        监测时间:T
        PM2.5浓度:N6:微克/立方米
        PM10浓度:N6:微克/立方米
        二氧化硫浓度:N6:微克/立方米
        二氧化氮浓度:N6:微克/立方米
        臭氧浓度:N6:微克/立方米
        一氧化碳浓度:N6:毫克/立方米
        空气质量指数:I
        首要污染物:C20
        """,
        fmt="service_interface",
        detail="RESTful JSON",
        methods=("service",),
        freq="realtime",
        timeliness="每小时",
        open="unconditional",
        domain="environment",
    ),
    dept(
        "sthj_eia",
        "sthj",
        "建设项目环境影响评价审批信息",
        "建设项目环境影响报告书（表）的审批结果。",
        """
        项目名称:C200
        建设单位:C200
        统一社会信用代码:C18
        建设地点:C200
        环评类别:C10:报告书/报告表
        审批文号:C50
        审批日期:D
        审批部门:C100
        """,
        detail="MySQL",
        freq="weekly",
        open="unconditional",
        domain="environment",
    ),
    # --- department catalog: 市医保局 ----------------------------------------------------------
    dept(
        "ybj_insured",
        "ybj",
        "基本医疗保险参保信息",
        "职工和城乡居民基本医疗保险的参保状态和待遇享受信息。",
        """
        *姓名:C50
        *公民身份号码:C18
        险种类型:C3
        参保状态:C2
        参保日期:D
        单位名称:C200
        参保地行政区划代码:C12
        待遇享受状态:C2
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于参保扩面、社会救助资助参保和死亡人员停保核对",
        basis=SOCIAL_INSURANCE_LAW + "；" + PIPL,
        scope=CONDITIONAL_SCOPE,
        methods=("table", "service"),
        domain="social_security",
        related=("gaj_population",),
    ),
    dept(
        "ybj_settlement",
        "ybj",
        "医疗费用结算信息",
        "定点医药机构医疗费用的医保结算明细（按人次）。",
        """
        结算编号:C30
        *姓名:C50
        *公民身份号码:C18
        定点机构名称:C200
        就诊类别:C2
        结算日期:D
        医疗费用总额:N12:单位：元
        基金支付金额:N12:单位：元
        个人负担金额:N12:单位：元
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于医疗救助“一站式”结算和因病致贫返贫监测，只提供费用金额，不含诊疗明细",
        basis=PIPL_SENSITIVE + "；" + HEALTH_LAW,
        scope=CONDITIONAL_SCOPE,
        domain="health",
    ),
    # --- department catalog: 市公积金中心 ------------------------------------------------------
    dept(
        "gjj_deposit",
        "gjj",
        "住房公积金缴存信息",
        "全市住房公积金缴存单位和个人的缴存基数、月缴存额和账户状态。",
        """
        *姓名:C50
        *身份证号码:C18
        个人账号:C20
        单位名称:C200
        统一社会信用代码:C18
        缴存基数:N12:单位：元
        月缴存额:N10:单位：元
        缴存状态:C2
        开户日期:D
        最近缴存月份:C6
        *账户余额:N14:单位：元
        """,
        detail="Oracle",
        timeliness="T+1",
        domain="finance",
        related=("rsj_insured",),
    ),
    dept(
        "gjj_loan",
        "gjj",
        "住房公积金个人贷款信息",
        "住房公积金个人住房贷款的发放、还款和结清信息。",
        """
        贷款合同号:C30
        *借款人姓名:C50
        *借款人身份证号码:C18
        贷款金额:N14:单位：元
        贷款期限:I:单位：月
        放款日期:D
        贷款余额:N14:单位：元
        还款状态:C2
        不动产单元号:C28
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于住房保障资格审核和不动产抵押登记核对",
        basis=PIPL_SENSITIVE,
        scope=CONDITIONAL_SCOPE,
        domain="finance",
        related=("zrzy_realty",),
    ),
    # --- department catalog: 市行政审批局 ------------------------------------------------------
    dept(
        "xzsp_permit",
        "xzsp",
        "行政许可办件信息",
        "市行政审批服务局集中办理的行政许可事项办件信息，按“双公示”要求公示许可结果。",
        """
        办件编号:C30
        事项名称:C200
        事项编码:C30
        申请人名称:C200
        申请人证件号码:C30
        受理日期:D
        办结日期:D
        办理结果:C2
        许可证书编号:C50
        许可机关:C100
        许可有效期至:D
        """,
        detail="人大金仓KingbaseES",
        timeliness="办结后1个工作日内",
        open="conditional",
        open_conditions="申请人为自然人的，姓名和证件号码脱敏后公示",
        related=("scjg_enterprise",),
    ),
    dept(
        "xzsp_rating",
        "xzsp",
        "政务服务“好差评”信息",
        "企业和群众对政务服务事项的评价及差评整改情况。",
        """
        评价编号:C30
        事项名称:C200
        办理部门:C100
        评价渠道:C10
        评价等级:C1:1至5
        评价日期:D
        整改情况:C500
        """,
        fmt="spreadsheet",
        detail="Excel",
        methods=("file",),
        freq="monthly",
        domain="public_administration",
    ),
    # --- department catalog: 市发改委、市财政局 -------------------------------------------------
    dept(
        "fgw_projects",
        "fgw",
        "固定资产投资项目审批核准备案信息",
        "企业和政府投资项目在投资项目在线审批监管平台的审批、核准、备案结果。",
        """
        项目代码:C24
        项目名称:C200
        项目单位:C200
        统一社会信用代码:C18
        建设地点:C200
        总投资:N14:单位：万元
        审批类型:C2:审批/核准/备案
        批复文号:C50
        批复日期:D
        审批机关:C100
        """,
        detail="Oracle",
        freq="weekly",
        open="unconditional",
        domain="economy",
        related=("xzsp_construction",),
    ),
    dept(
        "czj_budget",
        "czj",
        "部门预决算公开信息",
        "市级部门预算、决算和“三公”经费公开文件。",
        """
        部门名称:C100
        年度:N4
        公开类型:C10:预算/决算
        公开日期:D
        文件名称:C200
        """,
        fmt="electronic_file",
        detail="PDF",
        methods=("file",),
        freq="yearly",
        open="unconditional",
        domain="finance",
    ),
    dept(
        "czj_subsidy",
        "czj",
        "惠民惠农财政补贴资金发放信息",
        "通过“一卡通”发放的惠民惠农补贴资金明细。",
        """
        *姓名:C50
        *身份证号:C18
        补贴项目名称:C100
        补贴金额:N12:单位：元
        发放日期:D
        主管部门:C100
        代发银行:C100
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于补贴资金监管和重复享受核查",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="finance",
    ),
    # --- department catalog: 市供水公司 (SR§31 public-service company) -------------------------
    dept(
        "water_users",
        "water",
        "用水户信息",
        "市供水有限公司供水范围内的用水户、水表和用水性质信息。",
        """
        用户编号:C20
        户名:C100
        *用水地址:C200
        用水性质:C2:居民/非居民/特种
        水表编号:C20
        表具口径:C10
        立户日期:D
        用户状态:C2
        *联系电话:C20
        """,
        detail="SQL Server",
        share="conditional",
        conditions="用于空置房核查、社会救助水费减免和城市管理",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="energy",
    ),
    dept(
        "water_usage",
        "water",
        "居民月度用水量信息",
        "居民用水户按月抄表的用水量和缴费情况。",
        """
        用户编号:C20
        抄表月份:C6
        用水量:N10:单位：立方米
        应缴水费:N10:单位：元
        缴费状态:C2
        欠费月数:I
        """,
        detail="SQL Server",
        share="conditional",
        conditions="用于独居老人异常用水预警和空置房核查",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="energy",
        related=("water_users",),
    ),
    dept(
        "water_quality",
        "water",
        "供水水质检测公告信息",
        "出厂水、管网水水质检测结果，按月公布。",
        """
        检测日期:D
        水样类别:C10:出厂水/管网水
        采样点:C100
        检测指标:C50
        检测结果:N10
        限值:N10
        是否合格:C1
        """,
        fmt="spreadsheet",
        detail="Excel",
        methods=("file",),
        freq="monthly",
        open="unconditional",
        domain="environment",
    ),
    # --- county departments ------------------------------------------------------------------
    dept(
        "qs_mzj_destitute",
        "qs_mzj",
        "青山县特困人员救助供养信息",
        "青山县特困人员的认定、供养方式和供养标准。",
        """
        *姓名:C50
        *身份证号:C18
        供养方式:C1:集中/分散
        基本生活标准:N10:单位：元/月
        照料护理标准:N10:单位：元/月
        认定日期:D
        供养机构:C100
        """,
        detail="MySQL",
        share="conditional",
        conditions="用于医疗救助、临时救助衔接",
        basis=PIPL + "；《社会救助暂行办法》",
        scope=CONDITIONAL_SCOPE,
        freq="monthly",
        domain="social_security",
    ),
    dept(
        "qs_rsj_migrant",
        "qs_rsj",
        "青山县农村劳动力转移就业信息",
        "青山县农村劳动力外出务工和就地就近就业情况。",
        """
        *姓名:C50
        *身份证件号码:C18
        务工地点:C200
        就业行业:C50
        务工起始月份:C6
        是否脱贫人口:C1
        所属乡镇:C100
        """,
        fmt="spreadsheet",
        detail="Excel",
        share="conditional",
        conditions="用于稳就业和防止返贫监测",
        basis=PIPL,
        scope=CONDITIONAL_SCOPE,
        methods=("file",),
        freq="quarterly",
        domain="employment",
    ),
    dept(
        "rsj_unemployment",
        "rsj",
        "失业登记信息",
        "城镇登记失业人员的失业登记、就业困难人员认定和失业保险金领取信息。",
        """
        *姓名:C50
        *身份证件号码:C18
        失业登记日期:D
        失业原因:C2
        就业困难人员类别:C2
        领取失业保险金起止月份:C13
        登记状态:C2
        """,
        detail="Oracle",
        share="conditional",
        conditions="用于社会救助、就业帮扶和公益性岗位安置",
        basis=SOCIAL_INSURANCE_LAW + "；" + PIPL,
        scope=CONDITIONAL_SCOPE,
        domain="employment",
    ),
]


# --- stories: what happened to the resources -------------------------------------------
# Offsets are days before the build day (negative); weekends move back to the Friday.

# Compiled, never submitted: key → day compiled.
DRAFTS = {
    "water_usage": -9,
    "qs_mzj_destitute": -7,
    "czj_subsidy": -5,
    "gjj_loan": -4,
    "sthj_eia": -2,
}
# Submitted and waiting for review: key → (compiled, submitted).
SUBMITTED = {
    "wjw_vaccination": (-12, -5),
    "rsj_unemployment": (-9, -3),
    "fgw_projects": (-6, -2),
    "qs_rsj_migrant": (-4, -1),
}
# Returned with a reason: key → (compiled, submitted, returned, reason).
RETURNED = {
    "jtj_ride_hailing": (
        -30,
        -26,
        -24,
        "“驾驶证号码”与市公安局“机动车驾驶人信息”重复采集，请改为关联该资源；"
        "“身份证号码”应标注为个人信息",
    ),
    "water_quality": (-22, -20, -17, "“检测结果”“限值”缺少计量单位；列入开放前请附保密审查意见"),
    "zjj_contract": (
        -18,
        -15,
        -11,
        "共享条件未写明可申请的具体业务场景；依据应具体到条款（如《个人信息保护法》第十三条第一款第三项）",
    ),
}


@dataclass(frozen=True)
class Revision:
    """A new version of a published resource and what became of it.

    `outcome`: effective (approved long ago, in effect), scheduled (approved this week,
    announced), withdrawn_scheduled, withdrawn_submitted, submitted, returned, draft."""

    note: str
    start: int
    outcome: str = "effective"
    add: str = ""
    changes: dict[str, Any] = field(default_factory=dict)  # fields set in the new version
    justification: str = ""
    comment: str = ""  # the operator's return reason, or the department's withdrawal reason


REVISIONS: dict[str, list[Revision]] = {
    "gaj_population": [
        Revision(
            "按公安部人口信息管理要求，新增“曾用名”“服务处所”信息项",
            start=-96,
            add="""
            *曾用名:C50
            服务处所:C200
            """,
        ),
        Revision(
            "开通人口基本信息核验服务接口；更新周期由每日调整为实时",
            start=-58,
            changes={
                "share_methods": ["table", "service"],
                "update_frequency": "realtime",
                "timeliness": "实时",
            },
        ),
    ],
    "scjg_enterprise": [
        Revision(
            "依据2024年7月1日施行的《中华人民共和国公司法》注册资本认缴登记要求，新增“认缴出资期限”“实缴出资额”信息项",
            start=-90,
            add="""
            认缴出资期限:D
            实缴出资额:N18:单位：万元
            """,
        ),
        Revision(
            "依据《中华人民共和国市场主体登记管理条例》，新增“注销日期”“吊销日期”信息项，便于使用部门及时停止对已注销企业的业务办理",
            start=-8,
            outcome="scheduled",
            add="""
            注销日期:D
            吊销日期:D
            """,
        ),
    ],
    "zrzy_realty": [
        Revision(
            "新增“抵押权人”“被担保主债权数额”信息项，满足公积金贷款和金融服务核验需要",
            start=-84,
            add="""
            抵押权人:C200
            被担保主债权数额:N18:单位：万元
            """,
        ),
        Revision(
            "新增服务接口共享方式（按不动产单元号或权利人证件号码核验）；时效要求调整为登簿后实时",
            start=-44,
            changes={"share_methods": ["table", "service"], "timeliness": "登簿后实时"},
        ),
    ],
    "rsj_insured": [
        Revision(
            "新增“累计缴费月数”“个人缴费状态”信息项，供养老待遇资格认证使用",
            start=-75,
            add="""
            累计缴费月数:I
            个人缴费状态:C2
            """,
        ),
    ],
    "mzj_low_income": [
        Revision(
            "按《最低生活保障审核确认办法》实行分类动态管理，新增“保障人数”“复核周期”信息项",
            start=-66,
            add="""
            保障人数:I
            复核周期:C10:按月/按季/按年
            """,
        ),
    ],
    "jtj_transport_licence": [
        Revision(
            "按交通运输电子证照标准新增“证照标识”“证照状态变更日期”信息项",
            start=-40,
            outcome="withdrawn_scheduled",
            add="""
            证照标识:C64
            证照状态变更日期:D
            """,
            comment="省交通运输厅电子证照标准将于明年修订，待新标准发布后重新提交",
        ),
    ],
    "wjw_hospital": [
        Revision(
            "新增“校验期限”信息项",
            start=-16,
            outcome="withdrawn_submitted",
            add="校验期限:D",
            comment="信息项须与省卫生健康监督平台统一调整，先行撤回",
        ),
    ],
    "sthj_permit": [
        Revision(
            "新增主要污染物“许可排放量”信息项",
            start=-13,
            outcome="returned",
            add="许可排放量:N14:单位：吨/年",
            comment="变更说明未注明新增信息项的数据来源和计量口径，请补充后重新提交",
        ),
    ],
    "gjj_deposit": [
        Revision(
            "共享类型由无条件共享调整为有条件共享，“账户余额”仅提供给住房保障部门",
            start=-6,
            outcome="submitted",
            changes={
                "share_type": "conditional",
                "share_conditions": "用于住房保障资格审核、不动产登记和个人所得税专项附加扣除核验；"
                "“账户余额”仅提供给住房保障部门",
                "legal_basis": PIPL_SENSITIVE + "；《住房公积金管理条例》",
                "share_scope": CONDITIONAL_SCOPE,
            },
            justification="账户余额、月缴存额属金融账户类敏感个人信息，原定无条件共享不符合最小必要原则；"
            "已征求市住建局、市税务局意见，拟调整为有条件共享并报市政府办",
        ),
    ],
    "ybj_insured": [
        Revision(
            "新增“异地就医备案”相关信息项（编制中）",
            start=-3,
            outcome="draft",
            add="""
            异地就医备案地:C100
            备案有效期至:D
            """,
        ),
    ],
}

# Retirements: key → (requested, approved, reason). Approved this week: still announced.
RETIREMENTS = {
    "rsj_qualification": (
        -70,
        -68,
        "水平评价类技能人员职业资格已退出国家职业资格目录，改为职业技能等级认定；"
        "新证书信息见“职业技能等级证书信息”",
    ),
    "gaj_temporary": (
        -6,
        -3,
        "暂住证制度已由居住证制度取代，历史数据已并入“流动人口居住登记信息”",
    ),
}

# Subscribing departments of published resources.
SUBSCRIPTIONS = {
    "gaj_population": ["mzj", "rsj", "wjw", "jyj", "ybj", "gjj", "swj", "zjj", "xzsp", "qs_mzj"],
    "scjg_enterprise": ["swj", "rsj", "xzsp", "zjj", "gjj", "fgw", "czj", "sthj", "water"],
    "mzj_cremation": ["rsj", "ybj", "gjj", "gaj", "qs_rsj"],
    "wjw_birth": ["gaj", "ybj", "jyj"],
    "swj_taxpayer": ["scjg", "rsj", "fgw"],
    "scjg_licence": ["xzsp", "swj"],
    "mzj_marriage": ["gaj", "zrzy", "gjj"],
    "zrzy_realty": ["gjj", "swj", "mzj", "zjj"],
    "rsj_insured": ["ybj", "mzj", "gjj", "swj"],
    "mzj_low_income": ["ybj", "jyj", "zjj", "qs_mzj"],
    "scjg_penalty": ["swj", "fgw"],
    "jtj_transport_licence": ["gaj", "xzsp"],
    "gaj_temporary": ["mzj", "rsj", "jyj"],
    "rsj_qualification": ["xzsp", "jyj"],
    "gjj_deposit": ["zjj", "swj", "mzj"],
    "ybj_insured": ["mzj", "rsj"],
}


# --- building ----------------------------------------------------------------------------


def _workday(day: date) -> date:
    """Weekends move back to the Friday (the story stays in the past, in order)."""
    return day - timedelta(days=max(0, day.weekday() - 4))


class _Builder:
    """Runs the stories through the services as the people of the demo city."""

    def __init__(self, db_session: Session, console: Actor, rules: Rules) -> None:
        self.db = db_session
        self.console = console
        self.rules = rules
        self.today = clock.today()
        self.users = {u.username: u for u in db_session.execute(select(User)).scalars()}
        self.operator = actor_for_user(self.users["operator"])
        self.resources: dict[str, Resource] = {}
        self.specs = {s.key: s for s in RESOURCES}
        self.theme_ids: dict[str, int] = {}
        self.jobs_run_to = date.min
        self.steps: list[tuple[datetime, int, Callable[[], None]]] = []

    # people
    def officer(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_officer"])

    def head(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_head"])

    def org_id(self, dept_key: str) -> int:
        return self.users[f"{dept_key}_officer"].organization_id

    # time
    def moment(self, offset: int, hour: int, minute: int = 0) -> datetime:
        day = _workday(self.today + timedelta(days=offset))
        return datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)

    def at(self, offset: int, hour: int, minute: int, step: Callable[[], None]) -> None:
        self.steps.append((self.moment(offset, hour, minute), len(self.steps), step))

    def run(self) -> None:
        day = date.min
        for when, _, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            if when.date() != day:
                day = when.date()
                self.daily_jobs(until=day)
            with clock.frozen(when):
                step()
        # today's run of the daily job, on the real clock
        resources.apply_due_changes(self.db, actor=self.console)

    def daily_jobs(self, until: date) -> None:
        """The daily job (`apply_due_changes`) on each past day something fell due."""
        while True:
            pending = [
                *self.db.execute(
                    select(ResourceVersion.effective_on).where(
                        ResourceVersion.state == VersionState.SCHEDULED
                    )
                ).scalars(),
                *self.db.execute(
                    select(Resource.retires_on).where(
                        Resource.retirement_state == RetirementState.SCHEDULED
                    )
                ).scalars(),
            ]
            due = sorted(d for d in pending if d is not None and self.jobs_run_to < d <= until)
            if not due:
                return
            with clock.frozen(datetime.combine(due[0], time(0, 30), tzinfo=clock.CITY_TZ)):
                resources.apply_due_changes(self.db, actor=self.console)
            self.jobs_run_to = due[0]

    # steps
    def resource_input(self, spec: Spec) -> ResourceIn:
        kind_item = {
            "base": TOPIC_ITEM.get(spec.topic or ""),
            "theme": THEME_ITEM.get(spec.theme or ""),
            "department": DEPARTMENT_ITEM.get(spec.dept),
        }[spec.kind]
        return ResourceIn.model_validate(
            {
                "catalog_kind": spec.kind,
                "base_topic": spec.topic,
                "theme_id": self.theme_ids[spec.theme] if spec.theme else None,
                "item_code": kind_item,
                "name": spec.name,
                "summary": spec.summary,
                "format": spec.fmt,
                "format_detail": spec.detail,
                "share_type": spec.share,
                "share_conditions": spec.conditions,
                "legal_basis": spec.basis,
                "share_scope": spec.scope,
                "share_methods": list(spec.methods),
                "offline_reason": spec.offline_reason,
                "update_frequency": spec.freq,
                "timeliness": spec.timeliness,
                "open_type": spec.open,
                "open_conditions": spec.open_conditions,
                "domain": spec.domain,
                "related_codes": [self.resources[k].code for k in spec.related],
                "items": parse_items(spec.items),
            }
        )

    def create(self, key: str) -> None:
        spec = self.specs[key]
        self.resources[key] = resources.create_resource(
            self.db, actor=self.officer(spec.dept), data=self.resource_input(spec), rules=self.rules
        )

    def latest(self, key: str) -> ResourceVersion:
        return self.db.execute(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == self.resources[key].id)
            .order_by(ResourceVersion.number.desc())
            .limit(1)
        ).scalar_one()

    def submit(self, key: str, *, by_head: bool = False) -> None:
        dept_key = self.specs[key].dept
        actor = self.head(dept_key) if by_head else self.officer(dept_key)
        resources.submit_version(
            self.db, actor=actor, version_id=self.latest(key).id, rules=self.rules
        )

    def review(self, key: str, comment: str = "", *, approve: bool = True) -> None:
        resources.review_version(
            self.db,
            actor=self.operator,
            version_id=self.latest(key).id,
            decision=ReviewIn(approve=approve, comment=comment),
            rules=self.rules,
        )

    def revise(self, key: str, revision: Revision) -> None:
        actor = self.officer(self.specs[key].dept)
        version = resources.start_revision(self.db, actor=actor, resource_id=self.resources[key].id)
        data = resources.version_input(version)
        data["items"] = [*data["items"], *parse_items(revision.add)]
        data |= revision.changes
        data["change_note"] = revision.note
        data["narrowing_justification"] = revision.justification
        resources.update_draft(
            self.db,
            actor=actor,
            version_id=version.id,
            data=VersionIn.model_validate(data),
            rules=self.rules,
        )

    def withdraw(self, key: str, reason: str) -> None:
        resources.withdraw_version(
            self.db,
            actor=self.officer(self.specs[key].dept),
            version_id=self.latest(key).id,
            reason=reason,
        )

    def subscribe(self, key: str, dept_key: str) -> None:
        subscriptions.subscribe(
            self.db, actor=self.officer(dept_key), resource_id=self.resources[key].id
        )

    def request_retirement(self, key: str, reason: str) -> None:
        resources.request_retirement(
            self.db,
            actor=self.officer(self.specs[key].dept),
            resource_id=self.resources[key].id,
            data=RetirementIn(reason=reason),
        )

    def approve_retirement(self, key: str) -> None:
        resources.review_retirement(
            self.db,
            actor=self.operator,
            resource_id=self.resources[key].id,
            decision=ReviewIn(approve=True, comment="同意下架，已通知订阅部门"),
            rules=self.rules,
        )

    def create_themes(self) -> None:
        for name, description, lead, contributors in THEMES:
            created = themes.create_theme(
                self.db,
                actor=self.operator,
                data=ThemeIn(
                    name=name,
                    description=description,
                    lead_organization_id=self.org_id(lead),
                    contributor_ids=[self.org_id(c) for c in contributors],
                ),
            )
            self.theme_ids[name] = created.id

    # the story, as steps in time
    def plan(self) -> None:
        self.at(-160, 9, 0, self.create_themes)
        unpublished = set(DRAFTS) | set(SUBMITTED) | set(RETURNED)
        published = [s.key for s in RESOURCES if s.key not in unpublished]
        for i, key in enumerate(published):
            day = -155 + i * 45 // len(published)  # compiled over six or seven weeks
            minute = i * 50 // len(published)  # rising with i: same-day steps keep order
            self.at(day, 9, minute, lambda k=key: self.create(k))
            self.at(day + 1, 10, minute, lambda k=key: self.submit(k))
            self.at(day + 3, 15, minute, lambda k=key: self.review(k, "审核通过"))
        for key, day in DRAFTS.items():
            self.at(day, 11, 0, lambda k=key: self.create(k))
        for key, (made, sent) in SUBMITTED.items():
            self.at(made, 11, 0, lambda k=key: self.create(k))
            self.at(sent, 14, 0, lambda k=key: self.submit(k))
        for key, (made, sent, back, reason) in RETURNED.items():
            self.at(made, 11, 0, lambda k=key: self.create(k))
            self.at(sent, 14, 0, lambda k=key: self.submit(k))
            self.at(back, 16, 0, lambda k=key, r=reason: self.review(k, r, approve=False))
        subscribers = [(k, d) for k, depts in SUBSCRIPTIONS.items() for d in depts]
        for i, (key, dept_key) in enumerate(subscribers):
            self.at(
                -105 + i * 10 // len(subscribers),
                10 + i % 6,
                i % 50,
                lambda k=key, d=dept_key: self.subscribe(k, d),
            )
        for key, revisions in REVISIONS.items():
            for revision in revisions:
                self.plan_revision(key, revision)
        for key, (asked, approved, reason) in RETIREMENTS.items():
            self.at(asked, 10, 30, lambda k=key, r=reason: self.request_retirement(k, r))
            self.at(approved, 15, 30, lambda k=key: self.approve_retirement(k))

    def plan_revision(self, key: str, revision: Revision) -> None:
        day, outcome = revision.start, revision.outcome
        self.at(day, 9, 40, lambda: self.revise(key, revision))
        if outcome == "draft":
            return
        narrowing = bool(revision.justification)
        self.at(day + 1, 10, 40, lambda: self.submit(key, by_head=narrowing))
        if outcome == "submitted":
            return
        if outcome == "withdrawn_submitted":
            self.at(day + 4, 11, 40, lambda: self.withdraw(key, revision.comment))
            return
        if outcome == "returned":
            self.at(day + 7, 16, 40, lambda: self.review(key, revision.comment, approve=False))
            return
        self.at(day + 4, 15, 40, lambda: self.review(key, "审核通过，按规定提前一个月通知订阅部门"))
        if outcome == "withdrawn_scheduled":
            self.at(day + 10, 9, 50, lambda: self.withdraw(key, revision.comment))


def build(db_session: Session, actor: Actor) -> None:
    """Creates the demo catalog: themes, resources in every state, versions, subscriptions."""
    builder = _Builder(db_session, actor, load_profile(PROFILE).rules)
    builder.plan()
    builder.run()
