"""What a resource version holds: its fields and data items, the rules they must meet under the
city's profile, and when a new version narrows what the previous one shared."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import synonyms
from govshare.catalog.models import (
    CatalogKind,
    DataItem,
    OpenType,
    Resource,
    ResourceVersion,
    ShareMethod,
    ShareType,
)
from govshare.catalog.schemas import VersionIn
from govshare.core.errors import Invalid
from govshare.core.policy import VALUE_LABELS, BaseTopic, Rules

CLASS_CODES = {CatalogKind.BASE: "1", CatalogKind.THEME: "2", CatalogKind.DEPARTMENT: "3"}
# The fields a version carries, in the order pages and diffs show them, with their labels.
VERSION_FIELDS: dict[str, str] = {
    "name": "资源名称",
    "summary": "资源摘要",
    "format": "资源格式",
    "format_detail": "格式细类",
    "share_type": "共享类型",
    "share_conditions": "共享条件",
    "legal_basis": "不予共享或有条件共享依据",
    "share_scope": "共享范围",
    "share_methods": "共享方式",
    "offline_reason": "线下共享原因",
    "update_frequency": "更新周期",
    "timeliness": "时效要求",
    "open_type": "开放属性",
    "open_conditions": "开放条件",
    "domain": "所属领域",
    "related_codes": "关联资源",
}
ITEM_FIELDS = {
    "data_type": "数据类型",
    "length": "长度",
    "description": "描述",
    "personal": "个人信息",
}


def _fail(problems: list[tuple[str, str]]) -> None:
    if problems:
        field_name, message = problems[0]
        raise Invalid(
            message,
            field=field_name,
            errors=[{"field": f, "message": m} for f, m in problems],
        )


def rule_problems(
    db_session: Session,
    *,
    kind: CatalogKind,
    data: VersionIn,
    rules: Rules,
    base_topic: str | None = None,
) -> list[tuple[str, str]]:
    """Every rule `data` breaks, as (field, message): CAT-4, SR§8 and the format rules."""
    problems: list[tuple[str, str]] = []
    share = data.share_type
    if kind is CatalogKind.BASE:
        topics = [t.value for t in rules.accepted_base_topics()]
        if base_topic not in topics:
            labels = "、".join(LABELS_TOPIC.get(t, t) for t in topics)
            problems.append(("base_topic", f"基础信息资源须选择基础目录主题（{labels}）"))
        if share is not ShareType.UNCONDITIONAL:
            problems.append(("share_type", "基础信息资源的信息项必须无条件共享"))
    if share is not ShareType.UNCONDITIONAL and not data.legal_basis:
        problems.append(("legal_basis", f"{share.label}须注明法律、行政法规或国家、省政策依据"))
    if share is ShareType.CONDITIONAL and not data.share_conditions:
        problems.append(("share_conditions", "有条件共享须写明共享条件"))
    if data.open_type is not OpenType.NOT_OPEN and share is not ShareType.UNCONDITIONAL:
        problems.append(("share_type", "列入开放的资源，对政务部门须无条件共享"))
    if data.open_type is OpenType.CONDITIONAL and not data.open_conditions:
        problems.append(("open_conditions", "有条件开放须写明开放条件"))
    if ShareMethod.OFFLINE in data.share_methods and not data.offline_reason:
        problems.append(("offline_reason", "通过邮件或介质共享属例外，须说明原因"))
    if data.format.value in ("database", "spreadsheet") and not data.items:
        problems.append(("items", f"{data.format.label}类资源至少登记一个信息项"))
    seen: dict[str, str] = {}
    for position, item in enumerate(data.items, start=1):
        key = synonyms.normalize(item.name)
        if key in seen:
            problems.append((f"items.{position}.name", f"信息项“{item.name}”重复"))
        seen[key] = item.name
    for code in data.related_codes:
        if db_session.execute(select(Resource.id).where(Resource.code == code)).first() is None:
            problems.append(("related_codes", f"关联资源代码“{code}”不存在"))
    return problems


LABELS_TOPIC = {t.value: VALUE_LABELS[t.value] for t in BaseTopic}  # 基础目录主题


def _fill(db_session: Session, version: ResourceVersion, data: VersionIn) -> None:
    for name in VERSION_FIELDS:
        value = getattr(data, name)
        if name == "share_methods":
            value = [m.value for m in value]
        setattr(version, name, value)
    version.change_note = data.change_note
    version.narrowing_justification = data.narrowing_justification
    version.requested_effective_on = data.requested_effective_on
    if version.id is not None and version.items:
        version.items.clear()  # old rows go before new ones take their positions
        db_session.flush()
    version.items = [
        DataItem(
            position=i,
            name=item.name,
            normalized=synonyms.normalize(item.name),
            data_type=item.data_type,
            length=item.length,
            description=item.description,
            personal=item.personal,
        )
        for i, item in enumerate(data.items, start=1)
    ]


def version_input(version: ResourceVersion) -> dict[str, Any]:
    """A version's fields as a VersionIn-shaped dict (to prefill forms and copy versions)."""
    out: dict[str, Any] = {name: getattr(version, name) for name in VERSION_FIELDS}
    out["items"] = [
        {
            "name": i.name,
            "data_type": i.data_type,
            "length": i.length,
            "description": i.description,
            "personal": i.personal,
        }
        for i in version.items
    ]
    out["change_note"] = version.change_note
    out["narrowing_justification"] = version.narrowing_justification
    out["requested_effective_on"] = version.requested_effective_on
    return out


def _snapshot(version: ResourceVersion) -> dict[str, Any]:
    data = version_input(version)
    data["items"] = [{**i, "data_type": str(i["data_type"])} for i in data["items"]]
    return {k: (str(v) if hasattr(v, "value") else v) for k, v in data.items() if k != "items"} | {
        "items": [i["name"] for i in data["items"]]
    }


def _problems_for(
    db_session: Session, resource: Resource, data: VersionIn, rules: Rules
) -> list[tuple[str, str]]:
    return rule_problems(
        db_session,
        kind=resource.catalog_kind,
        data=data,
        rules=rules,
        base_topic=resource.base_topic,
    )


def narrowing_reasons(previous: ResourceVersion, new: ResourceVersion) -> list[str]:
    """How `new` narrows an unconditionally shared `previous` (SY§32(1)), in words."""
    if previous.share_type is not ShareType.UNCONDITIONAL:
        return []
    reasons = []
    if new.share_type is not ShareType.UNCONDITIONAL:
        reasons.append(f"共享类型由无条件共享改为{new.share_type.label}")
    removed = [
        i.name for i in previous.items if i.normalized not in {n.normalized for n in new.items}
    ]
    if removed:
        reasons.append("删除信息项：" + "、".join(removed))
    return reasons
