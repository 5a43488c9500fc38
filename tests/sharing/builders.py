"""Sharing test data, built through the services: a provider with a conditional, an
unconditional and a not-shared resource, a consumer, the operator and the authority."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core.permissions import Actor, Role
from govshare.core.policy import Profile, load_profile
from govshare.identity.models import Organization
from govshare.sharing.models import Application
from govshare.sharing.schemas import ApplicationIn, DecisionIn, Upload
from govshare.sharing.service import applications, decisions
from tests.builders import actor_of, operator, organization, system_of, user
from tests.catalog.builders import published

SHANGRAO: Profile = load_profile("shangrao")
BINZHOU: Profile = load_profile("binzhou")
XIANGTAN: Profile = load_profile("xiangtan")

PEOPLE_ITEMS = [
    {"name": "姓名", "data_type": "C", "length": 50, "personal": True},
    {"name": "公民身份号码", "data_type": "C", "length": 18, "personal": True},
    {"name": "性别", "data_type": "C", "length": 2},
    {"name": "出生日期", "data_type": "D"},
    {"name": "户籍地址", "data_type": "C", "length": 200, "personal": True},
    {"name": "行政区划代码", "data_type": "C", "length": 6},
    {"name": "手机号码", "data_type": "C", "length": 11, "personal": True},
]
FIELDS = [i["name"] for i in PEOPLE_ITEMS]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def sealed_letter(content: bytes = PDF) -> Upload:
    return Upload(
        kind="sealed_letter",
        filename="申请函.pdf",
        content_type="application/pdf",
        content=content,
    )


def commitment() -> Upload:
    return Upload(
        kind="usage_commitment", filename="使用承诺函.png", content_type="image/png", content=PNG
    )


@dataclass
class Sharing:
    """Who takes part in sharing, and three published resources of the provider."""

    db: Session
    op: Actor
    authority: Actor
    provider: Organization
    provider_officer: Actor
    provider_staff: Actor
    consumer: Organization
    consumer_officer: Actor
    consumer_system: int  # the id of its registered 社会救助信息系统
    conditional: Resource  # 有条件共享: apply
    unconditional: Resource  # 无条件共享: direct access
    not_shared: Resource  # 不予共享: coordination


def sharing_world(db: Session, op: Actor | None = None) -> Sharing:
    """The sharing cast; `op` is an existing operator (else one is created)."""
    if op is None:
        op, _ = operator(db)
    authority_org = organization(db, "市政务服务数据管理局")
    authority = actor_of(user(db, authority_org, [Role.AUTHORITY]))
    provider = organization(db, "市公安局")
    provider_officer = actor_of(user(db, provider, [Role.DATA_OFFICER]))
    provider_staff = actor_of(user(db, provider, [Role.DEPARTMENT_STAFF]))
    consumer = organization(db, "市民政局")
    consumer_officer = actor_of(user(db, consumer, [Role.DATA_OFFICER]))
    common: dict[str, Any] = {"items": PEOPLE_ITEMS}
    conditional = published(
        db,
        provider_officer,
        op,
        name="常住人口基本信息",
        share_type="conditional",
        share_conditions="仅限办理社会救助、户籍业务的部门使用",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
        **common,
    )
    unconditional = published(db, provider_officer, op, name="户籍办理指南信息", **common)
    not_shared = published(
        db,
        provider_officer,
        op,
        name="在逃人员信息",
        share_type="not_shared",
        legal_basis="《中华人民共和国刑事诉讼法》",
        **common,
    )
    return Sharing(
        db,
        op,
        authority,
        provider,
        provider_officer,
        provider_staff,
        consumer,
        consumer_officer,
        system_of(db, consumer.id),
        conditional,
        unconditional,
        not_shared,
    )


def application_in(resource: Resource, system_id: int, **kw: Any) -> ApplicationIn:
    """A complete application for `resource` by the department of registered system
    `system_id`; `kw` overrides any field."""
    fields: dict[str, Any] = {
        "resource_id": resource.id,
        "purpose": "核对最低生活保障申请人的户籍和身份信息",
        "system_id": system_id,
        "fields": ["姓名", "公民身份号码", "户籍地址", "行政区划代码"],
        "row_filter": [{"field": "行政区划代码", "op": "in", "values": ["361102", "361103"]}],
        "valid_from": date(2026, 10, 1),
        "valid_until": date(2027, 9, 30),
        "accept_restrictions": True,
    }
    fields |= kw
    return ApplicationIn.model_validate(fields)


def submitted(w: Sharing, profile: Profile = SHANGRAO, **kw: Any) -> Application:
    """An application by the consumer for the conditional resource, under `profile`."""
    uploads = (
        [sealed_letter()] if "sealed_letter" in profile.rules.application_attachments.value else []
    )
    if "usage_commitment" in profile.rules.application_attachments.value:
        uploads.append(commitment())
    return applications.submit_application(
        w.db,
        actor=w.consumer_officer,
        profile=profile,
        data=application_in(w.conditional, w.consumer_system, **kw),
        uploads=uploads,
    )


def deciding(w: Sharing, profile: Profile = SHANGRAO, **kw: Any) -> Application:
    """An application waiting for the provider's decision (forwarded by the pre-review)."""
    from govshare.sharing.schemas import PreReviewIn

    application = submitted(w, profile, **kw)
    if application.pre_review_days:
        decisions.pre_review(
            w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
    return application


def approved(w: Sharing, profile: Profile = SHANGRAO, **decision: Any) -> Application:
    """An approved application (and so a grant), with the decision's scope."""
    application = deciding(w, profile)
    return decisions.decide(
        w.db,
        actor=w.provider_officer,
        profile=profile,
        application_id=application.id,
        data=DecisionIn(approve=True, **decision),
    )
