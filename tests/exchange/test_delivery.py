"""Delivery under the grant (EXC-5, EXC-6) through the services, on a real center of each
backend: exactly the granted fields, rows and masked values — checked against `mask_value`
and `row_matches` computed here from the source rows — in the query, the keyed lookup and
every download format; refusals with their reasons; the audit entries.

The builders at the top are shared with the API tests and the audit scenarios."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.permissions import Role
from govshare.core.settings import Settings, load_settings
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value, register_sqlite_functions, text_form
from govshare.exchange.scope import Condition, literal_sql, row_matches
from govshare.exchange.service import delivery
from govshare.sharing.models import MaskRule
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.builders import actor_of, organization, user
from tests.exchange.builders import (
    COLUMNS,
    GRANTED,
    GRANTED_COLUMNS,
    MASK_KEY,
    USED_AT,
    Delivery,
    audit_entries,
    delivery_world,
    download,
    expected_rows,
    own_transaction,
    run_lookup,
    run_query,
    settings_of,
    texts,
)

# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def d(db: Session, center: Center) -> Iterator[Delivery]:
    world = delivery_world(db, center)
    with clock.frozen(USED_AT):
        yield world


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_of(tmp_path)


# --- query --------------------------------------------------------------------------------


def test_query_pages_give_exactly_the_granted_fields_rows_and_masked_values(
    d: Delivery, settings: Settings
) -> None:
    pages, cursor = [], None
    while True:
        page = run_query(d, settings, limit=7, cursor=cursor, total=True)
        assert isinstance(page, delivery.DataPage), page
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    got = [row for page in pages for row in page.rows]
    expected = expected_rows(d)
    assert len(expected) == 30 and len(pages) == 5
    assert texts(got) == texts(expected)
    assert [f.item for f in pages[0].fields] == GRANTED
    assert {f.column: f.mask.rule for f in pages[0].fields if f.mask} == {
        "id_number": MaskRule.ID_NUMBER,
        "name": MaskRule.NAME,
    }
    assert pages[0].total == 30
    raw_ids = {r["id_number"] for r in d.rows}
    assert not raw_ids & {row["id_number"] for row in got}  # every ID left masked


def test_the_cursor_hides_and_protects_the_masked_key(d: Delivery, settings: Settings) -> None:
    page = run_query(d, settings, limit=3)
    assert isinstance(page, delivery.DataPage) and page.next_cursor
    last_id = sorted(r["id_number"] for r in d.rows if row_matches(r, _region()))[2]
    sealed = base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4))
    assert last_id[6:].encode() not in sealed  # not readable in the cursor
    forged = page.next_cursor[:-4] + ("AAAA" if page.next_cursor[-4:] != "AAAA" else "BBBB")
    refused = run_query(d, settings, limit=3, cursor=forged)
    assert isinstance(refused, delivery.Rejected)
    assert isinstance(refused.error, Invalid) and refused.error.field == "cursor"


def _region() -> tuple[Condition, ...]:
    return (Condition("region_code", "in", ("361102", "361103")),)


def test_filters_match_original_values_of_granted_fields(d: Delivery, settings: Settings) -> None:
    inside = next(r for r in d.rows if r["region_code"] == "361103" and r["id_number"][-1] == "X")
    by_id = run_query(d, settings, filters=[("公民身份号码", inside["id_number"])])
    assert isinstance(by_id, delivery.DataPage)
    assert texts(by_id.rows) == texts(
        [r for r in expected_rows(d) if r["birth_date"] == inside["birth_date"]]
    )
    assert by_id.rows[0]["id_number"] == mask_value(
        inside["id_number"], Mask(MaskRule.ID_NUMBER), key=MASK_KEY
    )

    ranged = run_query(
        d,
        settings,
        filters=[("birth_date__from", "1960-01-01"), ("出生日期__to", "1979-12-31")],
        fields=["id_number", "出生日期"],
    )
    assert isinstance(ranged, delivery.DataPage)
    wanted = expected_rows(d, columns=["id_number", "birth_date"])
    assert texts(ranged.rows) == texts(
        [r for r in wanted if date(1960, 1, 1) <= r["birth_date"] <= date(1979, 12, 31)]
    )
    assert [f.item for f in ranged.fields] == ["公民身份号码", "出生日期"]

    region = run_query(d, settings, filters=[("region_code__prefix", "36110")], limit=1000)
    assert isinstance(region, delivery.DataPage) and len(region.rows) == 30
    outside = run_query(d, settings, filters=[("region_code", "361104")])
    assert isinstance(outside, delivery.DataPage) and outside.rows == []  # the grant's filter holds


def test_a_field_outside_the_grant_is_refused_naming_it(d: Delivery, settings: Settings) -> None:
    for kw in ({"filters": [("手机号码", "13800000001")]}, {"fields": ["phone"]}):
        refused = run_query(d, settings, **kw)
        assert isinstance(refused, delivery.Rejected)
        assert isinstance(refused.error, Forbidden)
        assert refused.error.message == "字段“手机号码”不在授权范围内"
        assert [f.item for f in refused.fields] == GRANTED  # the page can show its form again
    unknown = run_query(d, settings, filters=[("血型", "A")])
    assert isinstance(unknown, delivery.Rejected) and unknown.error.message == "资源没有字段“血型”"
    logged = audit_entries(d.w.db, "exchange.data.query")
    assert [e["refused"] for e in logged] == [
        "字段“手机号码”不在授权范围内",
        "字段“手机号码”不在授权范围内",
        "资源没有字段“血型”",
    ]


def test_a_masked_field_is_filtered_by_its_whole_value_only(
    d: Delivery, settings: Settings
) -> None:
    refused = run_query(d, settings, filters=[("id_number__prefix", "361102")])
    assert isinstance(refused, delivery.Rejected) and isinstance(refused.error, Invalid)
    assert "已脱敏" in refused.error.message and refused.error.field == "id_number__prefix"
    bad_date = run_query(d, settings, filters=[("出生日期", "1990-13-01")])
    assert isinstance(bad_date, delivery.Rejected)
    assert bad_date.error.message == "“出生日期”的取值“1990-13-01”不是有效的日期（YYYY-MM-DD）"


def test_limit_outside_its_range_is_refused(d: Delivery, settings: Settings) -> None:
    with pytest.raises(Invalid, match="1 到 1000"):
        run_query(d, settings, limit=1001)


# --- lookup -------------------------------------------------------------------------------


def test_lookup_by_the_original_id_number_returns_the_masked_record(
    d: Delivery, settings: Settings
) -> None:
    inside = next(r for r in d.rows if r["region_code"] == "361102" and len(r["id_number"]) == 15)
    found = run_lookup(d, settings, inside["id_number"])
    assert isinstance(found, delivery.DataPage)
    assert texts(found.rows) == texts(
        [r for r in expected_rows(d) if r["birth_date"] == inside["birth_date"]]
    )
    outside = next(r for r in d.rows if r["region_code"] == "361123")
    assert run_lookup(d, settings, outside["id_number"]).rows == []  # not in the granted rows
    assert run_lookup(d, settings, "000000000000000000").rows == []
    logged = audit_entries(d.w.db, "exchange.data.lookup")
    assert [(e["key"], e["rows"], e["grant"]) for e in logged] == [
        (inside["id_number"], 1, d.grant.number),
        (outside["id_number"], 0, d.grant.number),
        ("000000000000000000", 0, d.grant.number),
    ]


def test_lookup_needs_the_key_field_in_the_grant(
    db: Session, center: Center, tmp_path: Path
) -> None:
    d = delivery_world(db, center, fields=["姓名", "行政区划代码"], masking=[])
    with clock.frozen(USED_AT):
        refused = run_lookup(d, settings_of(tmp_path), d.rows[0]["id_number"])
    assert isinstance(refused, delivery.Rejected) and isinstance(refused.error, Forbidden)
    assert "公民身份号码" in refused.error.message


# --- refusals -----------------------------------------------------------------------------


def test_a_suspended_grant_stops_every_path_at_once(d: Delivery, settings: Settings) -> None:
    assert isinstance(run_query(d, settings), delivery.DataPage)
    grants.suspend_grant(
        d.w.db,
        actor=d.w.provider_officer,
        grant_id=d.grant.id,
        data=GrantActionIn(reason="超范围使用个人信息"),
    )
    outcomes = [
        run_query(d, settings),
        run_lookup(d, settings, d.rows[0]["id_number"]),
        delivery.start_download(
            d.w.db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=d.center,
            resource_code=d.code,
            request=delivery.DataRequest(),
            fmt="csv",
        ),
    ]
    for outcome in outcomes:
        assert isinstance(outcome, delivery.Rejected)
        assert isinstance(outcome.error, Forbidden)
        assert "已被暂停使用：超范围使用个人信息" in outcome.error.message
    refusals = [
        e
        for action in ("exchange.data.query", "exchange.data.lookup", "exchange.data.download")
        for e in audit_entries(d.w.db, action)
        if "refused" in e
    ]
    assert len(refusals) == 3


def test_a_department_without_a_grant_is_refused(d: Delivery, settings: Settings) -> None:
    other = organization(d.w.db, "市卫健委")
    stranger = actor_of(user(d.w.db, other, [Role.DATA_OFFICER]))
    refused = run_query(d, settings, actor=stranger)
    assert isinstance(refused, delivery.Rejected) and refused.grant is None
    assert "没有该资源的共享授权" in refused.error.message


def test_a_grant_filter_the_center_cannot_apply_fails_closed(d: Delivery) -> None:
    d.grant.row_filter = [{"field": "户籍类别", "op": "eq", "values": ["城镇"]}]
    with pytest.raises(Conflict, match="户籍类别"):
        delivery.grant_scope(d.binding, d.grant)


def test_a_whole_resource_grant_reads_every_column_unmasked(
    d: Delivery, settings: Settings
) -> None:
    d.grant.whole_resource = True
    page = run_query(d, settings, limit=1000)
    assert isinstance(page, delivery.DataPage)
    assert [f.column for f in page.fields] == [c["column"] for c in COLUMNS]
    assert texts(page.rows) == texts(sorted(d.rows, key=lambda r: r["id_number"]))


def test_hash_and_mobile_masks_agree_with_the_reference(d: Delivery, settings: Settings) -> None:
    d.grant.fields = ["公民身份号码", "手机号码", "电子邮箱"]
    d.grant.masking = [
        {"field": "公民身份号码", "rule": "hash"},
        {"field": "手机号码", "rule": "mobile"},
        {"field": "电子邮箱", "rule": "email"},
    ]
    page = run_query(d, settings, limit=1000)
    assert isinstance(page, delivery.DataPage)
    masks = {
        "id_number": Mask(MaskRule.HASH),
        "phone": Mask(MaskRule.MOBILE),
        "email": Mask(MaskRule.EMAIL),
    }
    assert page.rows == expected_rows(d, ["id_number", "phone", "email"], masks=masks)


def test_query_audit_names_grant_filters_and_count_never_values(
    d: Delivery, settings: Settings
) -> None:
    run_query(d, settings, filters=[("行政区划代码", "361102")], limit=5)
    (entry,) = audit_entries(d.w.db, "exchange.data.query")
    assert entry == {
        "resource": d.code,
        "grant": d.grant.number,
        "filters": [["行政区划代码", "361102"]],
        "fields": [],
        "limit": 5,
        "cursor": False,
        "rows": 5,
        "more": True,
    }
    access = audit_entries(d.w.db, "sharing.grant.access")
    assert access[-1]["allowed"] is True


def test_scoped_query_renders_as_plain_sql_for_copy(d: Delivery) -> None:
    """The push to front-end databases reuses it through `literal_sql` (COPY takes no
    parameters): the rendered statement gives the same masked rows."""
    scope = delivery.grant_scope(d.binding, d.grant)
    born = delivery.Filter("birth_date", "from", date(1970, 1, 1))
    stmt = delivery.scoped_query(d.center, d.binding, scope, key=MASK_KEY, where=[born], limit=50)
    with d.center.engine.connect() as conn:
        if d.center.dialect == "sqlite":
            register_sqlite_functions(conn.connection.dbapi_connection)
        got = [dict(r._mapping) for r in conn.execute(sa.text(literal_sql(stmt, d.center.dialect)))]
    wanted = [r for r in expected_rows(d) if r["birth_date"] >= date(1970, 1, 1)]
    assert texts(got) == texts(wanted)


# --- download -----------------------------------------------------------------------------


def test_csv_download_has_a_bom_item_names_and_the_granted_rows(
    d: Delivery, settings: Settings
) -> None:
    body, started = download(d, settings, "csv")
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0] == GRANTED
    expected = [[text_form(v) or "" for v in r.values()] for r in expected_rows(d)]
    assert table[1:] == expected
    (done,) = audit_entries(d.w.db, "exchange.data.download_done")
    assert done["rows"] == 30 and done["outcome"] == "complete"
    assert done["download"] == started.download_id and done["format"] == "csv"
    (start,) = audit_entries(d.w.db, "exchange.data.download")
    assert start["grant"] == d.grant.number and start["format"] == "csv"
    assert start["download"] == started.download_id


def test_jsonl_download_is_one_object_per_row_keyed_by_column(
    d: Delivery, settings: Settings
) -> None:
    body, _ = download(d, settings, "jsonl", filters=[("行政区划代码", "361103")])
    lines = [json.loads(line) for line in body.decode().splitlines()]
    expected = [r for r in expected_rows(d) if r["region_code"] == "361103"]
    assert lines == [
        {k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()} for r in expected
    ]


def test_xlsx_download_opens_with_the_granted_rows(d: Delivery, settings: Settings) -> None:
    body, started = download(d, settings, "xlsx")
    assert started.filename.endswith(".xlsx") and started.filename.startswith("人口基础信息")
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == GRANTED
    got = [
        {
            c: v.date() if isinstance(v, datetime) else v
            for c, v in zip(GRANTED_COLUMNS, r, strict=True)
        }
        for r in table[1:]
    ]
    assert got == expected_rows(d)


def test_an_abandoned_download_logs_the_rows_that_went_out(
    db: Session, center: Center, tmp_path: Path
) -> None:
    d = delivery_world(db, center, rows=4000, row_filter=[], masking=[])
    with clock.frozen(USED_AT):
        settings = settings_of(tmp_path)
        started = delivery.start_download(
            db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=center,
            resource_code=d.code,
            request=delivery.DataRequest(),
            fmt="jsonl",
        )
        assert isinstance(started, delivery.Download)
        stream = delivery.stream_download(started, center=center, transaction=own_transaction(db))
        first = next(stream)
        stream.close()  # the client went away
    (done,) = audit_entries(db, "exchange.data.download_done")
    assert done["outcome"] == "abandoned"
    assert 0 < done["rows"] < 4000 and done["rows"] >= first.count(b"\n")


def test_unknown_download_format_is_refused(d: Delivery, settings: Settings) -> None:
    with pytest.raises(Invalid, match="csv、xlsx、jsonl"):
        delivery.start_download(
            d.w.db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=d.center,
            resource_code=d.code,
            request=delivery.DataRequest(),
            fmt="pdf",
        )


def test_masking_key_comes_from_the_setting_or_the_secret(tmp_path: Path) -> None:
    assert delivery.masking_key(settings_of(tmp_path)) == MASK_KEY
    derived = load_settings(environ={"GOVSHARE_DATA_DIR": str(tmp_path)})
    key = delivery.masking_key(derived)
    assert len(key) == 32 and key != MASK_KEY
    assert key == delivery.masking_key(load_settings(environ={"GOVSHARE_DATA_DIR": str(tmp_path)}))
