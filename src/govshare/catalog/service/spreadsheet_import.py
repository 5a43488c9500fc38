"""Catalog import (目录导入, CAT-8): a department catalog in from the Excel template that
`template` gives (its columns laid out in `catalog.workbook`, as the export writes them).

An import checks every row and cell before writing anything, and reports every problem
with its sheet, row and column; a file with any problem writes nothing. A clean file
becomes resources through `resources.create_resource`, each checked and audited like one
compiled on a page: drafts for the department's review, or — the operator merging
catalogs into an empty or existing platform — published at once, keeping the file's codes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import workbook as wb
from govshare.catalog.models import (
    CatalogKind,
    CodeCounter,
    DataType,
    Domain,
    OpenType,
    Resource,
    ResourceFormat,
    ResourceVersion,
    ShareMethod,
    ShareType,
    Theme,
    UpdateFrequency,
)
from govshare.catalog.schemas import CODE, DataItemIn, ResourceIn
from govshare.catalog.service import common, contents, resources
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.identity.models import Organization

IMPORTERS = (*common.SUBMITTERS, Role.PLATFORM_OPERATOR)
RES, ITEMS = wb.RESOURCE_SHEET, wb.ITEM_SHEET
TOPIC_VALUES = {label: value for value, label in contents.LABELS_TOPIC.items()}
# Where a schema or rule problem on a ResourceIn field shows in the resource sheet.
FIELD_COLUMN = {"provider_id": "provider_uscc", "theme_id": "theme", "items": "format"}
TEXT_FIELDS = (
    "name",
    "summary",
    "format_detail",
    "share_conditions",
    "legal_basis",
    "share_scope",
    "offline_reason",
    "timeliness",
    "open_conditions",
)


def template() -> bytes:
    """The empty catalog workbook, for departments to fill in and import."""
    return wb.write_workbook([], [])


# --- checking ------------------------------------------------------------------------


@dataclass
class _Item:
    row: wb.Row
    position: int | None
    data: DataItemIn | None  # None: the row has a problem


@dataclass
class _Planned:
    """A resource row that passed every check, ready to create."""

    row: int
    code: str | None
    data: ResourceIn
    related: list[str]  # as the file gives them, including codes of the same file
    published_on: date | None


def _item(row: wb.Row, problems: wb.Problems) -> _Item:
    position = wb.positive(row, "position", problems)
    fields: dict[str, Any] = {
        "name": row.text("name"),
        "data_type": wb.coded(DataType, row, "data_type", problems),
        "length": wb.positive(row, "length", problems),
        "description": row.text("description"),
        "personal": wb.yes_no(row, "personal", problems),
    }
    if problems.flagged(ITEMS, row.number):
        return _Item(row, position, None)
    try:
        return _Item(row, position, DataItemIn.model_validate(fields))
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "length"  # 字符型须填写长度
            problems.add(ITEMS, row.number, key, wb.schema_message(error))
        return _Item(row, position, None)


def _group_items(
    resource_rows: list[wb.Row], items: list[_Item], problems: wb.Problems
) -> dict[int, list[_Item]]:
    """The item rows of each resource row (by row number), in 序号 order."""
    by_code: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for row in resource_rows:
        if row.text("code"):
            by_code.setdefault(row.text("code"), row.number)
        by_name.setdefault(row.text("name"), []).append(row.number)
    grouped: dict[int, list[_Item]] = {row.number: [] for row in resource_rows}
    for item in items:
        code, name, number = item.row.text("code"), item.row.text("resource_name"), item.row.number
        if code:
            if code not in by_code:
                problems.add(ITEMS, number, "code", f"“{RES}”表中没有资源代码“{code}”")
                continue
            grouped[by_code[code]].append(item)
        elif name:
            found = by_name.get(name, [])
            if len(found) != 1:
                which = "有多个" if found else "没有"
                message = f"“{RES}”表中{which}名为“{name}”的资源，请填写资源代码"
                problems.add(ITEMS, number, "resource_name", message)
                continue
            grouped[found[0]].append(item)
        else:
            problems.add(ITEMS, number, "code", "请填写所属资源的资源代码或资源名称")
    last = 10**9
    for rows in grouped.values():
        seen: set[int] = set()
        for item in rows:
            if item.position in seen:
                problems.add(ITEMS, item.row.number, "position", f"序号 {item.position} 重复")
            if item.position is not None:
                seen.add(item.position)
        rows.sort(key=lambda i: (i.position if i.position is not None else last, i.row.number))
    return grouped


class _Checker:
    """Checks resource rows against the platform: providers, themes, codes and the rules."""

    def __init__(
        self,
        db_session: Session,
        actor: Actor,
        rules: Rules,
        scope: Organization | None,
        publish: bool,
        problems: wb.Problems,
    ) -> None:
        self.db, self.actor, self.rules, self.scope = db_session, actor, rules, scope
        self.publish, self.problems = publish, problems
        orgs = list(db_session.execute(select(Organization)).scalars())
        self.by_uscc = {o.uscc: o for o in orgs}
        self.by_name = {n: o for o in orgs for n in (o.short_name, o.name) if n}
        self.themes = {t.name: t for t in db_session.execute(select(Theme)).unique().scalars()}
        self.file_codes: dict[str, int] = {}
        self.counters: dict[str, int] = {}

    def add(self, row: wb.Row, key: str, message: str) -> None:
        self.problems.add(RES, row.number, key, message)

    def codes(self, rows: list[wb.Row]) -> None:
        """Notes the file's codes; duplicates and codes used on the platform are problems."""
        for row in rows:
            code = row.text("code")
            if code in self.file_codes:
                self.add(row, "code", f"资源代码“{code}”与第 {self.file_codes[code]} 行重复")
            elif code:
                self.file_codes[code] = row.number
        taken = set(
            self.db.execute(
                select(Resource.code).where(Resource.code.in_(list(self.file_codes)))
            ).scalars()
        )
        for code in taken:
            row_number = self.file_codes[code]
            self.problems.add(
                RES,
                row_number,
                "code",
                f"资源代码“{code}”已被平台上的资源使用（导入只新增资源；修改已有资源请在平台上新建版本）",
            )
        prefixes = {c.split("/")[0] for c in self.file_codes}
        counters = select(CodeCounter).where(CodeCounter.prefix.in_(prefixes))
        self.counters = {c.prefix: c.last for c in self.db.execute(counters).scalars()}

    def provider(self, row: wb.Row) -> Organization | None:
        uscc, name = row.text("provider_uscc").upper(), row.text("provider")
        if uscc:
            org = self.by_uscc.get(uscc)
            if org is None:
                self.add(row, "provider_uscc", f"统一社会信用代码“{uscc}”未在平台登记")
                return None
            if name and name not in (org.name, org.short_name):
                message = f"资源提供方“{name}”与提供方代码对应的单位（{org.name}）不一致"
                self.add(row, "provider", message)
                return None
        elif name:
            org = self.by_name.get(name)
            if org is None:
                self.add(row, "provider", f"单位“{name}”未在平台登记，请填写提供方代码")
                return None
        elif self.scope is not None:
            return self.scope
        else:
            self.add(row, "provider_uscc", "请填写提供方的统一社会信用代码")
            return None
        if self.scope is not None and org.id != self.scope.id:
            own = "只能导入本单位" if not self.actor.has(Role.PLATFORM_OPERATOR) else "本次只导入"
            message = f"{own}（{self.scope.name}）的资源目录，该行提供方为{org.name}"
            self.add(row, "provider_uscc" if uscc else "provider", message)
            return None
        return org

    def theme(self, row: wb.Row, kind: CatalogKind | None, provider: Organization | None):
        name = row.text("theme")
        if not name:
            if kind is CatalogKind.THEME:
                self.add(row, "theme", "主题信息资源须填写所属主题目录")
            return None
        theme = self.themes.get(name)
        if kind is not None and kind is not CatalogKind.THEME:
            self.add(row, "theme", "只有主题信息资源填写主题目录")
        elif theme is None:
            self.add(row, "theme", f"主题目录“{name}”不存在")
        elif provider is not None and provider.id not in theme.member_ids:
            self.add(row, "theme", f"提供方不是主题目录“{theme.name}”的牵头或共建部门")
        else:
            return theme
        return None

    def fields(self, row: wb.Row) -> dict[str, Any]:
        """ResourceIn's fields as the row gives them (a cell with a problem is left out)."""
        p = self.problems
        kind = wb.coded(CatalogKind, row, "catalog_kind", p)
        provider = self.provider(row)
        topic = row.text("base_topic")
        if topic and kind is not None and kind is not CatalogKind.BASE:
            self.add(row, "base_topic", "只有基础信息资源填写基础目录主题")
        theme = self.theme(row, kind, provider)
        fields = {
            "catalog_kind": kind,
            "provider_id": provider.id if provider else None,
            "base_topic": TOPIC_VALUES.get(topic, topic) or None,
            "theme_id": theme.id if theme else None,
            "item_code": wb.digits(row, "item_code", 2, p) or "01",
            "group_code": wb.digits(row, "group_code", 3, p) or "001",
            "subgroup_code": wb.digits(row, "subgroup_code", 3, p),
            "format": wb.coded(ResourceFormat, row, "format", p),
            "share_type": wb.coded(ShareType, row, "share_type", p),
            "share_methods": wb.several(ShareMethod, row, "share_methods", p),
            "update_frequency": wb.coded(UpdateFrequency, row, "update_frequency", p),
            "open_type": wb.coded(OpenType, row, "open_type", p) or OpenType.NOT_OPEN,
            "domain": wb.coded(Domain, row, "domain", p),
            **{key: row.text(key) for key in TEXT_FIELDS},
        }
        flagged = p.flagged(RES, row.number)
        return {
            k: v
            for k, v in fields.items()
            if v is not None and FIELD_COLUMN.get(k, k) not in flagged
        }

    def resource(self, row: wb.Row, items: list[_Item]) -> _Planned | None:
        """The row as a resource to create, or None (its problems noted)."""
        fields = self.fields(row)
        related = [c.strip() for c in wb.SEPARATORS.split(row.text("related_codes")) if c.strip()]
        related = list(dict.fromkeys(related))
        fields["related_codes"] = [c for c in related if c not in self.file_codes]
        fields["items"] = [i.data for i in items if i.data is not None]
        published_on = wb.day(row, "published_on", self.problems)
        if self.publish and published_on and published_on > clock.today():
            self.add(row, "published_on", "发布日期不能晚于今天")
        code = self.code(row, fields)
        flagged = self.problems.flagged(RES, row.number)
        try:
            data = ResourceIn.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors():
                key = FIELD_COLUMN.get(str(error["loc"][0]), str(error["loc"][0]))
                if key not in flagged:
                    self.add(row, key, wb.schema_message(error))
            return None
        items_ok = all(i.data is not None for i in items)
        problems = contents.rule_problems(
            self.db, kind=data.catalog_kind, data=data, rules=self.rules, base_topic=data.base_topic
        )
        for name, message in problems:
            if name.startswith("items."):  # items.<position>.name: a repeated item
                if items_ok:
                    self.problems.add(
                        ITEMS, items[int(name.split(".")[1]) - 1].row.number, "name", message
                    )
            elif name != "items" or items_ok:
                key = FIELD_COLUMN.get(name, name)
                if key not in flagged:
                    self.add(row, key, message)
        if self.problems.flagged(RES, row.number):
            return None
        return _Planned(row.number, code, data, related, published_on)

    def code(self, row: wb.Row, fields: dict[str, Any]) -> str | None:
        """The code the row keeps, checked: its form, its class, never issued before."""
        code = row.text("code")
        if not code or "code" in self.problems.flagged(RES, row.number):
            return code or None
        if not CODE.match(code):
            self.add(row, "code", f"资源代码“{code}”格式应为 分类码/6位顺序号")
            return code
        prefix, number = code.split("/")
        classification = {"catalog_kind", "item_code", "group_code", "subgroup_code"}
        if "catalog_kind" in fields and not classification & self.problems.flagged(RES, row.number):
            expected = "".join(
                (
                    contents.CLASS_CODES[fields["catalog_kind"]],
                    fields.get("item_code", "01"),
                    fields.get("group_code", "001"),
                    fields.get("subgroup_code") or "",
                )
            )
            if prefix != expected:
                message = f"资源代码“{code}”与目录类型和资源分类（{expected}）不一致"
                self.add(row, "code", message)
                return code
        if int(number) <= self.counters.get(prefix, 0):
            message = f"资源代码“{code}”已分配过，代码不能重复使用；请留空由平台分配"
            self.add(row, "code", message)
        return code


def _scope(db_session: Session, actor: Actor, organization_id: int | None) -> Organization | None:
    """The department whose catalog is imported (None: the operator imports any)."""
    if actor.has(Role.PLATFORM_OPERATOR):
        if organization_id is None:
            return None
        org = db_session.get(Organization, organization_id)
        if org is None:
            raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
        return org
    if actor.organization_id is None or organization_id not in (None, actor.organization_id):
        raise Forbidden("只能导入本单位的资源目录", field="organization_id")
    return db_session.get(Organization, actor.organization_id)


def _check(
    db_session: Session,
    actor: Actor,
    content: bytes,
    rules: Rules,
    scope: Organization | None,
    publish: bool,
) -> list[_Planned]:
    problems = wb.Problems()
    sheets = wb.read_workbook(content, problems)
    if not sheets[RES]:
        raise Invalid(f"“{RES}”表中没有填写资源", field="file")
    items = [_item(row, problems) for row in sheets[ITEMS]]
    grouped = _group_items(sheets[RES], items, problems)
    checker = _Checker(db_session, actor, rules, scope, publish, problems)
    checker.codes(sheets[RES])
    planned = [checker.resource(row, grouped[row.number]) for row in sheets[RES]]
    problems.raise_if_any()
    return [p for p in planned if p is not None]


# --- writing -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import created."""

    codes: list[str]
    items: int
    published: bool

    @property
    def resources(self) -> int:
        return len(self.codes)


def _claim(db_session: Session, code: str) -> None:
    """Moves the prefix's counter to just below `code`, so `create_resource` issues it; the
    numbers skipped over are never issued, so no code is ever used twice."""
    prefix, number = code.split("/")
    counter = common.locked_counter(db_session, prefix)
    counter.last = max(counter.last, int(number) - 1)
    db_session.flush()


def _first_version(db_session: Session, resource: Resource) -> ResourceVersion:
    return db_session.execute(
        select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)
    ).scalar_one()


def _publish_imported(
    db_session: Session, actor: Actor, resource: Resource, published_on: date | None
) -> None:
    version = _first_version(db_session, resource)
    resources.publish_imported(db_session, actor=actor, version=version, on=published_on)


def import_catalog(
    db_session: Session,
    *,
    actor: Actor,
    content: bytes,
    rules: Rules,
    organization_id: int | None = None,
    publish: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Creates the resources of a catalog workbook — drafts for the department's review, or
    (the operator, `publish`) published at once with the file's codes. Any problem in any
    row refuses the whole file, naming each problem's sheet, row and column."""
    require(actor, *IMPORTERS, action="导入资源目录")
    if publish and not actor.has(Role.PLATFORM_OPERATOR):
        raise Forbidden("只有平台管理单位可以直接发布导入的资源目录", field="publish")
    scope = _scope(db_session, actor, organization_id)
    plan = _check(db_session, actor, content, rules, scope, publish)
    # Rows keeping their code go first, in code order, so each claim lies above the last.
    plan.sort(key=lambda p: (p.code is None, p.code or "", p.row))
    created: list[tuple[Resource, _Planned]] = []
    for done, item in enumerate(plan, start=1):
        if item.code:
            _claim(db_session, item.code)
        resource = resources.create_resource(db_session, actor=actor, data=item.data, rules=rules)
        if item.code and resource.code != item.code:
            raise RuntimeError(f"code {item.code} was issued as {resource.code}")
        if publish:
            _publish_imported(db_session, actor, resource, item.published_on)
        created.append((resource, item))
        if progress is not None:
            progress(done, len(plan))
    linked = _link_related(db_session, created)
    created.sort(key=lambda c: c[1].row)
    result = ImportResult(
        codes=[r.code for r, _ in created],
        items=sum(len(p.data.items) for p in plan),
        published=publish,
    )
    record(
        db_session,
        actor=actor,
        action="catalog.import",
        object_type="catalog",
        object_id=scope.id if scope else None,
        details={
            "organization_id": scope.id if scope else None,
            "publish": publish,
            "resources": result.codes,
            "items": result.items,
            "related_linked": linked,
            "sha256": hashlib.sha256(content).hexdigest(),
            "bytes": len(content),
        },
    )
    return result


def _link_related(
    db_session: Session, created: list[tuple[Resource, _Planned]]
) -> dict[str, list[str]]:
    """Related codes that name resources of the same file, set once all of them exist."""
    linked = {}
    for resource, item in created:
        if item.related != item.data.related_codes:
            _first_version(db_session, resource).related_codes = list(item.related)
            linked[resource.code] = list(item.related)
    db_session.flush()
    return linked
