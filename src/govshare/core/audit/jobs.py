"""The audit log's periodic task (`core.scheduler.TASKS`): each minute the head is signed into
`audit_checkpoint` when it moved, whichever way entries are chained (the sequencer also signs
as it goes, at most every GOVSHARE_AUDIT_CHECKPOINT_SECONDS). `govshare audit checkpoint` signs
on demand. The sequencer itself is not a periodic task: it runs as a loop in each worker
(`sequencer.loop_for`), every GOVSHARE_AUDIT_SEQUENCER_INTERVAL, one active at a time."""

from __future__ import annotations

from govshare.core.audit import sequencer, signing
from govshare.core.runtime import Runtime


def checkpoint(runtime: Runtime) -> str:
    """Signs the chain head when it moved since the last checkpoint; says what it did."""
    key = signing.key_of(runtime.settings)
    with runtime.transaction() as db_session:
        signed = sequencer.publish_checkpoint(db_session, key)
    return f"checkpoint signed at {signed}" if signed else "head unchanged"
