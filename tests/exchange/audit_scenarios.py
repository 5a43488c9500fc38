"""Audit scenarios for the exchange services (see tests/test_audit_coverage.py), gathered
from one module per topic."""

from __future__ import annotations

from tests.exchange.delivery_scenarios import DELIVERY_SCENARIOS
from tests.exchange.file_scenarios import FILE_SCENARIOS
from tests.exchange.gateway_scenarios import GATEWAY_SCENARIOS
from tests.exchange.push_scenarios import PUSH_SCENARIOS
from tests.exchange.run_scenarios import RUN_SCENARIOS
from tests.exchange.usage_scenarios import USAGE_SCENARIOS
from tests.scenarios import Reads, Writes

SCENARIOS: dict[str, Writes | Reads] = {
    **RUN_SCENARIOS,
    **DELIVERY_SCENARIOS,
    **FILE_SCENARIOS,
    **GATEWAY_SCENARIOS,
    **PUSH_SCENARIOS,
    **USAGE_SCENARIOS,
}
