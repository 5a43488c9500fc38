"""The platforms beside the demo city: the province and the county built in data directories
of their own next to a city (its organisations and accounts, as the demo makes them), peered
with it, then run as `govshare serve` processes while the city greets both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from govshare.core import migrate
from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.demo import identity as identity_demo
from govshare.demo import levels
from govshare.demo import systems as systems_demo
from govshare.demo.levels.places import SPEC, STATE_FILE
from govshare.exchange.service import bindings
from govshare.federation import service as federation
from govshare.federation.models import PlatformLevel, Relation
from govshare.pki import service as pki

CITY, PROVINCE, COUNTY = SPEC["city"]["code"], SPEC["province"]["code"], SPEC["county"]["code"]


@dataclass(frozen=True)
class Built:
    city: Runtime
    data_dir: Path
    plan: levels.Plan


def _close(runtime: Runtime) -> None:
    if "center" in runtime.__dict__:
        runtime.center.engine.dispose()
    runtime.engine.dispose()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A city with the demo's organisations and accounts, and the levels built beside it on
    free ports."""
    data_dir = tmp_path_factory.mktemp("levels-city")
    city = build_runtime(
        load_settings(
            environ={
                "GOVSHARE_DATA_DIR": str(data_dir),
                "GOVSHARE_POLICY_PROFILE": "shangrao",
                "GOVSHARE_CITY_NAME": "江州市",
            }
        )
    )
    migrate.upgrade(city.engine)
    with city.transaction() as db_session:
        identity_demo.build(db_session, Actor.command_line("demo"))
        systems_demo.build(db_session, Actor.command_line("demo"))
    plan = levels.plan(data_dir, free=True)
    assert levels.build(city, plan)
    yield Built(city, data_dir, plan)
    _close(city)


def _opened(node: levels.Node) -> Runtime:
    return node.runtime()


def _peers(runtime: Runtime) -> dict[str, tuple[Relation, str, str]]:
    """Each peer's code → (relation, address, trusted CA fingerprint)."""
    with runtime.transaction() as db_session:
        return {
            p.code: (p.relation, p.url, p.anchor_fingerprint)
            for p in federation.active_peers(db_session)
        }


def _ca_fingerprint(runtime: Runtime) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    with runtime.transaction() as db_session:
        pem = pki.ca_certificate(db_session)
    assert pem is not None
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def test_three_databases_with_identities_and_mutual_peerings(built: Built) -> None:
    province, county = built.plan.nodes["province"], built.plan.nodes["county"]
    databases = {
        built.data_dir / "govshare.db",
        province.data_dir / "govshare.db",
        county.data_dir / "govshare.db",
    }
    assert all(path.is_file() for path in databases) and len(databases) == 3
    runtimes = {CITY: built.city, PROVINCE: _opened(province), COUNTY: _opened(county)}
    try:
        identities = {}
        for code, runtime in runtimes.items():
            with runtime.transaction() as db_session:
                own = federation.required_identity(db_session)
                identities[code] = (own.code, own.level, own.url)
        assert identities == {
            CITY: (CITY, PlatformLevel.CITY, built.plan.city_federation_url),
            PROVINCE: (PROVINCE, PlatformLevel.PROVINCE, province.federation_url),
            COUNTY: (COUNTY, PlatformLevel.COUNTY, county.federation_url),
        }
        anchors = {code: _ca_fingerprint(runtime) for code, runtime in runtimes.items()}
        assert _peers(built.city) == {
            PROVINCE: (Relation.UPPER, province.federation_url, anchors[PROVINCE]),
            COUNTY: (Relation.LOWER, county.federation_url, anchors[COUNTY]),
        }
        city_as_peer = (built.plan.city_federation_url, anchors[CITY])
        assert _peers(runtimes[PROVINCE]) == {CITY: (Relation.LOWER, *city_as_peer)}
        assert _peers(runtimes[COUNTY]) == {CITY: (Relation.UPPER, *city_as_peer)}
    finally:
        for code in (PROVINCE, COUNTY):
            _close(runtimes[code])


def test_the_province_table_has_its_rows_in_the_province_center(built: Built) -> None:
    runtime = _opened(built.plan.nodes["province"])
    try:
        table = SPEC["province"]["table"]
        name = next(
            r["name"] for r in SPEC["province"]["resources"] if r["key"] == table["resource"]
        )
        with runtime.transaction() as db_session:
            resource = levels.building.resource_named(db_session, name)
            assert resource is not None
            binding = bindings.binding_of_resource(db_session, resource.id)
            assert binding is not None
            center_table = binding.center_table
        with runtime.center.engine.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT count(*) FROM "{center_table}"')).scalar_one()
        assert rows == table["rows"]
    finally:
        _close(runtime)


def test_a_second_build_reuses_everything(built: Built) -> None:
    again = levels.plan(built.data_dir, free=True)  # remembered: not new free ports
    assert again == built.plan
    remembered = json.loads((built.data_dir / "levels" / STATE_FILE).read_text())
    assert remembered["city"]["federation"] == built.plan.city_federation_port
    assert not levels.build(built.city, again)


def test_ports_are_recovered_from_the_identities_when_the_record_is_gone(
    built: Built,
) -> None:
    record = built.data_dir / "levels" / STATE_FILE
    kept = record.read_text()
    record.unlink()
    try:
        again = levels.plan(built.data_dir, free=True)
        assert again.city_federation_port == built.plan.city_federation_port
        for key, node in built.plan.nodes.items():
            assert again.nodes[key].federation_port == node.federation_port
    finally:
        record.write_text(kept)


def _message_ids(runtime: Runtime, action: str, kind: str) -> set[str]:
    with runtime.transaction() as db_session:
        details = db_session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action)
        ).scalars()
        return {json.loads(d)["message_id"] for d in details if json.loads(d)["kind"] == kind}


def test_started_the_city_greets_both_and_stops_them(built: Built) -> None:
    reported: list[str] = []
    with levels.serving(built.city, built.plan, report=reported.append) as greeting:
        greeting.join(levels.running.START_SECONDS * 2)  # a guard against a hang only
        assert not greeting.is_alive(), reported
    greeted = [line for line in reported if "握手成功" in line]
    assert len(greeted) == 2, reported
    sent = _message_ids(built.city, "federation.message.sent", "hello")
    assert len(sent) == 2
    received: set[str] = set()
    for node in built.plan.nodes.values():
        runtime = _opened(node)
        try:
            ids = _message_ids(runtime, "federation.message.received", "hello")
        finally:
            _close(runtime)
        assert len(ids & sent) == 1, (node.name, ids, sent)
        assert any(message_id in line for message_id in ids for line in greeted)
        received |= ids
    assert sent <= received
    for node in built.plan.nodes.values():
        log = node.log_file.read_text(encoding="utf-8")
        assert "Application shutdown complete" in log, log  # stopped by Ctrl+C, cleanly
        assert "Traceback" not in log, log


def test_after_the_start_the_catalogs_are_mirrored_and_a_bundled_request_relayed(
    built: Built,
) -> None:
    """What `after_start` left (the test above ran it): the province's and the county's
    catalogs at the city, one bundle of two requests, 市税务局's grant mirrored and its
    relayed lookup logged on both platforms under one message id."""
    from govshare.federation.catalog_models import RemoteResource
    from govshare.federation.request_models import Bundle, MirroredGrant, UpperRequest

    with built.city.transaction() as db_session:
        origins = set(db_session.execute(select(RemoteResource.origin_code)).scalars())
        assert origins == {PROVINCE, COUNTY}
        assert db_session.execute(select(sa.func.count(Bundle.id))).scalar_one() == 1
        assert db_session.execute(select(sa.func.count(UpperRequest.id))).scalar_one() == 2
        assert db_session.execute(select(sa.func.count(MirroredGrant.id))).scalar_one() == 1
    (relayed,) = _message_ids(built.city, "federation.message.sent", "data.query")
    province = _opened(built.plan.nodes["province"])
    try:
        assert relayed in _message_ids(province, "federation.message.received", "data.query")
    finally:
        _close(province)
