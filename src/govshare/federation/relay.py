"""Delivery of upper grants through this platform (数据经本级平台转发, SHR-8): a department
queries the grant the upper platform made it, and this platform relays the query.

Here the platform checks that the asking department holds the mirrored grant and that it is
usable, then sends `data.query` naming the grant and the department's 统一社会信用代码; the
upper runs its own delivery query as that department (its fields, rows, masking, usage record
and audit). Both sides log the message under one id (`federation.message.sent` here,
`federation.message.received` and `federation.relay.query` there), and this side records the
department's use (`federation.upper_grant.query`) with the same id. A refusal here is
audited before it is raised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import DomainError, Forbidden, NotFound
from govshare.core.permissions import Actor, own_organization, require
from govshare.federation import transport
from govshare.federation.request_models import MirroredGrant
from govshare.federation.request_schemas import RelayQueryIn
from govshare.sharing.service.common import CONSUMERS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from govshare.core.runtime import Runtime

DOWNLOAD_ROWS = 1000  # a relayed CSV download is one bounded page


@dataclass(frozen=True)
class RelayedPage:
    message_id: str
    grant: str
    resource_code: str
    resource_name: str
    fields: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _audit(
    runtime: Runtime,
    actor: Actor,
    grant_id: int,
    number: str | None,
    kind: str,
    details: dict[str, Any],
) -> None:
    with runtime.transaction() as db_session:
        record(
            db_session,
            actor=actor,
            action="federation.upper_grant.query",
            object_type="federation_mirrored_grant",
            object_id=grant_id,
            details={"grant": number, "use": kind, **details},
        )


def usable_grant(db_session: Session, actor: Actor, grant_id: int, action: str) -> MirroredGrant:
    """The department's own mirrored upper grant, usable today; else the reason why not."""
    require(actor, *CONSUMERS, action=action)
    grant = db_session.get(MirroredGrant, grant_id)
    if grant is None or grant.organization_id != own_organization(actor):
        raise NotFound(
            f"本单位没有上级授权 {grant_id}（只能使用上级授予本单位的数据或接口）",
            field="grant_id",
        )
    if (why := grant.usable(clock.today())) is not None:
        raise Forbidden(why, field="grant_id")
    return grant


def query(
    runtime: Runtime,
    *,
    actor: Actor,
    grant_id: int,
    data: RelayQueryIn,
    kind: str = "query",
) -> RelayedPage:
    """One page of the department's rows under its mirrored upper grant, from the upper."""
    number: str | None = None
    try:
        with runtime.transaction() as db_session:
            grant = usable_grant(db_session, actor, grant_id, "使用上级共享数据")
            number = grant.number
            peer_id, uscc = grant.peer_id, grant.organization.uscc
    except DomainError as refused:
        _audit(runtime, actor, grant_id, number, kind, {"refused": refused.message})
        raise
    filters = [[k, v] for k, v in data.filters.items() if k and v != ""]
    body = {
        "grant": number,
        "uscc": uscc,
        "filters": filters,
        "fields": data.fields,
        "limit": data.limit,
        "cursor": data.cursor,
    }
    try:
        reply = transport.send(
            runtime,
            peer_id=peer_id,
            kind="data.query",
            body=body,
            actor=actor,
            details={"grant": number, "use": kind, "filters": filters, "fields": data.fields},
        )
    except transport.PeerUnavailable as exc:
        _audit(
            runtime,
            actor,
            grant_id,
            number,
            kind,
            {"message_id": exc.extra.get("message_id"), "refused": exc.message},
        )
        raise
    answer = reply.body
    if answer.get("refused"):
        _audit(
            runtime,
            actor,
            grant_id,
            number,
            kind,
            {"message_id": reply.message_id, "refused": answer["refused"]},
        )
        raise Forbidden(f"上级平台拒绝了查询：{answer['refused']}", field=answer.get("field"))
    rows = [r for r in answer.get("rows") or [] if isinstance(r, dict)]
    _audit(
        runtime,
        actor,
        grant_id,
        number,
        kind,
        {
            "message_id": reply.message_id,
            "filters": filters,
            "fields": data.fields,
            "rows": len(rows),
        },
    )
    return RelayedPage(
        reply.message_id,
        str(answer.get("grant") or number),
        str(answer.get("resource_code") or ""),
        str(answer.get("resource_name") or ""),
        [f for f in answer.get("fields") or [] if isinstance(f, dict)],
        rows,
        answer.get("next_cursor"),
    )


def download_csv(
    runtime: Runtime, *, actor: Actor, grant_id: int, data: RelayQueryIn
) -> tuple[RelayedPage, Iterator[bytes]]:
    """A bounded CSV (at most `DOWNLOAD_ROWS` rows) through the same relayed query."""
    page = query(
        runtime,
        actor=actor,
        grant_id=grant_id,
        data=data.model_copy(update={"limit": DOWNLOAD_ROWS, "cursor": None}),
        kind="download",
    )
    columns = [str(f.get("name")) for f in page.fields]

    def chunks() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([str(f.get("item") or f.get("name")) for f in page.fields])
        for row in page.rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        yield ("\ufeff" + buffer.getvalue()).encode()

    return page, chunks()
