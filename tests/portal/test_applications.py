"""Conditional open data on the portal (OPN-2, SR§22): an account applies, the platform's
acceptance and answer (written here straight into the portal database, as the platform
does) show on the applicant's page, and an approval's entitlement opens exactly the entitled
fields to that account alone — in downloads, the preview and CKAN's datastore_search with its
API key — until it runs out; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import openpyxl
import pytest
import requests
import sqlalchemy as sa
from ckanapi import NotAuthorized, RemoteCKAN, ValidationError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govshare.core import clock
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import (
    PortalApplication,
    PortalDataset,
    PortalEntitlement,
    rows_table_name,
)
from govshare.portal.settings import PortalSettings
from tests.portal.people import csrf_of, field_error, post_form, registered
from tests.portal.serving import served

CONDITIONAL = "b02001-000002"  # 企业年报抽查结果: 企业名称, 抽查结果
BUS_STOPS = "a01001-000001"
CHECKS = [
    ("江州市长江机械有限公司", "未发现问题"),
    ("江州市汉水食品有限公司", "责令改正"),
    ("江州市东湖物流有限公司", "列入经营异常名录"),
]
PURPOSE = "研究本市企业年报抽查结果的行业分布，用于学术论文的统计分析"
USAGE = "在本校实验室的离线电脑上用统计软件分析，原始数据不出实验室，论文只发表汇总结果"


@pytest.fixture(scope="module")
def portal(sample_portal: PortalDatabase) -> PortalDatabase:
    """The sample portal with rows in its conditional dataset."""
    with sample_portal.session() as s:
        table = sa.table(rows_table_name(104), sa.column("_row"), sa.column("c0"), sa.column("c1"))
        s.execute(
            table.insert(),
            [{"_row": n, "c0": a, "c1": b} for n, (a, b) in enumerate(CHECKS, start=1)],
        )
        s.get(PortalDataset, 104).row_count = len(CHECKS)  # type: ignore[union-attr]
    return sample_portal


@pytest.fixture(scope="module")
def app(portal: PortalDatabase) -> FastAPI:
    return create_portal_app(PortalSettings(database_url=portal.url), database=portal)


@pytest.fixture(scope="module")
def portal_url(app: FastAPI) -> Iterator[str]:
    with served(app) as url:
        yield url


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A visitor's browser, not signed in."""
    with TestClient(app) as client:
        yield client


@pytest.fixture
def applicant(app: FastAPI) -> Iterator[TestClient]:
    """A citizen's browser, registered and signed in."""
    with TestClient(app) as client:
        registered(client, name="陈静")
        yield client


def apply(client: TestClient, **changes: object) -> object:
    data: dict[str, object] = {
        "purpose": PURPOSE,
        "usage": USAGE,
        "fields": ["企业名称"],
        "agree": "yes",
        **changes,
    }
    page = f"/dataset/{CONDITIONAL}/apply"
    return post_form(client, page, page, data)


def _application(portal: PortalDatabase, application_id: int) -> PortalApplication:
    with portal.session() as s:
        found = s.get(PortalApplication, application_id)
        assert found is not None
        s.expunge(found)
        return found


def submitted_id(answer: object) -> int:
    location = answer.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/account/applications\?submitted=(\d+)", location)
    assert found, location
    return int(found.group(1))


# --- what the platform writes ---------------------------------------------------------------


def accept(portal: PortalDatabase, application_id: int, due_on: date, number: str) -> None:
    with portal.session() as s:
        found = s.get(PortalApplication, application_id)
        assert found is not None
        found.state = "accepted"
        found.number = number
        found.accepted_at = clock.now()
        found.due_on = due_on
        found.due_working_days = 20


def approve(
    portal: PortalDatabase, application_id: int, fields: list[str], valid_until: date
) -> None:
    with portal.session() as s:
        found = s.get(PortalApplication, application_id)
        assert found is not None
        found.state = "approved"
        found.answered_at = clock.now()
        found.answer = "仅限学术研究使用，发表成果须注明数据来源"
        s.add(
            PortalEntitlement(
                application_id=application_id,
                account_id=found.account_id,
                dataset_id=found.dataset_id,
                fields=fields,
                valid_until=valid_until,
            )
        )


def refuse(portal: PortalDatabase, application_id: int) -> None:
    with portal.session() as s:
        found = s.get(PortalApplication, application_id)
        assert found is not None
        found.state = "refused"
        found.answered_at = clock.now()
        found.answer = "申请的数据项含有企业经营信息，超出所述研究用途的必要范围"
        found.legal_basis = "《江州市公共数据管理办法》第二十二条"


@dataclass
class Approved:
    """An applicant whose application for 企业名称 was approved, with an API key."""

    client: TestClient
    application_id: int
    api_key: str


def approved(portal: PortalDatabase, client: TestClient, valid_until: date) -> Approved:
    application_id = submitted_id(apply(client))
    accept(portal, application_id, clock.today() + timedelta(days=28), "SQ-2026-0001")
    approve(portal, application_id, ["企业名称"], valid_until)
    page = client.get("/account")
    made = client.post("/account/api-key", data={"csrf": csrf_of(page.text)})
    key = re.search(r'<code class="api-key">([^<]+)</code>', made.text)
    assert key
    return Approved(client, application_id, key.group(1))


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# --- applying -------------------------------------------------------------------------------


def test_applying_needs_an_account(browser: TestClient) -> None:
    page = browser.get(f"/dataset/{CONDITIONAL}")
    assert "登录后申请" in page.text
    answer = browser.get(f"/dataset/{CONDITIONAL}/apply", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/account/login?next=%2Fdataset%2F{CONDITIONAL}%2Fapply"
    posted = browser.post(f"/dataset/{CONDITIONAL}/apply", data={"purpose": PURPOSE})
    assert posted.status_code == 403 and "申请使用有条件开放数据须先登录" in posted.text


def test_open_data_needs_no_application(applicant: TestClient) -> None:
    page = applicant.get(f"/dataset/{BUS_STOPS}/apply")
    assert page.status_code == 400
    assert "为无条件开放数据，无需申请" in page.text


def test_the_form_shows_the_conditions_and_the_fields(applicant: TestClient) -> None:
    page = applicant.get(f"/dataset/{CONDITIONAL}/apply")
    assert page.status_code == 200
    assert "开放条件：</strong>仅限用于学术研究，须签署数据使用协议" in page.text
    assert 'name="fields" value="企业名称"' in page.text
    assert 'name="fields" value="抽查结果"' in page.text
    assert "承诺按申请用途使用，不向第三方提供" in page.text
    assert "陈静" in page.text


def test_an_application_is_submitted_and_listed(
    applicant: TestClient, portal: PortalDatabase
) -> None:
    at = clock.now()
    with clock.frozen(at):
        answer = apply(applicant, fields=["抽查结果", "企业名称"])
    assert answer.status_code == 303  # type: ignore[attr-defined]
    application = _application(portal, submitted_id(answer))
    assert application.state == "submitted"
    assert application.submitted_at == at
    assert application.purpose == PURPOSE and application.usage == USAGE
    assert application.fields == ["企业名称", "抽查结果"]  # in the dataset's order
    assert application.number is None and application.due_on is None
    listed = applicant.get(answer.headers["location"])  # type: ignore[attr-defined]
    assert "申请已提交" in listed.text
    assert "已提交，待受理" in listed.text
    assert "企业年报抽查结果" in listed.text
    assert PURPOSE in listed.text
    # The dataset's page says so instead of offering a second application.
    page = applicant.get(f"/dataset/{CONDITIONAL}")
    assert "您的申请已提交，待受理" in page.text
    assert f'href="/dataset/{CONDITIONAL}/apply"' not in page.text


def test_a_second_application_waits_for_the_first(
    applicant: TestClient, portal: PortalDatabase
) -> None:
    first = submitted_id(apply(applicant))
    page = applicant.get(f"/dataset/{CONDITIONAL}/apply")
    assert "正在办理中，请等待答复后再提交新的申请" in page.text
    assert 'name="purpose"' not in page.text
    token = csrf_of(applicant.get("/account").text)
    again = applicant.post(
        f"/dataset/{CONDITIONAL}/apply",
        data={
            "csrf": token,
            "purpose": PURPOSE,
            "usage": USAGE,
            "fields": "企业名称",
            "agree": "yes",
        },
    )
    assert again.status_code == 409
    assert "正在办理中，请等待答复后再提交新的申请" in again.text
    accept(portal, first, clock.today() + timedelta(days=28), "SQ-2026-0002")
    assert apply(applicant).status_code == 409  # type: ignore[attr-defined]
    refuse(portal, first)
    assert apply(applicant).status_code == 303  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"purpose": "做研究"}, "purpose", "申请用途须为 10–2000 个字，现为 3 个字"),
        ({"purpose": "研" * 2001}, "purpose", "申请用途须为 10–2000 个字，现为 2001 个字"),
        ({"usage": ""}, "usage", "请填写使用场景与方式"),
        ({"fields": []}, "fields", "请至少选择一个申请的数据项"),
        ({"fields": ["法定代表人"]}, "fields", "数据项「法定代表人」不属于本数据集"),
        ({"agree": ""}, "agree", "请勾选「承诺按申请用途使用，不向第三方提供」"),
    ],
)
def test_application_refusals_name_their_rule(
    applicant: TestClient, changes: dict[str, object], field: str, problem: str
) -> None:
    answer = apply(applicant, **changes)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert field_error(text, field) == problem
    if field != "purpose":
        assert PURPOSE in text  # what was typed is kept
    if field != "fields":
        assert 'value="企业名称" checked' in text
    assert "已提交，待受理" not in applicant.get("/account/applications").text


# --- the platform's answer ------------------------------------------------------------------


def test_the_applicant_sees_the_acceptance_and_its_deadline(
    applicant: TestClient, portal: PortalDatabase
) -> None:
    application_id = submitted_id(apply(applicant))
    due = clock.today() + timedelta(days=28)
    accept(portal, application_id, due, "SQ-2026-0101")
    page = applicant.get("/account/applications")
    assert f'已受理，答复期限 <strong class="due">{due.isoformat()}</strong>（20 个工作日内）' in (
        page.text
    )
    assert "SQ-2026-0101" in page.text
    assert "已提交，待受理" not in page.text


def test_a_refusal_shows_its_reasons_and_legal_basis(
    applicant: TestClient, portal: PortalDatabase
) -> None:
    application_id = submitted_id(apply(applicant))
    accept(portal, application_id, clock.today() + timedelta(days=28), "SQ-2026-0102")
    refuse(portal, application_id)
    page = applicant.get("/account/applications")
    assert "不同意" in page.text
    assert "超出所述研究用途的必要范围" in page.text
    assert "法律政策依据：</strong>《江州市公共数据管理办法》第二十二条" in page.text
    assert applicant.get(f"/dataset/{CONDITIONAL}/download.csv").status_code == 403


def test_an_approval_opens_exactly_the_entitled_fields_to_the_applicant(
    applicant: TestClient, portal: PortalDatabase
) -> None:
    until = clock.today() + timedelta(days=90)
    approved(portal, applicant, until)
    listed = applicant.get("/account/applications")
    assert f"同意，使用期限至 <strong>{until.isoformat()}</strong>" in listed.text
    assert "获准的数据项：</strong>企业名称" in listed.text

    answer = applicant.get(f"/dataset/{CONDITIONAL}/download.csv")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "private, no-store"
    assert csv_rows(answer.content) == [["企业名称"], *[[name] for name, _ in CHECKS]]
    as_json = json.loads(applicant.get(f"/dataset/{CONDITIONAL}/download.json").content)
    assert as_json == [{"企业名称": name} for name, _ in CHECKS]
    workbook = openpyxl.load_workbook(
        io.BytesIO(applicant.get(f"/dataset/{CONDITIONAL}/download.xlsx").content),
        read_only=True,
    )
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    assert rows == [["企业名称"], *[[name] for name, _ in CHECKS]]

    page = applicant.get(f"/dataset/{CONDITIONAL}")
    assert f"使用期限至 {until.isoformat()}" in page.text
    assert f'href="/dataset/{CONDITIONAL}/download.csv"' in page.text
    preview = page.text.split('id="preview"', 1)[1].split("</table>", 1)[0]
    assert "<th>企业名称</th>" in preview and "抽查结果" not in preview
    for name, result in CHECKS:
        assert name in preview and result not in preview


def test_no_one_else_may_download(
    app: FastAPI, applicant: TestClient, browser: TestClient, portal: PortalDatabase
) -> None:
    approved(portal, applicant, clock.today() + timedelta(days=90))
    with TestClient(app) as other:
        registered(other, name="周明")
        refused = other.get(f"/dataset/{CONDITIONAL}/download.csv")
        assert refused.status_code == 403
        assert "content-disposition" not in refused.headers
        assert "您的账户尚未获准使用，请提交使用申请" in refused.text
        assert f'href="/dataset/{CONDITIONAL}/apply"' in refused.text
        page = other.get(f"/dataset/{CONDITIONAL}")
        assert 'id="preview"' not in page.text and "download." not in page.text
    for extension in ("csv", "xlsx", "json"):
        refused = browser.get(f"/dataset/{CONDITIONAL}/download.{extension}")
        assert refused.status_code == 403
        assert "请先登录（没有账户请先注册），再提交使用申请" in refused.text
        assert "开放条件：仅限用于学术研究" in refused.text


def test_an_expired_entitlement_gives_403(
    applicant: TestClient, portal: PortalDatabase, portal_url: str
) -> None:
    yesterday = clock.today() - timedelta(days=1)
    given = approved(portal, applicant, yesterday)
    refused = applicant.get(f"/dataset/{CONDITIONAL}/download.csv")
    assert refused.status_code == 403
    assert f"您的使用授权已于 {yesterday.isoformat()} 到期，请重新提交使用申请" in refused.text
    assert "（已到期）" in applicant.get("/account/applications").text
    with RemoteCKAN(portal_url, apikey=given.api_key) as ckan, pytest.raises(NotAuthorized):
        ckan.action.datastore_search(resource_id=f"{CONDITIONAL}-data")
    # Valid through its last day, in the city's calendar.
    with portal.session() as s:
        s.execute(
            sa.update(PortalEntitlement)
            .where(PortalEntitlement.application_id == given.application_id)
            .values(valid_until=clock.today())
        )
    assert applicant.get(f"/dataset/{CONDITIONAL}/download.csv").status_code == 200


# --- the CKAN API with an API key -----------------------------------------------------------


def test_datastore_search_answers_the_applicants_api_key_with_its_fields(
    applicant: TestClient, portal: PortalDatabase, portal_url: str
) -> None:
    given = approved(portal, applicant, clock.today() + timedelta(days=90))
    resource = f"{CONDITIONAL}-data"
    with RemoteCKAN(portal_url, apikey=given.api_key) as ckan:
        found = ckan.action.datastore_search(resource_id=resource)
        assert [f["id"] for f in found["fields"]] == ["_id", "企业名称"]
        assert [r["企业名称"] for r in found["records"]] == [name for name, _ in CHECKS]
        assert all(set(r) == {"_id", "企业名称"} for r in found["records"])
        assert found["total"] == len(CHECKS)
        # Items not entitled can be neither asked for, filtered, sorted nor searched by.
        for params in (
            {"fields": "抽查结果"},
            {"filters": {"抽查结果": "责令改正"}},
            {"sort": "抽查结果 desc"},
        ):
            with pytest.raises(ValidationError):
                ckan.action.datastore_search(resource_id=resource, **params)
        assert ckan.action.datastore_search(resource_id=resource, q="责令改正")["records"] == []
        assert ckan.action.datastore_search(resource_id=resource, q="汉水")["total"] == 1
    with RemoteCKAN(portal_url) as anonymous, pytest.raises(NotAuthorized) as refused:
        anonymous.action.datastore_search(resource_id=resource)
    assert "API 密钥" in refused.value.extra_msg["message"]
    with RemoteCKAN(portal_url, apikey="gsp_not-a-key") as wrong, pytest.raises(NotAuthorized):
        wrong.action.datastore_search(resource_id=resource)
    # The same with a plain HTTP client: the key in Authorization, as CKAN takes it.
    url = f"{portal_url}/api/3/action/datastore_search"
    plain = requests.get(
        url, params={"resource_id": resource}, headers={"Authorization": given.api_key}, timeout=60
    )
    assert plain.status_code == 200 and plain.json()["result"]["total"] == len(CHECKS)
    assert requests.get(url, params={"resource_id": resource}, timeout=60).status_code == 403


def test_another_accounts_api_key_is_refused(
    app: FastAPI, applicant: TestClient, portal: PortalDatabase, portal_url: str
) -> None:
    approved(portal, applicant, clock.today() + timedelta(days=90))
    with TestClient(app) as other:
        registered(other, name="周明")
        page = other.get("/account")
        made = other.post("/account/api-key", data={"csrf": csrf_of(page.text)})
        key = re.search(r'<code class="api-key">([^<]+)</code>', made.text)
        assert key
    with RemoteCKAN(portal_url, apikey=key.group(1)) as ckan, pytest.raises(NotAuthorized) as no:
        ckan.action.datastore_search(resource_id=f"{CONDITIONAL}-data")
    assert "该账户没有「企业年报抽查结果」的有效使用授权" in no.value.extra_msg["message"]
    # Open data needs no key, and a key changes nothing there.
    with RemoteCKAN(portal_url, apikey=key.group(1)) as ckan:
        assert ckan.action.datastore_search(resource_id=f"{BUS_STOPS}-data")["total"] == 4
