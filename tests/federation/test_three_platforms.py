"""Three platforms — province, city, county — as separate processes on loopback, peered by
their operators: messages flow along the levels; two city departments' requests for one
provincial resource go up as one bundled request, the province approves, and each department
queries the data through the city; every call is in the audit logs of both platforms under
the same message id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from govshare.federation import requests
from govshare.federation.catalog_models import RemoteResource
from govshare.federation.models import PlatformLevel
from govshare.federation.request_models import InboundBundle, MirroredGrant
from govshare.federation.request_schemas import ReviewIn, UpperRequestIn
from govshare.identity import service as identity_service
from govshare.identity.models import Level
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import Application
from govshare.sharing.schemas import DecisionIn, PreReviewIn
from govshare.sharing.service import decisions
from tests.builders import actor_of, organization, system_of, user
from tests.catalog.builders import published
from tests.exchange.builders import GRANTED, MASKING, bind, load_center, people_resource, population
from tests.federation.processes import Node, node, peer, serving
from tests.sharing.builders import SHANGRAO, sealed_letter, sharing_world

PROVINCE, CITY, COUNTY = "360000", "361100", "361102"
RULES = load_profile("binzhou").rules  # no notice period: a resource is published at once


@dataclass
class Cast:
    """Who acts on each platform, set up before the platforms start."""

    nodes: dict[str, Node]
    resource_code: str  # the province's table resource
    provider_officer: Actor  # its provider, at the province
    departments: list[tuple[Actor, int, str]]  # city officers: (actor, system, bearer token)
    county_resource: str  # a resource the county publishes


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cast]:
    root: Path = tmp_path_factory.mktemp("levels")
    nodes = {
        "province": node(root, PROVINCE, "江西省政务数据共享平台", PlatformLevel.PROVINCE),
        "city": node(root, CITY, "江州市政务数据共享平台", PlatformLevel.CITY),
        "county": node(root, COUNTY, "江州市信州区政务数据共享平台", PlatformLevel.COUNTY),
    }
    peer(nodes["province"], nodes["city"])
    peer(nodes["city"], nodes["county"])
    province = nodes["province"]
    with province.runtime.transaction() as db:
        w = sharing_world(db, province.operator)
        resource = people_resource(w)
        binding = bind(db, w, resource)
        code, provider_officer = resource.code, w.provider_officer
    load_center(province.runtime.center, binding, population(30))
    county = nodes["county"]
    with county.runtime.transaction() as db:
        civil = organization(db, "信州区民政局", level=Level.COUNTY)
        clerk = actor_of(user(db, civil, [Role.DATA_OFFICER]))
        county_code = published(
            db, clerk, county.operator, rules=RULES, name="信州区婚姻登记信息"
        ).code
    departments = []
    with nodes["city"].runtime.transaction() as db:
        for name, username in (("江州市民政局", "civil"), ("江州市卫生健康委员会", "health")):
            officer = actor_of(user(db, organization(db, name), [Role.DATA_OFFICER], username))
            system_id = system_of(db, officer.organization_id)
            _, secret = identity_service.issue_api_token(
                db, actor=officer, data=ApiTokenIn(name="业务系统", system_id=system_id)
            )
            departments.append((officer, system_id, secret))
    with serving(list(nodes.values())):
        yield Cast(nodes, code, provider_officer, departments, county_code)
    for n in nodes.values():
        n.runtime.engine.dispose()


@pytest.fixture(scope="module")
def platforms(cast: Cast) -> dict[str, Node]:
    return cast.nodes


def audited(n: Node, action: str) -> list[dict]:
    with n.runtime.transaction() as db_session:
        rows = db_session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def message_ids(n: Node, action: str, kind: str | None = None, peer: str | None = None) -> set[str]:
    return {
        d["message_id"]
        for d in audited(n, action)
        if (kind is None or d["kind"] == kind) and (peer is None or d["peer"] == peer)
    }


def test_hellos_along_the_levels_are_logged_on_both_sides(platforms: dict[str, Node]) -> None:
    county, city, province = platforms["county"], platforms["city"], platforms["province"]
    for lower, upper in ((county, city), (city, province)):
        done = lower.govshare("federation", "hello", upper.code)
        assert done.returncode == 0 and "握手成功" in done.stdout, done.stdout + done.stderr
        sent = message_ids(lower, "federation.message.sent", "hello")
        received = message_ids(upper, "federation.message.received", "hello")
        assert sent and sent <= received
    # the upper also greets down: both directions work over the same peering
    done = province.govshare("federation", "hello", CITY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert message_ids(province, "federation.message.sent") <= message_ids(
        city, "federation.message.received"
    )


def test_two_departments_go_up_as_one_bundle_and_each_queries_through_the_city(
    cast: Cast,
) -> None:
    province, city = cast.nodes["province"], cast.nodes["city"]
    request_ids = []
    for officer, system_id, _ in cast.departments:
        request_ids.append(
            requests.file_request(  # the upper describes its resource: a message each
                city.runtime,
                actor=officer,
                data=UpperRequestIn(
                    resource_code=cast.resource_code,
                    fields=GRANTED,
                    purpose="核对救助和医疗保障对象的户籍和身份信息",
                    basis="《社会救助暂行办法》第十一条",
                    system_id=system_id,
                    valid_from=date(2026, 12, 1),
                    valid_until=date(2027, 11, 30),
                    accept_restrictions=True,
                ),
                uploads=[sealed_letter()],
            )
        )
    with city.runtime.transaction() as db:
        for request_id in request_ids:
            requests.review(
                db, actor=city.operator, request_id=request_id, data=ReviewIn(approve=True)
            )
    forwarded = city.govshare("federation", "forward")
    assert forwarded.returncode == 0, forwarded.stdout + forwarded.stderr
    (bundle_sent,) = message_ids(city, "federation.message.sent", "request.bundle")
    with province.runtime.transaction() as db:  # one bundle, two applications at the province
        (inbound,) = db.execute(select(InboundBundle)).scalars().all()
        assert inbound.message_id == bundle_sent and len(inbound.items) == 2
        for application in db.execute(select(Application)).scalars():
            decisions.pre_review(
                db, actor=province.operator, application_id=application.id,
                data=PreReviewIn(forward=True),
            )  # fmt: skip
            decisions.decide(
                db, actor=cast.provider_officer, profile=SHANGRAO, application_id=application.id,
                data=DecisionIn(approve=True, masking=MASKING),
            )  # fmt: skip
    pulled = city.govshare("federation", "pull")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    with city.runtime.transaction() as db:
        mirrored = {g.organization_id: g.id for g in db.execute(select(MirroredGrant)).scalars()}
    assert len(mirrored) == 2
    for officer, _, secret in cast.departments:
        answer = httpx.post(
            f"{city.url}/api/v1/federation/upper-grants/{mirrored[officer.organization_id]}/query",
            json={},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["rows"] and all("*" in r["id_number"] for r in page["rows"])  # masked above
        message_id = page["message_id"]
        assert message_id in message_ids(city, "federation.message.sent", "data.query")
        assert message_id in message_ids(province, "federation.message.received", "data.query")
        uses = [
            d
            for d in audited(city, "federation.upper_grant.query")
            if d["message_id"] == message_id
        ]
        assert len(uses) == 1


def mirrored(n: Node) -> dict[tuple[str, str], RemoteResource]:
    with n.runtime.transaction() as db:
        rows = db.execute(select(RemoteResource)).scalars().all()
        for row in rows:
            db.expunge(row)
        return {(r.origin_code, r.resource_code): r for r in rows}


def test_a_county_resource_appears_in_the_city_catalog_and_then_the_provinces(
    cast: Cast,
) -> None:
    county, city, province = (cast.nodes[k] for k in ("county", "city", "province"))
    for n in (city, province):  # each operator's sync, as the workers run it every minute
        done = n.govshare("federation", "sync-catalogs")
        assert done.returncode == 0, done.stdout + done.stderr
    at_city = mirrored(city)[COUNTY, cast.county_resource]
    assert at_city.name == "信州区婚姻登记信息" and at_city.provider_name == "信州区民政局"
    at_province = mirrored(province)[COUNTY, cast.county_resource]
    assert [c["code"] for c in at_province.chain] == [COUNTY, CITY]  # county → city → here
    assert (PROVINCE, cast.resource_code) in mirrored(city)  # the upper catalog, browsable below
    for lower, upper in ((county, city), (city, province)):
        pulled = message_ids(upper, "federation.message.sent", "catalog.export", lower.code)
        assert pulled and pulled <= message_ids(
            lower, "federation.message.received", "catalog.export"
        )
