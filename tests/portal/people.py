"""Builders for the portal's account tests: valid ID numbers, credit codes and mobiles, and a
browser-like client that registers, signs in and posts forms with their CSRF token."""

from __future__ import annotations

import itertools
import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from govshare.core import id_number, uscc

PASSWORD = "jiangzhou2026"
_numbers = itertools.count(1)


def next_number() -> int:
    """A number no other account of this test process has used."""
    return next(_numbers)


def person_id(n: int) -> str:
    """A valid citizen ID number (born 1990-01-01 in Beijing's Chaoyang district)."""
    first = f"11010519900101{n % 1000:03d}"
    return first + id_number.check_character(first)


def credit_code(n: int) -> str:
    """A valid unified social credit code of an enterprise in Jiangzhou."""
    first = f"91420100MA{n % 10_000_000:07d}"
    return first + uscc.check_character(first)


def mobile(n: int) -> str:
    return f"139{n % 100_000_000:08d}"


def csrf_of(html: str) -> str:
    """The CSRF token of the page's first form carrying one."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def field_error(html: str, name: str) -> str | None:
    """The error shown next to the form field `name`, or None."""
    found = re.search(rf'id="f-{re.escape(name)}-error">([^<]*)</p>', html)
    return found.group(1) if found else None


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Response:
    """Opens `page`, then posts `data` to `action` with the page's CSRF token."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf": token, **data}, follow_redirects=False)


def person_form(n: int, **changes: str) -> dict[str, str]:
    return {
        "kind": "person",
        "name": "张晓明",
        "id_number": person_id(n),
        "mobile": mobile(n),
        "password": PASSWORD,
        "confirm": PASSWORD,
        **changes,
    }


def organization_form(n: int, **changes: str) -> dict[str, str]:
    return {
        "kind": "organization",
        "name": "江州市数联科技有限公司",
        "credit_code": credit_code(n),
        "contact_name": "李娜",
        "mobile": mobile(n),
        "password": PASSWORD,
        "confirm": PASSWORD,
        **changes,
    }


def register(client: TestClient, form: dict[str, str]) -> Response:
    return post_form(client, "/account/register", "/account/register", form)


def registered(client: TestClient, name: str = "张晓明") -> str:
    """Registers a new citizen on `client` (which is then signed in); the mobile number."""
    n = next_number()
    answer = register(client, person_form(n, name=name))
    assert answer.status_code == 303, answer.text
    return mobile(n)


def sign_in(client: TestClient, login: str, password: str = PASSWORD) -> Response:
    return post_form(
        client, "/account/login", "/account/login", {"login": login, "password": password}
    )
