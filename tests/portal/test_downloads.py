"""Downloads of open tables: CSV, Excel and JSON read back exactly, conditional data is refused,
and a large table goes out in many small pieces (written as it is read)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from fastapi.testclient import TestClient

from govshare.portal import downloads
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.downloads import content_disposition
from govshare.portal.models import PortalDataset, PortalField, PortalRelease, rows_table
from govshare.portal.settings import PortalSettings
from tests.conftest import BACKENDS
from tests.portal import sample
from tests.portal.conftest import fresh_portal

BUS_STOPS = "a01001-000001"
PHARMACIES = "b02001-000001"
AIR = "c03001-000001"
CONDITIONAL = "b02001-000002"


@pytest.fixture(scope="module")
def client(sample_portal: PortalDatabase) -> Iterator[TestClient]:
    app = create_portal_app(PortalSettings(database_url=sample_portal.url), database=sample_portal)
    with TestClient(app) as test_client:
        yield test_client


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "CSV without a UTF-8 byte-order mark"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_rows(content: bytes) -> list[list[Any]]:
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = [list(r) for sheet in workbook.worksheets for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    # read-only sheets leave out a row's trailing empty cells
    return [r + [None] * (len(rows[0]) - len(r)) for r in rows]


def test_csv_of_the_bus_stops_reads_back_exactly(client: TestClient) -> None:
    response = client.get(f"/dataset/{BUS_STOPS}/download.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_rows(response.content) == [
        ["站点名称", "途经线路", "经度", "纬度"],
        *[list(row) for row in sample.BUS_STOPS],
    ]


def test_csv_writes_dates_in_iso_and_numbers_plain(client: TestClient) -> None:
    pharmacies = csv_rows(client.get(f"/dataset/{PHARMACIES}/download.csv").content)
    assert pharmacies[0] == ["企业名称", "统一社会信用代码", "经营地址", "发证日期"]
    assert pharmacies[1:] == [[*row[:3], row[3].isoformat()] for row in sample.PHARMACIES]
    air = csv_rows(client.get(f"/dataset/{AIR}/download.csv").content)
    assert air[1:] == [[d.isoformat(), str(aqi), str(pm)] for d, aqi, pm in sample.AIR]
    assert air[1] == ["2026-11-28", "40", "30.5"]


def test_json_is_an_array_of_objects_keyed_by_field_name(client: TestClient) -> None:
    response = client.get(f"/dataset/{AIR}/download.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == [
        {"日期": d.isoformat(), "空气质量指数": aqi, "细颗粒物浓度": float(pm)}
        for d, aqi, pm in sample.AIR
    ]
    assert '"细颗粒物浓度": 30.5}' in response.text  # plain decimals, not 30.5000000000
    stops = json.loads(client.get(f"/dataset/{BUS_STOPS}/download.json").content)
    assert stops == [
        dict(zip(["站点名称", "途经线路", "经度", "纬度"], row, strict=True))
        for row in sample.BUS_STOPS
    ]


def test_excel_reads_back_with_numbers_as_numbers_and_dates_in_iso(client: TestClient) -> None:
    response = client.get(f"/dataset/{AIR}/download.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx_rows(response.content) == [
        ["日期", "空气质量指数", "细颗粒物浓度"],
        *[[d.isoformat(), aqi, float(pm)] for d, aqi, pm in sample.AIR],
    ]
    stops = xlsx_rows(client.get(f"/dataset/{BUS_STOPS}/download.xlsx").content)
    assert stops[1:] == [list(row) for row in sample.BUS_STOPS]


@pytest.mark.parametrize("extension", ["csv", "xlsx", "json"])
def test_the_file_is_named_after_the_chinese_title(client: TestClient, extension: str) -> None:
    disposition = client.get(f"/dataset/{BUS_STOPS}/download.{extension}").headers[
        "content-disposition"
    ]
    assert disposition.startswith("attachment; ")
    assert f'filename="{BUS_STOPS}.{extension}"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == f"公交站点信息.{extension}"


def test_a_title_cannot_inject_into_the_header() -> None:
    disposition = content_disposition('a"b/c\r\nX: y', "n", "csv")
    assert "\r" not in disposition and "\n" not in disposition
    assert unquote(disposition.split("''", 1)[1]) == "a_b_c__X_ y.csv"


@pytest.mark.parametrize("extension", ["csv", "xlsx", "json"])
def test_a_conditional_dataset_cannot_be_downloaded(client: TestClient, extension: str) -> None:
    response = client.get(f"/dataset/{CONDITIONAL}/download.{extension}")
    assert response.status_code == 403
    assert "content-disposition" not in response.headers
    assert "「企业年报抽查结果」为有条件开放数据，须经申请、获得批准后方可使用" in response.text
    assert "开放条件：仅限用于学术研究" in response.text


@pytest.mark.parametrize("extension", ["csv", "xlsx", "json"])
def test_an_unknown_dataset_has_nothing_to_download(client: TestClient, extension: str) -> None:
    response = client.get(f"/dataset/nope/download.{extension}")
    assert response.status_code == 404
    assert "找不到您要的内容" in response.text


# --- a large table, with values of every kind ------------------------------------------

BIG_ROWS = 10_000
BIG_FIELDS = [
    ("名称", "text"),
    ("数量", "integer"),
    ("比例", "double"),
    ("合格", "boolean"),
    ("登记时间", "timestamp"),
]


def _big_value(n: int) -> tuple[Any, ...]:
    texts = ["=1+1", '带"引号",逗号', "换行\n第二行", "普通"]
    return (
        f"{texts[(n - 1) % 4]}{n}",
        n * 1000,
        0.00001 if n == 1 else n / 4,
        n % 3 == 0,
        datetime(2026, 1, 1, 8, 30) if n % 2 else None,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def big_portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortalDatabase]:
    """The sample portal plus one open table of BIG_ROWS rows (dataset 201)."""
    directory = tmp_path_factory.mktemp("portal-big")
    portal = fresh_portal(request.param, "govshare_test_portal_big", directory)
    sample.fill(portal)
    with portal.session() as s:
        s.add(
            PortalDataset(
                id=201,
                name="z09001-000001",
                code="Z09001/000001",
                title="大表/测试",
                notes="",
                organization_id=11,
                domain="transport",
                domain_label="交通出行",
                kind="table",
                format="database",
                format_label="数据库",
                update_frequency="daily",
                update_frequency_label="每日",
                open_type="unconditional",
                tags=[],
                version=1,
                issued=date(2026, 12, 1),
                modified=datetime(2026, 12, 2, tzinfo=UTC),
                row_count=BIG_ROWS,
                rows_table="portal_data_201",
                fields=[
                    PortalField(position=i, name=name, column=f"c{i}", type=type_)
                    for i, (name, type_) in enumerate(BIG_FIELDS)
                ],
            )
        )
        s.flush()
        table = rows_table(201, [(f"c{i}", t) for i, (_, t) in enumerate(BIG_FIELDS)])
        table.create(s.connection())
        s.execute(
            table.insert(),
            [
                {"_row": n, **{f"c{i}": v for i, v in enumerate(_big_value(n))}}
                for n in range(1, BIG_ROWS + 1)
            ],
        )
        s.add(
            PortalRelease(dataset_id=201, published_at=datetime(2026, 12, 2, tzinfo=UTC), version=1)
        )
    yield portal
    portal.dispose()


def body_messages(portal: PortalDatabase, path: str) -> tuple[int, list[bytes]]:
    """Calls the app directly and keeps each body message the response sends, as sent."""
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    status: list[int] = []
    bodies: list[bytes] = []
    received: list[bool] = []

    async def receive() -> dict[str, Any]:
        if not received:
            received.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    # In a thread of its own: a Playwright browser started earlier in this process keeps an
    # event loop on the main thread, where asyncio.run would refuse to start.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return status[0], bodies


PIECE = 16 * 1024  # the pieces' size in these tests, so that 10,000 rows make many


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "CHUNK", PIECE)


def _expected_text(n: int) -> list[str]:
    name, amount, share, ok, at = _big_value(n)
    plain_share = "0.00001" if n == 1 else repr(share)
    return [name, str(amount), plain_share, "是" if ok else "否", at.isoformat() if at else ""]


def test_a_large_csv_is_sent_in_small_pieces_and_reads_back(big_portal: PortalDatabase) -> None:
    status, bodies = body_messages(big_portal, "/dataset/z09001-000001/download.csv")
    assert status == 200
    assert len(bodies) > 4, "the CSV was not written as it was read"
    assert max(len(b) for b in bodies) < 2 * PIECE
    rows = csv_rows(b"".join(bodies))
    assert rows[0] == [name for name, _ in BIG_FIELDS]
    assert len(rows) == BIG_ROWS + 1
    assert rows[1:] == [_expected_text(n) for n in range(1, BIG_ROWS + 1)]


def test_a_large_json_is_sent_in_small_pieces_and_reads_back(big_portal: PortalDatabase) -> None:
    status, bodies = body_messages(big_portal, "/dataset/z09001-000001/download.json")
    assert status == 200
    assert len(bodies) > 4, "the JSON was not written as it was read"
    assert max(len(b) for b in bodies) < 2 * PIECE
    items = json.loads(b"".join(bodies))
    assert len(items) == BIG_ROWS
    assert items[0] == {
        "名称": "=1+11",
        "数量": 1000,
        "比例": 0.00001,
        "合格": False,
        "登记时间": "2026-01-01T08:30:00",
    }
    assert '"比例": 0.00001,' in b"".join(bodies).decode()
    assert items[2] == {
        "名称": "换行\n第二行3",
        "数量": 3000,
        "比例": 0.75,
        "合格": True,
        "登记时间": "2026-01-01T08:30:00",
    }
    assert [item["数量"] for item in items] == [n * 1000 for n in range(1, BIG_ROWS + 1)]


def test_a_large_excel_reads_back_and_text_never_becomes_a_formula(
    big_portal: PortalDatabase,
) -> None:
    status, bodies = body_messages(big_portal, "/dataset/z09001-000001/download.xlsx")
    assert status == 200
    assert max(len(b) for b in bodies) <= PIECE
    content = b"".join(bodies)
    rows = xlsx_rows(content)
    assert rows[0] == [name for name, _ in BIG_FIELDS]
    assert len(rows) == BIG_ROWS + 1
    assert rows[1] == ["=1+11", 1000, 0.00001, False, "2026-01-01T08:30:00"]
    assert rows[2] == ['带"引号",逗号2', 2000, 0.5, False, None]
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    first = next(workbook.worksheets[0].iter_rows(min_row=2, max_row=2))
    assert first[0].data_type == "s"  # "=1+11" stays text, not a formula
    workbook.close()
