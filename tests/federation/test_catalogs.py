"""Catalogs along the levels (CAT-13, LVL-1, SR§7): a county's published resource reaches
the city's catalog and, through the city, the province's, with its provenance; changes and
retirements follow; the upper catalog is browsable below; dated editions are published."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from govshare.catalog.models import Resource
from govshare.catalog.schemas import RetirementIn, ReviewIn, VersionIn
from govshare.catalog.service import contents, resources, retirements
from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from govshare.federation import catalog_editions, catalogs, transport
from govshare.federation.catalog_models import RemoteResource
from govshare.federation.models import PlatformLevel, Relation
from govshare.identity.models import Level
from govshare.web.app import create_app
from tests.builders import actor_of, organization, user
from tests.catalog.builders import published
from tests.federation.builders import Platform, peered, platform
from tests.http import post_page_form, sign_in

PROVINCE, CITY, COUNTY = "360000", "361100", "361102"
RULES = load_profile("binzhou").rules  # no notice period: changes take effect on approval
APPROVE = ReviewIn(approve=True)


@pytest.fixture
def province(tmp_path: Path) -> Iterator[Platform]:
    with platform(
        tmp_path / "province", PROVINCE, "江西省政务数据共享平台", PlatformLevel.PROVINCE
    ) as p:
        yield p


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Platform]:
    with platform(tmp_path / "city", CITY, "江州市政务数据共享平台", PlatformLevel.CITY) as p:
        yield p


@pytest.fixture
def county(tmp_path: Path) -> Iterator[Platform]:
    with platform(tmp_path / "county", COUNTY, "信州区政务数据共享平台", PlatformLevel.COUNTY) as p:
        yield p


def _officer(at: Platform, department: str, level: Level) -> Actor:
    with at.runtime.transaction() as db_session:
        org = organization(db_session, department, level=level)
        return actor_of(user(db_session, org, [Role.DATA_OFFICER]))


def _publish(at: Platform, officer: Actor, **kw: object) -> str:
    with at.runtime.transaction() as db_session:
        return published(db_session, officer, at.actor, rules=RULES, **kw).code


def _resource_id(at: Platform, code: str) -> int:
    with at.runtime.transaction() as db_session:
        found = db_session.execute(select(Resource.id).where(Resource.code == code)).scalar_one()
        return found


def _revise(at: Platform, officer: Actor, code: str, **changes: object) -> None:
    with at.runtime.transaction() as db_session:
        version = resources.start_revision(
            db_session, actor=officer, resource_id=_resource_id(at, code)
        )
        data = VersionIn.model_validate(contents.version_input(version) | changes)
        resources.update_draft(
            db_session, actor=officer, version_id=version.id, data=data, rules=RULES
        )
        resources.submit_version(db_session, actor=officer, version_id=version.id, rules=RULES)
        resources.review_version(
            db_session, actor=at.actor, version_id=version.id, decision=APPROVE, rules=RULES
        )


def _retire(at: Platform, officer: Actor, code: str) -> None:
    resource_id = _resource_id(at, code)
    with at.runtime.transaction() as db_session:
        retirements.request_retirement(
            db_session,
            actor=officer,
            resource_id=resource_id,
            data=RetirementIn(reason="职能调整，该资源不再维护"),
        )
        retirements.review_retirement(
            db_session, actor=at.actor, resource_id=resource_id, decision=APPROVE, rules=RULES
        )


def _mirror(at: Platform) -> dict[tuple[str, str], RemoteResource]:
    """The resources mirrored at `at`, by (origin, code): each platform numbers its own."""
    with at.runtime.transaction() as db_session:
        rows = db_session.execute(select(RemoteResource)).scalars().all()
        return {(r.origin_code, r.resource_code): r for r in rows}


def _audits(at: Platform, action: str) -> list[dict]:
    with at.runtime.transaction() as db_session:
        return [
            json.loads(e.details)
            for e in db_session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            ).scalars()
        ]


def _sync(at: Platform) -> list[catalogs.SyncResult]:
    results = catalogs.sync_all(at.runtime, actor=at.actor)
    assert all(r.error is None for r in results), [r.error for r in results]
    return results


def test_a_county_resource_reaches_the_city_and_through_it_the_province(
    province: Platform, city: Platform, county: Platform
) -> None:
    peered(province, city)
    peered(city, county)
    officer = _officer(county, "信州区民政局", Level.COUNTY)
    code = _publish(county, officer, name="信州区婚姻登记信息")

    (from_county,) = [r for r in _sync(city) if r.relation is Relation.LOWER]
    assert (from_county.added, from_county.changed) == (1, 0)
    at_city = _mirror(city)[COUNTY, code]
    assert at_city.relation is Relation.LOWER
    assert (at_city.origin_code, at_city.origin_name) == (COUNTY, county.name)
    assert [c["code"] for c in at_city.chain] == [COUNTY]
    assert (at_city.provider_name, at_city.provider_level) == ("信州区民政局", "county")
    assert at_city.name == "信州区婚姻登记信息" and at_city.version == 1
    assert [i["name"] for i in at_city.entry["items"]] == ["姓名", "身份证号", "出生日期"]

    _sync(province)
    at_province = _mirror(province)[COUNTY, code]
    assert at_province.origin_code == COUNTY
    assert [c["code"] for c in at_province.chain] == [COUNTY, CITY]  # county → city
    assert at_province.provider_name == "信州区民政局"
    (sync,) = _audits(province, "federation.catalog.sync")
    assert (sync["peer"], sync["added"]) == (CITY, 1)

    # A second pull finds nothing new and changes nothing.
    again = _sync(province)
    assert sum(r.added + r.changed + r.retired for r in again) == 0
    assert len(_audits(province, "federation.catalog.sync")) == 1

    with _client(province, _clerk(province, "江西省民政厅", Level.PROVINCE)) as client:
        page = client.get("/catalog/federation", params={"via": CITY, "state": "current"})
        assert "信州区婚姻登记信息" in page.text
        assert f"{county.name} → {city.name}" in page.text  # the provenance, county → city
        assert "信州区民政局（县级）" in page.text


def test_a_change_and_a_retirement_follow_up_the_levels(
    province: Platform, city: Platform, county: Platform
) -> None:
    peered(province, city)
    peered(city, county)
    officer = _officer(county, "信州区民政局", Level.COUNTY)
    code = _publish(county, officer)
    _sync(city)
    _sync(province)

    _revise(county, officer, code, name="信州区婚姻登记信息（含补领）", update_frequency="weekly")
    (changed,) = [r for r in _sync(city) if r.relation is Relation.LOWER]
    assert (changed.added, changed.changed) == (0, 1)
    _sync(province)
    row = _mirror(province)[COUNTY, code]
    assert (row.version, row.name) == (2, "信州区婚姻登记信息（含补领）")
    assert row.entry["update_frequency"] == "weekly" and not row.retired

    _retire(county, officer, code)
    (retired,) = [r for r in _sync(city) if r.relation is Relation.LOWER]
    assert retired.retired_codes == [code]
    _sync(province)
    assert _mirror(city)[COUNTY, code].retired and _mirror(province)[COUNTY, code].retired
    (audit,) = _audits(province, "federation.catalog.retire")
    assert (audit["origin"], audit["code"], audit["peer"]) == (COUNTY, code, CITY)


def test_a_lower_platform_sees_its_upper_catalog_but_not_its_siblings(
    province: Platform, city: Platform, county: Platform
) -> None:
    peered(province, city)
    peered(city, county)
    city_code = _publish(city, _officer(city, "江州市公安局", Level.CITY), name="江州市户籍信息")
    county_code = _publish(county, _officer(county, "信州区民政局", Level.COUNTY))
    province_code = _publish(
        province, _officer(province, "江西省市场监督管理局", Level.PROVINCE), name="企业登记信息"
    )
    _sync(city)
    _sync(county)
    at_county = _mirror(county)
    assert set(at_county) == {(CITY, city_code)}  # the city's own, not what it mirrors
    assert at_county[CITY, city_code].relation is Relation.UPPER
    at_city = _mirror(city)
    assert at_city[PROVINCE, province_code].relation is Relation.UPPER
    assert at_city[COUNTY, county_code].relation is Relation.LOWER
    _sync(province)
    assert set(_mirror(province)) == {
        (CITY, city_code),
        (COUNTY, county_code),
    }  # its own never comes back


def test_a_large_catalog_comes_in_pages_without_loss(
    city: Platform, county: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    peered(city, county)
    officer = _officer(county, "信州区民政局", Level.COUNTY)
    codes = {_publish(county, officer, name=f"信州区资源{n}") for n in range(5)}
    monkeypatch.setattr(catalogs, "PAGE_SIZE", 2)
    (result,) = _sync(city)
    assert result.pages == 3 and result.added == 5
    assert set(_mirror(city)) == {(COUNTY, c) for c in codes}


def test_an_export_with_a_bad_position_is_refused(city: Platform, county: Platform) -> None:
    _, city_at_county = peered(city, county)
    with pytest.raises(transport.PeerUnavailable, match="同步位置"):
        transport.send(
            county.runtime,
            peer_id=city_at_county,
            kind="catalog.export",
            body={"after": {"at": "yesterday"}},
            actor=county.actor,
        )


def _client(at: Platform, username: str) -> TestClient:
    client = TestClient(create_app(at.runtime))
    assert sign_in(client, username).status_code == 200
    return client


def _clerk(at: Platform, department: str, level: Level) -> str:
    with at.runtime.transaction() as db_session:
        org = organization(db_session, department, level=level)
        return user(db_session, org, [Role.DEPARTMENT_STAFF]).username


def test_the_remote_catalog_pages_show_provenance_and_retirement(
    province: Platform, city: Platform, county: Platform
) -> None:
    peered(province, city)
    peered(city, county)
    officer = _officer(county, "信州区民政局", Level.COUNTY)
    kept = _publish(county, officer, name="信州区婚姻登记信息")
    gone = _publish(county, officer, name="信州区收养登记信息")
    _publish(
        province, _officer(province, "江西省市场监督管理局", Level.PROVINCE), name="企业登记信息"
    )
    _sync(city)
    _retire(county, officer, gone)
    _sync(city)

    with _client(city, _clerk(city, "江州市民政局", Level.CITY)) as client:
        page = client.get("/catalog/federation")
        assert page.status_code == 200
        assert "信州区婚姻登记信息" in page.text and "企业登记信息" in page.text
        assert "信州区政务数据共享平台" in page.text and "已下架" in page.text
        found = client.get("/catalog/federation", params={"q": "婚姻", "side": "lower"})
        assert "信州区婚姻登记信息" in found.text and "企业登记信息" not in found.text
        row_id = _mirror(city)[COUNTY, kept].id
        detail = client.get(f"/catalog/federation/{row_id}")
        assert detail.status_code == 200
        assert "身份证号" in detail.text and "信州区民政局" in detail.text
        assert client.get("/catalog/federation/999999").status_code == 404
        browse = client.get("/catalog", params={"q": "婚姻登记"})
        assert "/catalog/federation?q=" in browse.text and "下级平台另有" in browse.text
        api = client.get("/api/v1/federation/catalog", params={"q": "信州区婚姻"}).json()
        assert [r["code"] for r in api["rows"]] == [kept]
        assert api["rows"][0]["chain"] == [{"code": COUNTY, "name": county.name}]

    with _client(county, _clerk(county, "信州区公安分局", Level.COUNTY)) as client:
        page = client.get("/catalog/federation")  # a lower platform's page: nothing mirrored yet
        assert page.status_code == 200 and "级联目录" in page.text


def test_a_dated_edition_holds_the_city_catalog_with_each_county_part(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    _publish(city, _officer(city, "江州市公安局", Level.CITY), name="江州市户籍信息")
    county_code = _publish(county, _officer(county, "信州区民政局", Level.COUNTY))
    _sync(city)
    with city.runtime.transaction() as db_session:
        edition = catalog_editions.publish_edition(
            db_session, actor=city.actor, note="2026 年度目录更新"
        )
        edition_id, title = edition.id, edition.title
        assert [(p["code"], p["count"]) for p in edition.parts] == [(CITY, 1), (COUNTY, 1)]
    assert title.endswith("年第1版")
    with city.runtime.transaction() as db_session:
        second = catalog_editions.publish_edition(db_session, actor=city.actor, note="")
        assert second.number == 2

    with city.runtime.transaction() as db_session:
        xlsx = catalog_editions.edition_file(
            db_session, actor=city.actor, edition_id=edition_id, fmt="xlsx"
        )
        county_part = catalog_editions.edition_file(
            db_session, actor=city.actor, edition_id=edition_id, fmt="json", origin=COUNTY
        )
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:2] == ["江州市政务数据共享平台", "信州区政务数据共享平台"]
    assert [r[0].value for r in book["信州区政务数据共享平台"].iter_rows(min_row=2)] == [
        county_code
    ]
    document = json.loads(county_part.content)
    assert document["edition"] == title
    assert [e["code"] for e in document["entries"]] == [county_code]
    assert len(_audits(city, "federation.catalog.edition.download")) == 2


def test_sync_catalogs_from_the_console_reports_progress_and_counts(
    city: Platform, county: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    import govshare.cli
    from govshare.federation import cli as federation_cli

    peered(city, county)
    _publish(county, _officer(county, "信州区民政局", Level.COUNTY))
    monkeypatch.setattr(federation_cli, "get_runtime", lambda: city.runtime)
    run = CliRunner().invoke(govshare.cli.app, ["federation", "sync-catalogs"])
    assert run.exit_code == 0, run.output
    assert "第 1 页，已收 1 条" in run.output
    assert f"{county.name}（下级平台）：新增 1，变更 0，下架 0" in run.output
    edition = CliRunner().invoke(govshare.cli.app, ["federation", "catalog-edition"])
    assert edition.exit_code == 0, edition.output
    assert "年第1版" in edition.output and f"{county.name} 1 项" in edition.output


def test_the_operator_publishes_an_edition_from_the_page_and_clerks_download_it(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    _publish(county, _officer(county, "信州区民政局", Level.COUNTY))
    _sync(city)
    with _client(city, "operator") as operator:
        page = operator.get("/catalog/federation/editions")
        assert "尚未发布目录版本" in page.text
        posted = post_page_form(
            operator,
            "/catalog/federation/editions",
            "/catalog/federation/editions",
            {"note": "年度更新"},
        )
        assert posted.status_code == 303
        listed = operator.get("/catalog/federation/editions")
        assert "年第1版" in listed.text and f"{county.name}：1 项" in listed.text
    (edition,) = _audits(city, "federation.catalog.edition")
    with _client(city, _clerk(city, "江州市民政局", Level.CITY)) as clerk:
        assert "发布目录版本" not in clerk.get("/catalog/federation/editions").text
        refused = clerk.post("/api/v1/federation/catalog/editions", json={"note": ""})
        assert refused.status_code == 403
        (listed_edition,) = clerk.get("/api/v1/federation/catalog/editions").json()
        download = clerk.get(
            f"/catalog/federation/editions/{listed_edition['id']}/download",
            params={"fmt": "json", "origin": COUNTY},
        )
        assert download.status_code == 200
        assert [p["code"] for p in download.json()["parts"]] == [COUNTY]
        assert "attachment" in download.headers["content-disposition"]
    assert edition["total"] == 1
