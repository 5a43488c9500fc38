"""Acceptance (CAT-8): the city catalog exported to Excel and imported into an empty platform
comes back the same; a file with three bad cells is refused with three precise messages and
nothing written."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import workbook
from govshare.catalog.models import (
    CodeCounter,
    DataItem,
    Resource,
    ResourceStatus,
    ResourceVersion,
    Theme,
    VersionState,
)
from govshare.catalog.schemas import RetirementIn, ReviewIn, ThemeIn
from govshare.catalog.service import (
    contents,
    overview,
    resources,
    retirements,
    spreadsheet_export,
    spreadsheet_import,
    themes,
)
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from govshare.identity.models import Organization
from tests.builders import actor_of, count, credit_code, operator, organization, user
from tests.catalog.builders import RULES, published, resource_in
from tests.conftest import Cli
from tests.http import csrf_for, sign_in


@dataclass
class City:
    op: Actor
    mz: Organization
    gaj: Organization
    mz_officer: Actor
    gaj_officer: Actor
    theme: Theme


@pytest.fixture
def city(db: Session) -> City:
    """Two departments with data officers and a theme catalog, committed."""
    op, _ = operator(db)
    mz = organization(db, "江州市民政局")
    gaj = organization(db, "江州市公安局")
    mz_officer = actor_of(user(db, mz, [Role.DATA_OFFICER]))
    gaj_officer = actor_of(user(db, gaj, [Role.DATA_OFFICER]))
    theme = themes.create_theme(
        db,
        actor=op,
        data=ThemeIn(name="婚育一件事", lead_organization_id=mz.id, contributor_ids=[gaj.id]),
    )
    db.commit()
    return City(op, mz, gaj, mz_officer, gaj_officer, theme)


def _build_catalog(db: Session, city: City) -> list[Resource]:
    """Five published resources of two departments, one of them at its second version."""
    # Published a month before the export, its second version in effect since: the export
    # carries the current one.
    with clock.frozen("2026-10-01T09:00:00+08:00"):
        marriage = published(
            db,
            city.mz_officer,
            city.op,
            share_type="conditional",
            share_conditions="仅限婚姻登记相关业务",
            legal_basis="《婚姻登记条例》第二条",
            share_methods=["table", "service"],
            share_scope="市级政务部门",
            timeliness="T+1",
        )
        version = resources.start_revision(db, actor=city.mz_officer, resource_id=marriage.id)
        changed = contents.version_input(version) | {
            "summary": "本市婚姻登记机关办理的全部登记信息"
        }
        resources.update_draft(
            db,
            actor=city.mz_officer,
            version_id=version.id,
            data=resources.VersionIn.model_validate(changed | {"change_note": "扩充摘要"}),
            rules=RULES,
        )
        resources.submit_version(db, actor=city.mz_officer, version_id=version.id, rules=RULES)
        resources.review_version(
            db, actor=city.op, version_id=version.id, decision=ReviewIn(approve=True), rules=RULES
        )
    with clock.frozen("2026-11-01T00:30:00+08:00"):  # the daily job
        retirements.apply_due_changes(db, actor=city.op)
    population = published(
        db,
        city.mz_officer,
        city.op,
        catalog_kind="base",
        base_topic="population",
        name="户籍人口基本信息",
        open_type="unconditional",
        update_frequency="monthly",
        domain="social_security",
        items=[
            {"name": "姓名", "data_type": "C", "length": 50, "description": "户籍登记姓名"},
            {"name": "出生日期", "data_type": "D"},
            {"name": "人数", "data_type": "I"},
        ],
    )
    permits = published(
        db,
        city.gaj_officer,
        city.op,
        name="出入境证件办理结果公告",
        summary="出入境证件办理结果的公告文件，按月汇总",
        format="electronic_file",
        format_detail="PDF",
        share_methods=["file", "offline"],
        offline_reason="公告文件由档案室纸质留存",
        update_frequency="irregular",
        domain="safety",
        subgroup_code="002",
        items=[],
    )
    births = published(
        db,
        city.gaj_officer,
        city.op,
        catalog_kind="theme",
        theme_id=city.theme.id,
        name="出生医学证明关联户籍",
        related_codes=[marriage.code],
        items=[
            {"name": "新生儿姓名", "data_type": "C", "length": 50, "personal": True},
            {"name": "公民身份号码", "data_type": "C", "length": 18, "personal": True},
        ],
    )
    adoption = published(db, city.mz_officer, city.op, name="收养登记信息", summary="收养登记信息")
    # A draft is no part of the published catalog.
    resources.create_resource(
        db, actor=city.mz_officer, data=resource_in(name="草稿资源"), rules=RULES
    )
    return [marriage, population, permits, births, adoption]


def _snapshot(resource: Resource) -> dict[str, Any]:
    """What a catalog says about a resource, in plain values."""
    version = resource.current_version
    assert version is not None and version.state is VersionState.PUBLISHED
    return {
        "code": resource.code,
        "provider": resource.provider.uscc,
        "kind": resource.catalog_kind,
        "base_topic": resource.base_topic,
        "theme": resource.theme.name if resource.theme else None,
        "classification": resource.classification,
        "status": resource.status,
        "published_on": version.published_on,
        **{name: getattr(version, name) for name in contents.VERSION_FIELDS},
        "items": [
            (i.position, i.name, i.data_type, i.length, i.description, i.personal)
            for i in version.items
        ],
    }


def _catalog(db: Session) -> list[dict[str, Any]]:
    db.expire_all()
    found = db.execute(select(Resource).order_by(Resource.code)).unique().scalars()
    return [_snapshot(r) for r in found if r.status is ResourceStatus.PUBLISHED]


def test_city_catalog_round_trips_through_excel_into_an_empty_platform(
    db: Session, city: City
) -> None:
    catalog = db.begin_nested()  # the catalog part, rolled back to leave an empty platform
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        built = _build_catalog(db, city)
        exported = spreadsheet_export.export_catalog(
            db, actor=city.gaj_officer, fmt="xlsx", city_name="江州市"
        )
    before = _catalog(db)
    assert [c["code"] for c in before] == sorted(r.code for r in built)
    assert exported.resources == 5 and exported.filename == "江州市政务信息资源目录-2026-11-02.xlsx"
    catalog.rollback()
    db.expunge_all()  # drop the rolled-back objects: their ids are about to be reused
    assert count(db, Resource) == 0 and count(db, CodeCounter) == 0

    with clock.frozen("2026-12-01T10:00:00+08:00"):
        result = spreadsheet_import.import_catalog(
            db, actor=city.op, content=exported.content, rules=RULES, publish=True
        )
    assert result.resources == 5 and result.items == 11 and result.published
    assert _catalog(db) == before
    # The counters moved past the imported codes: a new resource gets a fresh code.
    fresh = resources.create_resource(db, actor=city.mz_officer, data=resource_in(), rules=RULES)
    assert fresh.code not in {c["code"] for c in before}
    assert fresh.code == "301001/000003"  # the draft that took it was never there
    actions = db.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("catalog.import") == 1
    assert actions.count("catalog.version.publish") >= 5


def test_the_workbook_has_the_compilers_layout(db: Session, city: City) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        _build_catalog(db, city)
        exported = spreadsheet_export.export_catalog(db, actor=city.op, organization_id=city.gaj.id)
    assert exported.filename == "江州市公安局政务信息资源目录-2026-11-02.xlsx"
    book = load_workbook(io.BytesIO(exported.content))
    assert book.sheetnames == ["资源目录", "信息项", "填写说明", "代码表"]
    sheet = book["资源目录"]
    assert [c.value for c in sheet[1]][:5] == [
        "资源代码",
        "资源名称",
        "资源提供方",
        "提供方代码",
        "目录类型",
    ]
    assert sheet.freeze_panes == "C2"
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert sorted(rows) == ["出入境证件办理结果公告", "出生医学证明关联户籍"]
    permits = rows["出入境证件办理结果公告"]
    assert permits[17] == "共享平台·文件、邮件或介质（例外）"  # labels, not values
    assert (permits[7], permits[8], permits[9]) == ("01", "001", "002")
    assert {str(v.sqref).split(":")[0] for v in sheet.data_validations.dataValidation} >= {
        "E2",
        "N2",
    }
    assert book["代码表"].sheet_state == "hidden"
    guide = [r[1] for r in book["填写说明"].iter_rows(values_only=True)]
    assert "共享类型" in guide and "是否个人信息" in guide


def test_csv_and_json_exports_carry_the_items(db: Session, city: City) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        built = _build_catalog(db, city)
        as_csv = spreadsheet_export.export_catalog(db, actor=city.mz_officer, fmt="csv")
        as_json = spreadsheet_export.export_catalog(db, actor=city.mz_officer, fmt="json")
    assert as_csv.content.startswith("\ufeff".encode())
    lines = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    # one line per item; the file resource without items still has its line
    assert len(lines) == 3 + 3 + 1 + 2 + 3
    assert {line["资源代码"] for line in lines} == {r.code for r in built}
    assert lines[0]["共享类型"] in ("无条件共享", "有条件共享")
    parsed = json.loads(as_json.content)
    assert [r["code"] for r in parsed] == sorted(r.code for r in built)
    births = next(r for r in parsed if r["name"] == "出生医学证明关联户籍")
    assert births["theme"] == "婚育一件事" and births["items"][1]["length"] == 18
    exports = db.execute(
        select(AuditEntry.details)
        .where(AuditEntry.action == "catalog.export")
        .order_by(AuditEntry.seq)
    ).scalars()
    assert [json.loads(d)["format"] for d in exports] == ["csv", "json"]


# --- import ------------------------------------------------------------------------------


def _row(org: Any, **kw: Any) -> dict[str, Any]:
    """A valid resource row, in the labels a compiler types."""
    row = {
        "name": "婚姻登记信息",
        "provider": org.name,
        "provider_uscc": org.uscc,
        "catalog_kind": "部门信息资源目录",
        "summary": "本市婚姻登记机关办理的结婚、离婚登记信息",
        "format": "数据库",
        "share_type": "无条件共享",
        "share_methods": "共享平台·库表",
        "update_frequency": "每日",
        "domain": "政务综合",
    }
    return row | kw


def _items(resource_name: str) -> list[dict[str, Any]]:
    return [
        {"resource_name": resource_name, "name": "姓名", "data_type": "字符型C", "length": 50},
        {
            "resource_name": resource_name,
            "name": "身份证号",
            "data_type": "字符型C",
            "length": 18,
            "personal": "是",
        },
        {"resource_name": resource_name, "name": "登记日期", "data_type": "日期型D"},
    ]


def _written(db: Session) -> dict[str, int]:
    return {m.__name__: count(db, m) for m in (Resource, ResourceVersion, DataItem, AuditEntry)}


def test_three_bad_cells_are_refused_with_three_messages_and_nothing_written(
    db: Session, city: City
) -> None:
    content = workbook.write_workbook(
        [
            _row(city.mz, name="婚姻登记信息", share_type="部分共享"),
            _row(city.mz, name="收养登记信息", provider_uscc=credit_code(), provider=None),
        ],
        [*_items("婚姻登记信息"), *[i | {"length": "十八"} for i in _items("收养登记信息")[1:2]]],
    )
    before = _written(db)
    with pytest.raises(Invalid) as refused:
        spreadsheet_import.import_catalog(db, actor=city.mz_officer, content=content, rules=RULES)
    errors = refused.value.extra["errors"]
    assert refused.value.field == "file" and "3 处错误" in refused.value.message
    assert [(e["sheet"], e["row"], e["column"]) for e in errors] == [
        ("资源目录", 2, "N 共享类型"),
        ("资源目录", 3, "D 提供方代码"),
        ("信息项", 5, "F 长度"),
    ]
    assert errors[0]["message"].startswith("“部分共享”不是有效的共享类型，可选：无条件共享")
    assert "未在平台登记" in errors[1]["message"]
    assert errors[2]["message"] == "“十八”无效，须为正整数"
    assert _written(db) == before


def test_rule_problems_point_at_their_cells(db: Session, city: City) -> None:
    content = workbook.write_workbook(
        [
            _row(city.mz, share_type="有条件共享"),  # no conditions, no legal basis (CAT-4)
            _row(city.mz, name="人口信息", catalog_kind="基础信息资源目录"),  # no base topic
            _row(city.mz, name="收", summary="收养"),  # too short
        ],
        [
            *_items("婚姻登记信息"),
            {"resource_name": "婚姻登记信息", "name": "姓名", "data_type": "字符型C", "length": 9},
            {"resource_name": "离婚信息", "name": "姓名", "data_type": "字符型C", "length": 9},
            {"resource_name": "人口信息", "name": "姓名", "data_type": "字符型C"},
        ],
    )
    with pytest.raises(Invalid) as refused:
        spreadsheet_import.import_catalog(db, actor=city.op, content=content, rules=RULES)
    found = [
        (e["sheet"], e["row"], e["column"], e["message"]) for e in refused.value.extra["errors"]
    ]
    assert found == [
        ("资源目录", 2, "O 共享条件", "有条件共享须写明共享条件"),
        ("资源目录", 2, "P 共享依据", "有条件共享须注明法律、行政法规或国家、省政策依据"),
        ("资源目录", 3, "F 基础目录主题", found[2][3]),
        ("资源目录", 4, "B 资源名称", "至少填写 2 个字"),
        ("资源目录", 4, "K 资源摘要", "至少填写 4 个字"),
        ("信息项", 5, "D 信息项名称", "信息项“姓名”重复"),
        ("信息项", 6, "B 资源名称", "“资源目录”表中没有名为“离婚信息”的资源，请填写资源代码"),
        ("信息项", 7, "F 长度", "信息项“姓名”为字符型C，须填写长度"),
    ]
    assert found[2][3].startswith("基础信息资源须选择基础目录主题")


def test_a_department_imports_its_own_catalog_as_drafts(db: Session, city: City) -> None:
    content = workbook.write_workbook(
        [_row(city.mz, provider=None, provider_uscc=None), _row(city.mz, name="收养登记信息")],
        [*_items("婚姻登记信息"), *_items("收养登记信息")],
    )
    result = spreadsheet_import.import_catalog(
        db, actor=city.mz_officer, content=content, rules=RULES
    )
    assert result.codes == ["301001/000001", "301001/000002"] and result.items == 6
    rows = overview.department_resources(db, actor=city.mz_officer)
    assert [(r.resource.provider_id, r.latest.state) for r in rows] == [
        (city.mz.id, VersionState.DRAFT)
    ] * 2
    assert [i.name for i in rows[0].latest.items] == ["姓名", "身份证号", "登记日期"]
    assert rows[0].latest.items[1].personal is True


def test_a_department_cannot_import_another_departments_row(db: Session, city: City) -> None:
    content = workbook.write_workbook(
        [_row(city.mz), _row(city.gaj, name="户籍信息")],
        [*_items("婚姻登记信息"), *_items("户籍信息")],
    )
    before = _written(db)
    with pytest.raises(Invalid) as refused:
        spreadsheet_import.import_catalog(db, actor=city.mz_officer, content=content, rules=RULES)
    assert refused.value.extra["errors"] == [
        {
            "sheet": "资源目录",
            "row": 3,
            "column": "D 提供方代码",
            "message": "只能导入本单位（江州市民政局）的资源目录，该行提供方为江州市公安局",
        }
    ]
    assert _written(db) == before


def test_only_the_operator_publishes_on_import(db: Session, city: City) -> None:
    content = workbook.write_workbook([_row(city.mz)], _items("婚姻登记信息"))
    with pytest.raises(Forbidden):
        spreadsheet_import.import_catalog(
            db, actor=city.mz_officer, content=content, rules=RULES, publish=True
        )
    with pytest.raises(Forbidden):
        spreadsheet_import.import_catalog(
            db, actor=city.mz_officer, content=content, rules=RULES, organization_id=city.gaj.id
        )


def test_codes_in_use_or_not_matching_their_class_are_refused(db: Session, city: City) -> None:
    existing = published(db, city.mz_officer, city.op)
    content = workbook.write_workbook(
        [
            _row(city.mz, code=existing.code, format="电子文件"),
            _row(city.mz, name="收养登记信息", code="301001/000009", format="电子文件"),
            _row(city.mz, name="离婚登记信息", code="101001/000010", format="电子文件"),
            _row(city.mz, name="殡葬信息", code="301001/000009", format="电子文件"),
            _row(city.mz, name="救助信息", code="301001-11", format="电子文件", share_type="部分"),
        ],
        [],
    )
    with pytest.raises(Invalid) as refused:
        spreadsheet_import.import_catalog(db, actor=city.op, content=content, rules=RULES)
    assert [(e["row"], e["message"]) for e in refused.value.extra["errors"]] == [
        (
            2,
            f"资源代码“{existing.code}”已被平台上的资源使用（导入只新增资源；修改已有资源请在平台上新建版本）",
        ),
        (4, "资源代码“101001/000010”与目录类型和资源分类（301001）不一致"),
        (5, "资源代码“301001/000009”与第 3 行重复"),
        (6, "资源代码“301001-11”格式应为 分类码/6位顺序号"),
        (6, "“部分”不是有效的共享类型，可选：无条件共享、有条件共享、不予共享"),
    ]


def test_an_operator_import_keeps_free_codes_and_numbers_the_rest(db: Session, city: City) -> None:
    content = workbook.write_workbook(
        [
            _row(city.mz, name="收养登记信息"),
            _row(city.mz, code="301001/000007", related_codes="301001/000008"),
            _row(city.gaj, name="户籍信息", code="301001/000008", related_codes="301001/000007"),
        ],
        [
            *_items("收养登记信息"),
            *[i | {"code": "301001/000007"} for i in _items("")],
            *[i | {"code": "301001/000008"} for i in _items("")],
        ],
    )
    result = spreadsheet_import.import_catalog(db, actor=city.op, content=content, rules=RULES)
    assert result.codes == ["301001/000009", "301001/000007", "301001/000008"]
    marriage = resources.get_resource_by_code(db, actor=city.op, code="301001/000007")
    assert marriage.status is ResourceStatus.DRAFT and marriage.provider_id == city.mz.id
    (version,) = resources.list_versions(db, actor=city.op, resource_id=marriage.id)
    assert version.related_codes == ["301001/000008"]
    counter = db.get(CodeCounter, "301001")
    assert counter is not None and counter.last == 9


def test_a_file_that_is_not_a_workbook_is_refused(db: Session, city: City) -> None:
    with pytest.raises(Invalid, match="不是有效的 Excel"):
        spreadsheet_import.import_catalog(db, actor=city.op, content=b"name,code\n", rules=RULES)
    with pytest.raises(Invalid, match="没有填写资源"):
        spreadsheet_import.import_catalog(
            db, actor=city.op, content=spreadsheet_import.template(), rules=RULES
        )


# --- over HTTP and the command line ------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _people(db: Session) -> Organization:
    operator(db)
    mz = organization(db, "江州市民政局")
    user(db, mz, [Role.DATA_OFFICER], "mz_officer")
    db.commit()
    return mz


def test_import_and_export_over_the_api(app: FastAPI, client: TestClient, db: Session) -> None:
    mz = _people(db)
    assert sign_in(client, "mz_officer").status_code == 200
    headers = csrf_for(app, client)
    bad = workbook.write_workbook([_row(mz, share_type="部分共享")], _items("婚姻登记信息"))
    refused = client.post(
        "/api/v1/catalog/import", files={"file": ("目录.xlsx", bad, XLSX)}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["field"] == "file"
    assert [(e["sheet"], e["row"], e["column"]) for e in refused.json()["errors"]] == [
        ("资源目录", 2, "N 共享类型")
    ]

    good = workbook.write_workbook([_row(mz)], _items("婚姻登记信息"))
    done = client.post(
        "/api/v1/catalog/import", files={"file": ("目录.xlsx", good, XLSX)}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json() == {
        "resources": 1,
        "items": 3,
        "published": False,
        "codes": ["301001/000001"],
    }

    exported = client.get("/api/v1/catalog/export", params={"fmt": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"catalog.csv\"; filename*=UTF-8''")
    assert quote("政务信息资源目录-") in disposition
    template = client.get("/api/v1/catalog/template.xlsx")
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
    assert load_workbook(io.BytesIO(template.content)).sheetnames[:3] == [
        "资源目录",
        "信息项",
        "填写说明",
    ]


def test_the_page_shows_every_problem_and_then_the_summary(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    mz = _people(db)
    assert sign_in(client, "mz_officer").status_code == 200
    token = {"csrf_token": next(iter(csrf_for(app, client).values()))}
    page = client.get("/catalog/spreadsheets")
    assert page.status_code == 200 and "目录导入导出" in page.text and "下载导入模板" in page.text
    assert "导入后直接发布" not in page.text  # the operator's option only

    bad = workbook.write_workbook(
        [_row(mz, share_type="部分共享"), _row(mz, name="收养登记信息", update_frequency="每旬")],
        _items("婚姻登记信息"),
    )
    refused = client.post(
        "/catalog/spreadsheets", files={"file": ("目录.xlsx", bad, XLSX)}, data=token
    )
    assert refused.status_code == 422
    assert 'id="import-errors"' in refused.text and "2 处错误" in refused.text
    assert "N 共享类型" in refused.text and "T 更新周期" in refused.text
    assert count(db, Resource) == 0

    good = workbook.write_workbook([_row(mz)], _items("婚姻登记信息"))
    done = client.post(
        "/catalog/spreadsheets",
        files={"file": ("目录.xlsx", good, XLSX)},
        data=token,
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert "已导入 1 个资源、3 个信息项" in shown.text and "301001/000001" in shown.text


def test_the_command_line_imports_and_exports(govshare_cli: Cli, tmp_path: Path) -> None:
    uscc = credit_code()
    assert govshare_cli("org", "add", "江州市民政局", uscc).exit_code == 0
    mz = SimpleNamespace(name="江州市民政局", uscc=uscc)
    blank = tmp_path / "模板.xlsx"
    assert govshare_cli("catalog", "template", str(blank)).exit_code == 0
    assert load_workbook(blank).sheetnames[0] == "资源目录"

    bad = tmp_path / "bad.xlsx"
    items = _items("婚姻登记信息")
    items[0]["length"] = "十八"
    bad.write_bytes(
        workbook.write_workbook(
            [
                _row(mz, share_type="部分共享"),
                _row(mz, name="户籍", provider_uscc=credit_code(), format="电子文件"),
            ],
            items,
        )
    )
    refused = govshare_cli("catalog", "import", str(bad))
    assert refused.exit_code == 2
    lines = [line for line in refused.output.splitlines() if " 第 " in line]
    assert len(lines) == 3 and "3 处错误" in refused.output
    assert lines[0].startswith("资源目录 第 2 行 N 共享类型: “部分共享”不是有效的共享类型")
    assert lines[1].startswith("资源目录 第 3 行 D 提供方代码: 统一社会信用代码")
    assert lines[2] == "信息项 第 2 行 F 长度: “十八”无效，须为正整数"

    good = tmp_path / "good.xlsx"
    good.write_bytes(
        workbook.write_workbook(
            [_row(mz, code="301001/000010")],
            [i | {"code": "301001/000010"} for i in _items("")],
        )
    )
    done = govshare_cli("catalog", "import", str(good), "--publish")
    assert done.exit_code == 0, done.output
    assert "已导入 1 个资源、3 个信息项（已发布）" in done.output and "301001/000010" in done.output

    out = tmp_path / "mz.json"
    exported = govshare_cli("catalog", "export", str(out), "--organization", uscc)
    assert exported.exit_code == 0, exported.output
    assert [r["code"] for r in json.loads(out.read_text(encoding="utf-8"))] == ["301001/000010"]
    wrong = govshare_cli(
        "catalog", "export", str(tmp_path / "x.xlsx"), "--organization", "无此单位"
    )
    assert wrong.exit_code == 2 and "找不到单位" in wrong.output


def test_a_relation_to_a_retired_resource_is_left_out_of_the_export(
    db: Session, city: City
) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        old = published(db, city.mz_officer, city.op, name="旧婚姻登记信息")
        new = published(db, city.mz_officer, city.op, related_codes=[old.code])
        retirements.request_retirement(
            db, actor=city.mz_officer, resource_id=old.id, data=RetirementIn(reason="并入新资源")
        )
        retirements.review_retirement(
            db, actor=city.op, resource_id=old.id, decision=ReviewIn(approve=True), rules=RULES
        )
    with clock.frozen("2026-12-02T00:30:00+08:00"):
        retirements.apply_due_changes(db, actor=city.op)
    assert old.status is ResourceStatus.RETIRED
    exported = json.loads(spreadsheet_export.export_catalog(db, actor=city.op, fmt="json").content)
    assert [(r["code"], r["related_codes"]) for r in exported] == [(new.code, [])]
