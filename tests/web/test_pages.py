"""Every page each role is offered opens without error, over real HTTP against the demo city."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest

from govshare import demo
from govshare.demo.identity import SIGN_INS
from tests.http import form_sign_in
from tests.web.conftest import LiveServer


def _signed_in(server: LiveServer, username: str) -> httpx.Client:
    # A generous timeout: it guards against a hang, not a slow page on a busy machine.
    client = httpx.Client(base_url=server.url, follow_redirects=True, timeout=60)
    response = form_sign_in(client, username, demo.DEMO_PASSWORD)
    assert response.status_code == 200 and "您好" in response.text, response.text[:300]
    return client


DETAIL = re.compile(
    r'href="(/(?:admin/(?:organizations|users)|sharing/(?:applications|grants))/\d+)"'
)


def _tab_links(html: str) -> set[str]:
    tabs = re.findall(r'<nav class="subnav"[^>]*>(.*?)</nav>', html, re.S)
    assert tabs, "the section page shows no tabs"
    return set(re.findall(r'href="(/[^"]*)"', tabs[0]))


@pytest.mark.parametrize("username", [u for u, _ in SIGN_INS])
def test_every_offered_page_opens(live_server: LiveServer, username: str) -> None:
    with closing(_signed_in(live_server, username)) as client:
        home = client.get("/")
        nav = re.findall(r'<nav class="mainnav">(.*?)</nav>', home.text, re.S)[0]
        links = set(re.findall(r'href="(/[^"]*)"', nav))
        for section in ("/catalog", "/sharing"):  # each section's own tabs
            if section in links:
                links |= _tab_links(client.get(section).text)
        assert "/" in links and "/calendar" in links
        for link in sorted(links):
            page = client.get(link)
            assert page.status_code == 200, f"{username} {link}: {page.status_code}"
            # follow the first detail link of list pages (organisation, user, application,
            # grant), where the page has one
            for detail in re.findall(DETAIL, page.text)[:1]:
                assert client.get(detail).status_code == 200, f"{username} {detail}"


def test_a_department_user_cannot_open_user_administration(live_server: LiveServer) -> None:
    with closing(_signed_in(live_server, "gaj_staff")) as client:
        response = client.get("/admin/users")
        assert response.status_code == 403
        assert "无权" in response.text


def test_signed_out_visitor_is_sent_to_sign_in(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        response = client.get("/admin/users")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
