"""The generated population and company registers: valid and unique keys, rows consistent in
themselves, deterministic, fast; and load_table on real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from govshare.core import uscc
from govshare.exchange.demo_data import (
    ACTIVE_STATUSES,
    COMPANY_COLUMNS,
    COUNTY_NAMES,
    POPULATION_COLUMNS,
    company_capacity,
    company_rows,
    id_check_digit,
    load_table,
    organisation_check_character,
    population_capacity,
    population_rows,
    valid_id_number,
)
from tests.worker_db import own

AS_OF = datetime(2026, 7, 1)
PG_URL = own(
    os.environ.get(
        "GOVSHARE_TEST_DEMO_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/gs_demo_data"
    )
)
MYSQL_URL = own(
    os.environ.get("GOVSHARE_TEST_DEMO_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/gs_demo_data")
)
POPULATION = [name for name, _ in POPULATION_COLUMNS]
COMPANY = [name for name, _ in COMPANY_COLUMNS]
# county, 街道/镇/乡, road or village group, number (and a flat in a building on a road)
ADDRESS = re.compile(
    r"\w+?[区县市]\w+?(街道|镇|乡)\w+?((路|大道)\d+号(\d+栋\d单元\d+室)?|村\d+组\d+号)"
)
MOBILE = ("13", "14", "15", "16", "17", "18", "19")  # mainland mobile numbers start so


@pytest.fixture(scope="module")
def sample() -> list[tuple]:
    return list(population_rows(50_000, seed=3, as_of=AS_OF))


@pytest.fixture(scope="module")
def companies() -> list[tuple]:
    return list(company_rows(50_000, seed=3, as_of=AS_OF))


def _person(row: tuple) -> dict:
    return dict(zip(POPULATION, row, strict=True))


# --- population -------------------------------------------------------------------------


def test_population_columns_are_the_fifteen_agreed() -> None:
    assert POPULATION == [
        "id_number", "name", "gender", "birth_date", "ethnicity", "phone", "region_code",
        "address", "household_type", "marital_status", "education", "occupation",
        "registered_on", "updated_at", "record_no",
    ]  # fmt: skip
    assert dict(POPULATION_COLUMNS)["birth_date"] == "date"
    assert dict(POPULATION_COLUMNS)["updated_at"] == "timestamp"
    assert dict(POPULATION_COLUMNS)["record_no"] == "bigint"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),  # the example printed in GB 11643
        ("110105194912310021", False),  # wrong check digit
        ("11010519491231002x", False),  # the check character is a capital X
        ("11010519491231002", False),  # 17 characters
        ("1101051949123100２X", False),  # a full-width digit
        ("110105199902300028", False),  # 30 February
    ],
)
def test_valid_id_number_checks_length_date_and_check_digit(value: str, valid: bool) -> None:
    assert valid_id_number(value) is valid


def test_every_id_number_is_valid_and_agrees_with_its_row(sample: list[tuple]) -> None:
    for row in sample:
        p = _person(row)
        number = p["id_number"]
        assert valid_id_number(number), number
        assert number[17] == id_check_digit(number[:17])
        assert p["region_code"] == number[:6] and number[:6] in COUNTY_NAMES
        assert p["birth_date"] == datetime.strptime(number[6:14], "%Y%m%d").date()
        assert p["gender"] == ("男" if int(number[16]) % 2 else "女"), number


def test_every_row_has_the_agreed_types_and_plausible_values(sample: list[tuple]) -> None:
    for i, row in enumerate(sample):
        p = _person(row)
        assert all(isinstance(p[c], str) for c in POPULATION if c not in
                   ("birth_date", "registered_on", "updated_at", "record_no"))  # fmt: skip
        assert type(p["birth_date"]) is date and type(p["registered_on"]) is date
        assert isinstance(p["updated_at"], datetime) and p["updated_at"].tzinfo is None
        assert p["record_no"] == sample[0][14] + i
        assert 2 <= len(p["name"]) <= 4
        assert len(p["phone"]) == 11 and p["phone"].isdigit() and p["phone"][:2] in MOBILE
        assert ADDRESS.fullmatch(p["address"]), p["address"]
        assert p["address"].startswith(COUNTY_NAMES[p["region_code"]])
        assert p["household_type"] in ("家庭户", "集体户")
        assert p["birth_date"] <= p["registered_on"] <= p["updated_at"].date()
        assert AS_OF - timedelta(days=3 * 365) <= p["updated_at"] < AS_OF


def test_ids_are_unique_over_two_hundred_thousand_rows() -> None:
    ids = [row[0] for row in population_rows(200_000, seed=1, as_of=AS_OF)]
    assert len(set(ids)) == 200_000


def test_disjoint_start_ranges_share_no_key() -> None:
    first = {row[0] for row in population_rows(60_000, seed=5, as_of=AS_OF)}
    second = {row[0] for row in population_rows(60_000, seed=5, start=60_000, as_of=AS_OF)}
    assert len(first) == len(second) == 60_000
    assert not first & second


def test_a_slice_is_the_same_rows_as_in_a_longer_run() -> None:
    # 4,000..4,200 crosses a random-stream block boundary (4,096)
    whole = list(population_rows(4_200, seed=9, as_of=AS_OF))
    assert list(population_rows(200, seed=9, start=4_000, as_of=AS_OF)) == whole[4_000:]


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    again = list(population_rows(2_000, seed=11, as_of=AS_OF))
    assert again == list(population_rows(2_000, seed=11, as_of=AS_OF))
    other = list(population_rows(2_000, seed=12, as_of=AS_OF))
    assert {r[0] for r in other} != {r[0] for r in again}
    assert [r[1] for r in other] != [r[1] for r in again]


def test_as_of_moves_only_updated_at() -> None:
    before = list(population_rows(500, seed=2, as_of=AS_OF))
    later = list(population_rows(500, seed=2, as_of=AS_OF + timedelta(days=10)))
    assert [r[:13] for r in later] == [r[:13] for r in before]
    assert [r[14] for r in later] == [r[14] for r in before]
    shifted = [a[13] - b[13] == timedelta(days=10) for b, a in zip(before, later, strict=True)]
    assert sum(shifted) > 0.9 * len(shifted)  # the rest: recent registrations bound updated_at


def test_the_population_looks_like_a_city(sample: list[tuple]) -> None:
    people = [_person(r) for r in sample]
    genders = Counter(p["gender"] for p in people)
    assert 0.47 < genders["男"] / len(people) < 0.53
    assert Counter(p["ethnicity"] for p in people)["汉族"] / len(people) > 0.98
    counties = Counter(p["region_code"] for p in people)
    assert set(counties) == set(COUNTY_NAMES)
    assert counties["361128"] > 4 * counties["361125"]  # 鄱阳县 is far bigger than 横峰县
    children = [p for p in people if p["birth_date"].year >= 2015]
    assert children and {p["marital_status"] for p in children} == {"未婚"}
    assert {p["occupation"] for p in children} <= {"学龄前儿童", "学生"}
    assert len({p["name"] for p in people}) > len(people) // 3
    assert len({p["address"] for p in people}) > len(people) // 2


def test_indices_beyond_the_key_space_are_refused() -> None:
    with pytest.raises(ValueError):
        population_rows(10, start=population_capacity() - 5)
    with pytest.raises(ValueError):
        company_rows(10, start=company_capacity() - 5)


def test_generation_is_fast_enough_for_a_million_rows() -> None:
    started = time.process_time()
    for _ in population_rows(100_000, seed=4, as_of=AS_OF):
        pass
    # ~0.7 s on the reference machine; a million must stay well under 30 s
    assert time.process_time() - started < 3.0


# --- companies --------------------------------------------------------------------------


def test_every_uscc_is_valid_unique_and_agrees_with_its_row(companies: list[tuple]) -> None:
    assert len(COMPANY) == 12
    codes = [row[0] for row in companies]
    assert len(set(codes)) == len(codes)
    assert len({row[COMPANY.index("licence_no")] for row in companies}) == len(codes)
    for row in companies:
        c = dict(zip(COMPANY, row, strict=True))
        code = c["uscc"]
        assert uscc.problem(code) is None, code
        assert code[16] == organisation_check_character(code[8:16])
        assert c["region_code"] == code[2:8] and code[2:8] in COUNTY_NAMES
        assert (code[:2] == "92") == (c["company_type"] == "个体工商户")
        assert (code[:2] == "93") == (c["company_type"] == "农民专业合作社")
        if c["established_on"].year >= 2016:
            assert code[8:11] == "MA3"  # codes issued since 2016
        else:
            assert code[8:16].isdigit()
        assert c["licence_no"].endswith(tuple("0123456789")) and c["region_code"] in c["licence_no"]


def test_company_rows_have_the_agreed_types(companies: list[tuple]) -> None:
    statuses = Counter(row[COMPANY.index("status")] for row in companies)
    assert set(statuses) == {"存续", "在业", "注销", "吊销"}
    assert sum(statuses[s] for s in ACTIVE_STATUSES) > len(companies) * 0.7
    for row in companies[:5_000]:
        c = dict(zip(COMPANY, row, strict=True))
        assert isinstance(c["registered_capital"], Decimal) and c["registered_capital"] > 0
        assert c["registered_capital"].as_tuple().exponent == -2
        assert type(c["established_on"]) is date and c["updated_at"].tzinfo is None
        assert c["established_on"] <= c["updated_at"].date() and c["updated_at"] < AS_OF
        assert c["name"].endswith(("公司", "合作社", "（有限合伙）")) or c["company_type"] in (
            "个体工商户",
            "个人独资企业",
        )


def test_company_rows_are_deterministic() -> None:
    assert list(company_rows(300, seed=8, as_of=AS_OF)) == list(
        company_rows(300, seed=8, as_of=AS_OF)
    )
    assert (
        list(company_rows(50, seed=8, start=100, as_of=AS_OF))
        == list(company_rows(150, seed=8, as_of=AS_OF))[100:]
    )


# --- load_table ---------------------------------------------------------------------------


def _ensure_database(url: sa.URL) -> None:
    # the server's own maintenance database (URL.set(database=None) changes nothing)
    admin_url = url.set(database="postgres" if url.get_backend_name() == "postgresql" else "mysql")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if url.get_backend_name() == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                ).first()
                if not found:
                    conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
            else:
                conn.execute(
                    sa.text(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8mb4")
                )
    finally:
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of this dialect's demo-data database (MariaDB missing fails loudly unless
    GOVSHARE_TEST_NO_MYSQL=1)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('demo') / 'provider.db'}"
        return
    if request.param == "mysql" and os.environ.get("GOVSHARE_TEST_NO_MYSQL") == "1":
        pytest.skip("GOVSHARE_TEST_NO_MYSQL=1")
    url = sa.make_url(PG_URL if request.param == "postgresql" else MYSQL_URL)
    try:
        _ensure_database(url)
    except OperationalError as exc:
        pytest.fail(
            f"{request.param} is not reachable at {url.render_as_string()}: {exc.orig}",
            pytrace=False,
        )
    yield url.render_as_string(hide_password=False)


@pytest.fixture
def engine_of(target: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(target)
    yield engine
    engine.dispose()


def _table(engine: sa.Engine, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=engine)


def _rows(engine: sa.Engine, table: sa.Table, key: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c[key]))]


def test_population_round_trips_with_key_index_and_types(target: str, engine_of: sa.Engine) -> None:
    rows = list(population_rows(3_000, seed=21, as_of=AS_OF))
    assert (
        load_table(
            target, "demo_population", POPULATION_COLUMNS, iter(rows), key="id_number", batch=700
        )
        == 3_000
    )

    table = _table(engine_of, "demo_population")
    assert [c.name for c in table.primary_key.columns] == ["id_number"]
    assert any([c.name for c in ix.columns] == ["updated_at"] for ix in table.indexes)
    column = table.c
    assert isinstance(column.birth_date.type, sa.Date) and not isinstance(
        column.birth_date.type, sa.DateTime
    )
    assert isinstance(column.updated_at.type, sa.DateTime)
    assert isinstance(column.record_no.type, sa.BigInteger)
    assert isinstance(column.name.type, sa.String)
    assert _rows(engine_of, table, "id_number") == sorted(rows)


def test_companies_round_trip_with_exact_amounts(target: str, engine_of: sa.Engine) -> None:
    rows = list(company_rows(400, seed=22, as_of=AS_OF))
    assert load_table(target, "demo_company", COMPANY_COLUMNS, rows, key="uscc") == 400

    table = _table(engine_of, "demo_company")
    assert [c.name for c in table.primary_key.columns] == ["uscc"]
    assert isinstance(table.c.registered_capital.type, sa.Numeric)
    loaded = _rows(engine_of, table, "uscc")
    assert loaded == sorted(rows)
    assert {r[3].as_tuple().exponent for r in loaded} == {-2}


def test_awkward_values_round_trip(target: str, engine_of: sa.Engine) -> None:
    columns = [
        ("k", "text"),
        ("v", "text"),
        ("n", "integer"),
        ("ok", "boolean"),
        ("at", "timestamp"),
    ]
    rows = [
        (
            "a",
            'O\'Brien \\ "quoted" \n\r\t 中文 😀 %s %(x)s ?',
            1,
            True,
            datetime(2024, 2, 29, 23, 59, 59, 123456),
        ),
        ("b", None, None, False, None),
        ("c", "", -7, None, datetime(1999, 12, 31)),
    ]
    assert load_table(target, "demo_awkward", columns, rows, key="k") == 3
    loaded = _rows(engine_of, _table(engine_of, "demo_awkward"), "k")
    assert [(k, v, n, None if ok is None else bool(ok), at) for k, v, n, ok, at in loaded] == rows


def test_a_key_of_several_columns_is_the_primary_key(target: str, engine_of: sa.Engine) -> None:
    """Daily readings per station: the station and the day together identify a row."""
    columns = [
        ("station", "text"),
        ("day", "date"),
        ("aqi", "integer"),
        ("updated_at", "timestamp"),
    ]
    rows = [
        ("3690A", date(2026, 12, 1), 41, datetime(2026, 12, 2, 1)),
        ("3690A", date(2026, 12, 2), 57, datetime(2026, 12, 3, 1)),
        ("3691A", date(2026, 12, 1), 38, datetime(2026, 12, 2, 1)),
    ]
    assert load_table(target, "demo_readings", columns, rows, key=("station", "day")) == 3
    table = _table(engine_of, "demo_readings")
    assert [c.name for c in table.primary_key.columns] == ["station", "day"]
    with pytest.raises(ValueError, match="主键列"):
        load_table(target, "demo_readings", columns, rows, key=("station", "hour"))
    with engine_of.connect() as conn:
        loaded = conn.execute(sa.select(table).order_by(table.c.station, table.c.day)).all()
    assert [tuple(r) for r in loaded] == rows


def test_loading_again_replaces_the_table(target: str, engine_of: sa.Engine) -> None:
    load_table(
        target, "demo_again", POPULATION_COLUMNS, population_rows(50, as_of=AS_OF), key="id_number"
    )
    load_table(
        target,
        "demo_again",
        POPULATION_COLUMNS,
        population_rows(7, start=50, as_of=AS_OF),
        key="id_number",
    )
    loaded = _rows(engine_of, _table(engine_of, "demo_again"), "id_number")
    assert loaded == sorted(population_rows(7, start=50, as_of=AS_OF))


def test_an_empty_load_leaves_an_empty_table(target: str, engine_of: sa.Engine) -> None:
    assert load_table(target, "demo_empty", COMPANY_COLUMNS, [], key="uscc") == 0
    assert _rows(engine_of, _table(engine_of, "demo_empty"), "uscc") == []


def test_a_failed_load_keeps_the_previous_table(target: str, engine_of: sa.Engine) -> None:
    if target.startswith("mysql"):
        pytest.skip("MySQL commits DDL implicitly; its loads are not atomic")
    columns = [("k", "text"), ("v", "text")]
    load_table(target, "demo_atomic", columns, [("a", "old")], key="k")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        load_table(target, "demo_atomic", columns, [("a", "new"), ("a", "again")], key="k")
    assert _rows(engine_of, _table(engine_of, "demo_atomic"), "k") == [("a", "old")]


@pytest.mark.parametrize(
    ("table", "columns", "key"),
    [
        ("bad name", [("k", "text")], "k"),
        ("t", [("k;drop", "text")], "k;drop"),
        ("t", [("k", "varchar")], "k"),
        ("t", [("k", "text")], "missing"),
        ("t", [("k", "text"), ("k", "text")], "k"),
    ],
)
def test_bad_table_shapes_are_refused_before_touching_the_database(
    table: str, columns: list[tuple[str, str]], key: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError):
        load_table(url, table, columns, [], key=key)
    assert not (tmp_path / "x.db").exists()


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="不支持"):
        load_table("oracle://u@h/db", "t", [("k", "text")], [], key="k")
