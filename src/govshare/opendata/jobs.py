"""The periodic runs between the platform and the portal: the publisher (hourly on the worker),
and the exchange of the public's applications and data requests (each minute)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.opendata import publishing
from govshare.opendata.service import public, requests

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


@dataclass(frozen=True)
class PortalExchange:
    """What one run carried between the portal and the platform."""

    applications_received: int
    answers_delivered: int
    requests_received: int
    request_answers_delivered: int

    def __str__(self) -> str:
        return (
            f"applications received {self.applications_received}, answers delivered "
            f"{self.answers_delivered}; requests received {self.requests_received}, "
            f"request answers delivered {self.request_answers_delivered}"
        )


def applications(runtime: Runtime, *, actor: Actor = APPLICATIONS) -> PortalExchange:
    """Read new applications and data requests from the portal and deliver answers to it
    (each minute on the worker), in one platform transaction."""
    with runtime.transaction() as db_session:
        received = public.receive(
            db_session, actor=actor, portal=runtime.portal, rules=runtime.profile.rules
        )
        delivered = public.deliver(db_session, actor=actor, portal=runtime.portal)
        asked = requests.receive_requests(db_session, actor=actor, portal=runtime.portal)
        answered = requests.deliver_requests(db_session, actor=actor, portal=runtime.portal)
    return PortalExchange(len(received), delivered, len(asked), answered)
