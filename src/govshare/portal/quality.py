"""The quality indicator of a dataset (数据质量), as the best open-data portals show one: a
few checks anyone can verify on the dataset page, each passed or not, and the share passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from govshare.core import clock
from govshare.portal.models import PortalDataset

# Days after which data not refreshed is late, by declared update frequency (None: never).
MAX_AGE_DAYS: dict[str, int | None] = {
    "realtime": 1,
    "daily": 2,
    "weekly": 8,
    "monthly": 32,
    "quarterly": 93,
    "half_yearly": 184,
    "yearly": 366,
    "irregular": None,
}
RECENT_DAYS = 366
MIN_DESCRIPTION = 15


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Quality:
    checks: list[Check]

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def stars(self) -> int:
        """0–5, the share of checks passed."""
        return round(5 * self.passed / len(self.checks)) if self.checks else 0


def _age_days(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (clock.now() - moment) / timedelta(days=1)


def quality(dataset: PortalDataset) -> Quality:
    """The checks of one dataset, against the city clock."""
    described = len(dataset.notes.strip()) >= MIN_DESCRIPTION
    documented = [f for f in dataset.fields if f.description.strip()]
    fields = len(dataset.fields)
    limit = MAX_AGE_DAYS.get(dataset.update_frequency)
    age = _age_days(dataset.data_updated or dataset.modified)
    on_time = limit is None or (age is not None and age <= limit)
    readable = dataset.rows_table is not None
    recent = age is not None and age <= RECENT_DAYS
    return Quality(
        [
            Check(
                "有完整说明", described, "数据集说明不少于 15 字" if described else "说明过于简略"
            ),
            Check(
                "数据项有释义",
                fields > 0 and len(documented) * 2 >= fields,
                f"{len(documented)}/{fields} 个数据项有说明",
            ),
            Check(
                "按声明周期更新",
                on_time,
                f"声明{dataset.update_frequency_label}更新"
                + (
                    ""
                    if limit is None
                    else f"，最近一次在 {age:.0f} 天前"
                    if age is not None
                    else "，尚无更新"
                ),
            ),
            Check(
                "开放格式",
                readable,
                "可下载 CSV、JSON 和 Excel，可通过接口查询" if readable else "暂无可下载的数据",
            ),
            Check("近期数据", recent, "一年内有更新" if recent else "超过一年未更新"),
        ]
    )
