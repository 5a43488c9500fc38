"""A citizen on a phone and on a desktop, in headless Chromium: from a conditional dataset to
registration (a refusal first), the application form, and their applications as the
platform accepts and answers them; then signing out. The portal runs in a live server over
the sample data on SQLite.

Screenshots of the registration, application and my-applications pages at both widths go to
GOVSHARE_PORTAL_SCREENSHOTS (a directory) when it is set, else to the test's temporary
directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from govshare.core import clock
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import (
    PortalAccount,
    PortalApplication,
    PortalDataset,
    PortalEntitlement,
    rows_table_name,
)
from govshare.portal.settings import PortalSettings
from tests.browser import BROWSER_TIMEOUT_MS
from tests.portal import sample
from tests.portal.people import PASSWORD, mobile, next_number, person_id
from tests.portal.serving import served

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
CONDITIONAL = "b02001-000002"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalDatabase]:
    url = f"sqlite:///{tmp_path_factory.mktemp('portal-accounts-live') / 'portal.db'}"
    database = PortalDatabase(url)
    sample.fill(database)
    with database.session() as s:
        table = sa.table(rows_table_name(104), sa.column("_row"), sa.column("c0"), sa.column("c1"))
        rows = [("江州市长江机械有限公司", "未发现问题"), ("江州市汉水食品有限公司", "责令改正")]
        s.execute(
            table.insert(), [{"_row": n, "c0": a, "c1": b} for n, (a, b) in enumerate(rows, 1)]
        )
        s.get(PortalDataset, 104).row_count = len(rows)  # type: ignore[union-attr]
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def portal_url(portal: PortalDatabase) -> Iterator[str]:
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    with served(app) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    portal_url: str,
) -> Iterator[Page]:
    """A page of the given width; it fails if the pages' own content breaks their CSP."""
    context = browser.new_context(
        base_url=portal_url, locale="zh-CN", viewport=VIEWPORTS[request.param]
    )
    opened = context.new_page()
    opened.set_default_timeout(BROWSER_TIMEOUT_MS)
    refused: list[str] = []
    opened.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    context.close()
    assert refused == [], f"the page's own content broke its policy: {refused}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("GOVSHARE_PORTAL_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _fits_the_width(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def _earlier_answers(portal: PortalDatabase, login: str) -> None:
    """Two applications the platform answered before: one refused, one approved and run out."""
    with portal.session() as s:
        account_id = s.scalar(sa.select(PortalAccount.id).where(PortalAccount.login == login))
        assert account_id is not None
        now = clock.now()
        refused = PortalApplication(
            account_id=account_id,
            dataset_id=104,
            purpose="了解本市企业年报抽查的总体情况，用于课程作业",
            usage="课程报告中引用汇总数字",
            fields=["企业名称", "抽查结果"],
            submitted_at=now - timedelta(days=80),
            state="refused",
            number="SQ-2026-0031",
            accepted_at=now - timedelta(days=79),
            due_on=clock.today() - timedelta(days=50),
            due_working_days=20,
            answered_at=now - timedelta(days=60),
            answer="课程作业可使用已公开的统计汇总数据，无需逐户数据",
            legal_basis="《江州市公共数据开放管理办法》第二十二条第二款",
        )
        approved = PortalApplication(
            account_id=account_id,
            dataset_id=104,
            purpose="研究企业年报抽查结果的行业分布",
            usage="在实验室离线电脑上分析",
            fields=["企业名称"],
            submitted_at=now - timedelta(days=50),
            state="approved",
            number="SQ-2026-0047",
            accepted_at=now - timedelta(days=49),
            due_on=clock.today() - timedelta(days=20),
            due_working_days=20,
            answered_at=now - timedelta(days=40),
            answer="仅限学术研究使用，发表成果须注明数据来源",
        )
        s.add_all([refused, approved])
        s.flush()
        s.add(
            PortalEntitlement(
                application_id=approved.id,
                account_id=account_id,
                dataset_id=104,
                fields=["企业名称"],
                valid_until=clock.today() - timedelta(days=1),
            )
        )


def test_a_citizen_registers_applies_and_follows_the_answer(
    page: Page, portal: PortalDatabase, shots: Path
) -> None:
    width = "phone" if page.viewport_size["width"] < 700 else "desktop"  # type: ignore[index]
    n = next_number()

    page.goto(f"/dataset/{CONDITIONAL}")
    with page.expect_navigation():
        page.click("#apply-actions >> text=注册账户")
    expect(page.locator("h1")).to_have_text("注册账户")

    # A wrong check digit first: the problem is named next to the field, the values kept.
    number = person_id(n)
    wrong = number[:-1] + ("1" if number[-1] != "1" else "2")
    page.fill("#f-name", "陈静")
    page.fill("#f-id_number", wrong)
    page.fill("#f-mobile", mobile(n))
    page.fill("#f-password", "short")
    page.fill("#f-confirm", "short")
    with page.expect_navigation():
        page.click("button:has-text('注册')")
    expect(page.locator("#f-id_number-error")).to_contain_text("校验码错误")
    expect(page.locator("#f-password-error")).to_contain_text("密码至少 8 位")
    expect(page.locator("#f-name")).to_have_value("陈静")
    expect(page.locator("#f-password")).to_have_value("")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-register.png"), full_page=True)

    page.fill("#f-id_number", number)
    page.fill("#f-password", PASSWORD)
    page.fill("#f-confirm", PASSWORD)
    with page.expect_navigation():
        page.click("button:has-text('注册')")
    # Registered and signed in, back where the visitor was going: the application form.
    expect(page.locator("h1")).to_have_text("申请使用有条件开放数据")
    expect(page.locator(".account-nav")).to_contain_text("陈静")
    expect(page.locator("#conditions")).to_contain_text("仅限用于学术研究")
    page.fill("#f-purpose", "研究本市企业年报抽查结果的行业分布，用于学术论文的统计分析")
    page.fill("#f-usage", "在本校实验室的离线电脑上用统计软件分析，论文只发表汇总结果")
    page.check("input[name=fields][value='企业名称']")
    page.check("#f-agree")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-apply.png"), full_page=True)
    with page.expect_navigation():
        page.click("button:has-text('提交申请')")
    expect(page.locator("#submitted")).to_contain_text("申请已提交")
    expect(page.locator(".state-line").first).to_contain_text("已提交，待受理")

    # The platform accepts it with its deadline; earlier answers are listed too.
    _earlier_answers(portal, mobile(n))
    due = clock.today() + timedelta(days=28)
    with portal.session() as s:
        latest = s.scalars(
            sa.select(PortalApplication)
            .where(PortalApplication.state == "submitted", PortalApplication.usage.contains("论文"))
            .order_by(PortalApplication.id.desc())
        ).first()
        assert latest is not None
        latest.state, latest.number = "accepted", f"SQ-2026-{n:04d}"
        latest.accepted_at, latest.due_on, latest.due_working_days = clock.now(), due, 20
    page.goto("/account/applications")
    first = page.locator(".application").first
    expect(first.locator(".state-line")).to_have_text(
        f"已受理，答复期限 {due.isoformat()}（20 个工作日内）"
    )
    expect(first).to_contain_text(f"SQ-2026-{n:04d}")
    expect(page.locator(".application.state-refused")).to_contain_text("法律政策依据")
    expect(page.locator(".application.state-approved")).to_contain_text("（已到期）")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-applications.png"), full_page=True)

    # Approved for 企业名称: the dataset's page previews that item alone and offers downloads.
    with portal.session() as s:
        accepted = s.get(PortalApplication, latest.id)
        assert accepted is not None
        accepted.state, accepted.answered_at = "approved", clock.now()
        accepted.answer = "仅限学术研究使用，发表成果须注明数据来源"
        s.add(
            PortalEntitlement(
                application_id=accepted.id,
                account_id=accepted.account_id,
                dataset_id=104,
                fields=["企业名称"],
                valid_until=clock.today() + timedelta(days=90),
            )
        )
    page.goto(f"/dataset/{CONDITIONAL}")
    expect(page.locator("#conditions")).to_contain_text("您已获准使用其中 1 个数据项")
    expect(page.locator(".downloads a")).to_have_count(3)
    expect(page.locator("#preview thead th")).to_have_text(["企业名称"])
    expect(page.locator("#preview tbody tr")).to_have_count(2)
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-dataset-entitled.png"), full_page=True)

    # An API key, shown once.
    page.goto("/account")
    expect(page.locator("#id-number")).to_have_text(number[:6] + "*" * 8 + number[-4:])
    with page.expect_navigation():
        page.click("button:has-text('生成 API 密钥')")
    expect(page.locator("code.api-key")).to_contain_text("gsp_")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-account.png"), full_page=True)

    # Signing out from the header.
    with page.expect_navigation():
        page.click(".account-nav button:has-text('退出')")
    expect(page.locator(".account-nav")).to_contain_text("登录")
    page.goto("/account/applications")
    expect(page.locator("h1")).to_have_text("登录")
