"""Three platforms — province, city, county — as separate processes on loopback, peered by
their operators at the console: messages flow along the levels and each is in the audit
logs of both platforms under the same message id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from govshare.core.audit.models import AuditEntry
from govshare.federation.models import PlatformLevel
from tests.federation.processes import Node, node, peer, serving

PROVINCE, CITY, COUNTY = "360000", "361100", "361102"


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root: Path = tmp_path_factory.mktemp("levels")
    nodes = {
        "province": node(root, PROVINCE, "江西省政务数据共享平台", PlatformLevel.PROVINCE),
        "city": node(root, CITY, "江州市政务数据共享平台", PlatformLevel.CITY),
        "county": node(root, COUNTY, "江州市信州区政务数据共享平台", PlatformLevel.COUNTY),
    }
    peer(nodes["province"], nodes["city"])
    peer(nodes["city"], nodes["county"])
    with serving(list(nodes.values())):
        yield nodes
    for n in nodes.values():
        n.runtime.engine.dispose()


def audited(n: Node, action: str) -> list[dict]:
    with n.runtime.transaction() as db_session:
        rows = db_session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def message_ids(n: Node, action: str, kind: str | None = None) -> set[str]:
    return {d["message_id"] for d in audited(n, action) if kind is None or d["kind"] == kind}


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
