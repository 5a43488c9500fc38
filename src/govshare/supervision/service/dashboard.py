"""The overview on the home page (全市概览): for the operator, the authority and auditors the
whole city, for a department's people their own department — resources published by
department and domain, the use of shared data month by month, deadlines kept, availability of
the registered interfaces and databases, and rectification notices still open.

Supervision reads facts, not copies: every figure comes from the service that owns it (the
catalog's published counts, the ledgers' monthly figures, the probes' availability, the
notices' open counts), each one or a few grouped queries, so the home page costs the same
handful of queries for one department or a hundred. Each chart carries its numbers, so the
page can show them as a table beside it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Domain, ShareType
from govshare.catalog.service import overview as catalog_overview
from govshare.core import clock
from govshare.core.permissions import Actor, own_organization, require
from govshare.identity import service as identity_service
from govshare.sharing.service.common import OVERSEERS, READERS
from govshare.supervision.models import NoticeState
from govshare.supervision.service import ledgers, notices, probes

MONTHS = 12  # the use of data and the deadlines kept are shown over the last twelve months
USE_KINDS = (
    ("query", "在线查询"),
    ("lookup", "主键查询"),
    ("download", "下载"),
    ("push", "推送"),
    ("gateway", "接口调用"),
)
# Deadlines kept: (label, the ledger's figure of all answered, of those late).
DEADLINES = (
    ("共享申请答复", "applications_answered", "applications_late"),
    ("目录按期调整", None, "changes_late"),
    ("异议核实答复", "objections_answered", "objections_late"),
)
# The ledgers' figures the overview shows: the rest are not counted.
FIGURES = (
    "grants_given",
    "grants_held",
    *(f"{side}_{kind}" for side in ("served", "made") for kind, _ in USE_KINDS),
    *(key for _, all_key, late_key in DEADLINES for key in (all_key, late_key) if key),
    "changes_on_time",
)
NOTICE_STATES = (
    NoticeState.ISSUED,
    NoticeState.RETURNED,
    NoticeState.ESCALATED,
    NoticeState.ANSWERED,
)


@dataclass(frozen=True)
class Series:
    """One series of a chart: a value per category; bars of one `stack` are stacked."""

    name: str
    data: list[float]
    kind: str = "bar"  # or "line"
    stack: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart and the table of its numbers: a row per category, a column per series."""

    key: str  # names the chart's element: dashboard-<key>
    title: str
    caption: str
    heading: str  # the table's first column
    categories: list[str]
    series: list[Series]
    horizontal: bool = False
    unit: str = ""  # "%" for shares
    link: str = ""  # the page with the details
    short: list[str] = field(default_factory=list)  # the categories as the axis shows them
    total: bool = False  # the table ends with a column of each row's total
    nothing: str = "暂无数据"  # what the card says when there are no figures

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.data)

    def rows(self) -> list[tuple[str, list[float]]]:
        return [(c, [s.data[i] for s in self.series]) for i, c in enumerate(self.categories)]

    def data(self) -> dict[str, Any]:
        """What /static/dashboard-charts.js draws."""
        return {
            "categories": self.short or self.categories,
            "horizontal": self.horizontal,
            "unit": self.unit,
            "series": [
                {"name": s.name, "data": s.data, "type": s.kind, "stack": s.stack}
                for s in self.series
            ],
        }


@dataclass(frozen=True)
class Figure:
    """A headline number above the charts."""

    label: str
    value: str
    note: str = ""
    tone: str = ""  # "bad" where it asks for attention
    link: str = ""


@dataclass(frozen=True)
class Overview:
    """The city's overview, or a department's own."""

    scope: str  # 全市, or the department's name
    city: bool
    first: date  # the first month of the twelve
    figures: list[Figure]
    charts: list[Chart]


def overview(db_session: Session, *, actor: Actor) -> Overview:
    """The whole city for overseers (operator, authority, auditors), the actor's own
    department for its people."""
    require(actor, *READERS, action="查看概览")
    city = actor.has(*OVERSEERS)
    department_id = None if city else own_organization(actor)
    today = clock.today()
    this_month = today.replace(day=1)
    first = _months_before(this_month, MONTHS - 1)
    names = {
        o.id: o.short_name or o.name
        for o in identity_service.list_organizations(db_session, actor=actor)
    }
    published = catalog_overview.published_counts(
        db_session, actor=actor, provider_id=department_id
    )
    months = ledgers.monthly(
        db_session,
        actor=actor,
        first=first,
        after=ledgers.month_after(this_month),
        department_id=department_id,
        keys=FIGURES,
    )
    available = probes.availability(db_session, actor=actor, month=today)
    open_notices = notices.open_counts(db_session, actor=actor)

    resources = sum(p.resources for p in published)
    totals = Counter[str]()
    for _, figures in months:
        totals.update(figures)
    served = sum(totals[f"served_{k}"] for k, _ in USE_KINDS)
    made = sum(totals[f"made_{k}"] for k, _ in USE_KINDS)
    answered, late = _deadline_totals(totals)
    failing = sum(not a.last_ok for a in available)
    open_total = sum(n.notices for n in open_notices)
    overdue = sum(n.overdue for n in open_notices)

    figures = [
        Figure(
            "已发布资源" if city else "本单位已发布资源",
            str(resources),
            f"{len({p.provider_id for p in published})} 个部门提供" if city else "",
            link="/catalog" if city else "/catalog/mine",
        ),
        Figure(
            "近12个月数据使用",
            f"{served if city else served + made} 次",
            "含在线查询、下载、推送和接口调用"
            if city
            else f"本单位提供 {served} 次，使用 {made} 次",
            link="/sharing/usage",
        ),
        Figure(
            "按期办理率",
            _percent(answered - late, answered),
            f"近12个月办结 {answered} 件，逾期 {late} 件",
            tone="bad" if late else "",
            link="/supervision/ledgers",
        ),
        Figure(
            "本月可用率",
            _percent(sum(a.month for a in available), len(available)),
            f"{len(available)} 个接口和数据库，最近一次探测失败 {failing} 个"
            if available
            else "本月尚无探测记录",
            tone="bad" if failing else "",
            link="/supervision/availability",
        ),
        Figure(
            "未办结整改通知",
            str(open_total),
            f"其中逾期 {overdue} 件",
            tone="bad" if overdue else "",
            link="/supervision/notices",
        ),
    ]
    charts = [
        *_resource_charts(published, names, city),
        _grant_chart(months, city),
        _use_chart(months, city),
        _deadline_chart(totals),
        _availability_chart(available, names, city),
        _notice_chart(open_notices, names, city),
    ]
    scope = "全市" if city else names.get(department_id or 0, "本单位")
    return Overview(scope, city, first, figures, charts)


def _months_before(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _month_names(months: list[tuple[date, dict[str, int]]]) -> list[str]:
    """Months as an axis shows them: 1月 … 12月, January and the first with their year."""
    return [
        f"{m.year}年{m.month}月" if i == 0 or m.month == 1 else f"{m.month}月"
        for i, (m, _) in enumerate(months)
    ]


def _percent(part: float, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _short_names(names: list[str]) -> list[str]:
    """Department names without the prefix they all share (the city's name), for an axis."""
    prefix = names[0] if len(names) > 1 else ""
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    if len(prefix) < 2 or any(len(n) == len(prefix) for n in names):
        return names
    return [n[len(prefix) :] for n in names]


def _deadline_totals(totals: Counter[str]) -> tuple[int, int]:
    answered = late = 0
    for _, all_key, late_key in DEADLINES:
        late += totals[late_key]
        answered += totals[all_key] if all_key else totals["changes_on_time"] + totals[late_key]
    return answered, late


def _resource_charts(
    published: list[catalog_overview.PublishedCount], names: dict[int, str], city: bool
) -> list[Chart]:
    share_types = list(ShareType)
    by_domain = Counter[Domain]()
    for p in published:
        by_domain[p.domain] += p.resources
    domains = [d for d, _ in sorted(by_domain.items(), key=lambda kv: (-kv[1], kv[0].value))]

    def _by_share_type() -> list[Series]:
        counts = Counter[tuple[Domain, ShareType]]()
        for p in published:
            counts[p.domain, p.share_type] += p.resources
        return [
            Series(t.label, [counts[d, t] for d in domains], stack="share") for t in share_types
        ]

    charts = []
    if city:
        by_provider: dict[int, Counter[ShareType]] = {}
        for p in published:
            by_provider.setdefault(p.provider_id, Counter())[p.share_type] += p.resources
        providers = sorted(by_provider, key=lambda d: (-sum(by_provider[d].values()), d))
        labels = [names.get(d, str(d)) for d in providers]
        charts.append(
            Chart(
                "resources-by-department",
                "各部门已发布资源",
                "各部门提供的已发布政务信息资源，按共享类型分列",
                "部门",
                labels,
                [
                    Series(t.label, [by_provider[d][t] for d in providers], stack="share")
                    for t in share_types
                ],
                horizontal=True,
                link="/catalog",
                short=_short_names(labels),
                total=True,
            )
        )
    charts.append(
        Chart(
            "resources-by-domain",
            "已发布资源按领域分布" if city else "本单位已发布资源按领域分布",
            "已发布资源的现行版本所属领域" if city else "本单位已发布资源所属领域，按共享类型分列",
            "领域",
            [d.label for d in domains],
            [Series("资源数", [by_domain[d] for d in domains])] if city else _by_share_type(),
            horizontal=True,
            link="/catalog" if city else "/catalog/mine",
            total=not city,
        )
    )
    return charts


def _grant_chart(months: list[tuple[date, dict[str, int]]], city: bool) -> Chart:
    series = [Series("新增授权", [f["grants_given"] for _, f in months])]
    if not city:
        series = [
            Series("提供授权", [f["grants_given"] for _, f in months]),
            Series("获得授权", [f["grants_held"] for _, f in months]),
        ]
    return Chart(
        "grants-by-month",
        "共享授权",
        "近12个月各部门之间新增的共享授权（无条件共享直接获取和申请获批）"
        if city
        else "近12个月本单位向其他部门提供和从其他部门获得的共享授权",
        "月份",
        [f"{m.year}-{m.month:02d}" for m, _ in months],
        series,
        short=_month_names(months),
        link="/sharing/all-grants" if city else "/sharing/grants",
        total=not city,
    )


def _use_chart(months: list[tuple[date, dict[str, int]]], city: bool) -> Chart:
    labels = [f"{m.year}-{m.month:02d}" for m, _ in months]
    if city:
        series = [
            Series(label, [f[f"served_{key}"] for _, f in months], stack="uses")
            for key, label in USE_KINDS
        ]
        caption = "近12个月各部门共享数据的使用次数，按使用方式分列"
    else:
        series = [
            Series(
                f"{side}数据",
                [sum(f[f"{prefix}_{key}"] for key, _ in USE_KINDS) for _, f in months],
            )
            for prefix, side in (("served", "提供"), ("made", "使用"))
        ]
        caption = "近12个月本单位提供给其他部门的数据和本单位使用其他部门数据的次数"
    return Chart(
        "uses-by-month",
        "数据使用量",
        caption,
        "月份",
        labels,
        series,
        short=_month_names(months),
        link="/sharing/usage",
        nothing="近12个月没有使用记录",
        total=True,
    )


def _deadline_chart(totals: Counter[str]) -> Chart:
    on_time: list[float] = []
    late: list[float] = []
    for _, all_key, late_key in DEADLINES:
        done = totals[all_key] if all_key else totals["changes_on_time"] + totals[late_key]
        on_time.append(done - totals[late_key])
        late.append(totals[late_key])
    return Chart(
        "deadlines",
        "按期办理情况",
        "近12个月办结的共享申请、目录调整和异议核实，按期与逾期件数",
        "事项",
        [label for label, _, _ in DEADLINES],
        [Series("按期", on_time, stack="deadline"), Series("逾期", late, stack="deadline")],
        horizontal=True,
        link="/supervision/ledgers",
        total=True,
    )


def _availability_chart(
    available: list[probes.Availability], names: dict[int, str], city: bool
) -> Chart:
    """The city: each department's targets' availability, averaged; a department: each of its
    targets'. The least available first."""
    shares: dict[Any, list[float]] = {}
    for a in available:
        key = a.department_id if city else a.label.split("：", 1)[-1]
        shares.setdefault(key, []).append(a.month)
    rows = sorted(
        ((names.get(k, str(k)) if city else k, 100 * sum(v) / len(v)) for k, v in shares.items()),
        key=lambda row: (row[1], row[0]),
    )
    labels = [label for label, _ in rows]
    return Chart(
        "availability",
        "本月可用率",
        "本月各部门登记的接口和数据库探测成功的比例（按接口和数据库平均）"
        if city
        else "本月本单位登记的各接口和数据库探测成功的比例",
        "部门" if city else "接口或数据库",
        labels,
        [Series("可用率", [round(share, 1) for _, share in rows])],
        horizontal=True,
        unit="%",
        link="/supervision/availability",
        nothing="本月尚无探测记录",
        short=_short_names(labels) if city else labels,
    )


def _notice_chart(
    open_notices: list[notices.OpenCount], names: dict[int, str], city: bool
) -> Chart:
    if city:
        per_department = Counter[int]()
        for n in open_notices:
            per_department[n.department_id] += n.notices
        keys: list[Any] = sorted(per_department, key=lambda d: (-per_department[d], d))
        key_of = "department_id"
        labels = [names.get(k, str(k)) for k in keys]
        heading, short = "部门", _short_names(labels)
    else:
        keys = [s for s in NOTICE_STATES if any(n.state is s for n in open_notices)]
        key_of = "state"
        labels = [s.label for s in keys]
        heading, short = "状态", labels
    overdue = Counter[Any]()
    waiting = Counter[Any]()
    answered = Counter[Any]()
    for n in open_notices:
        key = getattr(n, key_of)
        overdue[key] += n.overdue
        if n.state is NoticeState.ANSWERED:
            answered[key] += n.notices
        else:
            waiting[key] += n.notices - n.overdue
    return Chart(
        "notices",
        "未办结整改通知",
        "各部门尚未办结的整改通知：逾期未整改、整改期限内、已反馈待审核"
        if city
        else "本单位尚未办结的整改通知",
        heading,
        labels,
        [
            Series("逾期未整改", [overdue[k] for k in keys], stack="notice"),
            Series("整改期限内", [waiting[k] for k in keys], stack="notice"),
            Series("待审核", [answered[k] for k in keys], stack="notice"),
        ],
        horizontal=True,
        link="/supervision/notices",
        short=short,
        nothing="没有未办结的整改通知",
        total=True,
    )
