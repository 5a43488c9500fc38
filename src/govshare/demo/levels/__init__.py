"""The platforms beside the demo city (三级平台): the province above it (江西省) and its county
below it (青山县), each a platform of its own — its own data directory under the city's
(`levels/province`, `levels/county`), its own SQLite databases, operator, departments and
catalog, its own certificate authority and federation identity — peered with the city, which
gets a federation identity of its own too. Names and texts are in `demo/data/levels.yaml`.

The province's market regulator publishes 市场主体登记信息, bound to its registry database and
synchronised into the province's data resource center as the city's tables are (the steps of
`demo.sources`); the county's departments publish a handful of resources.

`build` writes all three databases directly (they are all the demo's own), through the
services, as each platform's operator would at its console; every part already there is
skipped, so a second `govshare demo` reuses what exists. The ports are chosen at the first
build and remembered in `levels/levels.json` (the identities' addresses name them).
`serving` then runs the province and the county as `govshare serve` processes, the city's own
federation listener in-process, greets each peer once all are up, and calls `after_start`.

The package: `places` (directories, settings, ports), `building`, `running`, and
`traffic` (`after_start`, the hook for what the platforms do once they run).
"""

from __future__ import annotations

from govshare.demo.levels.building import build
from govshare.demo.levels.places import HOST, Node, Plan, plan
from govshare.demo.levels.running import greet, serving, sign_ins
from govshare.demo.levels.traffic import after_start

__all__ = ["HOST", "Node", "Plan", "after_start", "build", "greet", "plan", "serving", "sign_ins"]
