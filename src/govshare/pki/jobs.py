"""The CRL kept current (`core.scheduler.TASKS`): each hour the job workers ask whether the
published CRL has less than half of its validity left and, if so, regenerate it, audited as
`govshare pki crl` is. Revocations regenerate it at once anyway; this keeps an unchanged list
from passing its next update (relying parties then refuse every certificate)."""

from __future__ import annotations

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.pki import service as pki_service

SCHEDULER = Actor(label="job:pki.crl", roles=frozenset({Role.SYSTEM}))


def renew_crl(runtime: Runtime, *, actor: Actor = SCHEDULER) -> str:
    """Regenerates the CRL when it is due; says what it did."""
    with runtime.transaction() as db_session:
        authority = pki_service.renew_crl_if_due(db_session, actor=actor, settings=runtime.settings)
        if authority is None:
            has_authority = pki_service.current_crl(db_session) is not None
            return "CRL not due" if has_authority else "no certificate authority"
        next_update = pki_service.crl_next_update(authority)
        until = clock.to_city(next_update) if next_update else None
        return f"CRL {authority.crl_number} published, next update {until:%Y-%m-%d %H:%M}"
