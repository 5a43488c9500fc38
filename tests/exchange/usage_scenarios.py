"""Audit scenarios for the usage views (see tests/test_audit_coverage.py), merged into
tests/exchange/audit_scenarios.py. The facts are written by the delivery paths, each beside
its own audit entry: `record_use` is exercised through the online query."""

from __future__ import annotations

from typing import Any

from govshare.exchange.service import usage
from tests.exchange.builders import own_transaction
from tests.exchange.delivery_scenarios import _query
from tests.scenarios import READ_ONLY, Reads, World, Writes

USAGE = "govshare.exchange.service.usage."


def _used(w: World) -> Any:
    """A consumer's query under its grant: one use on record."""
    page = _query(w)
    return page.grant


USAGE_SCENARIOS: dict[str, Writes | Reads] = {
    USAGE + "record_use": Writes("exchange.data.query", _query),
    USAGE + "uses_of_grants": Reads(
        lambda w: usage.uses_of_grants(w.db, actor=w.op, grants=[w.prepared]), prepare=_used
    ),
    USAGE + "use_facts": READ_ONLY,  # a query, not run: the views that run it log their reads
    USAGE + "list_uses": Reads(lambda w: usage.list_uses(w.db, actor=w.op), prepare=_used),
    USAGE + "export_scope": Writes(
        "exchange.usage.export", lambda w: (_used(w), usage.export_scope(w.db, actor=w.op))
    ),
    USAGE + "export_uses": Reads(
        lambda w: list(usage.export_uses(w.prepared, transaction=own_transaction(w.db))),
        prepare=lambda w: (_used(w), usage.export_scope(w.db, actor=w.op))[1],
    ),
}
