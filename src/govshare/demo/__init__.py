"""The demo city (示范城市): a city, its county, departments and users for every role.

Each domain adds its demo data as one step in `STEPS`; `build` runs them once, in order,
in one transaction, as the console actor "demo". The exchange (`demo.exchange`) and the
open-data portal (`demo.opendata`) come after that transaction: their sync runs work in
transactions of their own, as a worker's do, so `build_city` runs them all on a runtime.
The certificate authority and one system's certificate (`demo.pki`) need the settings'
sealing key, so they come first after that transaction. Objections on the synchronised
records (`demo.verification`) and the comparison of two departments' population records
(`demo.comparison`) come between the exchange and the portal, then supervision
(`demo.supervision`), which finds what all of them left, and security operations
(`demo.security`), whose check's finding must come after supervision's own."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.demo import catalog as catalog_demo
from govshare.demo import comparison as comparison_demo
from govshare.demo import evaluation as evaluation_demo
from govshare.demo import exchange as exchange_demo
from govshare.demo import identity as identity_demo
from govshare.demo import opendata as opendata_demo
from govshare.demo import pki as pki_demo
from govshare.demo import security as security_demo
from govshare.demo import sharing as sharing_demo
from govshare.demo import supervision as supervision_demo
from govshare.demo import systems as systems_demo
from govshare.demo import usage as usage_demo
from govshare.demo import verification as verification_demo
from govshare.identity.models import Organization

DEMO_PASSWORD = identity_demo.DEMO_PASSWORD
STEPS: list[tuple[str, Callable[[Session, Actor], None]]] = [
    ("组织机构和用户", identity_demo.build),
    ("信息系统目录", systems_demo.build),
    ("资源目录", catalog_demo.build),
    ("资源共享", sharing_demo.build),
]


def is_built(db_session: Session) -> bool:
    return db_session.execute(select(func.count(Organization.id))).scalar_one() > 0


def build(db_session: Session, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Creates the demo city unless the database already holds organisations."""
    if is_built(db_session):
        return False
    actor = Actor.command_line("demo")
    for label, step in STEPS:
        progress(label)
        step(db_session, actor)
    return True


def build_city(
    runtime: Runtime,
    *,
    service_url: str = exchange_demo.service_url(),
    progress: Callable[[str], None] = lambda _: None,
) -> bool:
    """The whole demo city in the runtime's databases: `STEPS` in one transaction, then the
    exchange and the open-data portal (their parts that are missing: a second call adds
    nothing). Returns whether the city was created now; `service_url` is where the demo
    company service is published."""
    with runtime.transaction() as db_session:
        created = build(db_session, progress=progress)
    pki_demo.build(runtime, progress=progress)
    exchange_demo.build(runtime, base_url=service_url, progress=progress)
    usage_demo.build(runtime, progress=progress)
    verification_demo.build(runtime, progress=progress)
    comparison_demo.build(runtime, progress=progress)
    opendata_demo.build(runtime, progress=progress)
    supervision_demo.build(runtime, progress=progress)
    security_demo.build(runtime, progress=progress)
    evaluation_demo.build(runtime, progress=progress)
    return created
