"""Policy profiles: the shipped YAML files, their numbers, their citations, and refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from govshare.core import policy
from govshare.core.policy import Attachment, BaseTopic, IncidentLevel, ProfileError, Violation

SEED_DIR = Path(__file__).parents[3] / "shared" / "seeds"

# Profile code -> the seed regulation it is written from.
SEEDS = {
    "shaoyang": "000_c9b4999834b198b1.txt",
    "binzhou": "001_596477af3207c921.txt",
    "wuhai": "002_1fda031060c8e786.txt",
    "xiangtan": "003_4ea7027215de2553.txt",
    "shangrao": "004_6e92a359a2efd69b.txt",
}

P, L, N, E, C = (
    BaseTopic.POPULATION,
    BaseTopic.LEGAL_ENTITY,
    BaseTopic.NATURAL_RESOURCES,
    BaseTopic.E_LICENCE,
    BaseTopic.SOCIAL_CREDIT,
)


def _articles(head: str, paren: str, brackets: str, **kinds: int | str) -> dict[Violation, str]:
    """Each violation's article: an item number of `head`, or a citation written out."""
    left, right = brackets
    numbers = "一二三四五六七八九十"
    return {
        Violation(kind): item
        if isinstance(item, str)
        else f"{head}第{left}{numbers[item - 1]}{right}{paren}"
        for kind, item in kinds.items()
    }


# The article of each seed that each violation breaks (SUP-2): the items of its list of
# violations (SY§32, BZ§30, WH§20, SR§30); Xiangtan's notice has none, so its profile names
# the duties the notice sets instead, as a default.
SY_ARTICLES = _articles(
    "第三十二条", "项", "（）",
    catalog_overdue=1, catalog_unreviewed=1, narrowing=1, decision_overdue=4,
    open_answer_overdue=7, objection_overdue=2, mismatch_overdue=2, data_stale=2,
    sync_failing=3, interface_unreachable=3, connection_unreachable=3, grant_suspended=6,
    exercise_missing=5, security_issue=5,
    private_line_overdue=3, certificate_expiring=5,
)  # fmt: skip
BZ_ARTICLES = _articles(
    "第三十條", "項", "()",
    catalog_overdue=1, catalog_unreviewed=1, narrowing=5, decision_overdue=2,
    open_answer_overdue=5, objection_overdue=3, mismatch_overdue=3, data_stale=3,
    sync_failing=2, interface_unreachable=2, connection_unreachable=2, grant_suspended=4,
    exercise_missing=5, security_issue=5,
    private_line_overdue=5, certificate_expiring=5,
)  # fmt: skip
WH_ARTICLES = _articles(
    "第二十条", "项", "（）",
    catalog_overdue=3, catalog_unreviewed=3, narrowing=1, decision_overdue=1,
    open_answer_overdue="第二十条", objection_overdue=3, mismatch_overdue=3, data_stale=3,
    sync_failing=1, interface_unreachable=1, connection_unreachable=1, grant_suspended=4,
    exercise_missing="第二十条", security_issue="第二十条",
    private_line_overdue=1, certificate_expiring="第二十条",
)  # fmt: skip
XT_DUTIES, XT_REVIEW, XT_USE = "第二部分第（四）项", "第三部分第（三）项", "第二部分"
XT_ARTICLES = _articles(
    "", "", "（）",
    catalog_overdue=XT_DUTIES, catalog_unreviewed=XT_DUTIES, narrowing=XT_DUTIES,
    decision_overdue=XT_REVIEW, open_answer_overdue=XT_REVIEW, objection_overdue=XT_REVIEW,
    mismatch_overdue=XT_REVIEW, data_stale=XT_DUTIES, sync_failing=XT_DUTIES,
    interface_unreachable=XT_DUTIES, connection_unreachable=XT_DUTIES, grant_suspended=XT_USE,
    exercise_missing="第二部分第（二）项", security_issue=XT_USE,
    private_line_overdue=XT_DUTIES, certificate_expiring=XT_USE,
)  # fmt: skip
SR_ARTICLES = _articles(
    "第三十条", "项", "（）",
    catalog_overdue=1, catalog_unreviewed=1, narrowing=5, decision_overdue=3,
    open_answer_overdue=3, objection_overdue=5, mismatch_overdue=2, data_stale=2,
    sync_failing=2, interface_unreachable=2, connection_unreachable=2, grant_suspended=4,
    exercise_missing=5, security_issue=5,
    private_line_overdue=5, certificate_expiring=5,
)  # fmt: skip
HOURS = {IncidentLevel.ESPECIALLY_MAJOR: 1, IncidentLevel.MAJOR: 1, IncidentLevel.LARGE: 4,
         IncidentLevel.GENERAL: 24}  # fmt: skip

# REQUIREMENTS §9 as a table: one row per rule, one column per city (in COLUMNS order).
# Silent cells hold the defaults the profiles state.
COLUMNS = ("shaoyang", "binzhou", "wuhai", "xiangtan", "shangrao")
NO, SEALED, PLEDGE = [], [Attachment.SEALED_LETTER], [Attachment.USAGE_COMMITMENT]
FIVE, FOUR, THREE = [P, L, N, E, C], [P, L, N, E], [P, L, N]
EXPECTED: dict[str, tuple[Any, ...]] = {
    #                                  SY     BZ     WH     XT      SR
    "application_pre_review_days":    (None,  None,  None,  None,   3),
    "application_decision_days":      (10,    5,     5,     10,     10),
    "application_attachments":        (NO,    NO,    NO,    PLEDGE, SEALED),
    "objection_verify_days":          (5,     5,     5,     5,      5),
    "objection_extension_max_days":   (15,    15,    15,    15,     15),
    "mismatch_settle_days":           (10,    10,    10,    10,     10),
    "catalog_update_days":            (15,    15,    15,    15,     15),
    "catalog_update_filing_required": (True,  True,  False, True,   False),
    "catalog_change_notice_months":   (0,     0,     0,     0,      1),
    "open_application_answer_days":   (20,    20,    20,    20,     20),
    "certificate_required":           (False, True,  False, False,  False),
    "certificate_validity_days":      (365,   365,   365,   365,    365),
    "certificate_expiry_warning_days": (30,   30,    30,    30,     30),
    "real_name_required":             (False, False, False, False,  True),
    "audit_retention_months":         (6,     6,     6,     6,      6),
    "base_catalog_topics":            (FIVE,  FOUR,  FOUR,  THREE,  FOUR),
    "base_catalog_topics_open":       (False, True,  True,  True,   False),
    "stale_provider_restriction":     (False, True,  False, False,  False),
    "rectification_days":             (10,    10,    10,    10,     10),
    "violation_articles":             (SY_ARTICLES, BZ_ARTICLES, WH_ARTICLES, XT_ARTICLES,
                                       SR_ARTICLES),
    "incident_report_hours":          (HOURS, HOURS, HOURS, HOURS,  HOURS),
    "security_exercise_due":          ("12-31", "12-31", "12-31", "12-31", "12-31"),
}  # fmt: skip

# Rules the table states outright: these must cite an article, never fall back to a default.
CITED = {
    "shaoyang": {
        "application_decision_days",
        "objection_verify_days",
        "objection_extension_max_days",
        "catalog_update_days",
        "catalog_update_filing_required",
        "base_catalog_topics",
        "base_catalog_topics_open",
        "violation_articles",
    },
    "binzhou": {
        "application_decision_days",
        "catalog_update_days",
        "catalog_update_filing_required",
        "certificate_required",
        "base_catalog_topics",
        "base_catalog_topics_open",
        "stale_provider_restriction",
        "violation_articles",
    },
    "wuhai": {
        "application_decision_days",
        "catalog_update_days",
        "base_catalog_topics",
        "base_catalog_topics_open",
        "violation_articles",
    },
    "xiangtan": {"application_attachments", "base_catalog_topics", "base_catalog_topics_open"},
    "shangrao": {
        "application_pre_review_days",
        "application_decision_days",
        "application_attachments",
        "catalog_change_notice_months",
        "open_application_answer_days",
        "real_name_required",
        "audit_retention_months",
        "violation_articles",
        "security_exercise_due",
    },
}

# For every cited rule: words of the seed that must stand inside the cited article
# (or paragraph / item), so a citation pointing at the wrong place fails.
EVIDENCE = {
    ("shaoyang", "application_decision_days"): "10个工作日内予以书面答复",
    ("shaoyang", "objection_verify_days"): "5个工作日内予以校核",
    ("shaoyang", "objection_extension_max_days"): "最长不得超过15个工作日",
    ("shaoyang", "catalog_update_days"): "15个工作日内更新",
    ("shaoyang", "catalog_update_filing_required"): "备案",
    ("shaoyang", "base_catalog_topics"): "社会信用和电子证照共五类",
    ("shaoyang", "base_catalog_topics_open"): "共五类",
    ("binzhou", "application_decision_days"): "5個工作日內予以答覆",
    ("binzhou", "catalog_update_days"): "15個工作日內更新",
    ("binzhou", "catalog_update_filing_required"): "備案",
    ("binzhou", "certificate_required"): "統一的數字證書進行身份認證",
    ("binzhou", "base_catalog_topics"): "法人單位信息、自然資源和空間地理信息、電子證照信息",
    ("binzhou", "stale_provider_restriction"): "必要的限制",
    ("binzhou", "base_catalog_topics_open"): "電子證照信息等基礎資料庫",
    ("wuhai", "application_decision_days"): "5个工作日内予以答复",
    ("wuhai", "catalog_update_days"): "15个工作日内更新",
    ("wuhai", "base_catalog_topics"): "法人单位信息、自然资源和空间地理信息、电子证照信息",
    ("wuhai", "base_catalog_topics_open"): "电子证照信息等基础信息资源",
    ("xiangtan", "application_attachments"): "《湘潭市政务信息资源使用承诺函》",
    ("xiangtan", "base_catalog_topics"): "人口、法人、地理空间等基础信息资源目录",
    ("xiangtan", "base_catalog_topics_open"): "地理空间等基础信息资源目录",
    ("shangrao", "application_pre_review_days"): "3个工作日内完成申请的初步审核",
    ("shangrao", "application_decision_days"): "10个工作日内予以答复",
    ("shangrao", "application_attachments"): "加盖公章的信息资源使用申请函",
    ("shangrao", "catalog_change_notice_months"): "提前一个月",
    ("shangrao", "open_application_answer_days"): "20 个工作日内予以答复",
    ("shangrao", "real_name_required"): "实名实人认证",
    ("shangrao", "audit_retention_months"): "不少于6个月",
    ("shaoyang", "violation_articles"): "责令改正",
    ("binzhou", "violation_articles"): "督促有關部門予以糾正",
    ("wuhai", "violation_articles"): "书面通报限期改正",
    ("shangrao", "violation_articles"): "未在规定时间内完成整改的",
    ("shangrao", "security_exercise_due"): "每年至少开展一次安全测评和应急演练",
}

# For each article a violation cites: words of the seed that must stand there.
VIOLATION_EVIDENCE = {
    ("shaoyang", "第三十二条第（一）项"): "擅自缩小无条件共享类政务信息资源范围",
    ("shaoyang", "第三十二条第（二）项"): "疑义、错误信息校核制度",
    ("shaoyang", "第三十二条第（三）项"): "联通共享平台",
    ("shaoyang", "第三十二条第（四）项"): "不按照规定共享、使用政务信息资源",
    ("shaoyang", "第三十二条第（五）项"): "不按照规定落实安全防护措施",
    ("shaoyang", "第三十二条第（六）项"): "擅自改变政务信息资源用途",
    ("shaoyang", "第三十二条第（七）项"): "其他行为",
    ("binzhou", "第三十條第(一)項"): "編制或更新政務信息資源目錄",
    ("binzhou", "第三十條第(二)項"): "未向共享平台及時提供共享信息",
    ("binzhou", "第三十條第(三)項"): "未及時更新數據",
    ("binzhou", "第三十條第(四)項"): "履行本單位職責需要以外的目的",
    ("binzhou", "第三十條第(五)項"): "其他行為",
    ("wuhai", "第二十条第（一）项"): "提供给其他部门共享",
    ("wuhai", "第二十条第（三）项"): "未按照规定时限发布、更新资源目录和政务数据资源",
    ("wuhai", "第二十条第（四）项"): "本部门履行职责需要以外",
    ("wuhai", "第二十条"): "书面通报限期改正",
    ("xiangtan", "第二部分第（四）项"): "编制部门信息资源目录",
    ("xiangtan", "第二部分"): "对滥用、未经许可扩散共享数据",
    ("xiangtan", "第二部分第（二）项"): "安全管理和运维",
    ("xiangtan", "第三部分第（三）项"): "共享数量和质量",
    ("shangrao", "第三十条第（一）项"): "未按照规定编制或更新政务信息资源目录",
    ("shangrao", "第三十条第（二）项"): "及时向共享和开放平台提供政务信息资源",
    ("shangrao", "第三十条第（三）项"): "受理、答复或者反馈政务信息资源共享和开放申请",
    ("shangrao", "第三十条第（四）项"): "履行本单位职责需要以外的目的",
    ("shangrao", "第三十条第（五）项"): "违反本办法规定的其他行为",
}

NUMERAL = "〇零一二三四五六七八九十百0-9"
# 第二十一条 / 第十七條, optionally 第二款, optionally 第（二）项 / 第(一)項
ARTICLE = re.compile(
    rf"^(?P<head>第[{NUMERAL}]+[条條])"
    rf"(?:第(?P<para>[一二三四五六七八九十]+)款)?"
    rf"(?:第(?P<item>[（(][一二三四五六七八九十]+[)）])[项項])?$"
)
# A notice's numbered part: 第二部分 (heading "二、"), optionally 第（二）项
PART = re.compile(
    r"^第(?P<part>[一二三四五六七八九十]+)部分"
    r"(?:第(?P<item>[（(][一二三四五六七八九十]+[)）])[项項])?$"
)
CN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    policy.load_profile.cache_clear()
    yield
    policy.load_profile.cache_clear()


def _shipped_data(code: str) -> dict[str, Any]:
    return yaml.safe_load((policy.PROFILE_DIR / f"{code}.yaml").read_text(encoding="utf-8"))


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# --- shipped profiles -------------------------------------------------------------------


def test_one_profile_per_seed() -> None:
    assert policy.available_profiles() == sorted(SEEDS) == sorted(COLUMNS)
    assert set(EXPECTED) == set(policy.Rules.model_fields)


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_shipped_profile_loads(code: str) -> None:
    profile = policy.load_profile(code)
    assert profile.code == code
    assert profile.city.endswith("市")
    assert profile.province.endswith(("省", "自治区"))
    assert profile.regulation
    # every key of Rules is written out in the file, none left to a schema default
    assert set(_shipped_data(code)["rules"]) == set(policy.Rules.model_fields)
    # the label table covers every rule, so pages never show a bare key
    assert set(policy.RULE_LABELS) == set(policy.Rules.model_fields)


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_profile_names_its_seed(code: str) -> None:
    first = (policy.PROFILE_DIR / f"{code}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#")
    assert SEEDS[code] in first


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_rules_are_sourced(code: str) -> None:
    rules = policy.load_profile(code).rules
    for key in policy.Rules.model_fields:
        rule = getattr(rules, key)
        if rule.default:
            assert rule.article is None, f"{code}.{key}: a default cites no article"
            assert rule.note, f"{code}.{key}: a default must say why (note)"
        else:
            assert rule.article, f"{code}.{key}"
    cited = {k for k in policy.Rules.model_fields if not getattr(rules, k).default}
    assert cited == CITED[code]


@pytest.mark.parametrize(
    ("code", "key"), [(code, key) for key in EXPECTED for code in sorted(SEEDS)]
)
def test_numbers_match_requirements(code: str, key: str) -> None:
    rule = getattr(policy.load_profile(code).rules, key)
    expected = EXPECTED[key][COLUMNS.index(code)]
    if isinstance(expected, list):
        assert sorted(rule.value) == sorted(expected)
    else:
        assert rule.value == expected


# --- citations against the seed texts ---------------------------------------------------


def _cn_number(text: str) -> int:
    """一 .. 九十九 as an int."""
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return CN_DIGITS.get(tens, 1) * 10 + (CN_DIGITS[ones] if ones else 0)
    return CN_DIGITS[text]


def _normalise(text: str) -> str:
    return text.replace("(", "（").replace(")", "）")


def _span(lines: list[str], start: re.Pattern[str], stop: re.Pattern[str]) -> list[str]:
    """The stripped lines from the one matching `start` up to the next matching `stop`."""
    for i, line in enumerate(lines):
        if start.match(line):
            body = [line]
            for following in lines[i + 1 :]:
                if stop.match(following):
                    break
                body.append(following)
            return body
    return []


def _cited_text(seed: str, article: str) -> str:
    """The text of the seed that a citation points at; '' when it points nowhere."""
    lines = [line.strip() for line in seed.splitlines() if line.strip()]
    heading = re.compile(rf"^第[{NUMERAL}]+[条條章]")
    if m := ARTICLE.match(article):
        # the head must appear literally, as the start of an article
        assert m["head"] in seed, f"{m['head']} does not appear in the seed"
        body = _span(lines, re.compile(rf"^{m['head']}(?![{NUMERAL}])"), heading)
    elif m := PART.match(article):
        numbered_part = re.compile(r"^[一二三四五六七八九十]+、")
        body = _span(lines, re.compile(rf"^{m['part']}、"), numbered_part)
    else:
        pytest.fail(f"citation {article!r} has an unknown form")
    if not body:
        return ""
    if m.groupdict().get("para"):
        # paragraphs (款) are the lines of the article; numbered items belong to the one above
        paras: list[str] = []
        for line in body:
            if paras and re.match(r"^[（(][一二三四五六七八九十]+[)）]", line):
                paras[-1] += line
            else:
                paras.append(line)
        n = _cn_number(m["para"])
        return paras[n - 1] if n <= len(paras) else ""
    if m["item"]:
        item = _normalise(m["item"])
        lines_of_item = [line for line in body if _normalise(line).startswith(item)]
        return lines_of_item[0] if lines_of_item else ""
    return "".join(body)


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_citations_appear_in_seed(code: str) -> None:
    path = SEED_DIR / SEEDS[code]
    if not SEED_DIR.is_dir():
        pytest.skip(f"seed texts not present at {SEED_DIR}; citations cannot be checked")
    seed = path.read_text(encoding="utf-8")
    profile = policy.load_profile(code)
    for key in policy.Rules.model_fields:
        rule = getattr(profile.rules, key)
        if rule.default:
            continue
        assert (code, key) in EVIDENCE, f"{code}.{key}: add the seed's words to EVIDENCE"
        cited = _cited_text(seed, rule.article)
        assert cited, f"{code}.{key}: {rule.article} not found in {path.name}"
        assert EVIDENCE[code, key] in cited, (
            f"{code}.{key}: {rule.article} of {path.name} does not say {EVIDENCE[code, key]!r}"
        )
    if profile.source:
        assert profile.source in seed
    if profile.issued_on:
        d = profile.issued_on
        assert f"{d.year}年{d.month}月{d.day}日" in seed


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_violation_articles_appear_in_seed(code: str) -> None:
    """Each violation's article is where the seed lists it (or, in Xiangtan's notice, where
    it sets the duty broken)."""
    if not SEED_DIR.is_dir():
        pytest.skip(f"seed texts not present at {SEED_DIR}; citations cannot be checked")
    seed = (SEED_DIR / SEEDS[code]).read_text(encoding="utf-8")
    for kind, article in policy.load_profile(code).rules.violation_articles.value.items():
        assert (code, article) in VIOLATION_EVIDENCE, (
            f"{code}.{kind}: add {article} to VIOLATION_EVIDENCE"
        )
        words = VIOLATION_EVIDENCE[code, article]
        assert words in _cited_text(seed, article), (
            f"{code}.{kind}: {article} does not say {words!r}"
        )


def test_incident_hours_for_every_level_and_a_real_exercise_date_are_required() -> None:
    data = _shipped_data("shaoyang")
    del data["rules"]["incident_report_hours"]["value"]["large"]
    assert "large" in _refused(data)
    data = _shipped_data("shaoyang")
    data["rules"]["incident_report_hours"]["value"]["general"] = 0
    assert "incident_report_hours" in _refused(data)
    for wrong in ("02-30", "12/31", "十二月"):
        data = _shipped_data("shangrao")
        data["rules"]["security_exercise_due"]["value"] = wrong
        assert "security_exercise_due" in _refused(data)
    assert policy.load_profile("shangrao").rules.exercise_due_on(2026) == date(2026, 12, 31)


def test_a_violation_without_article_is_refused() -> None:
    data = _shipped_data("shangrao")
    del data["rules"]["violation_articles"]["value"]["grant_suspended"]
    assert "grant_suspended" in _refused(data)
    data = _shipped_data("shangrao")
    data["rules"]["violation_articles"]["value"]["data_stale"] = " "
    assert "data_stale" in _refused(data)


# The period each seed regulation is in force (REQUIREMENTS §9): (from, until, the words of
# the cited article that set it, or None where the profile explains it in a note instead).
IN_FORCE = {
    "shaoyang": (date(2022, 2, 14), None, "本办法自印发之日起施行"),
    "binzhou": (
        date(2017, 12, 6),
        date(2022, 11, 5),
        "自2017年12月6日起施行,有效期至2022年11月5日",
    ),
    "wuhai": (None, None, "本办法自发布之日起施行"),
    "xiangtan": (date(2021, 4, 30), None, None),
    "shangrao": (date(2020, 12, 7), None, "本办法自印发之日起施行"),
}


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_profile_records_the_period_its_regulation_is_in_force(code: str) -> None:
    profile = policy.load_profile(code)
    start, end, words = IN_FORCE[code]
    assert profile.in_force is not None
    assert (profile.in_force.effective_from, profile.in_force.effective_until) == (start, end)
    if not SEED_DIR.is_dir():
        pytest.skip(f"seed texts not present at {SEED_DIR}; citations cannot be checked")
    seed = (SEED_DIR / SEEDS[code]).read_text(encoding="utf-8")
    if words is None:
        assert profile.in_force.article is None and profile.in_force.note
    else:
        assert words in _cited_text(seed, profile.in_force.article or "")
    if start is not None:
        assert f"{start.year}年{start.month}月{start.day}日" in seed


def test_binzhou_expires_after_2022_11_05_and_the_others_do_not() -> None:
    binzhou = policy.load_profile("binzhou")
    assert not binzhou.expired(date(2022, 11, 5))
    assert binzhou.expiry_warning(date(2022, 11, 5)) is None
    assert binzhou.expired(date(2022, 11, 6))
    warning = binzhou.expiry_warning(date(2026, 12, 1))
    assert warning is not None
    assert "2022-11-05" in warning and "第三十三條" in warning and "已经失效" in warning
    for code in ("shaoyang", "wuhai", "xiangtan", "shangrao"):
        assert not policy.load_profile(code).expired(date(2040, 1, 1)), code


def test_a_period_without_source_or_backwards_is_refused() -> None:
    data = _shipped_data("binzhou")
    data["in_force"] = {"effective_from": "2017-12-06"}
    assert "in_force" in _refused(data)
    data["in_force"] = {
        "effective_from": "2022-12-06",
        "effective_until": "2017-11-05",
        "article": "第三十三條",
    }
    assert "effective_until" in _refused(data)


def test_open_base_topics_accept_every_base_topic() -> None:
    xiangtan = policy.load_profile("xiangtan").rules
    assert xiangtan.accepted_base_topics()[:3] == [P, L, N]
    assert set(xiangtan.accepted_base_topics()) == set(BaseTopic)
    shangrao = policy.load_profile("shangrao").rules
    assert shangrao.accepted_base_topics() == [P, L, N, E]


def test_citation_parser_refuses_wrong_places() -> None:
    """The citation check itself: a wrong article, paragraph or item finds other words."""
    if not SEED_DIR.is_dir():
        pytest.skip(f"seed texts not present at {SEED_DIR}; citations cannot be checked")
    seed = (SEED_DIR / SEEDS["shaoyang"]).read_text(encoding="utf-8")
    assert "10个工作日" in _cited_text(seed, "第二十一条第（二）项")
    assert "10个工作日" not in _cited_text(seed, "第二十一条第（一）项")
    assert "15个工作日" in _cited_text(seed, "第十一条第二款")
    assert "15个工作日" not in _cited_text(seed, "第十一条第一款")
    assert _cited_text(seed, "第十一条第九款") == ""
    assert "15个工作日" not in _cited_text(seed, "第十二条")
    with pytest.raises(AssertionError, match="does not appear"):
        _cited_text(seed, "第九十九条")


# --- refusals ---------------------------------------------------------------------------


def _refused(data: dict[str, Any]) -> str:
    with pytest.raises(ProfileError) as exc:
        policy.parse_profile(_dump(data), origin="operator.yaml")
    return str(exc.value)


def test_missing_rule_is_refused() -> None:
    data = _shipped_data("shaoyang")
    del data["rules"]["objection_verify_days"]
    message = _refused(data)
    assert "operator.yaml" in message
    assert "objection_verify_days" in message


def test_rule_without_source_is_refused() -> None:
    data = _shipped_data("shaoyang")
    data["rules"]["catalog_update_days"] = {"value": 15, "note": "无出处"}
    message = _refused(data)
    assert "catalog_update_days" in message
    assert "article" in message


def test_short_audit_retention_is_refused() -> None:
    data = _shipped_data("shangrao")
    data["rules"]["audit_retention_months"]["value"] = 5
    assert "audit_retention_months" in _refused(data)


@pytest.mark.parametrize(
    ("where", "key"),
    [((), "mayor"), (("rules",), "approval_days"), (("rules", "certificate_required"), "clause")],
)
def test_unknown_key_is_refused(where: tuple[str, ...], key: str) -> None:
    data = _shipped_data("wuhai")
    target = data
    for part in where:
        target = target[part]
    target[key] = 1
    assert key in _refused(data)


@pytest.mark.parametrize(
    ("key", "value"), [("application_decision_days", 0), ("mismatch_settle_days", 61)]
)
def test_out_of_range_days_are_refused(key: str, value: int) -> None:
    data = _shipped_data("binzhou")
    data["rules"][key]["value"] = value
    assert key in _refused(data)


@pytest.mark.parametrize("value", [0, 365])
def test_a_certificate_warning_not_shorter_than_the_validity_is_refused(value: int) -> None:
    data = _shipped_data("binzhou")
    data["rules"]["certificate_expiry_warning_days"]["value"] = value
    message = _refused(data)
    assert "certificate_expiry_warning_days" in message and "短于证书有效期" in message


def test_unknown_attachment_is_refused() -> None:
    data = _shipped_data("xiangtan")
    data["rules"]["application_attachments"]["value"] = ["photo"]
    assert "application_attachments" in _refused(data)


def test_not_yaml_is_refused() -> None:
    with pytest.raises(ProfileError, match="YAML"):
        policy.parse_profile("rules: [unclosed", origin="operator.yaml")


# --- loading ----------------------------------------------------------------------------


def test_unknown_code_lists_available() -> None:
    with pytest.raises(ProfileError) as exc:
        policy.load_profile("nosuch")
    message = str(exc.value)
    assert "nosuch" in message
    for code in SEEDS:
        assert code in message


def test_operator_file(tmp_path: Path) -> None:
    data = _shipped_data("shaoyang")
    data["code"] = "myshi"
    data["city"] = "某市"
    data["rules"]["application_decision_days"] = {
        "value": 7,
        "article": "第八条",
        "note": "本市办法",
    }
    path = tmp_path / "myshi.yaml"
    path.write_text(_dump(data), encoding="utf-8")
    profile = policy.load_profile("myshi", file=path)
    assert profile.code == "myshi"
    assert profile.city == "某市"
    assert profile.rules.application_decision_days.value == 7
    assert profile.rules.application_decision_days.article == "第八条"
    # the shipped profile is untouched
    assert policy.load_profile("shaoyang").rules.application_decision_days.value == 10


def test_operator_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="配置文件不存在"):
        policy.load_profile("myshi", file=tmp_path / "absent.yaml")
    data = _shipped_data("shaoyang")
    del data["rules"]["real_name_required"]
    path = tmp_path / "broken.yaml"
    path.write_text(_dump(data), encoding="utf-8")
    with pytest.raises(ProfileError) as exc:
        policy.load_profile("broken", file=path)
    assert str(path) in str(exc.value)
    assert "real_name_required" in str(exc.value)


def test_profile_is_frozen() -> None:
    profile = policy.load_profile("shangrao")
    with pytest.raises(ValueError):
        profile.rules.application_decision_days.value = 3  # type: ignore[misc]
