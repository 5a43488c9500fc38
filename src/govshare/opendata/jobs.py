"""The publisher's periodic run: the portal follows the platform (hourly on the worker)."""

from __future__ import annotations

from collections.abc import Callable

from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.opendata import publishing
from govshare.opendata.service import public

SCHEDULER = Actor(label="job:opendata.publish", roles=frozenset({Role.SYSTEM}))
APPLICATIONS = Actor(label="job:opendata.applications", roles=frozenset({Role.SYSTEM}))


def publish(
    runtime: Runtime,
    *,
    actor: Actor = SCHEDULER,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> publishing.PublishReport:
    """Bring the portal database in line with the open releases, in one platform transaction
    (its audit entries); each dataset is copied in a portal transaction of its own."""
    with runtime.transaction() as db_session:
        return publishing.publish(
            db_session,
            actor=actor,
            settings=runtime.settings,
            center=runtime.center,
            portal=runtime.portal,
            city_name=runtime.city_name,
            force=force,
            progress=progress,
        )


def applications(runtime: Runtime, *, actor: Actor = APPLICATIONS) -> tuple[int, int]:
    """Read new applications from the portal and deliver answers to it (each minute on the
    worker): (applications received, answers delivered)."""
    with runtime.transaction() as db_session:
        received = public.receive(
            db_session, actor=actor, portal=runtime.portal, rules=runtime.profile.rules
        )
        delivered = public.deliver(db_session, actor=actor, portal=runtime.portal)
    return len(received), delivered
