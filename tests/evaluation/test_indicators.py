"""The evaluation indicators of the shipped profiles: every fact they count exists, each
cites the seed's article where it says so, and a broken indicator is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from govshare.core import policy
from govshare.core.policy import EvaluationFact, ProfileError
from govshare.supervision.service import ledgers
from tests.core.test_policy import SEED_DIR, SEEDS, _cited_text

# Words of the seed that must stand in each article an indicator (or the evaluation) cites.
EVIDENCE = {
    ("shaoyang", "第三十条"): "每年对政务部门落实政务信息资源共享工作进行评估",
    ("shaoyang", "第十一条第二款"): "15个工作日内更新",
    ("shaoyang", "第二十一条第（二）项"): "10个工作日内予以书面答复",
    ("shaoyang", "第三十二条第（三）项"): "联通共享平台",
    ("shaoyang", "第二十五条第二款"): "5个工作日内予以校核",
    ("shaoyang", "第三十二条"): "责令改正",
    ("binzhou", "第二十八條"): "聯合考核",
    ("binzhou", "第十二條"): "監督考核",
    ("binzhou", "第十七條"): "5個工作日內予以答覆",
    ("binzhou", "第三十條第(二)項"): "未向共享平台及時提供共享信息",
    ("binzhou", "第三十條"): "督促有關部門予以糾正",
    ("wuhai", "第十四条"): "评价机制",
    ("wuhai", "第七条第一款"): "15个工作日内更新",
    ("wuhai", "第九条第三款"): "5个工作日内予以答复",
    ("wuhai", "第二十条第（一）项"): "提供给其他部门共享",
    ("wuhai", "第十二条"): "快速校核机制",
    ("wuhai", "第二十条"): "书面通报限期改正",
    ("xiangtan", "第三部分第（三）项"): "共享数量和质量",
    ("xiangtan", "第二部分第（四）项"): "编制部门信息资源目录",
    ("shangrao", "第二十九条"): "目录编制、共享、开放和更新维护情况进行评估",
    ("shangrao", "第十四条"): "10个工作日内予以答复",
    ("shangrao", "第三十条第（二）项"): "及时向共享和开放平台提供政务信息资源",
    ("shangrao", "第三十条"): "未在规定时间内完成整改的",
}


def test_the_facts_are_the_ledgers_and_supervisions() -> None:
    supervision = {
        "findings",
        "notices_accepted",
        "notices_escalated",
        "probes_ok",
        "probes_failed",
    }
    assert {f.value for f in EvaluationFact} == set(ledgers.KEYS) | supervision
    assert set(policy.FACT_LABELS) == set(EvaluationFact)


@pytest.mark.parametrize("code", sorted(SEEDS))
def test_indicators_cite_their_seed(code: str) -> None:
    if not SEED_DIR.is_dir():
        pytest.skip(f"seed texts not present at {SEED_DIR}; citations cannot be checked")
    seed = (SEED_DIR / SEEDS[code]).read_text(encoding="utf-8")
    evaluation = policy.load_profile(code).evaluation
    cited = [evaluation.article] + [i.article for i in evaluation.indicators if not i.default]
    for article in cited:
        assert article is not None
        assert (code, article) in EVIDENCE, f"{code}: add {article} to EVIDENCE"
        assert EVIDENCE[code, article] in _cited_text(seed, article), f"{code}: {article}"
    for indicator in evaluation.indicators:
        if indicator.default:
            assert indicator.note, f"{code}.{indicator.code}: a default must say why"


def _with(change: dict[str, Any]) -> str:
    data = yaml.safe_load((policy.PROFILE_DIR / "shangrao.yaml").read_text(encoding="utf-8"))
    data["evaluation"]["indicators"][0].update(change)
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"weight": 30}, "权重合计应为 100"),
        ({"formula": "penalty"}, "不用 against"),
        ({"facts": ["__import__('os')"]}, "facts"),
        ({"article": None}, "出处"),
        ({"formula": "eval"}, "formula"),
    ],
)
def test_a_broken_indicator_is_refused(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ProfileError, match=words):
        policy.parse_profile(_with(change), origin="city.yaml")
