"""The sharing pages over HTTP, as a department clerk, the provider and the operator use them
(Shangrao profile): the application form and its deadlines, the provider's answer, the
grant's scope, suspension, who uses the provider's data, and direct access."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.identity.models import User
from govshare.sharing.models import Application, ApplicationState, Grant, GrantState
from govshare.sharing.schemas import DirectAccessIn
from govshare.sharing.service import grants
from govshare.web.app import create_app
from tests.builders import actor_of, count, organization, system_of, user
from tests.catalog.builders import published
from tests.http import csrf_for, sign_in
from tests.sharing.builders import (
    PDF,
    SHANGRAO,
    Sharing,
    approved,
    deciding,
    sharing_world,
    submitted,
)

FORM = {
    "purpose": "核对最低生活保障申请人的户籍和身份信息",
    "fields": ["姓名", "公民身份号码", "户籍地址", "行政区划代码"],
    "filter_field": ["行政区划代码"],
    "filter_op": ["in"],
    "filter_values": ["361102，361103"],
    "valid_from": "2026-10-01",
    "valid_until": "2027-09-30",
    "contact": "王科长 0793-8200000",
    "accept_restrictions": "1",
}
LETTER = {"attachment_sealed_letter": ("申请函.pdf", PDF, "application/pdf")}


def _as(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    """Signs in as the actor's account; the CSRF header its pages would send."""
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200
    return csrf_for(app, client)


def _row(html: str, kind: str) -> str:
    """The timeline row of one review step."""
    found = re.search(rf'<tr data-kind="{kind}".*?</tr>', html, re.S)
    assert found is not None, f"no {kind} step on the page"
    return found.group(0)


def _beside(html: str, input_id: str, message: str) -> bool:
    """Whether `message` is shown as the error right after the input with `input_id`."""
    pattern = (
        rf'id="{input_id}".*?(?:</textarea>|>)\s*<div class="field-error" role="alert">{message}'
    )
    return re.search(pattern, html, re.S) is not None


def _scope(html: str) -> tuple[str, list[str], list[str]]:
    """A grant page's fields, row-filter conditions and masking rules, as shown."""
    scope = re.search(r'<section class="card" id="scope">(.*?)</section>', html, re.S)
    assert scope is not None
    text = scope.group(1)
    fields = re.search(r"<dt>信息项</dt><dd>(.*?)</dd>", text, re.S)
    assert fields is not None
    conditions = re.findall(r'<div class="condition">(.*?)</div>', text)
    masks = re.findall(r'<div class="mask">(.*?)</div>', text)
    return fields.group(1), conditions, masks


def _application(db: Session) -> Application:
    db.expire_all()
    return db.execute(select(Application).order_by(Application.id.desc())).scalars().first()


def test_submitted_application_shows_both_deadlines_across_national_day(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        db.commit()
        headers = _as(client, app, db, w.consumer_officer)
        form = client.get("/sharing/applications/new", params={"resource": w.conditional.id})
        assert form.status_code == 200
        assert (
            "常住人口基本信息" in form.text and "仅限办理社会救助、户籍业务的部门使用" in form.text
        )
        assert 'enctype="multipart/form-data"' in form.text
        assert "平台管理单位在 <strong>3</strong> 个工作日内预审" in form.text
        assert "提供部门在 <strong>10</strong> 个工作日内答复" in form.text
        assert "不得以任何形式提供给第三方" in form.text
        assert 'name="attachment_sealed_letter"' in form.text

        created = client.post(
            "/sharing/applications",
            data={
                **FORM,
                "system_id": str(w.consumer_system),
                "resource_id": str(w.conditional.id),
            },
            files=LETTER,
            headers=headers,
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        page = client.get(created.headers["location"])
        assert page.status_code == 200
        assert "2026-09-30" in _row(page.text, "pre_review")
        assert "2026-10-20" in _row(page.text, "decision")
        assert "待平台预审" in page.text
        assert "行政区划代码 属于其一 361102、361103" in page.text
        application = _application(db)
        assert application.row_filter == [
            {"field": "行政区划代码", "op": "in", "values": ["361102", "361103"]}
        ]

        download = re.search(r'href="(/sharing/attachments/\d+)"', page.text)
        assert download is not None
        letter = client.get(download.group(1))
        assert letter.content == PDF
        assert letter.headers["content-type"] == "application/pdf"
        assert (
            "filename*=UTF-8''%E7%94%B3%E8%AF%B7%E5%87%BD.pdf"
            in letter.headers["content-disposition"]
        )
        mine = client.get("/sharing/applications").text
        assert application.number in mine and "2026-09-30" in mine

        headers = _as(client, app, db, w.op)
        queue = client.get("/sharing/queue").text
        assert application.number in queue and "期限内" in queue
        forwarded = client.post(
            f"/sharing/applications/{application.id}/pre-review",
            data={"outcome": "forward"},
            headers=headers,
        )
        assert "已转提供部门答复，答复期限 2026-10-15" in forwarded.text  # counted from today


def test_refusal_without_legal_basis_is_shown_beside_the_basis_and_changes_nothing(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        application = deciding(w)
        db.commit()
        headers = _as(client, app, db, w.provider_officer)
        waiting = client.get("/sharing/decide").text
        assert application.number in waiting
        refused = client.post(
            f"/sharing/applications/{application.id}/decide",
            data={"decision": "refuse", "reason": "涉及公民个人隐私，申请用途不需要户籍地址"},
            headers=headers,
        )
        assert refused.status_code == 422
        assert _beside(refused.text, "basis", "不予共享须写明法律或政策依据")
        assert "涉及公民个人隐私，申请用途不需要户籍地址</textarea>" in refused.text
        assert 'value="refuse" checked' in refused.text
        again = _application(db)
        assert again.state is ApplicationState.DECIDING
        assert again.decision_reason is None and again.grant_id is None


def test_approval_that_narrows_and_masks_shows_a_grant_with_exactly_that_scope(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        application = deciding(w)
        db.commit()
        headers = _as(client, app, db, w.provider_officer)
        page = client.get(f"/sharing/applications/{application.id}").text
        assert 'name="fields" value="户籍地址" checked' in page  # preset to the request
        answered = client.post(
            f"/sharing/applications/{application.id}/decide",
            data={
                "decision": "approve",
                "fields": ["姓名", "公民身份号码", "行政区划代码"],
                "filter_field": ["行政区划代码"],
                "filter_op": ["in"],
                "filter_values": ["361102"],
                "mask_field": ["姓名", "公民身份号码", "户籍地址", "行政区划代码"],
                "mask_rule": ["", "id_number", "", ""],
                "mask_n": ["", "", "", ""],
                "valid_from": "2026-10-01",
                "valid_until": "2027-03-31",
                "conditions": "仅限在最低生活保障审核中核验使用",
            },
            headers=headers,
            follow_redirects=False,
        )
        assert answered.status_code == 303, answered.text
        grant_id = _application(db).grant_id
        assert grant_id is not None

        _as(client, app, db, w.consumer_officer)
        grant = client.get(f"/sharing/grants/{grant_id}").text
        fields, conditions, masks = _scope(grant)
        assert fields == "姓名、公民身份号码、行政区划代码"
        assert conditions == ["行政区划代码 属于其一 361102"]
        assert masks == ["公民身份号码：身份证号脱敏"]
        assert "2027-03-31" in grant and "仅限在最低生活保障审核中核验使用" in grant
        assert 'id="status">未到生效日期' in grant  # valid from 2026-10-01
        assert "不得用于或变相用于商业目的" in grant


def test_masking_that_needs_n_is_refused_beside_the_masking(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        application = deciding(w)
        db.commit()
        headers = _as(client, app, db, w.provider_officer)
        refused = client.post(
            f"/sharing/applications/{application.id}/decide",
            data={
                "decision": "approve",
                "fields": ["姓名", "公民身份号码"],
                "filter_field": ["行政区划代码"],
                "filter_op": ["in"],
                "filter_values": ["361102,361103"],
                "mask_field": ["姓名", "公民身份号码"],
                "mask_rule": ["keep_first", ""],
                "mask_n": ["", ""],
            },
            headers=headers,
        )
        assert refused.status_code == 422
        beside = r'姓名的脱敏规则.*?</select>\s*<div class="field-error" role="alert">'
        assert re.search(beside + "“姓名”的保留前 n 位须填写保留位数 n", refused.text, re.S)
        assert _application(db).state is ApplicationState.DECIDING


def test_suspended_grant_shows_its_reason_to_the_consumer(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        grant_id = approved(w).grant_id
        db.commit()
        headers = _as(client, app, db, w.provider_officer)
        missing = client.post(
            f"/sharing/grants/{grant_id}/suspend", data={"reason": ""}, headers=headers
        )
        assert missing.status_code == 422 and _beside(missing.text, "suspend_reason", "至少填写")
        suspended = client.post(
            f"/sharing/grants/{grant_id}/suspend",
            data={"reason": "发现将数据提供给第三方公司", "report_to_authority": "1"},
            headers=headers,
        )
        assert "授权已暂停" in suspended.text

        _as(client, app, db, w.consumer_officer)
        page = client.get(f"/sharing/grants/{grant_id}").text
        assert 'id="status">已暂停' in page
        assert "暂停原因：发现将数据提供给第三方公司" in page
        assert "暂停使用" in page  # the action history
        assert "已暂停" in client.get("/sharing/grants").text
        assert 'id="suspend"' not in page  # only the provider or the operator suspends
        db.expire_all()
        assert db.get(Grant, grant_id).state is GrantState.SUSPENDED


def test_provider_sees_every_grant_of_its_data(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        by_application = db.get(Grant, approved(w).grant_id)
        direct = grants.request_direct_access(
            db,
            actor=w.consumer_officer,
            rules=SHANGRAO.rules,
            data=DirectAccessIn(
                resource_id=w.unconditional.id,
                purpose="在窗口为群众解答户籍办理流程",
                system_id=system_of(db, w.consumer.id, "政务服务大厅叫号系统"),
                accept_restrictions=True,
            ),
        )
        db.commit()
        _as(client, app, db, w.provider_officer)
        usage = client.get("/sharing/usage").text
        assert by_application is not None
        for grant in (by_application, direct):
            assert grant.number in usage
        assert usage.count('class="grant-row"') == 2
        assert "在窗口为群众解答户籍办理流程" in usage and "政务服务大厅叫号系统" in usage
        assert "全部信息项" in usage and "市民政局" in usage


def test_deadline_in_an_unentered_year_is_shown_as_provisional(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-12-24T10:00:00+08:00"):
        w = sharing_world(db)
        application = deciding(w)
        db.commit()
        _as(client, app, db, w.consumer_officer)
        page = client.get(f"/sharing/applications/{application.id}").text
        decision = _row(page, "decision")
        assert "2027-01-" in decision and "暂定" in decision
        assert "暂定" not in _row(page, "pre_review")


def test_application_without_the_sealed_letter_is_refused_naming_it(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        db.commit()
        headers = _as(client, app, db, w.consumer_officer)
        refused = client.post(
            "/sharing/applications",
            data={
                **FORM,
                "system_id": str(w.consumer_system),
                "resource_id": str(w.conditional.id),
            },
            files={"attachment_sealed_letter": ("", b"", "application/octet-stream")},
            headers=headers,
        )
        assert refused.status_code == 422
        assert _beside(
            refused.text, "attachment_sealed_letter", "申请材料不完整：请上传加盖公章的申请函"
        )
        assert "核对最低生活保障申请人的户籍和身份信息</textarea>" in refused.text
        assert 'value="户籍地址" checked' in refused.text
        assert count(db, Application) == 0

        short = client.post(
            "/sharing/applications",
            data={
                **FORM,
                "system_id": str(w.consumer_system),
                "resource_id": str(w.conditional.id),
                "purpose": "核对",
            },
            files=LETTER,
            headers=headers,
        )
        assert short.status_code == 422 and _beside(short.text, "purpose", "至少填写 10 个字")


def test_direct_access_from_the_resource_page_produces_a_grant(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        hall = system_of(db, w.consumer.id, "政务服务大厅叫号系统")
        db.commit()
        headers = _as(client, app, db, w.consumer_officer)
        conditional = client.get(f"/catalog/resources/{w.conditional.id}").text
        assert f'href="/sharing/applications/new?resource={w.conditional.id}"' in conditional
        not_shared = client.get(f"/catalog/resources/{w.not_shared.id}").text
        assert f'href="/sharing/cases/new?resource={w.not_shared.id}"' in not_shared
        page = client.get(f"/catalog/resources/{w.unconditional.id}").text
        assert 'action="/sharing/direct"' in page

        posted = {
            "resource_id": str(w.unconditional.id),
            "purpose": "在窗口为群众解答户籍办理流程",
            "system_id": str(hall),
        }
        unaccepted = client.post("/sharing/direct", data=posted, headers=headers)
        assert unaccepted.status_code == 422
        assert "请阅读并接受共享数据使用约定" in unaccepted.text
        assert f'value="{hall}" selected>政务服务大厅叫号系统' in unaccepted.text
        assert count(db, Grant) == 0

        granted = client.post(
            "/sharing/direct",
            data={**posted, "accept_restrictions": "1"},
            headers=headers,
            follow_redirects=False,
        )
        assert granted.status_code == 303, granted.text
        grant_page = client.get(granted.headers["location"]).text
        assert "无条件共享直接获取" in grant_page and "全部信息项（7 项）" in grant_page
        grant = db.execute(select(Grant)).scalar_one()
        after = client.get(f"/catalog/resources/{w.unconditional.id}").text
        assert f'本单位已获得授权 <a href="/sharing/grants/{grant.id}">{grant.number}</a>' in after


def test_overview_counts_what_waits_for_the_department(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w: Sharing = sharing_world(db)
        application = deciding(w)
        db.commit()
        _as(client, app, db, w.provider_officer)
        overview = client.get("/sharing").text
        assert "待我答复" in overview and "最近期限 2026-10-15" in overview
        _as(client, app, db, w.authority)
        oversight = client.get("/sharing").text
        assert "等待办理的环节" in oversight and "市公安局" in oversight
        assert application.number in client.get("/sharing/queue").text
        assert date(2026, 10, 15).isoformat() in client.get("/sharing/queue").text


def test_returned_application_is_corrected_and_submitted_again(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        application = submitted(w)
        db.commit()
        headers = _as(client, app, db, w.op)
        page = f"/sharing/applications/{application.id}"
        bare = client.post(f"{page}/pre-review", data={"outcome": "return"}, headers=headers)
        assert bare.status_code == 422
        assert _beside(bare.text, "comment", "退回补正须说明需要补正的内容")
        returned = client.post(
            f"{page}/pre-review",
            data={"outcome": "return", "comment": "使用用途请写明对应的救助事项"},
            headers=headers,
        )
        assert "已退回申请部门补正" in returned.text and "退回补正" in returned.text

        headers = _as(client, app, db, w.consumer_officer)
        assert f'href="{page}/resubmit"' in client.get(page).text
        form = client.get(f"{page}/resubmit").text
        assert "平台预审意见：使用用途请写明对应的救助事项" in form
        assert 'value="户籍地址" checked' in form and "361102,361103" in form
        assert 'name="attachment_sealed_letter"' not in form  # the letter is on file
        again = client.post(
            f"{page}/resubmit",
            data={
                **FORM,
                "system_id": str(w.consumer_system),
                "purpose": "最低生活保障审核：核对申请人的户籍和身份信息",
            },
            headers=headers,
        )
        assert "已重新提交" in again.text and "待平台预审" in again.text
        assert "最低生活保障审核：核对申请人的户籍和身份信息" in again.text


def test_consumer_withdraws_an_open_application(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        application = deciding(w)
        db.commit()
        headers = _as(client, app, db, w.consumer_officer)
        withdrawn = client.post(
            f"/sharing/applications/{application.id}/withdraw",
            data={"reason": "业务调整，暂不需要"},
            headers=headers,
        )
        assert "申请已撤回" in withdrawn.text and 'id="state">已撤回' in withdrawn.text
        assert "撤回申请" not in withdrawn.text.split("</h1>", 1)[1]
        assert _application(db).state is ApplicationState.WITHDRAWN


def test_consumer_reports_feedback_the_provider_sees_and_asks_to_renew(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        grant_id = approved(w).grant_id
        db.commit()
        headers = _as(client, app, db, w.consumer_officer)
        unrated = client.post(
            f"/sharing/grants/{grant_id}/feedback",
            data={"effect": "核对低保申请 320 件"},
            headers=headers,
        )
        assert unrated.status_code == 422 and _beside(unrated.text, "rating", "必填")
        assert "核对低保申请 320 件</textarea>" in unrated.text
        reported = client.post(
            f"/sharing/grants/{grant_id}/feedback",
            data={"rating": "good", "cases_handled": "320", "effect": "核对低保申请 320 件"},
            headers=headers,
        )
        assert "使用成效已反馈" in reported.text and "效果明显" in reported.text
        renewal = client.post(
            f"/sharing/grants/{grant_id}/renew",
            data={"valid_until": "2028-09-30", "reason": "低保年度复核仍需使用"},
            headers=headers,
            follow_redirects=False,
        )
        assert renewal.status_code == 303, renewal.text
        renewal_page = client.get(renewal.headers["location"]).text
        assert "续期申请" in renewal_page and "2028-09-30" in renewal_page

        _as(client, app, db, w.provider_officer)
        usage = client.get("/sharing/usage").text
        assert "效果明显，支撑办理 320 件。核对低保申请 320 件" in usage


def test_stale_provider_is_told_why_it_gets_no_new_grants(db: Session, tmp_path: Path) -> None:
    environ = {"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_POLICY_PROFILE": "binzhou"}
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    app = create_app(runtime)
    with clock.frozen("2026-09-01T10:00:00+08:00"):
        w = sharing_world(db)
        published(db, w.consumer_officer, w.op, name="最低生活保障对象信息")  # updated daily
        db.commit()
    with TestClient(app) as client, clock.frozen("2026-09-25T10:00:00+08:00"):
        headers = _as(client, app, db, w.consumer_officer)
        overview = client.get("/sharing").text
        assert "本单位暂不能获得新的共享授权" in overview
        assert "最低生活保障对象信息" in overview and "应于 2026-09-03 前更新" in overview
        refused = client.post(
            "/sharing/direct",
            data={
                "resource_id": str(w.unconditional.id),
                "purpose": "在窗口为群众解答户籍办理流程",
                "system_id": str(w.consumer_system),
                "accept_restrictions": "1",
            },
            headers=headers,
        )
        assert refused.status_code == 403
        assert "更新前暂停新的共享授权" in refused.text and 'id="sharing-panel"' in refused.text
        assert count(db, Grant) == 0


def test_overseers_see_every_grant(app: FastAPI, client: TestClient, db: Session) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        grant = db.get(Grant, approved(w).grant_id)
        auditor = actor_of(user(db, organization(db, "市审计局"), [Role.AUDITOR]))
        db.commit()
        assert grant is not None
        _as(client, app, db, auditor)
        assert grant.number in client.get("/sharing/all-grants").text
        assert "市民政局" in client.get(f"/sharing/grants/{grant.id}").text
        _as(client, app, db, w.consumer_officer)
        assert client.get("/sharing/all-grants").status_code == 403
