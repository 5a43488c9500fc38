"""What the platforms beside the demo city do once they run: the hook where traffic along
the levels is added."""

from __future__ import annotations

from govshare.core.runtime import Runtime
from govshare.demo.levels.places import Node


def after_start(city: Runtime, nodes: dict[str, Node]) -> None:
    """Called once the three platforms run and the city has greeted both peers: the place
    for the demo's traffic along the levels, each part done through the services as its
    people would (the city through `city`; the province and the county through
    `node.runtime()` or over HTTP at `node.url`), and skipped when already done:

    - catalog mirroring (目录同步): the province's published catalog brought down to the city
      and the county's up to it (`federation/catalogs*.py`);
    - a bundled request (打包申请): a city department's application for the province's
      市场主体登记信息, bundled by the city platform and sent up, decided at the province
      (`federation/requests*.py`);
    - a relayed call (中转查询): under that grant, a query of the province's table relayed
      by the city, e.g. 市税务局 looking up a company by its unified social credit code (the
      province's table holds the city register's first companies).

    Nothing happens here yet."""
