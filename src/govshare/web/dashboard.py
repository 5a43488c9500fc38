"""The home page's figures, gathered from each domain's service for the acting role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.service import overview
from govshare.core import calendar, clock
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.sharing.models import ApplicationState
from govshare.sharing.service import application_views, applications, deadlines, grants
from govshare.sharing.service.common import READERS
from govshare.supervision.service import dashboard as overview_service


@dataclass(frozen=True)
class Card:
    title: str
    url: str
    text: str
    figure: int | str | None = None


def home(db_session: Session, *, actor: Actor) -> dict[str, Any]:
    """The cards and calendar notices for the actor's home page, and below them the city's
    overview for those who oversee it or their own department's for its people."""
    today = clock.today()
    cal = calendar.load(db_session)
    cards: list[Card] = []
    catalog = overview.catalog_summary(db_session, actor=actor)
    cards.append(
        Card("资源目录", "/catalog", "已发布的政务信息资源，可检索、订阅", catalog.published)
    )
    if actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY):
        cards.append(
            Card("目录审核", "/catalog/review", "待审核的资源目录", catalog.awaiting_review)
        )
    if actor.has(Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF):
        cards.append(
            Card(
                "本单位目录",
                "/catalog/mine",
                "编制中、待审核或被退回的版本",
                catalog.own_in_progress,
            )
        )
    cards.extend(_sharing_cards(db_session, actor))
    if actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR):
        summary = identity_service.directory_summary(db_session, actor=actor)
        cards.append(
            Card(
                "组织机构",
                "/admin/organizations",
                "已登记的部门、单位和企业",
                summary.organizations,
            )
        )
        if actor.has(Role.PLATFORM_OPERATOR):
            cards.append(
                Card(
                    "用户",
                    "/admin/users",
                    f"其中 {summary.locked_users} 个账户处于锁定状态",
                    summary.users,
                )
            )
    if actor.has(Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF):
        cards.append(Card("本单位", "/my-organization", "本单位人员、数据专员任职记录和保密协议"))
    if actor.has(Role.DATA_OFFICER, Role.PLATFORM_OPERATOR, Role.AUTHORITY):
        cards.append(Card("信息系统", "/systems", "信息系统目录：是否接入共享平台、待关闭的专线"))
    if actor.has(Role.PLATFORM_OPERATOR, Role.DATA_OFFICER):
        cards.append(Card("接口令牌", "/tokens", "为本单位信息系统签发、吊销接口令牌"))
    if actor.has(Role.AUDITOR, Role.PLATFORM_OPERATOR, Role.AUTHORITY):
        cards.append(Card("审计日志", "/audit", "按人员、单位、对象、操作和时间查询，校验审计链"))
    cards.append(Card("工作日历", "/calendar", "法定节假日、调休和办理期限计算"))
    years = (today.year, today.year + 1)
    provisional = [f"{y}年" for y in years if cal.year_status(y) == "provisional"]
    return {
        "cards": cards,
        "today": today.isoformat(),
        "today_is_working": cal.is_working_day(today),
        "provisional_years": provisional,
        "overview": (
            overview_service.overview(db_session, actor=actor) if actor.has(*READERS) else None
        ),
    }


def _sharing_cards(db_session: Session, actor: Actor) -> list[Card]:
    """What waits in the sharing workflow for this person's department, or for the operator."""
    cards: list[Card] = []
    if actor.has(Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF):
        waiting = [
            a
            for a in application_views.to_decide(db_session, actor=actor)
            if a.state is ApplicationState.DECIDING
        ]
        mine = application_views.my_applications(db_session, actor=actor)
        returned = sum(a.state is ApplicationState.RETURNED for a in mine)
        open_ = sum(a.state in applications.OPEN_STATES for a in mine)
        held = grants.my_grants(db_session, actor=actor)
        usable = sum(g.usable(clock.today()) for g in held)
        cards.append(
            Card("待我答复", "/sharing/decide", "其他部门的共享申请，请在期限内答复", len(waiting))
        )
        cards.append(
            Card(
                "我的申请",
                "/sharing/applications",
                f"办理中的申请，其中 {returned} 件被退回待补正" if returned else "办理中的申请",
                open_,
            )
        )
        cards.append(Card("我的授权", "/sharing/grants", "本单位当前可使用的共享授权", usable))
    if actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY):
        queue = deadlines.queue(db_session, actor=actor)
        overdue = sum(r.urgency is deadlines.Urgency.OVERDUE for r in queue)
        cards.append(
            Card("督办队列", "/sharing/queue", f"待办环节，其中 {overdue} 件已超期", len(queue))
        )
    return cards
