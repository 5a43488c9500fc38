"""Bad input and oversized requests get a clear 4xx, never a 500 and never unbounded work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core.errors import ConfigError
from govshare.core.inputs import MAX_ID, parse_id
from govshare.core.permissions import Role
from govshare.core.settings import load_settings
from tests.builders import operator, organization, user
from tests.http import csrf_for, sign_in

PROBLEM = "application/problem+json"
TOO_BIG = MAX_ID + 1  # 2**31


@pytest.fixture
def signed_in(db: Session, app: FastAPI, client: TestClient) -> TestClient:
    """The client signed in as the platform operator (a page session, with its CSRF header)."""
    operator(db)
    db.commit()
    assert sign_in(client, "operator").status_code == 200
    client.headers.update(csrf_for(app, client))
    return client


def assert_refused(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    if field is not None:
        assert body["field"] == field, body
    return body


# --- ids and numbers past an INTEGER column ----------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/catalog/resources/{TOO_BIG}",
        f"/api/v1/catalog/resources/1/versions/{TOO_BIG}",
        f"/api/v1/sharing/attachments/{TOO_BIG}",
        f"/api/v1/sharing/attachments/-{TOO_BIG}",
        f"/api/v1/users/{10**19}",
    ],
)
def test_an_id_past_an_integer_column_in_a_path_is_422(signed_in: TestClient, path: str) -> None:
    assert_refused(signed_in.get(path), 422)


def test_an_id_past_an_integer_column_in_a_query_string_is_422(signed_in: TestClient) -> None:
    found = signed_in.get("/api/v1/exchange/gateway-calls", params={"before_id": TOO_BIG})
    assert_refused(found, 422, "before_id")
    found = signed_in.get("/api/v1/audit", params={"organization_id": TOO_BIG})
    assert_refused(found, 422, "organization_id")


def test_an_id_past_an_integer_column_in_a_body_is_422(signed_in: TestClient) -> None:
    body = {"name": "对接系统令牌", "system_id": TOO_BIG}
    problem = assert_refused(signed_in.post("/api/v1/api-tokens", json=body), 422)
    assert problem["field"] == "system_id"
    assert "2147483647" in problem["detail"]


def test_an_audit_page_of_ten_to_the_nineteenth_is_422(signed_in: TestClient) -> None:
    assert_refused(signed_in.get("/api/v1/audit", params={"page": 10**19}), 422, "page")


def test_a_page_form_with_an_id_past_an_integer_column_is_not_a_server_error(
    signed_in: TestClient,
) -> None:
    found = signed_in.get(f"/admin/organizations/{TOO_BIG}", headers={"accept": "text/html"})
    assert found.status_code == 422
    found = signed_in.get("/catalog", params={"provider_id": str(TOO_BIG)})
    assert found.status_code == 200  # the page shows the refusal above the whole catalog
    assert "提供部门参数无效" in found.text
    found = signed_in.get("/catalog", params={"page": str(10**19)})
    assert found.status_code == 200
    assert "页码应为 1 至 100000 之间的整数" in found.text


def test_parse_id_takes_only_what_a_row_can_have() -> None:
    assert parse_id("12") == 12
    assert parse_id(str(MAX_ID)) == MAX_ID
    for bad in (str(TOO_BIG), "0", "-1", "²", "١٢", "", None, "1e3"):
        assert parse_id(bad) is None


def test_an_application_with_a_blank_field_names_the_entry(signed_in: TestClient) -> None:
    body = {
        "resource_id": 1,
        "purpose": "核对最低生活保障申请人的户籍信息",
        "system_id": 1,
        "fields": [""],
        "valid_from": "2026-10-01",
        "valid_until": "2027-09-30",
    }
    problem = assert_refused(signed_in.post("/api/v1/sharing/applications", json=body), 422)
    assert problem["field"] == "fields.0"


# --- NUL characters ----------------------------------------------------------------------


def test_a_nul_in_a_json_body_is_422_naming_the_field(signed_in: TestClient) -> None:
    body = {"name": "江州\x00市", "uscc": "91361100MA35XXXX0X", "level": "city"}
    found = signed_in.post("/api/v1/organizations", json=body)
    problem = assert_refused(found, 422, "name")
    assert "空字符" in problem["detail"]


def test_a_nul_nested_in_a_list_names_its_place(signed_in: TestClient) -> None:
    body = {"item_names": ["姓名", "身份\x00证号"]}
    assert_refused(signed_in.post("/api/v1/catalog/duplicates", json=body), 422, "item_names.1")


def test_a_nul_in_a_query_string_or_path_is_422(signed_in: TestClient) -> None:
    assert_refused(signed_in.get("/api/v1/audit", params={"action": "a\x00"}), 422, "action")
    found = signed_in.get("/api/v1/catalog/resources/by-code/1%00/000001")
    assert_refused(found, 422, "code")


def test_a_nul_in_a_posted_form_is_refused_before_the_page_runs(
    db: Session, app: FastAPI, signed_in: TestClient
) -> None:
    token = csrf_for(app, signed_in)
    form = {"name": "主题\x00", "description": "", "csrf_token": next(iter(token.values()))}
    found = signed_in.post("/catalog/themes", data=form, headers={"accept": "text/html"})
    assert found.status_code == 422
    assert "空字符" in found.text


def test_a_nul_in_a_sign_in_is_422_not_a_database_error(client: TestClient) -> None:
    found = client.post("/api/v1/session", json={"username": "op\x00", "password": "x"})
    assert_refused(found, 422, "username")


# --- bounded work per request ------------------------------------------------------------


def test_adding_two_to_the_thirty_first_working_days_is_refused_at_once(
    signed_in: TestClient,
) -> None:
    # Refused by its bound before any day is counted (counting would answer 200, after
    # seconds of CPU).
    found = signed_in.get("/api/v1/workdays/add", params={"start": "2026-10-08", "n": 2**31})
    assert_refused(found, 422, "n")
    assert (
        signed_in.get("/api/v1/workdays/add", params={"start": "2026-10-08", "n": 1098}).status_code
        == 200
    )
    assert_refused(
        signed_in.get("/api/v1/workdays/add", params={"start": "2026-10-08", "n": 1099}), 422, "n"
    )


def test_a_deadline_near_the_end_of_time_is_422_not_an_overflow(signed_in: TestClient) -> None:
    found = signed_in.get("/api/v1/workdays/add", params={"start": "9999-12-30", "n": 5})
    assert_refused(found, 422, "start")


def test_working_days_between_dates_centuries_apart_is_refused(signed_in: TestClient) -> None:
    found = signed_in.get(
        "/api/v1/workdays/between", params={"start": "1950-01-01", "end": "2199-12-31"}
    )
    assert_refused(found, 422, "end")
    found = signed_in.get(
        "/api/v1/workdays/between", params={"start": "2026-01-01", "end": "2026-12-31"}
    )
    assert found.status_code == 200
    found = signed_in.get("/api/v1/workdays/years", params={"first": 10**12})
    assert_refused(found, 422, "first")


def test_the_calendar_page_refuses_an_unbounded_deadline(signed_in: TestClient) -> None:
    found = signed_in.get("/calendar", params={"start": "2026-10-08", "n": 2**31})
    assert found.status_code == 422


# --- body size ---------------------------------------------------------------------------


def limited_app(db: Session, tmp_path: Any, **limits: str) -> FastAPI:
    from sqlalchemy.orm import sessionmaker

    from govshare.core.runtime import Runtime
    from govshare.web.app import create_app

    environ = {"GOVSHARE_DATA_DIR": str(tmp_path), **limits}
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(runtime)


@pytest.fixture
def small(db: Session, tmp_path: Any) -> Iterator[TestClient]:
    """The app with a 4 KB body limit and a 16 KB upload limit."""
    app = limited_app(
        db, tmp_path, GOVSHARE_MAX_BODY_BYTES="4096", GOVSHARE_MAX_UPLOAD_BYTES="16384"
    )
    with TestClient(app) as test_client:
        yield test_client


def test_an_anonymous_body_past_the_limit_is_413_before_sign_in_is_checked(
    small: TestClient,
) -> None:
    body = b'{"name": "' + b"x" * 10_000 + b'"}'
    found = small.post(
        "/api/v1/organizations", content=body, headers={"content-type": "application/json"}
    )
    problem = assert_refused(found, 413)
    assert "4 KB" in problem["detail"]


def test_a_chunked_body_is_counted_as_it_streams(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    found = small.post(
        "/api/v1/organizations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in found.request.headers
    assert_refused(found, 413)


def test_a_body_under_the_limit_reaches_sign_in(small: TestClient) -> None:
    found = small.post("/api/v1/organizations", json={"name": "x" * 1000})
    assert_refused(found, 401)


def test_an_upload_has_its_own_larger_limit(small: TestClient) -> None:
    payload = {"file": ("catalog.csv", b"x" * 8000, "text/csv")}
    assert small.post("/api/v1/catalog/import", files=payload).status_code == 401
    payload = {"file": ("catalog.csv", b"x" * 20000, "text/csv")}
    assert_refused(small.post("/api/v1/catalog/import", files=payload), 413)


def test_an_application_with_attachments_takes_the_upload_limit(small: TestClient) -> None:
    body = {"purpose": "x", "attachments": [{"content_base64": "A" * 8000}]}
    assert small.post("/api/v1/sharing/applications", json=body).status_code == 401


def test_body_limits_are_settings(tmp_path: Any) -> None:
    settings = load_settings(
        environ={
            "GOVSHARE_DATA_DIR": str(tmp_path),
            "GOVSHARE_MAX_BODY_BYTES": "1048576",
            "GOVSHARE_MAX_UPLOAD_BYTES": "52428800",
        }
    )
    assert (settings.max_body_bytes, settings.max_upload_bytes) == (1048576, 52428800)
    with pytest.raises(ConfigError, match="GOVSHARE_MAX_UPLOAD_BYTES"):
        load_settings(
            environ={
                "GOVSHARE_DATA_DIR": str(tmp_path),
                "GOVSHARE_MAX_BODY_BYTES": "1048576",
                "GOVSHARE_MAX_UPLOAD_BYTES": "1024",
            }
        )


def test_a_department_officer_is_refused_the_same_way(
    db: Session, app: FastAPI, client: TestClient
) -> None:
    dept = organization(db, "市民政局")
    user(db, dept, [Role.DATA_OFFICER], "mzj_officer")
    db.commit()
    sign_in(client, "mzj_officer")
    assert_refused(client.get(f"/api/v1/catalog/resources/{TOO_BIG}"), 422)
