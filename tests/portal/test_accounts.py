"""The public's accounts on the portal (OPN-2, SR§22): registration of citizens and
organisations with each refusal naming its rule, signing in and out, sessions that end,
lock-out after wrong passwords, CSRF, and the account page with its API key; on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govshare.core import clock
from govshare.portal import accounts
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalAccount, PortalSession
from govshare.portal.settings import PortalSettings
from tests.portal.people import (
    PASSWORD,
    credit_code,
    csrf_of,
    field_error,
    mobile,
    next_number,
    organization_form,
    person_form,
    person_id,
    register,
    registered,
    sign_in,
)

CONDITIONAL = "b02001-000002"


@pytest.fixture(scope="module")
def app(sample_portal: PortalDatabase) -> FastAPI:
    return create_portal_app(PortalSettings(database_url=sample_portal.url), database=sample_portal)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser of its own: its own cookies."""
    with TestClient(app) as test_client:
        yield test_client


def _account(portal: PortalDatabase, login: str) -> PortalAccount:
    with portal.session() as s:
        found = s.scalars(sa.select(PortalAccount).where(PortalAccount.login == login)).one()
        s.expunge(found)
        return found


def _set_cookie(answer: object, name: str) -> str:
    headers = answer.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(name + "=")]
    assert found, f"no {name} cookie set"
    return found[0]


# --- registration ---------------------------------------------------------------------------


def test_a_citizen_registers_and_is_signed_in(
    client: TestClient, sample_portal: PortalDatabase
) -> None:
    n = next_number()
    answer = register(client, person_form(n, name="阿卜杜拉·买买提"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account?registered=1"
    cookie = _set_cookie(answer, accounts.SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/;" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "注册成功，您已登录" in page.text
    number = person_id(n)
    assert f'id="id-number">{number[:6]}********{number[-4:]}</dd>' in page.text
    assert number not in page.text
    assert 'class="account-name' in page.text and "阿卜杜拉·买买提</a>" in page.text
    stored = _account(sample_portal, mobile(n))
    assert stored.kind == "person" and stored.id_number == number
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_the_masked_id_number_keeps_six_and_four() -> None:
    assert accounts.masked_id_number("11010519491231002X") == "110105********002X"


def test_an_organisation_registers_with_its_credit_code(
    client: TestClient, sample_portal: PortalDatabase
) -> None:
    n = next_number()
    answer = register(client, organization_form(n))
    assert answer.status_code == 303
    page = client.get("/account")
    assert "法人或其他组织" in page.text
    assert credit_code(n) in page.text
    assert "李娜" in page.text
    stored = _account(sample_portal, mobile(n))
    assert stored.kind == "organization" and stored.credit_code == credit_code(n)
    assert stored.id_number is None


def _wrong_check_digit(number: str) -> tuple[str, str]:
    wrong = "1" if number[-1] != "1" else "2"
    return number[:-1] + wrong, wrong


def test_a_wrong_id_check_digit_is_named(client: TestClient) -> None:
    n = next_number()
    right = person_id(n)
    wrong, typed = _wrong_check_digit(right)
    answer = register(client, person_form(n, id_number=wrong, name="王芳"))
    assert answer.status_code == 400
    expected = f"身份证号码校验码错误：第 18 位应为 {right[-1]}，实际为 {typed}"
    assert field_error(answer.text, "id_number") == expected
    # The values typed are kept, the password is not.
    assert 'value="王芳"' in answer.text and f'value="{wrong}"' in answer.text
    assert PASSWORD not in answer.text
    assert accounts.SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_wrong_credit_code_is_named(client: TestClient) -> None:
    n = next_number()
    right = credit_code(n)
    wrong = right[:-1] + ("0" if right[-1] != "0" else "1")
    answer = register(client, organization_form(n, credit_code=wrong))
    assert answer.status_code == 400
    assert field_error(answer.text, "credit_code") == (
        f"统一社会信用代码校验码错误：第 18 位应为 {right[-1]}，实际为 {wrong[-1]}"
    )
    assert 'value="江州市数联科技有限公司"' in answer.text


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1", "密码至少 8 位，现为 6 位"),
        ("onlyletters", "密码须同时包含字母和数字"),
        ("1234567890", "密码须同时包含字母和数字"),
    ],
)
def test_a_weak_password_is_refused(client: TestClient, password: str, problem: str) -> None:
    n = next_number()
    answer = register(client, person_form(n, password=password, confirm=password))
    assert answer.status_code == 400
    assert field_error(answer.text, "password") == problem
    assert password not in answer.text


def test_a_duplicate_mobile_is_refused(client: TestClient, app: FastAPI) -> None:
    taken = registered(client)
    with TestClient(app) as other:
        answer = register(other, person_form(next_number(), mobile=taken))
    assert answer.status_code == 400
    assert field_error(answer.text, "mobile") == "该手机号码已注册过账户，请直接登录"


def test_a_duplicate_id_number_and_credit_code_are_refused(app: FastAPI) -> None:
    n, m = next_number(), next_number()
    with TestClient(app) as first:
        assert register(first, person_form(n)).status_code == 303
    with TestClient(app) as first:
        assert register(first, organization_form(m)).status_code == 303
    with TestClient(app) as second:
        again = register(second, person_form(next_number(), id_number=person_id(n)))
        assert field_error(again.text, "id_number") == "该身份证号码已注册过账户，请直接登录"
        again = register(second, organization_form(next_number(), credit_code=credit_code(m)))
        assert field_error(again.text, "credit_code") == (
            "该统一社会信用代码已注册过账户，请直接登录"
        )


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"mobile": "12812345678"}, "mobile", "手机号码须为 11 位数字，以 13–19 开头"),
        ({"mobile": "1381234567"}, "mobile", "手机号码须为 11 位数字，以 13–19 开头"),
        ({"name": "张"}, "name", "真实姓名须为 2–50 个字，现为 1 个字"),
        (
            {"name": "张3"},
            "name",
            "真实姓名只能由文字组成，可用间隔号（·）分隔，不能含数字或其他符号",
        ),
        ({"name": ""}, "name", "请填写真实姓名"),
        ({"id_number": "1101051990010100"}, "id_number", "身份证号码应为 18 位，实际 16 位"),
        ({"confirm": PASSWORD + "x"}, "confirm", "两次输入的密码不一致"),
    ],
)
def test_each_refusal_names_its_rule_next_to_its_field(
    client: TestClient, changes: dict[str, str], field: str, problem: str
) -> None:
    answer = register(client, person_form(next_number(), **changes))
    assert answer.status_code == 400
    assert field_error(answer.text, field) == problem
    assert f'href="#f-{field}">{problem}</a>' in answer.text  # and in the summary above


def test_every_problem_is_shown_at_once(client: TestClient) -> None:
    answer = register(
        client,
        {"kind": "organization", "name": "", "credit_code": "", "contact_name": "", "mobile": ""},
    )
    assert answer.status_code == 400
    for name in ("name", "credit_code", "contact_name", "mobile", "password"):
        assert field_error(answer.text, name), name
    assert "请更正以下 5 处问题" in answer.text


def test_an_unknown_account_kind_falls_back_to_the_citizens_form(client: TestClient) -> None:
    answer = register(client, person_form(next_number(), kind="robot"))
    assert answer.status_code == 400
    assert "请选择账户类型：个人，或法人或其他组织" in answer.text
    assert 'name="id_number"' in answer.text


def test_the_registration_form_switches_to_an_organisation(client: TestClient) -> None:
    page = client.get("/account/register?kind=organization")
    assert 'name="credit_code"' in page.text and 'name="id_number"' not in page.text
    assert 'aria-current="page">法人或其他组织</a>' in page.text


# --- signing in and out ---------------------------------------------------------------------


def test_sign_in_and_out(app: FastAPI, sample_portal: PortalDatabase) -> None:
    with TestClient(app) as first:
        login = registered(first, name="赵敏")
    with TestClient(app) as client:
        assert client.get("/account", follow_redirects=False).headers["location"] == (
            "/account/login?next=%2Faccount"
        )
        answer = sign_in(client, login)
        assert answer.status_code == 303 and answer.headers["location"] == "/account"
        token = client.cookies[accounts.SESSION_COOKIE]
        with sample_portal.session() as s:
            session = s.get(PortalSession, accounts.sha256(token))
            assert session is not None  # only the token's digest is stored
            assert s.get(PortalSession, token) is None
            assert session.expires_at - clock.now() <= timedelta(hours=12)
            assert session.expires_at - clock.now() > timedelta(hours=11, minutes=59)
        home = client.get("/")
        assert "赵敏</a>" in home.text and "我的申请</a>" in home.text
        assert ">退出</button>" in home.text
        out = client.post(
            "/account/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False
        )
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert (
            'portal_session="";' in out.headers["set-cookie"]
            or "Max-Age=0" in (out.headers["set-cookie"])
        )
        with sample_portal.session() as s:
            assert s.get(PortalSession, accounts.sha256(token)) is None
        # The old cookie, if kept, is worth nothing now.
        client.cookies.set(accounts.SESSION_COOKIE, token)
        assert client.get("/account", follow_redirects=False).status_code == 303
        assert ">登录</a>" in client.get("/").text


def test_sign_in_brings_the_visitor_back_but_only_within_the_portal(
    app: FastAPI,
) -> None:
    with TestClient(app) as first:
        login = registered(first)
    with TestClient(app) as client:
        page = client.get(f"/account/login?next=/dataset/{CONDITIONAL}/apply")
        assert f'name="next" value="/dataset/{CONDITIONAL}/apply"' in page.text
        answer = client.post(
            "/account/login",
            data={
                "csrf": csrf_of(page.text),
                "login": login,
                "password": PASSWORD,
                "next": f"/dataset/{CONDITIONAL}/apply",
            },
            follow_redirects=False,
        )
        assert answer.headers["location"] == f"/dataset/{CONDITIONAL}/apply"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        with TestClient(app) as client:
            page = client.get("/account/login")
            answer = client.post(
                "/account/login",
                data={
                    "csrf": csrf_of(page.text),
                    "login": login,
                    "password": PASSWORD,
                    "next": elsewhere,
                },
                follow_redirects=False,
            )
            assert answer.headers["location"] == "/account", elsewhere


def test_a_wrong_password_is_refused_and_five_lock_the_account(
    app: FastAPI, sample_portal: PortalDatabase
) -> None:
    with TestClient(app) as first:
        login = registered(first)
    start = clock.now()
    with clock.frozen(start), TestClient(app) as client:
        for left in (4, 3, 2, 1):
            answer = sign_in(client, login, "wrong-password-1")
            assert answer.status_code == 400
            assert f"手机号码或密码不正确（再错 {left} 次，账户将锁定 15 分钟）" in answer.text
            assert accounts.SESSION_COOKIE not in client.cookies
        answer = sign_in(client, login, "wrong-password-1")
        assert "连续 5 次密码错误，账户已锁定 15 分钟" in answer.text
        # Locked: even the right password is refused.
        answer = sign_in(client, login, PASSWORD)
        assert answer.status_code == 400 and "账户已暂时锁定" in answer.text
    stored = _account(sample_portal, login)
    assert stored.locked_until == start + timedelta(minutes=15)
    with clock.frozen(start + timedelta(minutes=15, seconds=1)), TestClient(app) as client:
        assert sign_in(client, login, PASSWORD).status_code == 303
    stored = _account(sample_portal, login)
    assert stored.failed_logins == 0 and stored.locked_until is None


def test_an_unknown_mobile_is_refused_like_a_wrong_password(client: TestClient) -> None:
    answer = sign_in(client, "13000000000", PASSWORD)
    assert answer.status_code == 400
    assert "手机号码或密码不正确" in answer.text
    assert 'value="13000000000"' in answer.text  # the login typed is kept


def test_a_session_ends_after_twelve_hours(app: FastAPI) -> None:
    with TestClient(app) as first:
        login = registered(first)
    start = clock.now()
    with TestClient(app) as client:
        with clock.frozen(start):
            assert sign_in(client, login).status_code == 303
        with clock.frozen(start + timedelta(hours=11, minutes=59)):
            assert client.get("/account", follow_redirects=False).status_code == 200
        with clock.frozen(start + timedelta(hours=12)):
            answer = client.get("/account", follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/account/login")


def test_cookies_are_secure_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/account/register")
        assert "Secure" in _set_cookie(page, accounts.CSRF_COOKIE)
        answer = client.post(
            "/account/register",
            data={"csrf": csrf_of(page.text), **person_form(next_number())},
            follow_redirects=False,
        )
        cookie = _set_cookie(answer, accounts.SESSION_COOKIE)
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_mounted_under_a_prefix_the_cookies_and_links_follow_it(app: FastAPI) -> None:
    outer = FastAPI()
    outer.mount("/open", app)
    with TestClient(outer) as client:
        page = client.get("/open/account/register")
        assert 'action="/open/account/register"' in page.text
        assert "Path=/open" in _set_cookie(page, accounts.CSRF_COOKIE)
        answer = client.post(
            "/open/account/register",
            data={"csrf": csrf_of(page.text), **person_form(next_number())},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/open/account?registered=1"
        assert "Path=/open" in _set_cookie(answer, accounts.SESSION_COOKIE)
        assert client.get("/open/account").status_code == 200


# --- CSRF -----------------------------------------------------------------------------------


def test_a_post_without_its_csrf_token_is_refused(app: FastAPI) -> None:
    with TestClient(app) as client:
        client.get("/account/register")  # the double-submit cookie is set
        n = next_number()
        answer = client.post("/account/register", data=person_form(n), follow_redirects=False)
        assert answer.status_code == 403
        assert "请求未通过安全校验" in answer.text and "安全校验码" in answer.text
        wrong = client.post(
            "/account/register", data={"csrf": "x" * 43, **person_form(n)}, follow_redirects=False
        )
        assert wrong.status_code == 403
        with TestClient(app) as other:
            assert sign_in(other, mobile(n)).status_code == 400  # nothing was registered
    with TestClient(app) as client:
        # A token without its cookie (as a forged cross-site form would send) is refused.
        token = csrf_of(client.get("/account/login").text)
        client.cookies.clear()
        answer = client.post("/account/login", data={"csrf": token, "login": "x", "password": "y"})
        assert answer.status_code == 403


def test_signed_in_posts_need_the_sessions_token(
    app: FastAPI, sample_portal: PortalDatabase
) -> None:
    with TestClient(app) as client:
        login = registered(client)
        form_token = client.cookies[accounts.CSRF_COOKIE]
        for action, data in [
            ("/account/logout", {}),
            ("/account/api-key", {}),
            (f"/dataset/{CONDITIONAL}/apply", {"purpose": "为研究企业年报抽查做统计分析"}),
        ]:
            for sent in ({}, {"csrf": form_token}, {"csrf": "forged"}):
                answer = client.post(action, data={**data, **sent}, follow_redirects=False)
                assert answer.status_code == 403, (action, sent)
                assert "请求未通过安全校验" in answer.text
        # Still signed in, no key made.
        assert client.get("/account", follow_redirects=False).status_code == 200
        assert _account(sample_portal, login).api_key_hash is None


# --- the account page and its API key -------------------------------------------------------


def test_an_api_key_is_shown_once_and_kept_as_its_digest(
    client: TestClient, sample_portal: PortalDatabase
) -> None:
    login = registered(client)
    page = client.get("/account")
    assert "您还没有 API 密钥" in page.text
    made = client.post("/account/api-key", data={"csrf": csrf_of(page.text)})
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    key = re.search(r'<code class="api-key">([^<]+)</code>', made.text)
    assert key, "the new key is not shown"
    stored = _account(sample_portal, login)
    assert stored.api_key_hash == accounts.sha256(key.group(1))
    again = client.get("/account")
    assert key.group(1) not in again.text
    assert "您已创建 API 密钥" in again.text
    with sample_portal.session() as s:
        assert accounts.api_key_account(s, key.group(1)).id == stored.id  # type: ignore[union-attr]
        assert accounts.api_key_account(s, key.group(1) + "x") is None
    # A new key replaces the old one.
    renewed = client.post("/account/api-key", data={"csrf": csrf_of(again.text)})
    newer = re.search(r'<code class="api-key">([^<]+)</code>', renewed.text)
    assert newer and newer.group(1) != key.group(1)
    with sample_portal.session() as s:
        assert accounts.api_key_account(s, key.group(1)) is None
