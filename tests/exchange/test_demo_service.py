"""The demo upstream service: every endpoint through Starlette's test client, its errors as
problem JSON, its OpenAPI document against its routes, and one run on a real socket."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from govshare.exchange.demo_data import COMPANY_COLUMNS, company_rows
from govshare.exchange.demo_service import create_demo_service, running_demo_service

AS_OF = datetime(2026, 7, 1)
NAMES = [name for name, _ in COMPANY_COLUMNS]


@pytest.fixture(scope="module")
def companies() -> list[dict[str, Any]]:
    return [dict(zip(NAMES, row, strict=True)) for row in company_rows(300, seed=7, as_of=AS_OF)]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_demo_service(companies=300, seed=7, as_of=AS_OF)) as test_client:
        yield test_client


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _first(companies: list[dict[str, Any]], *, active: bool) -> dict[str, Any]:
    return next(c for c in companies if (c["status"] in ("存续", "在业")) is active)


def test_health_counts_the_enterprises(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "enterprises": 300}


def test_an_enterprise_is_served_as_generated(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    company = companies[42]
    response = client.get(f"/enterprises/{company['uscc']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == NAMES
    assert body["name"] == company["name"] and body["licence_no"] == company["licence_no"]
    assert body["registered_capital"] == float(company["registered_capital"])
    assert body["established_on"] == company["established_on"].isoformat()
    assert datetime.fromisoformat(body["updated_at"]) == company["updated_at"]


def test_a_code_typed_in_lower_case_with_spaces_is_found(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    code = companies[0]["uscc"]
    response = client.get(f"/enterprises/{code[:9].lower()}%20{code[9:].lower()}")
    assert response.status_code == 200 and response.json()["uscc"] == code


def test_an_unknown_enterprise_is_a_404_problem(client: TestClient) -> None:
    body = _is_problem(client.get("/enterprises/91361102MA35XXXX0X"), 404)
    assert "91361102MA35XXXX0X" in body["detail"]


def test_a_region_is_paged_through_completely(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    region = companies[0]["region_code"]
    expected = [c["uscc"] for c in companies if c["region_code"] == region]
    seen: list[str] = []
    for page in range(1, 100):
        body = client.get(f"/enterprises?region_code={region}&page={page}&page_size=7").json()
        assert body["total"] == len(expected) and body["page"] == page and body["page_size"] == 7
        if not body["items"]:
            break
        assert len(body["items"]) <= 7
        assert {item["region_code"] for item in body["items"]} == {region}
        seen += [item["uscc"] for item in body["items"]]
    assert seen == expected


def test_the_listing_without_a_region_covers_every_enterprise(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    body = client.get("/enterprises").json()
    assert body["total"] == 300 and body["page"] == 1 and body["page_size"] == 20
    assert [item["uscc"] for item in body["items"]] == [c["uscc"] for c in companies[:20]]
    assert client.get("/enterprises?region_code=999999").json()["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=two", "page"),
        ("page_size=101", "page_size"),
        ("page_size=-1", "page_size"),
        ("region_code=3611", "region_code"),
    ],
)
def test_bad_listing_parameters_are_422_naming_the_field(
    client: TestClient, query: str, field: str
) -> None:
    assert _is_problem(client.get(f"/enterprises?{query}"), 422)["field"] == field


def test_the_licence_of_an_active_enterprise_is_valid(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    company = _first(companies, active=True)
    response = client.post(
        "/licences/verify", json={"uscc": company["uscc"], "licence_no": company["licence_no"]}
    )
    assert response.status_code == 200
    assert response.json() == {"valid": True, "uscc": company["uscc"]}


@pytest.mark.parametrize("case", ["wrong_licence", "unknown", "inactive"])
def test_a_licence_that_does_not_match_is_not_valid(
    client: TestClient, companies: list[dict[str, Any]], case: str
) -> None:
    active, inactive = _first(companies, active=True), _first(companies, active=False)
    body, reason = {
        "wrong_licence": (
            {"uscc": active["uscc"], "licence_no": active["licence_no"][:-1] + "X"},
            "licence_mismatch",
        ),
        "unknown": ({"uscc": "91361102MA35XXXX0X", "licence_no": "JY1"}, "unknown_enterprise"),
        "inactive": (
            {"uscc": inactive["uscc"], "licence_no": inactive["licence_no"]},
            "enterprise_inactive",
        ),
    }[case]
    response = client.post("/licences/verify", json=body)
    assert response.status_code == 200
    assert response.json()["valid"] is False and response.json()["reason"] == reason


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "body"),
        (b"\xff\xfe", "body"),
        (b'["uscc"]', "body"),
        (b'{"licence_no": "JY1"}', "uscc"),
        (b'{"uscc": 91361102, "licence_no": "JY1"}', "uscc"),
        (b'{"uscc": "91361102MA35XXXX0X", "licence_no": "  "}', "licence_no"),
    ],
)
def test_bad_verification_bodies_are_422_naming_the_field(
    client: TestClient, content: bytes, field: str
) -> None:
    response = client.post(
        "/licences/verify", content=content, headers={"content-type": "application/json"}
    )
    assert _is_problem(response, 422)["field"] == field


def test_slow_answers_after_the_time_asked_for(client: TestClient) -> None:
    started = time.monotonic()
    response = client.get("/slow?seconds=0.3")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json() == {"slept": 0.3}


@pytest.mark.parametrize("seconds", ["-1", "61", "soon", "nan"])
def test_bad_slow_seconds_are_422(client: TestClient, seconds: str) -> None:
    assert _is_problem(client.get(f"/slow?seconds={seconds}"), 422)["field"] == "seconds"


def test_fail_answers_the_status_asked_for(client: TestClient) -> None:
    _is_problem(client.get("/fail?status=503"), 503)
    _is_problem(client.get("/fail"), 500)
    assert _is_problem(client.get("/fail?status=200"), 422)["field"] == "status"


def test_unknown_paths_and_wrong_methods_are_problems_too(client: TestClient) -> None:
    _is_problem(client.get("/nowhere"), 404)
    response = client.delete("/enterprises")
    _is_problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_the_openapi_document_describes_exactly_the_routes(
    client: TestClient, companies: list[dict[str, Any]]
) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    routes = {
        route.path: {m.lower() for m in route.methods or ()} - {"head"}
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
    }
    assert {path: set(ops) for path, ops in document["paths"].items()} == routes
    served = client.get(f"/enterprises/{companies[0]['uscc']}").json()
    schema = document["components"]["schemas"]["Enterprise"]
    assert set(schema["properties"]) == set(served) == set(schema["required"])


def test_the_service_runs_on_a_real_socket_and_stops() -> None:
    with running_demo_service(companies=20) as base_url:
        response = httpx.get(f"{base_url}/health", timeout=5)
        assert response.json() == {"status": "ok", "enterprises": 20}
        address = urlsplit(base_url)
    with pytest.raises(OSError):
        socket.create_connection((address.hostname, address.port), timeout=1).close()
