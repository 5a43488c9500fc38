"""Delivery over HTTP: the online query and keyed lookup API (signed-in staff or a system's
API token), problem+json refusals naming the field or the grant's state, streamed downloads
in every format — 50,000 rows arriving in chunks — and the data page."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.settings import derived_key
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import MaskRule
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.builders import actor_of, organization, system_of, user
from tests.exchange.builders import (
    BUILT_AT,
    GRANTED,
    GRANTED_COLUMNS,
    USED_AT,
    Delivery,
    audit_entries,
    delivery_world,
    expected_rows,
)
from tests.http import csrf_for, sign_in

PROBLEM = "application/problem+json"
API = "/api/v1/exchange/data/"


@pytest.fixture
def d(db: Session, center: Center) -> Iterator[Delivery]:
    world = delivery_world(db, center)
    db.commit()
    with clock.frozen(USED_AT):
        yield world


def key_of(app: FastAPI) -> bytes:
    """The app's masking key, derived here from its settings (no GOVSHARE_MASK_KEY set)."""
    return derived_key(app.state.runtime.settings, "govshare masking")


def as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()} for r in rows]


def signed_in(client: TestClient, db: Session, actor: Actor) -> None:
    client.cookies.clear()
    assert sign_in(client, db.get(User, actor.user_id).username).status_code == 200


def token_for(db: Session, d: Delivery) -> dict[str, str]:
    """A bearer token of the consumer's system, issued by its data officer."""
    with clock.frozen(BUILT_AT):
        _, secret = identity_service.issue_api_token(
            db,
            actor=d.w.consumer_officer,
            data=ApiTokenIn(name="社会救助信息系统", system_id=system_of(db, d.w.consumer.id)),
        )
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_query_api_pages_through_the_masked_granted_rows(
    app: FastAPI, client: TestClient, db: Session, d: Delivery
) -> None:
    signed_in(client, db, d.w.consumer_officer)
    rows, url, first = [], f"{API}{d.code}?limit=12&total=true", None
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        first = first or body
        rows += body["rows"]
        cursor = body["next_cursor"]
        url = f"{API}{d.code}?limit=12&cursor={cursor}" if cursor else ""
    assert rows == as_json(expected_rows(d, key=key_of(app)))
    assert first["grant"] == d.grant.number and first["total"] == 30
    assert [(f["name"], f["item"], f["masking"]) for f in first["fields"]] == [
        ("id_number", "公民身份号码", "id_number"),
        ("name", "姓名", "name"),
        ("gender", "性别", None),
        ("birth_date", "出生日期", None),
        ("region_code", "行政区划代码", None),
    ]


def test_a_system_looks_up_a_citizen_by_raw_id_and_gets_the_masked_record(
    app: FastAPI, client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    citizen = next(r for r in d.rows if r["region_code"] == "361103")
    found = client.get(f"{API}{d.code}/{citizen['id_number']}", headers=headers)
    assert found.status_code == 200, found.text
    (row,) = found.json()["rows"]
    key = key_of(app)
    assert row == {
        "id_number": mask_value(citizen["id_number"], Mask(MaskRule.ID_NUMBER), key=key),
        "name": mask_value(citizen["name"], Mask(MaskRule.NAME), key=key),
        "gender": citizen["gender"],
        "birth_date": citizen["birth_date"].isoformat(),
        "region_code": "361103",
    }
    chosen = client.get(
        f"{API}{d.code}/{citizen['id_number']}?fields=出生日期,gender", headers=headers
    )
    assert chosen.json()["rows"] == [
        {"birth_date": citizen["birth_date"].isoformat(), "gender": citizen["gender"]}
    ]
    outside = next(r for r in d.rows if r["region_code"] == "361104")
    missing = client.get(f"{API}{d.code}/{outside['id_number']}", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    logged = audit_entries(db, "exchange.data.lookup")  # the miss is logged too
    assert [(e["key"], e["rows"]) for e in logged] == [
        (citizen["id_number"], 1),
        (citizen["id_number"], 1),
        (outside["id_number"], 0),
    ]


def test_a_field_outside_the_grant_is_a_problem_naming_it(
    client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    for query in ("手机号码=13800000001", "phone__prefix=138", "fields=姓名,phone"):
        refused = client.get(f"{API}{d.code}?{query}", headers=headers)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == "字段“手机号码”不在授权范围内"
    masked = client.get(f"{API}{d.code}?id_number__from=3611", headers=headers)
    assert masked.status_code == 422 and masked.json()["field"] == "id_number__from"
    too_many = client.get(f"{API}{d.code}?limit=5000", headers=headers)
    assert too_many.status_code == 422 and too_many.json()["field"] == "limit"
    assert [e["refused"] for e in audit_entries(db, "exchange.data.query")] == [
        "字段“手机号码”不在授权范围内",
        "字段“手机号码”不在授权范围内",
        "字段“手机号码”不在授权范围内",
        "字段“公民身份号码”已脱敏，只能按完整取值（等于）查询，不能按不小于筛选",
    ]


def test_a_suspended_grant_is_refused_on_every_path_with_its_reason(
    client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    assert client.get(f"{API}{d.code}", headers=headers).status_code == 200
    grants.suspend_grant(
        db,
        actor=d.w.provider_officer,
        grant_id=d.grant.id,
        data=GrantActionIn(reason="向第三方提供数据"),
    )
    db.commit()
    for path in ("", f"/{d.rows[0]['id_number']}", "/download?format=xlsx"):
        refused = client.get(f"{API}{d.code}{path}", headers=headers)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        body = refused.json()
        assert "已被暂停使用：向第三方提供数据" in body["detail"]
        assert body["grant_state"] == "suspended" and body["grant_id"] == d.grant.id
    allowed = [e["allowed"] for e in audit_entries(db, "sharing.grant.access")]
    assert allowed[-4:] == [True, False, False, False]  # refusals committed, not rolled back


def test_a_department_without_a_grant_gets_403(
    client: TestClient, db: Session, d: Delivery
) -> None:
    other = user(db, organization(db, "市卫健委"), [Role.DEPARTMENT_STAFF])
    db.commit()
    signed_in(client, db, actor_of(other))
    refused = client.get(f"{API}{d.code}")
    assert refused.status_code == 403 and "请先申请" in refused.json()["detail"]
    assert client.get(f"{API}9/000001").status_code == 404


def test_downloads_in_each_format_hold_the_granted_rows(
    app: FastAPI, client: TestClient, db: Session, d: Delivery
) -> None:
    signed_in(client, db, d.w.consumer_officer)
    expected = [r for r in expected_rows(d, key=key_of(app)) if r["region_code"] == "361102"]
    url = f"{API}{d.code}/download?行政区划代码=361102&format="

    got = client.get(url + "csv")
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"].startswith('attachment; filename="')
    assert "filename*=UTF-8''%E4%BA%BA%E5%8F%A3" in got.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table == [GRANTED] + [[str(v) for v in r.values()] for r in expected]

    got = client.get(url + "jsonl")
    assert got.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    assert [json.loads(line) for line in got.text.splitlines()] == as_json(expected)

    got = client.get(url + "xlsx")
    sheet = load_workbook(io.BytesIO(got.content), read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == GRANTED
    assert [
        dict(
            zip(
                GRANTED_COLUMNS,
                [v.date() if isinstance(v, datetime) else v for v in r],
                strict=True,
            )
        )
        for r in table[1:]
    ] == expected

    done = audit_entries(db, "exchange.data.download_done")
    assert [(e["format"], e["rows"], e["outcome"]) for e in done] == [
        ("csv", len(expected), "complete"),
        ("jsonl", len(expected), "complete"),
        ("xlsx", len(expected), "complete"),
    ]
    started = audit_entries(db, "exchange.data.download")
    assert started[0]["filters"] == [["行政区划代码", "361102"]]


def load_generated(center: Center, binding: Any, count: int) -> None:
    """Fills the center table with `count` rows generated by the database itself (a Python
    insert of 50,000 rows would take most of the test's time)."""
    table = center.table(binding.center_table, binding.columns, binding.key_columns)
    table.metadata.create_all(center.engine)
    name = f'"{center.schema}"."{table.name}"' if center.schema else f'"{table.name}"'
    columns = "id_number, name, gender, birth_date, region_code, address, phone"
    if center.dialect == "postgresql":
        sql = (
            f"INSERT INTO {name} ({columns}) SELECT '3611' || lpad(i::text, 13, '0') || 'X',"
            " '欧阳修远', CASE WHEN mod(i, 2) = 1 THEN '男' ELSE '女' END,"
            " DATE '1950-01-01' + mod(i, 20000), '361102', '滨江路' || i || '号',"
            f" '138' || lpad(i::text, 8, '0') FROM generate_series(0, {count - 1}) AS i"
        )
    else:
        sql = (
            f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {count - 1})"
            f" INSERT INTO {name} ({columns}) SELECT printf('3611%013dX', i), '欧阳修远',"
            " CASE WHEN i % 2 = 1 THEN '男' ELSE '女' END,"
            " date('1950-01-01', '+' || (i % 20000) || ' days'), '361102', '滨江路' || i || '号',"
            " printf('138%08d', i) FROM s"
        )
    with center.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_a_large_download_streams_in_chunks_and_arrives_complete(
    app: FastAPI, client: TestClient, db: Session, center: Center
) -> None:
    d = delivery_world(db, center, rows=0, row_filter=[])
    count = 50_000
    load_generated(center, d.binding, count)
    db.commit()
    with clock.frozen(USED_AT):
        headers = token_for(db, d)
        chunks = 0
        with client.stream("GET", f"{API}{d.code}/download?format=csv", headers=headers) as got:
            assert got.status_code == 200
            assert "content-length" not in got.headers  # sent as it is read, size unknown
            body = bytearray()
            for chunk in got.iter_bytes():
                chunks += 1
                body += chunk
    lines = body.decode("utf-8-sig").splitlines()
    assert len(lines) == count + 1 and chunks > 20
    key = key_of(app)
    last = f"3611{count - 1:013d}X"
    assert lines[-1].split(",") == [
        mask_value(last, Mask(MaskRule.ID_NUMBER), key=key),
        "欧***",
        "男",
        (date(1950, 1, 1) + timedelta(days=(count - 1) % 20000)).isoformat(),
        "361102",
    ]
    (done,) = audit_entries(db, "exchange.data.download_done")
    assert done["rows"] == count and done["outcome"] == "complete"


def test_the_data_page_shows_the_form_masked_rows_downloads_and_api(
    client: TestClient, db: Session, d: Delivery
) -> None:
    signed_in(client, db, d.w.consumer_officer)
    page = client.get(f"/exchange/data/{d.code}")
    assert page.status_code == 200
    html = page.text
    for item in GRANTED:
        assert f">{item}" in html
    assert "手机号码" not in html  # not granted: neither a filter nor a column
    assert not any(r["id_number"] in html for r in d.rows)  # only masked IDs are shown
    assert f"/api/v1/exchange/data/{d.code}/download?format=xlsx" in html
    assert f"/api/v1/exchange/data/{d.code}/&lt;公民身份号码&gt;" in html  # the lookup example
    assert "Authorization: Bearer" in html and 'id="next-page"' in html
    # How many rows the grant gives, and which range, before the first page of them.
    in_range = [r for r in d.rows if r["region_code"] in ("361102", "361103")]
    assert f"共 {len(in_range):,} 条" in html
    assert re.search(r'id="grant-range">.*?行政区划代码 属于其一 361102、361103', html, re.S)

    citizen = next(r for r in d.rows if r["region_code"] == "361102")
    one = client.get(f"/exchange/data/{d.code}?id_number={citizen['id_number']}&name=")
    assert one.status_code == 200
    assert one.text.count('class="data-row"') == 1 and citizen["birth_date"].isoformat() in one.text
    assert f"format=csv&amp;id_number={citizen['id_number']}" in one.text


def test_the_data_page_explains_a_refusal(client: TestClient, db: Session, d: Delivery) -> None:
    grants.suspend_grant(
        db,
        actor=d.w.provider_officer,
        grant_id=d.grant.id,
        data=GrantActionIn(reason="超范围使用个人信息"),
    )
    db.commit()
    signed_in(client, db, d.w.consumer_officer)
    page = client.get(f"/exchange/data/{d.code}")
    assert page.status_code == 403
    assert "已被暂停使用：超范围使用个人信息" in page.text
    assert f"/sharing/grants/{d.grant.id}" in page.text


def test_a_record_is_disputed_from_its_row_and_more_from_a_file_of_keys(
    app: FastAPI, client: TestClient, db: Session, center: Center
) -> None:
    """With the whole key shown unmasked, each row links to the objection form with its key
    filled in; further records come from a CSV file (GBK, with a header), as Excel writes it."""
    from govshare.verification.models import Objection

    world = delivery_world(db, center, masking=[])
    db.commit()
    with clock.frozen(USED_AT):
        signed_in(client, db, world.w.consumer_officer)
        page = client.get(f"/exchange/data/{world.code}").text
        first = world.rows[0]["id_number"]
        link = f"/verification/grants/{world.grant.id}/objections/new?keys={first}"
        assert f'href="{link}"' in page and "<th>疑义</th>" in page
        form = client.get(link).text
        assert f">{first}</textarea>" in form and 'name="keys_file"' in form
        others = [r["id_number"] for r in world.rows[1:3]]
        keys_file = ("公民身份号码\r\n" + "\r\n".join(others) + "\r\n").encode("gb18030")
        done = client.post(
            f"/verification/grants/{world.grant.id}/objections",
            data={"keys": first, "items": ["姓名"], "description": "姓名与户口簿不一致"},
            files=[("keys_file", ("有疑义的记录.csv", keys_file, "text/csv"))],
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        objection = db.query(Objection).one()
        assert [k["公民身份号码"] for k in objection.keys] == [first, *others]
        bad = client.post(
            f"/verification/grants/{world.grant.id}/objections",
            data={"items": ["姓名"], "description": "姓名与户口簿不一致"},
            files=[("keys_file", ("keys.csv", b"a,b\n", "text/csv"))],
            headers=csrf_for(app, client),
        )
        assert bad.status_code == 422 and "第 1 行须有 1 个值：公民身份号码" in bad.text


def test_no_row_links_to_an_objection_while_its_key_is_masked(
    client: TestClient, db: Session, d: Delivery
) -> None:
    signed_in(client, db, d.w.consumer_officer)
    page = client.get(f"/exchange/data/{d.code}").text
    assert 'class="data-row"' in page and "提出疑义" not in page
