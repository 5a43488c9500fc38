"""Demo use of shared data (示范数据使用): the consumers holding grants on tables in the data
resource center query them and look records up on the working days since, as their systems
would, through the delivery service, so each use is audited and counted where the provider
sees it (谁在用我的数据) and on the home page's overview. The plan is in
`demo/data/usage.yaml`. Built after the exchange's first syncs, each use with the clock set
to its moment; built once: a city whose data has been used is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.demo import sources
from govshare.demo.verification import Story
from govshare.exchange.models import DataUse
from govshare.exchange.service import delivery

DATA: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "usage.yaml").read_text(encoding="utf-8")
)


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the demo's uses unless data has been used; returns whether it added them."""
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session) or db_session.scalar(
            sa.select(sa.func.count(DataUse.id))
        ):
            return False
        progress("数据使用")
        story = Story(runtime, db_session)
        plans = []
        for plan in DATA["uses"]:
            grant = story.grant(plan["consumer"], plan["provider"])
            if grant is None:
                continue
            since = clock.to_city(grant.created_at).date()
            days = [story.day(ago) for ago in range(plan["days"], 0, -1)]
            plans.append(
                (
                    story.who(plan["officer"]),
                    grant.resource.code,
                    [d for d in days if d > since],
                    plan,
                    story.keys(grant, plan["lookups"]),
                )
            )
    for actor, code, days, plan, keys in plans:
        for day in days:
            for n in range(plan["queries"] + len(keys)):
                # Spread over the office day: 09:00, 09:40, 10:20 …
                at = datetime.combine(day, time(9 + n * 40 // 60, n * 40 % 60), clock.CITY_TZ)
                with clock.frozen(at), runtime.transaction() as db_session:
                    common: dict[str, Any] = {
                        "actor": actor,
                        "settings": runtime.settings,
                        "center": runtime.center,
                        "resource_code": code,
                    }
                    if n < plan["queries"]:
                        delivery.query(
                            db_session, **common, request=delivery.DataRequest(), limit=20
                        )
                    else:
                        delivery.lookup(db_session, **common, key=keys[n - plan["queries"]])
    return bool(plans)
