"""The catalog acceptance path over real HTTP against the demo city: compile without a
legal basis (refused, naming the field), submit, return, fix, approve, publish, revise into
version 2 through review, and the diff page showing exactly the changed fields."""

from __future__ import annotations

import re
from contextlib import closing

import httpx

from govshare import demo
from tests.http import form_sign_in
from tests.web.conftest import LiveServer

FORM = {
    "catalog_kind": "department",
    "item_code": "07",
    "group_code": "101",
    "name": "出入境证件签发信息",
    "summary": "本市公安机关签发的护照、往来港澳通行证信息",
    "format": "database",
    "domain": "public_administration",
    "update_frequency": "daily",
    "share_type": "conditional",
    "share_conditions": "仅用于本部门法定职责范围内的核验",
    "share_methods": ["table"],
    "open_type": "not_open",
    "item_name": ["证件号码", "持证人身份证号", "签发日期"],
    "item_type": ["C", "C", "D"],
    "item_length": ["20", "18", ""],
    "item_description": ["", "", ""],
    "item_personal": ["0", "1", "0"],
}


def _client(server: LiveServer, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, follow_redirects=True, timeout=15)
    response = form_sign_in(client, username, demo.DEMO_PASSWORD)
    assert response.status_code == 200, response.text[:200]
    return client


def _csrf(client: httpx.Client, url: str = "/catalog/new") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text).group(1)


def test_compile_review_publish_revise_and_diff(live_server: LiveServer) -> None:
    with (
        closing(_client(live_server, "gaj_officer")) as officer,
        closing(_client(live_server, "operator")) as op,
    ):
        token = _csrf(officer)
        refused = officer.post("/catalog/new", data={**FORM, "csrf_token": token})
        assert refused.status_code == 422
        assert "须注明法律、行政法规或国家、省政策依据" in refused.text
        assert 'id="legal_basis"' in refused.text

        created = officer.post(
            "/catalog/new",
            data={
                **FORM,
                "csrf_token": token,
                "legal_basis": "《中华人民共和国出境入境管理法》第八十五条",
            },
        )
        assert created.status_code == 200 and "已保存草稿" in created.text
        resource_url = re.search(r"(/catalog/resources/\d+)", str(created.url)).group(1)
        assert "第 1 版" in created.text and "草稿" in created.text

        submitted = officer.post(f"{resource_url}/versions/1/submit", data={"csrf_token": token})
        assert "已提交平台管理单位审核" in submitted.text
        op_token = _csrf(op, "/catalog/review")
        queue = op.get("/catalog/review").text
        assert "出入境证件签发信息" in queue
        returned = op.post(
            f"{resource_url}/versions/1/review",
            data={
                "csrf_token": op_token,
                "decision": "return",
                "comment": "摘要应写明数据起始年份",
            },
        )
        assert "已退回" in returned.text
        page = officer.get(resource_url).text
        assert "摘要应写明数据起始年份" in page

        fixed = {
            **FORM,
            "csrf_token": token,
            "legal_basis": "《中华人民共和国出境入境管理法》第八十五条",
            "summary": "本市公安机关2010年以来签发的护照、往来港澳通行证信息",
        }
        saved = officer.post(f"{resource_url}/versions/1/edit", data=fixed)
        assert "草稿已保存" in saved.text
        officer.post(f"{resource_url}/versions/1/submit", data={"csrf_token": token})
        approved = op.post(
            f"{resource_url}/versions/1/review",
            data={"csrf_token": op_token, "decision": "approve"},
        )
        assert "已通过并发布" in approved.text
        assert "现行版本" in officer.get(resource_url).text

        revised = officer.post(f"{resource_url}/revise", data={"csrf_token": token})
        assert "已新建第 2 版草稿" in revised.text
        changed = {**fixed, "update_frequency": "weekly", "change_note": "改为每周更新"}
        officer.post(f"{resource_url}/versions/2/edit", data=changed)
        officer.post(f"{resource_url}/versions/2/submit", data={"csrf_token": token})
        scheduled = op.post(
            f"{resource_url}/versions/2/review",
            data={"csrf_token": op_token, "decision": "approve"},
        )
        assert "生效并已通知使用部门和订阅部门" in scheduled.text  # Shangrao: a month's notice

        diff = officer.get(f"{resource_url}/diff", params={"a": 1, "b": 2}).text
        rows = re.findall(r'<tr data-field="([a-z_]+)">', diff)
        assert rows == ["update_frequency"]
        assert "每日" in diff and "每周" in diff
        assert "信息项无变化" in diff
