"""Policy profiles (政策配置): the numbers and names that differ between cities.

One YAML file per seed regulation ships in `core/profiles/`; the operator selects one by
code or points to their own file. Every rule carries the article it comes from, or is
marked `default: true` where the regulation is silent, so a page can show both.
"""

from __future__ import annotations

import functools
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROFILE_DIR = Path(__file__).parent / "profiles"
MIN_AUDIT_RETENTION_MONTHS = 6  # SR§25; no profile may keep the log shorter

T = TypeVar("T")


class ProfileError(Exception):
    """A profile is missing or breaks the schema; the message names the key."""


class Attachment(StrEnum):
    """Documents an application must carry (申请附件)."""

    SEALED_LETTER = "sealed_letter"  # 加盖公章的申请函 (SR§14)
    USAGE_COMMITMENT = "usage_commitment"  # 使用承诺函 (XT)


class BaseTopic(StrEnum):
    """Topics of the base catalog (基础信息资源目录)."""

    POPULATION = "population"  # 人口
    LEGAL_ENTITY = "legal_entity"  # 法人单位
    NATURAL_RESOURCES = "natural_resources"  # 自然资源和空间地理
    E_LICENCE = "e_licence"  # 电子证照
    SOCIAL_CREDIT = "social_credit"  # 社会信用


class Violation(StrEnum):
    """Violations the platform finds itself (违规情形, SUP-2): each profile names the article
    of its regulation that each one breaks."""

    CATALOG_OVERDUE = "catalog_overdue"  # catalog not updated by its deadline (CAT-5)
    CATALOG_UNREVIEWED = "catalog_unreviewed"  # a catalog entry unchanged for a year (CAT-13)
    NARROWING = "narrowing"  # an unconditional resource narrowed (SY§32(1))
    DECISION_OVERDUE = "decision_overdue"  # a sharing application not answered in time
    OPEN_ANSWER_OVERDUE = "open_answer_overdue"  # an open-data application not answered
    OBJECTION_OVERDUE = "objection_overdue"  # an objection not verified in time (VER-1)
    MISMATCH_OVERDUE = "mismatch_overdue"  # a comparison mismatch not settled in time
    DATA_STALE = "data_stale"  # data older than its declared update frequency (SHR-6)
    SYNC_FAILING = "sync_failing"  # a table's sync runs failing one after another
    INTERFACE_UNREACHABLE = "interface_unreachable"  # a service interface not answering
    CONNECTION_UNREACHABLE = "connection_unreachable"  # a registered database not answering
    GRANT_SUSPENDED = "grant_suspended"  # a grant suspended for misuse (SHR-5)
    EXERCISE_MISSING = "exercise_missing"  # no security test or drill in a year (SEC-5, SR§25)
    SECURITY_ISSUE = "security_issue"  # a problem an inspection or assessment found (SEC-7)
    PRIVATE_LINE_OVERDUE = "private_line_overdue"  # a private line open past its date (SY§20)
    # a system's certificate about to expire, or expired while the system is connected (BZ§26)
    CERTIFICATE_EXPIRING = "certificate_expiring"

    @property
    def label(self) -> str:
        return VALUE_LABELS[self.value]


class IncidentLevel(StrEnum):
    """The national four levels of a network security incident (网络安全事件分级), gravest
    first; how soon an incident must be reported depends on its level."""

    ESPECIALLY_MAJOR = "especially_major"  # 特别重大
    MAJOR = "major"  # 重大
    LARGE = "large"  # 较大
    GENERAL = "general"  # 一般

    @property
    def label(self) -> str:
        return VALUE_LABELS[self.value]


class Rule(BaseModel, Generic[T]):
    """One parameter with its source: the article it comes from, or a stated default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: T
    article: str | None = None
    default: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Rule[T]:
        if not self.default and not self.article:
            raise ValueError("每条规则必须写明出处 (article)，或标注 default: true")
        return self


class Rules(BaseModel):
    """Every parameter of REQUIREMENTS §9. Day counts are working days (工作日)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    application_pre_review_days: Rule[int | None]
    application_decision_days: Rule[int]
    application_attachments: Rule[list[Attachment]]
    objection_verify_days: Rule[int]
    objection_extension_max_days: Rule[int]
    mismatch_settle_days: Rule[int]
    catalog_update_days: Rule[int]
    catalog_update_filing_required: Rule[bool]
    catalog_change_notice_months: Rule[int]
    open_application_answer_days: Rule[int]
    certificate_required: Rule[bool]
    certificate_validity_days: Rule[int]
    certificate_expiry_warning_days: Rule[int]
    real_name_required: Rule[bool]
    audit_retention_months: Rule[int]
    base_catalog_topics: Rule[list[BaseTopic]]
    base_catalog_topics_open: Rule[bool]
    stale_provider_restriction: Rule[bool]
    rectification_days: Rule[int]
    violation_articles: Rule[dict[Violation, str]]
    incident_report_hours: Rule[dict[IncidentLevel, int]]
    security_exercise_due: Rule[str]

    def exercise_due_on(self, year: int) -> date:
        """The day by which `year`'s security test and emergency drill must be done."""
        month, day = (int(part) for part in self.security_exercise_due.value.split("-"))
        return date(year, month, day)

    def accepted_base_topics(self) -> list[BaseTopic]:
        """The topics a base resource may have: those the regulation names, and where it
        names them as an open list (人口、法人、地理空间等) every other base topic too."""
        named = list(self.base_catalog_topics.value)
        if not self.base_catalog_topics_open.value:
            return named
        return named + [t for t in BaseTopic if t not in named]

    @model_validator(mode="after")
    def _bounds(self) -> Rules:
        days = {
            "application_pre_review_days": self.application_pre_review_days.value,
            "application_decision_days": self.application_decision_days.value,
            "objection_verify_days": self.objection_verify_days.value,
            "objection_extension_max_days": self.objection_extension_max_days.value,
            "mismatch_settle_days": self.mismatch_settle_days.value,
            "catalog_update_days": self.catalog_update_days.value,
            "open_application_answer_days": self.open_application_answer_days.value,
            "rectification_days": self.rectification_days.value,
        }
        for key, value in days.items():
            if value is not None and not 1 <= value <= 60:
                raise ValueError(f"{key}: 工作日数必须在 1 到 60 之间")
        if self.audit_retention_months.value < MIN_AUDIT_RETENTION_MONTHS:
            raise ValueError(
                f"audit_retention_months: 审计日志至少保存 {MIN_AUDIT_RETENTION_MONTHS} 个月"
            )
        if not 30 <= self.certificate_validity_days.value <= 1095:
            raise ValueError("certificate_validity_days: 证书有效期必须在 30 到 1095 天之间")
        warning = self.certificate_expiry_warning_days.value
        if not 1 <= warning < self.certificate_validity_days.value:
            raise ValueError(
                "certificate_expiry_warning_days: 证书到期提醒天数必须至少 1 天，且短于证书有效期"
            )
        if self.catalog_change_notice_months.value < 0:
            raise ValueError("catalog_change_notice_months: 不能为负数")
        articles = self.violation_articles.value
        missing = [v.value for v in Violation if not articles.get(v, "").strip()]
        if missing:
            raise ValueError(
                f"violation_articles: 须写明每种违规情形违反的条款，缺 {', '.join(missing)}"
            )
        hours = self.incident_report_hours.value
        missing = [level.value for level in IncidentLevel if level not in hours]
        if missing:
            raise ValueError(
                f"incident_report_hours: 须写明每级事件的报告时限，缺 {', '.join(missing)}"
            )
        if any(not 1 <= h <= 720 for h in hours.values()):
            raise ValueError("incident_report_hours: 报告时限（小时）必须在 1 到 720 之间")
        try:
            self.exercise_due_on(2025)  # not a leap year: 02-29 is refused too
        except ValueError:
            raise ValueError("security_exercise_due: 应为每年的月-日，如 12-31") from None
        return self


class EvaluationFact(StrEnum):
    """A fact an evaluation indicator counts (考核事实): a figure of the monthly ledger
    (supervision's 台账) or of supervision itself, per department and period."""

    RESOURCES_CATALOGUED = "resources_catalogued"
    VERSIONS_PUBLISHED = "versions_published"
    CHANGES_ON_TIME = "changes_on_time"
    CHANGES_LATE = "changes_late"
    GRANTS_GIVEN = "grants_given"
    GRANTS_HELD = "grants_held"
    APPLICATIONS_ANSWERED = "applications_answered"
    APPLICATIONS_LATE = "applications_late"
    SERVED_QUERY = "served_query"
    SERVED_LOOKUP = "served_lookup"
    SERVED_DOWNLOAD = "served_download"
    SERVED_PUSH = "served_push"
    SERVED_GATEWAY = "served_gateway"
    MADE_QUERY = "made_query"
    MADE_LOOKUP = "made_lookup"
    MADE_DOWNLOAD = "made_download"
    MADE_PUSH = "made_push"
    MADE_GATEWAY = "made_gateway"
    RELEASES_PUBLISHED = "releases_published"
    OBJECTIONS_RAISED = "objections_raised"
    OBJECTIONS_ANSWERED = "objections_answered"
    OBJECTIONS_LATE = "objections_late"
    MISMATCHES_SETTLED = "mismatches_settled"
    FINDINGS = "findings"  # violations found in the period (违规发现)
    NOTICES_ACCEPTED = "notices_accepted"  # rectifications accepted (整改通过)
    NOTICES_ESCALATED = "notices_escalated"  # notices circulated past their deadline (通报)
    PROBES_OK = "probes_ok"  # probes of its interfaces and databases that answered
    PROBES_FAILED = "probes_failed"


class Formula(StrEnum):
    """How an indicator turns facts into a score out of 100 (a fixed set: no expressions)."""

    SHARE = "share"  # 100 × Σfacts / (Σfacts + Σagainst); `empty` when both are 0
    TIMELY = "timely"  # 100 × (Σfacts − Σagainst) / Σfacts; `empty` when Σfacts is 0
    TARGET = "target"  # 100 × min(1, Σfacts / (target × months in the period))
    PENALTY = "penalty"  # max(0, 100 − per × Σfacts)


class Indicator(BaseModel):
    """One evaluation indicator (考核指标): a named formula over the facts, with its weight
    and the article it serves (or a stated default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=40)
    formula: Formula
    facts: list[EvaluationFact] = Field(min_length=1)
    against: list[EvaluationFact] = []
    target: float | None = None  # TARGET: facts per month for full marks
    per: float | None = None  # PENALTY: points off per fact
    empty: float = 100.0  # SHARE / TIMELY: the score when there is nothing to count
    weight: float
    article: str | None = None
    default: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> Indicator:
        if not self.default and not self.article:
            raise ValueError("每个考核指标必须写明出处 (article)，或标注 default: true")
        if not 0 < self.weight <= 100:
            raise ValueError(f"{self.code}: 权重 (weight) 必须大于 0、不超过 100")
        if not 0 <= self.empty <= 100:
            raise ValueError(f"{self.code}: 无可计事实时的得分 (empty) 必须在 0 到 100 之间")
        two_sided = self.formula in (Formula.SHARE, Formula.TIMELY)
        if two_sided and not self.against:
            raise ValueError(f"{self.code}: {self.formula.value} 公式须写明 against")
        if not two_sided and self.against:
            raise ValueError(f"{self.code}: {self.formula.value} 公式不用 against")
        if (self.formula is Formula.TARGET) != (self.target is not None):
            raise ValueError(f"{self.code}: target 只用于且必须用于 target 公式")
        if self.target is not None and self.target <= 0:
            raise ValueError(f"{self.code}: target 必须大于 0")
        if (self.formula is Formula.PENALTY) != (self.per is not None):
            raise ValueError(f"{self.code}: per 只用于且必须用于 penalty 公式")
        if self.per is not None and not 0 < self.per <= 100:
            raise ValueError(f"{self.code}: per 必须大于 0、不超过 100")
        return self

    def describe(self) -> str:
        """The formula in the interface's words."""
        names = "＋".join(FACT_LABELS[f] for f in self.facts)
        against = "＋".join(FACT_LABELS[f] for f in self.against)
        if self.formula is Formula.SHARE:
            return f"{names} ÷（{names}＋{against}）× 100；无可计事项得 {self.empty:g} 分"
        if self.formula is Formula.TIMELY:
            return f"（{names}－{against}）÷ {names} × 100；无可计事项得 {self.empty:g} 分"
        if self.formula is Formula.TARGET:
            return f"{names} ÷（每月 {self.target:g} × 月数）× 100，最高 100 分"
        return f"100 － {self.per:g} ×（{names}），最低 0 分"


class Evaluation(BaseModel):
    """The yearly evaluation (年度考核评价, SUP-1): who evaluates under which article, and the
    indicators, whose weights add up to 100."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluator: str = Field(min_length=1)  # who evaluates, in the regulation's words
    article: str | None = None
    default: bool = False
    note: str | None = None
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> Evaluation:
        if not self.default and not self.article:
            raise ValueError("考核评价必须写明出处 (article)，或标注 default: true")
        codes = [i.code for i in self.indicators]
        if len(set(codes)) != len(codes):
            raise ValueError("考核指标代码 (code) 不能重复")
        total = sum(i.weight for i in self.indicators)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"考核指标权重合计应为 100，现为 {total:g}")
        return self


class InForce(BaseModel):
    """The period the regulation is in force (施行期间), with the article that sets it; either
    end may be unknown or open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effective_from: date | None = None
    effective_until: date | None = None
    article: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> InForce:
        if not self.article and not self.note:
            raise ValueError("施行期间必须写明出处 (article)，或以 note 说明依据")
        start, end = self.effective_from, self.effective_until
        if start and end and end < start:
            raise ValueError("effective_until 不能早于 effective_from")
        return self


class Profile(BaseModel):
    """A city's policy profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    city: str
    province: str
    regulation: str
    issued_on: date | None = None
    source: str | None = None
    in_force: InForce | None = None
    rules: Rules
    evaluation: Evaluation

    def period_label(self) -> str:
        """The period in force in the interface's words ("" where the profile does not say)."""
        if self.in_force is None:
            return ""
        start = self.in_force.effective_from
        end = self.in_force.effective_until
        text = f"{start or '施行日期未载明'}起施行" + (f"，有效期至 {end}" if end else "")
        return text + (f"（{self.in_force.article}）" if self.in_force.article else "")

    def expired(self, today: date) -> bool:
        """Whether the regulation's period in force ended before `today`."""
        until = self.in_force.effective_until if self.in_force else None
        return until is not None and until < today

    def expiry_warning(self, today: date) -> str | None:
        """What the operator must be told when the active profile's regulation has lapsed."""
        if not self.expired(today):
            return None
        assert self.in_force is not None
        article = f"（{self.in_force.article}）" if self.in_force.article else ""
        return (
            f"当前政策配置“{self.city}”（{self.code}）依据的《{self.regulation}》"
            f"有效期至 {self.in_force.effective_until}{article}，已经失效。"
            "平台仍按其规则运行：请核实本市现行办法，选用或编写相应的政策配置"
            "（GOVSHARE_POLICY_PROFILE 或 GOVSHARE_POLICY_FILE）。"
        )


def available_profiles() -> list[str]:
    """Codes of the profiles shipped in the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def parse_profile(text: str, *, origin: str) -> Profile:
    """Validate a profile's YAML text; errors name the key path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{origin}: 不是合法的 YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{origin}: 顶层必须是映射")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ProfileError(f"{origin}: {where}: {first['msg']}") from exc


@functools.cache
def load_profile(code: str, file: Path | None = None) -> Profile:
    """A shipped profile by code, or the operator's own file when `file` is given."""
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ProfileError(f"配置文件不存在: {path}")
        return parse_profile(path.read_text(encoding="utf-8"), origin=str(path))
    path = PROFILE_DIR / f"{code}.yaml"
    if not path.is_file():
        raise ProfileError(f"未知的政策配置 {code!r}，可选: {', '.join(available_profiles())}")
    profile = parse_profile(path.read_text(encoding="utf-8"), origin=path.name)
    if profile.code != code:
        raise ProfileError(f"{path.name}: code 应为 {code!r}")
    return profile


VALUE_LABELS = {
    "sealed_letter": "加盖公章的申请函",
    "usage_commitment": "使用承诺函",
    "population": "人口",
    "legal_entity": "法人单位",
    "natural_resources": "自然资源和空间地理",
    "e_licence": "电子证照",
    "social_credit": "社会信用",
    "catalog_overdue": "目录未按期更新",
    "catalog_unreviewed": "目录逾一年未更新",
    "narrowing": "缩小无条件共享范围",
    "decision_overdue": "共享申请超期未答复",
    "open_answer_overdue": "开放申请超期未答复",
    "objection_overdue": "疑义超期未核实",
    "mismatch_overdue": "比对不一致超期未处理",
    "data_stale": "数据未按更新周期更新",
    "sync_failing": "库表同步连续失败",
    "interface_unreachable": "服务接口无法访问",
    "connection_unreachable": "数据库连接无法访问",
    "grant_suspended": "违规使用被暂停授权",
    "exercise_missing": "未按期开展安全测评或应急演练",
    "security_issue": "安全检查发现问题",
    "private_line_overdue": "专线逾期未关闭",
    "certificate_expiring": "系统证书即将到期或已过期",
    "especially_major": "特别重大",
    "major": "重大",
    "large": "较大",
    "general": "一般",
}


def describe_value(value: object) -> str:
    """A rule's value in the interface's words."""
    if value is None:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(describe_value(v) for v in value) or "无"
    if isinstance(value, dict):
        return "；".join(f"{describe_value(k)}：{v}" for k, v in value.items()) or "无"
    return VALUE_LABELS.get(str(value), str(value))


FACT_LABELS: dict[EvaluationFact, str] = {
    EvaluationFact.RESOURCES_CATALOGUED: "新编目录",
    EvaluationFact.VERSIONS_PUBLISHED: "发布目录版本",
    EvaluationFact.CHANGES_ON_TIME: "按期调整目录",
    EvaluationFact.CHANGES_LATE: "逾期调整目录",
    EvaluationFact.GRANTS_GIVEN: "提供授权",
    EvaluationFact.GRANTS_HELD: "获得授权",
    EvaluationFact.APPLICATIONS_ANSWERED: "办理共享申请",
    EvaluationFact.APPLICATIONS_LATE: "逾期办理申请",
    EvaluationFact.SERVED_QUERY: "提供在线查询",
    EvaluationFact.SERVED_LOOKUP: "提供主键查询",
    EvaluationFact.SERVED_DOWNLOAD: "提供下载",
    EvaluationFact.SERVED_PUSH: "提供推送",
    EvaluationFact.SERVED_GATEWAY: "提供接口调用",
    EvaluationFact.MADE_QUERY: "使用在线查询",
    EvaluationFact.MADE_LOOKUP: "使用主键查询",
    EvaluationFact.MADE_DOWNLOAD: "使用下载",
    EvaluationFact.MADE_PUSH: "使用推送",
    EvaluationFact.MADE_GATEWAY: "使用接口调用",
    EvaluationFact.RELEASES_PUBLISHED: "开放发布",
    EvaluationFact.OBJECTIONS_RAISED: "提出异议",
    EvaluationFact.OBJECTIONS_ANSWERED: "答复异议",
    EvaluationFact.OBJECTIONS_LATE: "逾期答复异议",
    EvaluationFact.MISMATCHES_SETTLED: "比对差异办结",
    EvaluationFact.FINDINGS: "发现违规",
    EvaluationFact.NOTICES_ACCEPTED: "整改通过",
    EvaluationFact.NOTICES_ESCALATED: "逾期未整改被通报",
    EvaluationFact.PROBES_OK: "可用性探测成功",
    EvaluationFact.PROBES_FAILED: "可用性探测失败",
}

RULE_LABELS = {
    "application_pre_review_days": "平台预审时限（工作日）",
    "application_decision_days": "提供部门答复时限（工作日）",
    "application_attachments": "申请附件",
    "objection_verify_days": "疑义数据校核时限（工作日）",
    "objection_extension_max_days": "校核延期上限（工作日）",
    "mismatch_settle_days": "比对不一致处理时限（工作日）",
    "catalog_update_days": "职能或法规变化后目录更新时限（工作日）",
    "catalog_update_filing_required": "目录更新须备案",
    "catalog_change_notice_months": "目录变更提前公告（月）",
    "open_application_answer_days": "开放数据申请答复时限（工作日）",
    "certificate_required": "接入系统须数字证书认证",
    "certificate_validity_days": "系统数字证书有效期（自然日）",
    "certificate_expiry_warning_days": "系统数字证书到期提醒（到期前自然日）",
    "real_name_required": "用户须实名认证",
    "audit_retention_months": "审计日志保存期（月）",
    "base_catalog_topics": "基础信息资源目录主题",
    "base_catalog_topics_open": "基础目录主题为开放列举（“等”）",
    "stale_provider_restriction": "未按时更新数据的部门限制使用共享数据",
    "rectification_days": "违规整改期限（工作日）",
    "violation_articles": "违规情形及所违反的条款",
    "incident_report_hours": "安全事件报告时限（小时，按事件级别）",
    "security_exercise_due": "年度安全测评和应急演练完成日期（每年月-日）",
}
