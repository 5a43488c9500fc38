"""Demo sharing (示范资源共享): three months of 江州市's departments using each other's data,
built through the sharing services on top of the demo catalog.

Departments take unconditional resources directly, apply for conditional ones and answer
each other's applications; the operator pre-reviews (Shangrao: 3 working days, then 10 for
the provider, a sealed letter attached). The story leaves applications in every state —
two still open past their deadline today, one answered late — grants suspended, resumed,
ended and about to expire, use feedback, coordination cases, and the providers' data
updates, so that only two departments are behind with their data (SHR-6).

As in `demo.catalog`, the data sits in the tables below and `build` turns them into
time-ordered steps, each run with the clock set to its moment. Office work happens on
working days counted back from the build day with the platform's calendar (holidays
included); nightly synchronisations record data updates on every calendar day; the daily
reminder job runs each working morning. Nothing happens after yesterday except today's sync
and today's reminder run, on the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceStatus,
    ResourceVersion,
    UpdateFrequency,
)
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.policy import Profile, load_profile
from govshare.demo import catalog as catalog_demo
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.sharing import jobs as sharing_jobs
from govshare.sharing.models import Application, Grant, Rating
from govshare.sharing.schemas import (
    ApplicationIn,
    CaseIn,
    DataUpdateIn,
    DecisionIn,
    DirectAccessIn,
    FeedbackIn,
    GrantActionIn,
    MessageIn,
    PreReviewIn,
    RenewalIn,
    SettlementIn,
    Upload,
)
from govshare.sharing.service import applications, cases, deadlines, decisions, freshness, grants

PROFILE = catalog_demo.PROFILE  # Shangrao: pre-review 3 working days, decision 10, sealed letter
PROVIDERS = {spec.key: spec.dept for spec in catalog_demo.RESOURCES}  # resource → department

# --- direct access to unconditional resources (SHR-1) -----------------------------------
# (key, consumer, resource, working days ago, purpose, system)

DIRECT = [
    (
        "rsj_cremation",
        "rsj",
        "mzj_cremation",
        62,
        "核对养老保险待遇领取人员的死亡信息，及时停发养老金，防止冒领",
        "江州市社会保险信息系统",
    ),
    (
        "ybj_cremation",
        "ybj",
        "mzj_cremation",
        61,
        "死亡人员基本医疗保险停保和个人账户清算",
        "江州市医疗保障信息平台",
    ),
    (
        "gaj_birth",
        "gaj",
        "wjw_birth",
        60,
        "新生儿出生登记（落户）时在线核验出生医学证明，群众免于提交纸质证明",
        "江州市公安人口管理信息系统",
    ),
    (
        "xzsp_licence",
        "xzsp",
        "scjg_licence",
        58,
        "政务服务事项办理中调用营业执照电子证照，企业免于提交纸质营业执照",
        "江州市一体化政务服务平台",
    ),
    (
        "zjj_deposit",
        "zjj",
        "gjj_deposit",
        55,
        "公共租赁住房、保障性租赁住房资格审核中核对申请人住房公积金缴存情况",
        "江州市住房保障管理信息系统",
    ),
    (
        "xzsp_qualification",
        "xzsp",
        "zjj_qualification",
        52,
        "工程建设项目施工许可审批中核验施工企业资质",
        "江州市工程建设项目审批管理系统",
    ),
    (
        "jtj_driving",
        "jtj",
        "gaj_driving",
        50,
        "道路运输从业人员从业资格审核、网约车驾驶员证核发前核验驾驶证状态",
        "江州市道路运输管理信息系统",
    ),
    (
        "swj_individual",
        "swj",
        "scjg_individual",
        45,
        "个体工商户税务登记信息确认和定期定额核定",
        "江州市税务局税收征管系统",
    ),
    (
        "gaj_address",
        "gaj",
        "mzj_address",
        40,
        "警务地址库与标准地名地址比对，统一门楼牌地址",
        "江州市公安标准地址管理系统",
    ),
    (
        "qs_mzj_cremation",
        "qs_mzj",
        "mzj_cremation",
        33,
        "青山县低保、特困供养对象死亡情况核对，及时停发救助金",
        "青山县社会救助信息系统",
    ),
    (
        "swj_enterprise",
        "swj",
        "scjg_enterprise",
        30,
        "新办纳税人“多证合一”登记信息确认，企业登记变更后同步更新税务登记",
        "江州市税务局税收征管系统",
    ),
    (
        "mzj_population",
        "mzj",
        "gaj_population",
        8,
        "社会救助申请人及其共同生活家庭成员的身份、户籍核验",
        "江州市社会救助信息系统",
    ),
]


# --- applications for conditional resources (SHR-2/3) -----------------------------------


@dataclass(frozen=True)
class Ask:
    """One application: who asks for what; `until` is "next_year_end", "school_year" or
    "soon" (a period ending within four weeks, for grants about to expire)."""

    consumer: str
    resource: str
    purpose: str
    system: str
    fields: tuple[str, ...]
    row_filter: tuple[dict[str, Any], ...] = ()
    until: str = "next_year_end"


def _between(name: str, start: str, end: str) -> dict[str, Any]:
    return {"field": name, "op": "between", "values": [start, end]}


ASKS: dict[str, Ask] = {
    # refused, then settled by coordination (the case in `plan_cases`)
    "rsj_tax_paid": Ask(
        "rsj",
        "swj_tax_paid",
        "失业保险稳岗返还资格审核：核对申领企业上一年度是否正常申报缴纳税款，"
        "依据《失业保险条例》和本市稳岗返还实施办法，对不符合条件的企业不予返还",
        "江州市社会保险信息系统",
        ("纳税人识别号", "社会信用代码", "纳税人名称", "税种", "所属期起", "所属期止", "实缴金额"),
        ({"field": "税种", "op": "in", "values": ["企业所得税", "增值税"]},),
    ),
    # approved, three working days late
    "czj_employment": Ask(
        "czj",
        "rsj_employment",
        "就业补贴资金发放前审核：核对享受社会保险补贴、一次性吸纳就业补贴人员的就业登记情况，"
        "防止重复享受和冒领",
        "江州市惠民惠农财政补贴资金“一卡通”管理平台",
        ("姓名", "身份证件号码", "就业登记日期", "单位名称", "统一社会信用代码", "就业形式"),
        (_between("就业登记日期", "{last_year}-01-01", "{year}-12-31"),),
    ),
    # refused: the purpose is outside the resource's conditions
    "zjj_settlement": Ask(
        "zjj",
        "ybj_settlement",
        "公共租赁住房保障对象因病致贫情况核查：核对申请家庭近一年医疗费用个人负担情况，"
        "作为租金减免的参考",
        "江州市住房保障管理信息系统",
        ("姓名", "公民身份号码", "结算日期", "医疗费用总额", "个人负担金额"),
        (_between("结算日期", "{last_year}-01-01", "{year}-12-31"),),
    ),
    # returned once, corrected, then approved narrower with a masked field
    "jyj_residence": Ask(
        "jyj",
        "gaj_residence_permit",
        "随迁子女义务教育入学资格审核：核验随迁子女父母在本市的居住登记和居住证情况",
        "江州市义务教育招生入学服务平台",
        (
            "姓名",
            "公民身份号码",
            "现住址",
            "户籍地址",
            "居住事由",
            "居住证号码",
            "登记日期",
            "有效期至",
            "联系电话",
        ),
        ({"field": "居住事由", "op": "in", "values": ["务工", "经商", "投靠", "就学"]},),
        until="school_year",
    ),
    # approved for a review campaign ending this month; renewal asked
    "mzj_insured": Ask(
        "mzj",
        "rsj_insured",
        "低保、特困对象年度动态复核专项行动：核对保障家庭成员的社会保险参保和缴费状态，"
        "评估家庭收入变化",
        "江州市社会救助信息系统",
        ("姓名", "身份证件号码", "参保险种", "参保状态", "单位名称", "最近缴费月份"),
        ({"field": "参保地行政区划代码", "op": "prefix", "values": ["3690"]},),
        until="soon",
    ),
    # approved, then suspended for passing data to a third party
    "zjj_low_income": Ask(
        "zjj",
        "mzj_low_income",
        "公共租赁住房租金减免资格审核：核对承租家庭是否为最低生活保障家庭",
        "江州市住房保障管理信息系统",
        ("户主姓名", "户主身份证号", "家庭人口数", "保障类别", "保障起始日期", "保障状态"),
        ({"field": "保障状态", "op": "eq", "values": ["在保"]},),
    ),
    # approved for the term's student aid; expires within the month, no renewal yet
    "jyj_low_income": Ask(
        "jyj",
        "mzj_low_income",
        "家庭经济困难学生资助对象认定：核对在校学生家庭是否为最低生活保障家庭，"
        "落实学生资助“应助尽助”",
        "江州市学生资助管理信息系统",
        ("保障对象姓名", "保障对象身份证号", "保障类别", "所属乡镇（街道）", "保障状态"),
        ({"field": "保障状态", "op": "eq", "values": ["在保"]},),
        until="soon",
    ),
    # forwarded; the provider has not answered and is past its deadline
    "mzj_vehicle": Ask(
        "mzj",
        "gaj_vehicle",
        "社会救助家庭经济状况核对：核对低保、特困申请家庭成员名下机动车情况",
        "江州市居民家庭经济状况核对系统",
        ("号牌号码", "车辆类型", "使用性质", "机动车所有人", "所有人身份证明号码", "机动车状态"),
    ),
    # withdrawn by the consumer while the provider was deciding
    "gjj_marriage": Ask(
        "gjj",
        "mzj_marriage",
        "住房公积金提取（购房、租房）业务中核验申请人婚姻状况，确认配偶共同提取资格",
        "江州市住房公积金综合服务平台",
        ("登记类别", "登记日期", "男方姓名", "男方身份证件号码", "女方姓名", "女方身份证件号码"),
    ),
    # returned for correction, not yet corrected
    "ybj_student": Ask(
        "ybj",
        "jyj_student",
        "城乡居民医保学生儿童参保扩面核查：比对在籍学生与参保登记，找出未参保学生并通知监护人",
        "江州市医疗保障信息平台",
        (
            "全国学籍号",
            "姓名",
            "身份证件号码",
            "学校名称",
            "年级",
            "学籍状态",
            "监护人姓名",
            "监护人联系电话",
        ),
    ),
    # waiting for the pre-review, past its deadline
    "qs_rsj_employment": Ask(
        "qs_rsj",
        "rsj_employment",
        "青山县农村劳动力转移就业监测：核对县内农村劳动力在市区用人单位的就业登记情况，"
        "落实稳岗就业和防止返贫动态监测",
        "青山县就业创业服务系统",
        ("姓名", "身份证件号码", "就业登记日期", "单位名称", "就业形式"),
        (_between("就业登记日期", "{last_year}-01-01", "{year}-12-31"),),
    ),
    # forwarded; the provider is within its deadline
    "scjg_credit": Ask(
        "scjg",
        "swj_credit",
        "守信联合激励和失信联合惩戒：对纳税信用A级企业在“双随机”抽查中降低抽查比例，"
        "对D级企业提高抽查比例",
        "江州市市场监管信用监管平台",
        ("纳税人识别号", "纳税人名称", "评价年度", "信用等级", "评价日期"),
        ({"field": "信用等级", "op": "in", "values": ["A", "D"]},),
    ),
    # waiting for the pre-review, within its deadline
    "zrzy_marriage": Ask(
        "zrzy",
        "mzj_marriage",
        "不动产登记（转移、抵押登记）中核验申请人婚姻状况，确认夫妻共有财产的处分须双方到场",
        "江州市不动产登记信息管理平台",
        ("登记类别", "登记日期", "男方姓名", "男方身份证件号码", "女方姓名", "女方身份证件号码"),
    ),
}

RETURNS = {
    "jyj_residence": "使用用途请写明所依据的入学政策文件；“联系电话”与入学资格审核无关，"
    "“户籍地址”请说明必要性，否则按最小够用原则删减后重新提交",
    "ybj_student": "申请的数据范围未限定学段，“监护人联系电话”与参保扩面核查的比对工作无关；"
    "请按最小够用原则删减信息项、补充数据范围（如义务教育阶段在籍学生）后重新提交",
}
RESUBMISSIONS = {
    "jyj_residence": {
        "purpose": "随迁子女义务教育入学资格审核：依据《江州市义务教育阶段随迁子女入学实施办法》，"
        "核验随迁子女父母在本市的居住登记和居住证情况；“户籍地址”用于确认非本市户籍",
        "fields": [
            "姓名",
            "公民身份号码",
            "现住址",
            "户籍地址",
            "居住事由",
            "居住证号码",
            "登记日期",
            "有效期至",
        ],
        "row_filter": [{"field": "居住事由", "op": "in", "values": ["务工", "经商", "投靠"]}],
    },
}
APPROVALS: dict[str, dict[str, Any]] = {
    "czj_employment": {
        "conditions": "仅用于补贴资金发放前的核对，核对结果不得留存个人明细",
    },
    "jyj_residence": {
        # narrower than asked: two fields fewer, one reason fewer, the ID number masked
        "fields": ["姓名", "公民身份号码", "现住址", "居住事由", "居住证号码", "有效期至"],
        "row_filter": [{"field": "居住事由", "op": "in", "values": ["务工", "经商"]}],
        "masking": [{"field": "公民身份号码", "rule": "id_number"}],
        "conditions": "入学资格以居住证号码核验，公民身份号码脱敏提供；户籍地址可由居住事由和"
        "居住证信息判断，不予提供；审核结束后删除本地留存数据",
    },
    "mzj_insured": {"conditions": "仅用于本次动态复核专项行动，按户核对，不批量导出"},
    "zjj_low_income": {"conditions": "仅用于租金减免资格审核，不得提供给物业服务企业等第三方"},
    "jyj_low_income": {
        "fields": ["保障对象姓名", "保障对象身份证号", "保障类别", "保障状态"],
        "conditions": "只提供在保对象，按学生名单核对",
    },
}
REFUSALS = {
    "rsj_tax_paid": (
        "企业纳税缴款信息属于纳税人涉税保密信息，须经纳税人授权或依法定职责申请；"
        "申请未附企业授权，且“实缴金额”明细超出稳岗返还资格审核的需要",
        catalog_demo.TAX_LAW + "；《纳税人涉税保密信息管理暂行办法》第三条",
    ),
    "zjj_settlement": (
        "本资源的共享条件限于医疗救助“一站式”结算和因病致贫返贫监测，住房保障资格审核不在其内；"
        "医疗费用信息属于敏感个人信息，申请用途不满足最小必要原则。建议由申请人自行提供医疗费用票据，"
        "或通过市民政局低收入人口动态监测信息核对",
        catalog_demo.PIPL_SENSITIVE + "；本资源目录公布的共享条件",
    ),
}


# --- grants: suspension, resumption, ending, renewal and feedback (SHR-5/7) ------------

MISUSE = (
    "经核查，市住建局将共享获取的低保对象名单（含身份证号）提供给物业服务企业用于租金减免核对，"
    "违反“不得以任何形式提供给第三方”的使用约定。即日起暂停使用，并报告主管部门"
)
SUSPEND_FOR_SECURITY = (
    "经检查，市人社局社会保险信息系统调用火化信息的接口账号由外包运维人员共用，"
    "未落实“一人一号”和访问日志留存要求，暂停使用，待整改后恢复"
)
RESUME = "市人社局已为运维人员分别开设账号并开启访问日志留存，经复查整改到位，恢复使用"
END_BY_CONSUMER = (
    "工程建设项目审批管理系统已改为调用省级建筑市场监管平台的资质核验接口，本授权不再使用，申请终止"
)
RENEWAL = "年度动态复核专项行动延长至明年一季度，需继续核对新增申请家庭成员的参保信息"

# (grant key, working days ago, rating, cases handled, effect)
FEEDBACK = [
    (
        "ybj_cremation",
        20,
        Rating.GOOD,
        389,
        "据火化信息为389名死亡人员办理医保停保和个人账户清算，停保及时率由72%提高到98%",
    ),
    (
        "xzsp_licence",
        10,
        Rating.GOOD,
        5400,
        "企业办理许可事项调用营业执照电子证照5400余件，免于提交纸质执照复印件",
    ),
    (
        "rsj_cremation",
        8,
        Rating.GOOD,
        214,
        "据火化信息停发养老保险待遇214人，追回多发养老金36.8万元",
    ),
    (
        "jyj_residence",
        3,
        Rating.FAIR,
        126,
        "核验随迁子女入学申请126人；部分居住证续签信息更新滞后，需家长另行提供证明，"
        "建议提高居住证续签信息的更新频率",
    ),
]

# --- coordination cases (SHR-4) ---------------------------------------------------------

CASE_AFTER_REFUSAL = {
    "subject": "稳岗返还资格审核核对企业纳税申报状态",
    "request": "市税务局以未取得纳税人授权为由不予共享。稳岗返还资格审核只需核对申领企业上一年度"
    "是否正常申报缴纳税款，不需要实缴金额；申领企业在申报时已书面承诺同意有关部门核查其纳税情况。"
    "请协调以不含金额的方式提供。",
}
# (working days ago, hour, who: a department key or "operator", message)
CASE_AFTER_REFUSAL_MESSAGES = [
    (
        38,
        14,
        "swj",
        "稳岗返还申报表中企业的核查承诺可以视为授权。同意按申领企业名单提供企业所得税、增值税的"
        "申报缴款状态（税种、所属期、入库日期），不提供实缴金额。",
    ),
    (
        37,
        10,
        "operator",
        "双方意见一致。请市人社局按季度提交申领企业名单，市税务局据此提供；"
        "提供范围以备案内容为准，平台管理单位将报市政府办备案。",
    ),
    (37, 16, "rsj", "同意，按季度提交申领企业名单。"),
]
SETTLEMENT = {
    "agreed": True,
    "outcome": "双方达成一致：市税务局按稳岗返还申领企业名单提供企业所得税、增值税的申报缴款状态"
    "（不含实缴金额），市人社局只用于稳岗返还资格审核。已报市政府办备案。",
    "scope": {
        "fields": [
            "纳税人识别号",
            "社会信用代码",
            "纳税人名称",
            "税种",
            "所属期起",
            "所属期止",
            "入库日期",
        ],
        "row_filter": [{"field": "税种", "op": "in", "values": ["企业所得税", "增值税"]}],
        "purpose": "失业保险稳岗返还资格审核：核对申领企业上一年度申报缴纳税款的状态",
        "system_name": "江州市社会保险信息系统",
        "conditions": "只按申领企业名单核对，不提供实缴金额；核对结果只用于稳岗返还资格审核",
    },
}
CASE_GRANT_FEEDBACK = (
    Rating.GOOD,
    1382,
    "核对稳岗返还申领企业1382家，发现未正常申报纳税的企业47家，依规不予返还",
)
CASE_NOT_SHARED = {
    "subject": "养老保险待遇领取资格认证使用人像比对核验",
    "request": "为落实养老保险待遇领取资格“静默认证”和“刷脸认证”，需对约3.2万名行动不便、"
    "异地居住的退休人员进行人像比对。请市公安局以人像比对核验服务的方式只返回“一致/不一致”"
    "结果，本局不获取、不留存照片本身。",
}
CASE_NOT_SHARED_MESSAGES = [
    (
        8,
        15,
        "gaj",
        "人像照片属于生物识别信息，不能向其他部门提供照片本身。可以考虑通过人像比对核验服务只返回"
        "比对结果，但须说明：调用系统的网络安全等级保护测评情况、被认证人授权的取得方式、"
        "年度预计调用量。",
    ),
    (
        7,
        10,
        "operator",
        "请市人社局补充上述材料；市公安局请明确核验服务的技术条件和接入方式。"
        "平台管理单位将组织双方召开协调会。",
    ),
    (
        5,
        16,
        "rsj",
        "认证系统已通过网络安全等级保护第三级测评；被认证人在“江州通”移动端勾选授权后发起比对，"
        "授权记录留存备查；预计年调用量约4万次，高峰在每年一季度。",
    ),
    (
        2,
        9,
        "gaj",
        "材料已收悉。人像比对核验服务对外接入须报上级公安机关审批，我局正在报送，审批结果出来后答复。",
    ),
]

# --- data updates (SHR-6): how far back the history goes, by frequency -----------------
# (days between updates, updates recorded, days since the latest, note)
UPDATES: dict[UpdateFrequency, tuple[int, int, int, str]] = {
    UpdateFrequency.REALTIME: (1, 7, 1, "接口数据实时同步，日终核对完成"),
    UpdateFrequency.DAILY: (1, 7, 1, "每日增量同步（T+1）"),
    UpdateFrequency.WEEKLY: (7, 6, 2, "每周更新"),
    UpdateFrequency.MONTHLY: (30, 3, 6, "按月更新上月数据"),
    UpdateFrequency.QUARTERLY: (91, 2, 20, "按季度更新"),
    UpdateFrequency.HALF_YEARLY: (182, 1, 60, "学期初更新"),
    UpdateFrequency.YEARLY: (365, 1, 80, "年度数据更新"),
    UpdateFrequency.IRREGULAR: (0, 0, 0, ""),  # never stale; none recorded
}
NIGHTLY = (UpdateFrequency.REALTIME, UpdateFrequency.DAILY)  # synchronised every night, also today
# Departments behind with their data: resource → days since its one late update (None: none
# since publication). Every other published resource is up to date.
BEHIND = {"water_users": 45, "qs_mzj_left_behind": None}


# --- building ----------------------------------------------------------------------------


def letter(lines: list[str]) -> bytes:
    """A one-page PDF (the demo's stand-in for a scanned, sealed letter)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 12 Tf 72 770 Td 16 TL " + " ".join(f"({escape(x)}) '" for x in lines) + " ET"
    stream = text.encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(order=True)
class _Step:
    when: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class _Builder:
    """Runs the story through the sharing services as the people of the demo city."""

    def __init__(self, db_session: Session, profile: Profile) -> None:
        self.db = db_session
        self.profile = profile
        self.rules = profile.rules
        self.today = clock.today()
        self.calendar = working_days.load(db_session)
        self.users = {u.username: u for u in db_session.execute(select(User)).scalars()}
        self.operator = actor_for_user(self.users["operator"])
        self.resources = self._resources()
        self.applications: dict[str, Application] = {}
        self.grants: dict[str, Grant] = {}
        self.consumers = {key: consumer for key, consumer, *_ in DIRECT} | {
            key: ask.consumer for key, ask in ASKS.items()
        }
        self.steps: list[_Step] = []
        self.story_start = 0  # working days before today of the first office work

    def _resources(self) -> dict[str, Resource]:
        """The demo catalog's resources by their spec key (matched on the first version's name)."""
        by_name = {
            v.name: v.resource_id
            for v in self.db.execute(
                select(ResourceVersion).where(ResourceVersion.number == 1)
            ).scalars()
        }
        found = {}
        for spec in catalog_demo.RESOURCES:
            resource = self.db.get(Resource, by_name[spec.name])
            assert resource is not None
            found[spec.key] = resource
        return found

    # people
    def officer(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_officer"])

    def contact(self, dept_key: str) -> str:
        user = self.users[f"{dept_key}_officer"]
        return f"{user.real_name} {user.mobile}"

    # time
    def working_day(self, ago: int) -> date:
        """The `ago`-th working day before today (0: today)."""
        day, counted = self.today, 0
        while counted < ago:
            day -= timedelta(days=1)
            counted += self.calendar.is_working_day(day)
        return day

    def at_day(self, day: date, hour: int, minute: int, step: Callable[[], None]) -> None:
        when = datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)
        self.steps.append(_Step(when, len(self.steps), step))

    def at(self, ago: int, hour: int, minute: int, step: Callable[[], None]) -> None:
        """Office work on the `ago`-th working day before today."""
        self.story_start = max(self.story_start, ago)
        self.at_day(self.working_day(ago), hour, minute, step)

    def run(self) -> None:
        """The steps in time order, and the reminder job each working morning from the first
        office day (on other days it finds nothing new to say that matters to the demo)."""
        for ago in range(self.story_start, 0, -1):
            self.at(ago, 7, 0, self.remind)
        for step in sorted(self.steps):
            with clock.frozen(step.when):
                step.run()
        # today's nightly sync and reminder run, on the real clock
        self.sync_today()
        self.remind()

    def remind(self) -> None:
        deadlines.send_reminders(self.db, actor=sharing_jobs.SCHEDULER)

    # periods
    def until(self, kind: str) -> date:
        year = self.today.year
        if kind == "school_year":
            return date(year + 1, 8, 31)
        if kind == "soon":  # a month end one to four weeks away, else three weeks from today
            this_month = _month_end(self.today)
            for end in (this_month, _month_end(this_month + timedelta(days=1))):
                if 7 <= (end - self.today).days <= 28:
                    return end
            return self.today + timedelta(days=21)
        return date(year + 1, 12, 31)

    # steps: direct access
    def direct(self, key: str, consumer: str, resource: str, purpose: str, system: str) -> None:
        self.grants[key] = grants.request_direct_access(
            self.db,
            actor=self.officer(consumer),
            rules=self.rules,
            data=DirectAccessIn(
                resource_id=self.resources[resource].id,
                purpose=purpose,
                system_name=system,
                accept_restrictions=True,
            ),
        )

    # steps: applications
    def application_input(self, key: str, **changes: Any) -> ApplicationIn:
        ask = ASKS[key]
        today = clock.today()
        years = {"year": str(today.year), "last_year": str(today.year - 1)}
        data: dict[str, Any] = {
            "resource_id": self.resources[ask.resource].id,
            "purpose": ask.purpose,
            "system_name": ask.system,
            "fields": list(ask.fields),
            "row_filter": [
                {**c, "values": [v.format(**years) for v in c["values"]]} for c in ask.row_filter
            ],
            "valid_from": today,
            "valid_until": self.until(ask.until),
            "contact": self.contact(ask.consumer),
            "accept_restrictions": True,
        }
        return ApplicationIn.model_validate(data | changes)

    def sealed_letter(self, key: str) -> Upload:
        ask = ASKS[key]
        resource = self.resources[ask.resource]
        consumer = self.users[f"{ask.consumer}_officer"].organization
        lines = [
            "Jiangzhou demo city - application letter for shared government data",
            f"Applicant: organisation {consumer.uscc}",
            f"Resource: {resource.code}",
            f"Date: {clock.today().isoformat()}",
            "Sealed by the applicant (demo document, no real seal).",
        ]
        short = consumer.short_name or consumer.name
        name = resource.current_version.name if resource.current_version else resource.code
        return Upload(
            kind="sealed_letter",
            filename=f"{short}关于申请共享“{name}”的函.pdf",
            content_type="application/pdf",
            content=letter(lines),
        )

    def submit(self, key: str) -> None:
        consumer = ASKS[key].consumer
        self.applications[key] = applications.submit_application(
            self.db,
            actor=self.officer(consumer),
            profile=self.profile,
            data=self.application_input(key),
            uploads=[self.sealed_letter(key)],
        )

    def resubmit(self, key: str) -> None:
        application = self.applications[key]
        applications.resubmit_application(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            application_id=application.id,
            data=self.application_input(key, **RESUBMISSIONS[key]),
        )

    def forward(self, key: str, comment: str = "材料齐全，转提供部门答复") -> None:
        decisions.pre_review(
            self.db,
            actor=self.operator,
            application_id=self.applications[key].id,
            data=PreReviewIn(forward=True, comment=comment),
        )

    def send_back(self, key: str) -> None:
        decisions.pre_review(
            self.db,
            actor=self.operator,
            application_id=self.applications[key].id,
            data=PreReviewIn(forward=False, comment=RETURNS[key]),
        )

    def provider(self, key: str) -> str:
        return PROVIDERS[ASKS[key].resource]

    def approve(self, key: str) -> None:
        application = decisions.decide(
            self.db,
            actor=self.officer(self.provider(key)),
            profile=self.profile,
            application_id=self.applications[key].id,
            data=DecisionIn.model_validate({"approve": True, **APPROVALS.get(key, {})}),
        )
        grant = self.db.get(Grant, application.grant_id)
        assert grant is not None
        self.grants[key] = grant

    def refuse(self, key: str) -> None:
        reason, basis = REFUSALS[key]
        decisions.decide(
            self.db,
            actor=self.officer(self.provider(key)),
            profile=self.profile,
            application_id=self.applications[key].id,
            data=DecisionIn(approve=False, reason=reason, basis=basis),
        )

    def withdraw(self, key: str, reason: str) -> None:
        applications.withdraw_application(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            application_id=self.applications[key].id,
            reason=reason,
        )

    def renew(self, key: str) -> None:
        self.applications[f"{key}_renewal"] = applications.request_renewal(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            profile=self.profile,
            grant_id=self.grants[key].id,
            data=RenewalIn(valid_until=date(self.today.year + 1, 3, 31), reason=RENEWAL),
        )

    # steps: grants
    def suspend(self, key: str, by: str, reason: str, report: bool) -> None:
        grants.suspend_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=report),
        )

    def resume(self, key: str, by: str, reason: str) -> None:
        grants.resume_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=False),
        )

    def end(self, key: str, by: str, reason: str) -> None:
        grants.end_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=False),
        )

    def feedback(self, key: str, rating: Rating, handled: int, effect: str) -> None:
        grants.record_feedback(
            self.db,
            actor=self.officer(self.consumers[key]),
            grant_id=self.grants[key].id,
            data=FeedbackIn(rating=rating, cases_handled=handled, effect=effect),
        )

    # steps: data updates
    def data_update(self, key: str, on: date, note: str) -> None:
        freshness.record_data_update(
            self.db,
            actor=self.officer(PROVIDERS[key]),
            resource_id=self.resources[key].id,
            data=DataUpdateIn(updated_on=on, note=note),
        )

    def published(self) -> list[tuple[str, Resource]]:
        return [
            (key, r)
            for key, r in self.resources.items()
            if r.status is ResourceStatus.PUBLISHED and r.current_version is not None
        ]

    def sync_today(self) -> None:
        for key, resource in self.published():
            assert resource.current_version is not None
            frequency = resource.current_version.update_frequency
            if key not in BEHIND and frequency in NIGHTLY:
                self.data_update(key, self.today, UPDATES[frequency][3])

    # the story, as steps in time
    def plan(self) -> None:
        self.plan_direct_access()
        self.plan_applications()
        self.plan_grants()
        self.plan_data_updates()
        self.plan_cases()

    def plan_direct_access(self) -> None:
        for i, (key, consumer, resource, ago, purpose, system) in enumerate(DIRECT):
            self.at(
                ago,
                9 + i % 7,
                (i * 13) % 60,
                lambda k=key, c=consumer, r=resource, p=purpose, s=system: self.direct(
                    k, c, r, p, s
                ),
            )

    def plan_applications(self) -> None:
        def story(key: str, *events: tuple[int, int, Callable[[str], None]]) -> None:
            for ago, hour, action in events:
                self.at(ago, hour, 10 + len(key) % 40, lambda k=key, a=action: a(k))

        # refused; the consumer then opens a coordination case (plan_cases)
        story("rsj_tax_paid", (48, 10, self.submit), (47, 15, self.forward), (40, 16, self.refuse))
        # answered three working days after the decision deadline
        story(
            "czj_employment", (44, 9, self.submit), (42, 11, self.forward), (29, 17, self.approve)
        )
        story(
            "zjj_settlement", (38, 14, self.submit), (37, 10, self.forward), (31, 15, self.refuse)
        )
        # returned, corrected and approved narrower than asked
        story(
            "jyj_residence",
            (34, 9, self.submit),
            (33, 15, self.send_back),
            (31, 10, self.resubmit),
            (30, 9, self.forward),
            (24, 16, self.approve),
        )
        story(
            "mzj_insured",
            (20, 10, self.submit),
            (19, 14, self.forward),
            (13, 11, self.approve),
            (4, 9, self.renew),
            (2, 15, lambda k: self.forward(f"{k}_renewal", "续期理由充分，转提供部门答复")),
        )
        story(
            "zjj_low_income", (16, 11, self.submit), (15, 9, self.forward), (10, 16, self.approve)
        )
        story("mzj_vehicle", (19, 14, self.submit), (17, 10, self.forward))
        story(
            "jyj_low_income", (14, 10, self.submit), (13, 15, self.forward), (8, 10, self.approve)
        )
        story(
            "gjj_marriage",
            (16, 9, self.submit),
            (15, 11, self.forward),
            (
                11,
                14,
                lambda k: self.withdraw(
                    k,
                    "经与市民政局沟通，公积金提取业务改为调用婚姻登记信息按人核验服务，本申请不再需要",
                ),
            ),
        )
        story("ybj_student", (7, 10, self.submit), (5, 16, self.send_back))
        story("qs_rsj_employment", (6, 10, self.submit))
        story("scjg_credit", (5, 9, self.submit), (3, 11, self.forward))
        story("zrzy_marriage", (1, 14, self.submit))

    def plan_grants(self) -> None:
        self.at(
            30, 10, 20, lambda: self.suspend("rsj_cremation", "mzj", SUSPEND_FOR_SECURITY, False)
        )
        self.at(26, 15, 40, lambda: self.resume("rsj_cremation", "mzj", RESUME))
        self.at(12, 9, 50, lambda: self.end("xzsp_qualification", "xzsp", END_BY_CONSUMER))
        self.at(4, 16, 30, lambda: self.suspend("zjj_low_income", "mzj", MISUSE, True))
        for i, (key, ago, rating, handled, effect) in enumerate(FEEDBACK):
            self.at(
                ago,
                14 + i % 3,
                5 * i,
                lambda k=key, r=rating, n=handled, e=effect: self.feedback(k, r, n, e),
            )

    def plan_data_updates(self) -> None:
        """A history per published resource, latest within its frequency; `BEHIND` lags."""
        for i, (key, resource) in enumerate(self.published()):
            assert resource.current_version is not None and resource.first_published_on
            frequency = resource.current_version.update_frequency
            every, count, latest, note = UPDATES[frequency]
            nightly = frequency in NIGHTLY
            if key in BEHIND:
                lag = BEHIND[key]
                days = [] if lag is None else [self.today - timedelta(days=lag)]
            else:
                latest += 0 if nightly else i % 3
                days = [self.today - timedelta(days=latest + n * every) for n in range(count)]
            for day in days:
                if day < resource.first_published_on:
                    continue
                hour, minute = (1, 30) if nightly else (10 + i % 6, i % 60)
                self.at_day(
                    day, hour, minute, lambda k=key, d=day, n=note: self.data_update(k, d, n)
                )

    def plan_cases(self) -> None:
        """Coordination cases (SHR-4): one still negotiating over a not-shared resource, one
        agreed after a refusal, filed with the authority, producing a grant."""
        opened: dict[str, int] = {}

        def open_case(key: str, consumer: str, **data: Any) -> None:
            case = cases.open_case(
                self.db,
                actor=self.officer(consumer),
                data=CaseIn.model_validate({**data, "accept_restrictions": True}),
            )
            opened[key] = case.id

        def say(key: str, who: str, body: str) -> None:
            actor = self.operator if who == "operator" else self.officer(who)
            cases.post_message(self.db, actor=actor, case_id=opened[key], data=MessageIn(body=body))

        def settle(key: str, grant_key: str, data: dict[str, Any]) -> None:
            scope = data["scope"] | {
                "valid_from": clock.today(),
                "valid_until": self.until("next_year_end"),
            }
            case = cases.settle_case(
                self.db,
                actor=self.operator,
                profile=self.profile,
                case_id=opened[key],
                data=SettlementIn.model_validate(data | {"scope": scope}),
            )
            grant = self.db.get(Grant, case.grant_id)
            assert grant is not None
            self.grants[grant_key] = grant
            self.consumers[grant_key] = "rsj"

        # after the refusal of rsj_tax_paid (working day 40): agreed, filed, a grant
        self.at(
            39,
            10,
            5,
            lambda: open_case(
                "tax",
                "rsj",
                application_id=self.applications["rsj_tax_paid"].id,
                **CASE_AFTER_REFUSAL,
            ),
        )
        for ago, hour, who, body in CASE_AFTER_REFUSAL_MESSAGES:
            self.at(ago, hour, 20, lambda w=who, b=body: say("tax", w, b))
        self.at(36, 15, 30, lambda: settle("tax", "rsj_tax_case", SETTLEMENT))
        self.at(6, 11, 15, lambda: self.feedback("rsj_tax_case", *CASE_GRANT_FEEDBACK))
        # a not-shared resource: still negotiating
        self.at(
            10,
            10,
            0,
            lambda: open_case(
                "portrait", "rsj", resource_id=self.resources["gaj_portrait"].id, **CASE_NOT_SHARED
            ),
        )
        for ago, hour, who, body in CASE_NOT_SHARED_MESSAGES:
            self.at(ago, hour, 30, lambda w=who, b=body: say("portrait", w, b))


def build(db_session: Session, actor: Actor) -> None:
    """Creates the demo's sharing: grants, applications in every state, cases, data updates.
    The city's people act (and the reminder job), not the console `actor`."""
    builder = _Builder(db_session, load_profile(PROFILE))
    builder.plan()
    builder.run()
