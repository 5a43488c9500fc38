"""The audit log (审计日志): append-only, hash-chained, written in the changing transaction."""

from govshare.core.audit.service import record

__all__ = ["record"]
