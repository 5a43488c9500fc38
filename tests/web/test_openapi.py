"""The OpenAPI document tells a caller every limit it enforces and every error it answers, and
generated requests against it, valid and invalid, never end in a server error.

The generated run (schemathesis, in-process over ASGI) signs in as the platform operator and as
a provider's data officer on a small city (published resources, an application, a grant), and
also calls anonymously. It is bounded: GOVSHARE_FUZZ_EXAMPLES examples per operation and per
kind (valid, invalid), derandomized so that a failure is reproduced by the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from sqlalchemy.orm import Session

from govshare.identity.models import User
from govshare.web.deps import SESSION_COOKIE
from tests.http import csrf_for, sign_in
from tests.sharing.builders import approved, sharing_world

EXAMPLES = int(os.environ.get("GOVSHARE_FUZZ_EXAMPLES", "2"))
PROBLEM = "application/problem+json"


def inputs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema a request may carry: parameters and the request bodies' models."""
    components = document["components"]["schemas"]
    seen: set[str] = set()

    def expand(where: str, node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    yield from expand(name, components[name])
                return
            yield where, node
            for key, value in node.items():
                inner = f"{where}.{key}" if key not in ("properties", "items", "anyOf") else where
                yield from expand(inner, value)
        elif isinstance(node, list):
            for value in node:
                yield from expand(where, value)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['name']}"
                yield from expand(where, parameter["schema"])
            if "requestBody" in operation:
                yield from expand(f"{method.upper()} {path} body", operation["requestBody"])


def test_every_integer_a_request_carries_is_bounded(app: FastAPI) -> None:
    """An unbounded integer reaches an INTEGER column and ends in a server error."""
    unbounded = sorted(
        {
            where
            for where, schema in inputs(app.openapi())
            if schema.get("type") == "integer"
            and "maximum" not in schema
            and "exclusiveMaximum" not in schema
        }
    )
    assert unbounded == []


def test_the_limits_enforced_show_in_the_document(app: FastAPI) -> None:
    document = app.openapi()
    resource = document["paths"]["/api/v1/catalog/resources/{resource_id}"]["get"]
    (resource_id,) = [p for p in resource["parameters"] if p["name"] == "resource_id"]
    assert resource_id["schema"]["minimum"] == 1
    assert resource_id["schema"]["maximum"] == 2**31 - 1
    add = document["paths"]["/api/v1/workdays/add"]["get"]
    (n,) = [p for p in add["parameters"] if p["name"] == "n"]
    assert n["schema"]["maximum"] == 366 * 3
    audit = document["paths"]["/api/v1/audit"]["get"]
    (page,) = [p for p in audit["parameters"] if p["name"] == "page"]
    assert page["schema"]["maximum"] == 100_000


def test_every_operation_documents_its_errors_as_problem_details(app: FastAPI) -> None:
    document = app.openapi()
    assert set(document["components"]["schemas"]["Problem"]["required"]) >= {
        "type",
        "title",
        "status",
        "detail",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "404", "413", "422"):
                response = operation["responses"].get(status)
                assert response is not None, f"{method.upper()} {path} lacks {status}"
                schema = response["content"][PROBLEM]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_a_documented_error_is_the_body_sent(client: TestClient) -> None:
    found = client.get("/api/v1/catalog/resources/1")
    assert found.status_code == 401
    assert found.headers["content-type"].startswith(PROBLEM)
    assert {"type", "title", "status", "detail", "instance"} <= set(found.json())


# --- generated requests ------------------------------------------------------------------


@pytest.fixture
def city(db: Session) -> dict[str, str]:
    """A small city with a grant in force; the usernames of who signs in."""
    world = sharing_world(db)
    approved(world)
    db.commit()

    def username(actor: Any) -> str:
        account = db.get(User, actor.user_id)
        assert account is not None
        return account.username

    return {"operator": "operator", "officer": username(world.provider_officer)}


def credentials(app: FastAPI, client: TestClient, username: str | None) -> dict[str, Any]:
    if username is None:
        return {"headers": {}, "cookies": {}}
    assert sign_in(client, username).status_code == 200
    cookies = {SESSION_COOKIE: client.cookies[SESSION_COOKIE]}
    return {"headers": csrf_for(app, client), "cookies": cookies}


def fuzz(schema: Any, signed: dict[str, Any], examples: int) -> tuple[int, list[str]]:
    """Runs every operation of the API: the number of requests and the server errors."""
    sent, failures = 0, []
    with asgi.get_client(schema.app) as session:  # one in-process client for the whole run
        session.headers.update(signed["headers"])
        session.cookies.update(signed["cookies"])
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path == "/api/v1/session":
                continue  # signing in or out would change who the rest of the run is
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=examples,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    nonlocal sent
                    sent += 1
                    try:
                        response = case.call(session=session)
                        case.validate_response(response, checks=[not_a_server_error])
                    except Exception:  # a failed check, or an error the app raised
                        failures.append(
                            f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
                        )

                try:
                    run()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing in it can be made invalid
    return sent, failures


def test_generated_requests_never_end_in_a_server_error(app: FastAPI, city: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures, sent = {}, 0
    for who, examples in (("operator", EXAMPLES), ("officer", EXAMPLES), (None, 1)):
        with TestClient(app) as client:
            signed = credentials(app, client, city[who] if who else None)
        count, failures[who or "anonymous"] = fuzz(schema, signed, examples)
        sent += count
    assert failures == {"operator": [], "officer": [], "anonymous": []}
    assert sent > 500  # every operation was reached, by each caller
