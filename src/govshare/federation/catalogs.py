"""Catalogs along the levels (级联目录, CAT-13, LVL-1, SR§7 "省、市、县政务信息资源通过目录管理
系统进行目录同步").

A platform answers `catalog.export` with the published entries of its catalog that changed
after a position its peer gives, retirements included, in pages. To its upper peer it sends
its own resources and those it mirrors from the platforms below it, so a county's resource
reaches the province through the city with its provenance (来源路径) county → city; to a
lower peer it sends its own. The position is (time of change here, origin code, resource
code), so a page boundary never splits or skips an entry.

Each platform pulls from every active peer each minute (`federation.catalogs`) and keeps
what it read in `federation_remote_resource`, one row per (origin, resource code). A pull
asks from a little before its watermark: an entry whose transaction committed after a later
one was read is still found, and taking an entry twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion
from govshare.catalog.service.common import READERS
from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.federation import service as federation
from govshare.federation.catalog_models import CatalogWatermark, RemoteResource
from govshare.federation.models import Peer, PlatformIdentity, Relation

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime
    from govshare.federation.transport import Incoming

log = logging.getLogger(__name__)

KIND = "catalog.export"
PAGE_SIZE = 200
MAX_PAGE_SIZE = 500
OVERLAP = timedelta(minutes=2)  # how far before its watermark a pull starts again
Position = tuple[str, str, str]  # (UTC time of change here, origin code, resource code)
START: Position = ("", "", "")


def _stamp(moment: datetime) -> str:
    return clock.as_utc(moment).astimezone(UTC).isoformat(timespec="microseconds")


def _iso(moment: datetime | None) -> str | None:
    return _stamp(moment) if moment is not None else None


# --- what this platform exports ---------------------------------------------------------


def resource_entry(resource: Resource, own: PlatformIdentity) -> dict[str, Any]:
    """A published (or retired) resource of this platform as a catalog entry."""
    version = resource.current_version
    assert version is not None and version.published_at is not None
    updated = max(version.published_at, resource.retired_at or version.published_at)
    return {
        "origin": {"code": own.code, "name": own.name, "level": own.level.value},
        "chain": [{"code": own.code, "name": own.name}],
        "provider": {"name": resource.provider.name, "level": resource.provider.level.value},
        "code": resource.code,
        "name": version.name,
        "summary": version.summary,
        "catalog_kind": resource.catalog_kind.value,
        "format": version.format.value,
        "share_type": version.share_type.value,
        "share_conditions": version.share_conditions,
        "open_type": version.open_type.value,
        "update_frequency": version.update_frequency.value,
        "domain": version.domain.value,
        "items": [
            {
                "name": item.name,
                "data_type": item.data_type.value,
                "length": item.length,
                "description": item.description,
                "personal": item.personal,
            }
            for item in version.items
        ],
        "version": version.number,
        "published_on": version.published_on.isoformat() if version.published_on else None,
        "updated_at": _stamp(updated),
        "retired": resource.status is ResourceStatus.RETIRED,
    }


def _own_changes(
    db_session: Session, own: PlatformIdentity, since: datetime | None
) -> list[tuple[Position, dict[str, Any]]]:
    stmt = (
        select(Resource)
        .join(ResourceVersion, Resource.current_version_id == ResourceVersion.id)
        .where(Resource.status.in_([ResourceStatus.PUBLISHED, ResourceStatus.RETIRED]))
        .where(ResourceVersion.published_at.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(or_(ResourceVersion.published_at >= since, Resource.retired_at >= since))
    found = []
    for resource in db_session.execute(stmt).unique().scalars():
        entry = resource_entry(resource, own)
        found.append(((entry["updated_at"], own.code, resource.code), entry))
    return found


def _mirrored_changes(
    db_session: Session, own: PlatformIdentity, since: datetime | None
) -> list[tuple[Position, dict[str, Any]]]:
    """What this platform mirrors from below, passed upwards with itself added to the chain."""
    stmt = select(RemoteResource).where(RemoteResource.relation == Relation.LOWER)
    if since is not None:
        stmt = stmt.where(RemoteResource.synced_at >= since)
    found = []
    for row in db_session.execute(stmt).scalars():
        entry = {**row.entry, "chain": [*row.chain, {"code": own.code, "name": own.name}]}
        found.append(((_stamp(row.synced_at), row.origin_code, row.resource_code), entry))
    return found


def _position_of(value: object) -> Position:
    if value is None:
        return START
    if (
        not isinstance(value, dict)
        or not all(isinstance(value.get(k, ""), str) for k in ("at", "origin", "code"))
        or len(str(value.get("at", ""))) > 40
    ):
        raise Invalid("同步位置格式不正确", field="after")
    at = str(value.get("at") or "")
    if at:
        try:
            datetime.fromisoformat(at)
        except ValueError:
            raise Invalid("同步位置的时间格式不正确", field="after") from None
    return (at, str(value.get("origin") or ""), str(value.get("code") or ""))


def _position_out(position: Position) -> dict[str, str]:
    return {"at": position[0], "origin": position[1], "code": position[2]}


def export_page(
    db_session: Session, *, own: PlatformIdentity, after: Position, limit: int, upward: bool
) -> tuple[list[dict[str, Any]], Position, bool]:
    """The entries changed after `after`, at most `limit`, in order; the position of the last
    one; whether more follow. `upward`: for the upper peer, with the mirrored lower ones."""
    since = datetime.fromisoformat(after[0]) if after[0] else None
    found = _own_changes(db_session, own, since)
    if upward:
        found += _mirrored_changes(db_session, own, since)
    found = sorted(((p, e) for p, e in found if p > after), key=lambda pair: pair[0])
    page = found[:limit]
    position = page[-1][0] if page else after
    return [e for _, e in page], position, len(found) > limit


def export(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """The `catalog.export` handler: a page of this platform's catalog changes for a peer."""
    body = incoming.body
    after = _position_of(body.get("after"))
    limit = body.get("limit", PAGE_SIZE)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise Invalid(f"每页条数须为 1 至 {MAX_PAGE_SIZE}", field="limit")
    own = federation.required_identity(db_session)
    entries, position, more = export_page(
        db_session,
        own=own,
        after=after,
        limit=limit,
        upward=incoming.peer.relation is Relation.UPPER,  # the asker is this platform's upper
    )
    return {"entries": entries, "position": _position_out(position), "more": more}


# --- pulling from peers -----------------------------------------------------------------


@dataclass
class SyncResult:
    """What one pull from one peer brought."""

    peer_code: str
    peer_name: str
    relation: Relation
    pages: int = 0
    received: int = 0
    added: int = 0
    changed: int = 0
    retired: int = 0
    skipped: int = 0
    error: str | None = None
    retired_codes: list[str] = field(default_factory=list)


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _search_text(entry: dict[str, Any], chain: list[dict[str, str]]) -> str:
    items = " ".join(_text(i.get("name"), 100) for i in entry.get("items") or [])
    parts = [
        _text(entry.get("code"), 40),
        _text(entry.get("name"), 200),
        _text(entry.get("summary"), 2000),
        _text((entry.get("provider") or {}).get("name"), 100),
        " ".join(_text(c.get("name"), 100) for c in chain),
        items,
    ]
    return " ".join(p for p in parts if p).lower()


def _checked(entry: object, peer: Peer, own_code: str) -> dict[str, Any] | None:
    """The entry if it is well formed and may come from this peer, else None (skipped).
    A peer above sends only its own resources; one below sends its own and those it
    mirrors, each with a chain ending at that peer. Nothing of this platform's own comes
    back to it."""
    if not isinstance(entry, dict):
        return None
    origin, chain, provider = entry.get("origin"), entry.get("chain"), entry.get("provider")
    if not (isinstance(origin, dict) and isinstance(provider, dict) and isinstance(chain, list)):
        return None
    if not chain or not all(isinstance(c, dict) and isinstance(c.get("code"), str) for c in chain):
        return None
    code, origin_code = entry.get("code"), origin.get("code")
    if not (isinstance(code, str) and isinstance(origin_code, str) and 0 < len(code) <= 40):
        return None
    if chain[-1]["code"] != peer.code or chain[0]["code"] != origin_code:
        return None
    if own_code in {c["code"] for c in chain}:
        return None
    if peer.relation is Relation.UPPER and origin_code != peer.code:
        return None
    if not isinstance(entry.get("version"), int) or not isinstance(entry.get("updated_at"), str):
        return None
    try:
        datetime.fromisoformat(entry["updated_at"])
    except ValueError:
        return None
    return entry


def apply_entries(
    db_session: Session,
    *,
    actor: Actor,
    peer: Peer,
    entries: list[Any],
    message_id: str,
    result: SyncResult,
) -> None:
    """Brings the mirror in line with a page of the peer's export; audits what changed."""
    own = federation.required_identity(db_session)
    now = clock.now()
    changes = 0
    for raw in entries:
        result.received += 1
        entry = _checked(raw, peer, own.code)
        if entry is None:
            result.skipped += 1
            continue
        origin_code, code = entry["origin"]["code"][:12], entry["code"]
        row = db_session.execute(
            select(RemoteResource).where(
                RemoteResource.origin_code == origin_code, RemoteResource.resource_code == code
            )
        ).scalar_one_or_none()
        retired = bool(entry.get("retired"))
        if row is None and retired:
            continue  # retired before this platform heard of it: nothing to take down
        if row is not None and row.peer_id != peer.id:
            result.skipped += 1  # the same resource reported by another peer first
            continue
        if row is not None and row.entry == entry:
            continue
        chain = [
            {"code": _text(c.get("code"), 12), "name": _text(c.get("name"), 100)}
            for c in entry["chain"]
        ]
        values = {
            "origin_name": _text(entry["origin"].get("name"), 100),
            "chain": chain,
            "name": _text(entry.get("name"), 200) or code,
            "provider_name": _text(entry["provider"].get("name"), 100),
            "provider_level": _text(entry["provider"].get("level"), 16),
            "search_text": _search_text(entry, chain),
            "entry": entry,
            "version": entry["version"],
            "updated_at": datetime.fromisoformat(entry["updated_at"]),
            "retired": retired,
            "synced_at": now,
        }
        if row is None:
            row = RemoteResource(
                peer_id=peer.id,
                relation=peer.relation,
                origin_code=origin_code,
                resource_code=code,
                first_synced_at=now,
                **values,
            )
            db_session.add(row)
            result.added += 1
        else:
            newly_retired = retired and not row.retired
            for name, value in values.items():
                setattr(row, name, value)
            if newly_retired:
                result.retired += 1
                result.retired_codes.append(code)
                db_session.flush()
                record(
                    db_session,
                    actor=actor,
                    action="federation.catalog.retire",
                    object_type="federation_remote_resource",
                    object_id=row.id,
                    details={
                        "peer": peer.code,
                        "origin": origin_code,
                        "code": code,
                        "name": row.name,
                        "message_id": message_id,
                    },
                )
            else:
                result.changed += 1
        changes += 1
    if changes:
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="federation.catalog.sync",
            object_type="federation_peer",
            object_id=peer.id,
            details={
                "peer": peer.code,
                "message_id": message_id,
                "received": len(entries),
                "added": result.added,
                "changed": result.changed,
                "retired": result.retired,
                "skipped": result.skipped,
            },
        )


def _watermark(db_session: Session, peer_id: int) -> CatalogWatermark:
    found = db_session.get(CatalogWatermark, peer_id)
    if found is None:
        found = CatalogWatermark(peer_id=peer_id)
        db_session.add(found)
    return found


def _rewound(position: dict[str, str] | None) -> dict[str, str] | None:
    """Where a pull starts: a little before the watermark (see the module docstring)."""
    if not position or not position.get("at"):
        return None
    at = datetime.fromisoformat(position["at"]) - OVERLAP
    return {"at": _stamp(at), "origin": "", "code": ""}


def sync_peer(
    runtime: Runtime,
    *,
    peer_id: int,
    actor: Actor,
    progress: Callable[[SyncResult], None] | None = None,
) -> SyncResult:
    """Pulls a peer's catalog changes since the watermark, page by page, each page applied
    in a transaction of its own (the messages commit their own log)."""
    from govshare.federation import transport

    with runtime.transaction() as db_session:
        peer = db_session.get(Peer, peer_id)
        if peer is None:
            raise NotFound(f"对接平台 {peer_id} 不存在", field="peer_id")
        result = SyncResult(peer.code, peer.name, peer.relation)
        mark = db_session.get(CatalogWatermark, peer_id)
        ask = _rewound(mark.position if mark else None)
    while True:
        try:
            reply = transport.send(
                runtime,
                peer_id=peer_id,
                kind=KIND,
                body={"after": ask, "limit": PAGE_SIZE},
                actor=actor,
                details={"after": ask},
            )
        except transport.PeerUnavailable as exc:
            result.error = exc.message
            with runtime.transaction() as db_session:
                mark = _watermark(db_session, peer_id)
                mark.attempted_at, mark.error = clock.now(), exc.message[:500]
            break
        entries = reply.body.get("entries")
        position = reply.body.get("position")
        with runtime.transaction() as db_session:
            peer = db_session.get(Peer, peer_id)
            assert peer is not None
            apply_entries(
                db_session,
                actor=actor,
                peer=peer,
                entries=entries if isinstance(entries, list) else [],
                message_id=reply.message_id,
                result=result,
            )
            mark = _watermark(db_session, peer_id)
            held = _position_of(mark.position)
            if isinstance(position, dict):
                reached = _position_of(position)
                if reached > held:
                    mark.position = _position_out(reached)
            mark.attempted_at = mark.synced_at = clock.now()
            mark.error = None
        result.pages += 1
        if progress is not None:
            progress(result)
        if not reply.body.get("more") or not isinstance(position, dict):
            break
        ask = position
    return result


def sync_all(
    runtime: Runtime,
    *,
    actor: Actor | None = None,
    progress: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Pulls from every active peer, the periodic task `federation.catalogs`. Lower peers
    first, so what a county published reaches the upper peer's next pull from here."""
    actor = actor or Actor(label="worker:federation")
    with runtime.transaction() as db_session:
        if federation.identity(db_session) is None:
            return []
        peers = sorted(
            federation.active_peers(db_session),
            key=lambda p: (p.relation is not Relation.LOWER, p.id),
        )
        ids = [p.id for p in peers]
    results = []
    for peer_id in ids:
        result = sync_peer(runtime, peer_id=peer_id, actor=actor, progress=progress)
        if result.error:
            log.warning("catalog sync with %s failed: %s", result.peer_code, result.error)
        results.append(result)
    return results


def sync_task(runtime: Runtime) -> None:
    """The periodic task (`federation.catalogs`, every minute)."""
    sync_all(runtime)


# --- reading the mirror -----------------------------------------------------------------


@dataclass(frozen=True)
class RemoteQuery:
    text: str = ""
    relation: Relation | None = None
    origin: str | None = None
    via: str | None = None  # the code of the peer it came through
    include_retired: bool = True
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class RemotePage:
    rows: list[RemoteResource]
    total: int
    page: int
    pages: int
    origins: list[tuple[str, str, Relation, int]]  # (code, name, relation, current resources)


def _matching(query: RemoteQuery) -> Any:
    stmt = select(RemoteResource)
    for word in query.text.lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(RemoteResource.search_text.like(f"%{escaped}%", escape="\\"))
    if query.relation is not None:
        stmt = stmt.where(RemoteResource.relation == query.relation)
    if query.origin:
        stmt = stmt.where(RemoteResource.origin_code == query.origin)
    if query.via:
        stmt = stmt.where(RemoteResource.peer_id.in_(select(Peer.id).where(Peer.code == query.via)))
    if not query.include_retired:
        stmt = stmt.where(RemoteResource.retired.is_(False))
    return stmt


def search_remote(db_session: Session, *, actor: Actor, query: RemoteQuery) -> RemotePage:
    """Resources of the platforms above and below, matching `query`, current ones first."""
    require(actor, *READERS, action="查看级联目录")
    if len(query.text) > 200:
        raise Invalid("检索词不超过 200 字", field="q")
    stmt = _matching(query)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // query.page_size))
    rows = list(
        db_session.execute(
            stmt.order_by(
                RemoteResource.retired,
                RemoteResource.relation,
                RemoteResource.origin_code,
                RemoteResource.resource_code,
            )
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        ).scalars()
    )
    origins = [
        (code, name, Relation(relation), count)
        for code, name, relation, count in db_session.execute(
            select(
                RemoteResource.origin_code,
                func.max(RemoteResource.origin_name),
                func.max(RemoteResource.relation),
                func.count(),
            )
            .where(RemoteResource.retired.is_(False))
            .group_by(RemoteResource.origin_code)
            .order_by(RemoteResource.origin_code)
        )
    ]
    return RemotePage(rows, total, query.page, pages, origins)


def get_remote(db_session: Session, *, actor: Actor, remote_id: int) -> RemoteResource:
    require(actor, *READERS, action="查看级联目录")
    row = db_session.get(RemoteResource, remote_id)
    if row is None:
        raise NotFound(f"级联目录资源 {remote_id} 不存在", field="remote_id")
    return row


@dataclass(frozen=True)
class PeerCatalog:
    peer: Peer
    resources: int
    retired: int
    watermark: CatalogWatermark | None


def peer_catalogs(db_session: Session, *, actor: Actor) -> list[PeerCatalog]:
    """Each peer with how many of its resources are mirrored here and its last pull."""
    require(actor, *READERS, action="查看级联目录")
    counts = {
        (peer_id, retired): n
        for peer_id, retired, n in db_session.execute(
            select(RemoteResource.peer_id, RemoteResource.retired, func.count()).group_by(
                RemoteResource.peer_id, RemoteResource.retired
            )
        )
    }
    return [
        PeerCatalog(
            peer,
            counts.get((peer.id, False), 0),
            counts.get((peer.id, True), 0),
            db_session.get(CatalogWatermark, peer.id),
        )
        for peer in db_session.execute(select(Peer).order_by(Peer.relation, Peer.code)).scalars()
    ]


def may_sync(actor: Actor) -> bool:
    """Whether `actor` may pull the peers' catalogs now (the page asks)."""
    return actor.has(Role.PLATFORM_OPERATOR)


def sync_now(runtime: Runtime, *, actor: Actor) -> list[SyncResult]:
    """The operator pulls every peer's catalog at once (from the page or the API)."""
    require(actor, Role.PLATFORM_OPERATOR, action="同步级联目录")
    return sync_all(runtime, actor=actor)
