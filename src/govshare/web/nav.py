"""The navigation each role sees (a link is shown only where the role may act): the main
bar, and a section's own tabs on every page under it (/catalog, /sharing, /exchange,
/opendata, /verification, /supervision, /security)."""

from __future__ import annotations

from govshare.core.permissions import Role
from govshare.web.deps import Viewer

DEPARTMENT = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF)
OVERSIGHT = (Role.PLATFORM_OPERATOR, Role.AUTHORITY)
# Who opens data (a department's data officer or head), confirms it, or oversees it.
OPENDATA = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, *OVERSIGHT, Role.AUDITOR)

Links = list[tuple[str, str, tuple[Role, ...]]]

# (label, url, roles that see it; empty = everyone signed in)
LINKS: Links = [
    ("首页", "/", ()),
    ("资源目录", "/catalog", ()),
    ("本单位目录", "/catalog/mine", DEPARTMENT),
    ("目录审核", "/catalog/review", OVERSIGHT),
    ("责任清单", "/catalog/responsibilities", DEPARTMENT),
    ("资源共享", "/sharing", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("数据交换", "/exchange", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("资源开放", "/opendata", OPENDATA),
    ("疑义校核", "/verification/objections", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("监督考核", "/supervision/notices", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("考核评价", "/evaluation", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("安全管理", "/security", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("组织机构", "/admin/organizations", (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)),
    ("用户管理", "/admin/users", (Role.PLATFORM_OPERATOR,)),
    ("本单位", "/my-organization", DEPARTMENT),
    ("信息系统", "/systems", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("接口令牌", "/tokens", (Role.PLATFORM_OPERATOR, Role.DATA_OFFICER)),
    ("系统证书", "/pki", (Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, Role.AUTHORITY, Role.AUDITOR)),
    ("级联对接", "/federation", (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)),
    ("工作日历", "/calendar", ()),
    ("审计日志", "/audit", (Role.AUDITOR, Role.PLATFORM_OPERATOR, Role.AUTHORITY)),
    ("上级资源", "/federation/upper-requests", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
]

CATALOG_TABS: Links = [
    ("目录检索", "/catalog", ()),
    ("主题目录", "/catalog/themes", ()),
    ("本单位目录", "/catalog/mine", DEPARTMENT),
    ("目录审核", "/catalog/review", OVERSIGHT),
    ("目录更新事项", "/catalog/changes", (*DEPARTMENT, *OVERSIGHT)),
    ("数据需求", "/catalog/needs", (*DEPARTMENT, Role.PLATFORM_OPERATOR)),
    ("信息化项目", "/catalog/projects", (*DEPARTMENT, *OVERSIGHT)),
    ("责任清单", "/catalog/responsibilities", DEPARTMENT),
    ("导入导出", "/catalog/spreadsheets", ()),
    ("级联目录", "/catalog/federation", ()),
]


SHARING_TABS: Links = [
    ("共享概览", "/sharing", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("我的申请", "/sharing/applications", DEPARTMENT),
    ("待我答复", "/sharing/decide", DEPARTMENT),
    ("我的授权", "/sharing/grants", DEPARTMENT),
    ("谁在用我的数据", "/sharing/usage", DEPARTMENT),
    ("督办队列", "/sharing/queue", OVERSIGHT),
    ("全部授权", "/sharing/all-grants", (*OVERSIGHT, Role.AUDITOR)),
    ("协调事项", "/sharing/cases", (*DEPARTMENT, *OVERSIGHT)),
]

EXCHANGE_TABS: Links = [
    ("交换概览", "/exchange", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("数据库连接", "/exchange/connections", (*DEPARTMENT, Role.PLATFORM_OPERATOR)),
    ("源库目录", "/exchange/source-directories", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("库表同步", "/exchange/bindings", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("前置库推送", "/exchange/pushes", (*DEPARTMENT, Role.PLATFORM_OPERATOR)),
    ("文件资源", "/exchange/files", (*DEPARTMENT, Role.PLATFORM_OPERATOR)),
    ("服务接口", "/exchange/interfaces", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
]

OPENDATA_TABS: Links = [
    ("开放发布", "/opendata", OPENDATA),
    ("开放申请", "/opendata/applications", OPENDATA),
    ("数据开放需求", "/opendata/requests", OPENDATA),
]

VERIFICATION_TABS: Links = [
    ("疑义校核", "/verification/objections", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("数据比对", "/verification/comparisons", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("比对不一致", "/verification/mismatches", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
]

SUPERVISION_TABS: Links = [
    ("整改通知", "/supervision/notices", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("违规发现", "/supervision/findings", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("通报", "/supervision/circulars", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("可用性", "/supervision/availability", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("台账", "/supervision/ledgers", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
]

SECURITY_TABS: Links = [
    ("安全事件", "/security/incidents", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("测评与演练", "/security/exercises", (*OVERSIGHT, Role.AUDITOR)),
    ("检查评估", "/security/checks", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
]

FEDERATION_REQUEST_TABS: Links = [
    ("上级资源申请", "/federation/upper-requests", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("上级授权", "/federation/upper-grants", (*DEPARTMENT, *OVERSIGHT, Role.AUDITOR)),
    ("预审与报送", "/federation/upper-bundles", (*OVERSIGHT, Role.AUDITOR)),
    ("下级报来", "/federation/inbound-bundles", (*OVERSIGHT, Role.AUDITOR)),
]

# Sections with their own tabs: the path prefix and the tabs shown under it.
SECTIONS: list[tuple[str, str, Links]] = [
    ("/catalog", "资源目录", CATALOG_TABS),
    ("/sharing", "资源共享", SHARING_TABS),
    ("/exchange", "数据交换", EXCHANGE_TABS),
    ("/opendata", "资源开放", OPENDATA_TABS),
    ("/verification", "疑义校核", VERIFICATION_TABS),
    ("/supervision", "监督考核", SUPERVISION_TABS),
    ("/security", "安全管理", SECURITY_TABS),
    ("/federation", "上级资源", FEDERATION_REQUEST_TABS),
]


def _visible(links: Links, user: Viewer) -> list[tuple[str, str]]:
    roles = user.roles
    return [(label, url) for label, url, allowed in links if not allowed or roles & set(allowed)]


def navigation(user: Viewer) -> list[tuple[str, str]]:
    return _visible(LINKS, user)


def section_tabs(user: Viewer, path: str) -> tuple[str, list[tuple[str, str]]]:
    """The section the page at `path` belongs to (its name, for the tab bar) and its tabs."""
    for prefix, name, links in SECTIONS:
        if path == prefix or path.startswith(prefix + "/"):
            return name, _visible(links, user)
    return "", []


def active(links: list[tuple[str, str]], path: str) -> str | None:
    """The link that the page at `path` belongs to: the longest matching prefix."""
    matches = [
        url for _, url in links if path == url or (url != "/" and path.startswith(url + "/"))
    ]
    return max(matches, key=len, default=None)
