"""The nginx data plane's access log into the usage log and the audit log (服务调用日志).

nginx writes one JSON line per call (`gateway_nginx.LOG_FIELDS`). The ingestion reads it from
where it last stopped — the file's identity (device and inode) and the byte offset after the
last complete line taken, one row of `exchange_gateway_log_position` per log path — in
batches, and writes each batch's calls (`gateway_plane.record_ingested`, one log row and one
audit entry each) and the new position in ONE transaction. A process killed mid-batch has
committed either the whole batch with its position or nothing of it, so the next run starts
from the last committed position and neither loses nor repeats a call; the unique request id
of each row is a second guard.

Rotation: when the path names another file than the stored identity, the old file is finished
first if it can still be found (logrotate's `access.log.1`, same device and inode), then the
new one is read from its start. A last line without its newline is still being written and
is left for the next run. The position row is locked while a batch is read (`FOR UPDATE` on
PostgreSQL; SQLite has one writer), so two ingesting processes take turns.

It runs each minute on the worker (`gateway.ingest`, when the access log exists) and on
demand as `govshare gateway ingest` (`--follow` to keep going).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.exchange.models import GatewayLogPosition
from govshare.exchange.service.gateway_plane import IngestedCall, record_ingested

BATCH = 500  # lines per transaction
_POSITION = GatewayLogPosition.__table__
_ERRORS = {
    413: "请求体过大",
    429: "调用过于频繁",
    502: "上游服务不可达",
    504: "上游服务超时",
}


def access_log(runtime: Runtime) -> Path:
    return plane_directory(runtime) / "access.log"


def plane_directory(runtime: Runtime) -> Path:
    settings = runtime.settings
    return (settings.gateway_nginx_dir or settings.data_dir / "gateway").resolve()


@dataclass
class Position:
    device: int
    inode: int
    offset: int


@dataclass
class Ingested:
    lines: int = 0
    calls: int = 0  # new rows in the usage log
    batches: int = 0
    malformed: int = 0
    rotated: bool = False  # the batch came from a rotated file: more may follow in the new one


def _actor(text: str, source_ip: str | None) -> Actor:
    if not text:
        return Actor.anonymous(source_ip)
    fields = json.loads(text)
    return Actor(
        label=fields.get("l") or "anonymous",
        roles=frozenset(Role(r) for r in fields.get("r", [])),
        user_id=fields.get("u"),
        organization_id=fields.get("o"),
        token_id=fields.get("t"),
        source_ip=source_ip,
    )


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_line(line: bytes) -> IngestedCall:
    """One access-log line as a call (raises ValueError on a line nginx did not write)."""
    fields = json.loads(line)
    status = int(fields["s"])
    source_ip = fields.get("ip") or None
    uri = fields.get("u", "")
    raw = uri.split("?", 1)[0]
    code = fields.get("i", "")
    if code and raw.startswith(f"/gateway/{code}/"):
        path = unquote(raw[len("/gateway/") + len(code) :])
    else:  # no interface matched: the code is the path's first two segments
        parts = raw.removeprefix("/gateway/").split("/", 2)
        code = "/".join(parts[:2])
        path = "/" + (parts[2] if len(parts) > 2 else "")
        path = unquote(path)
    problem = fields.get("pr", "")
    forwarded = fields.get("uh", "-") not in ("", "-")
    error = ""
    if problem:
        error = json.loads(problem).get("detail", "")
    elif not forwarded and status in _ERRORS:
        error = _ERRORS[status]
        if status == 429:
            error = (
                f"调用过于频繁：授权 {fields.get('n', '')} 每分钟最多调用 {fields.get('rl', '')} 次"
            )
    elif not forwarded and status == 404:
        error = f"资源 {code} 未发布服务接口"
    refused = not forwarded and status < 500
    return IngestedCall(
        request_id=fields["id"],
        at=clock.from_machine(float(fields["t"])),
        actor=_actor(fields.get("a", ""), source_ip),
        resource_code=code,
        resource_id=_int(fields.get("r", "")),
        provider_id=_int(fields.get("p", "")),
        consumer_id=_int(fields.get("c", "")),
        grant_id=_int(fields.get("g", "")),
        grant_number=fields.get("n") or None,
        method=fields.get("m", ""),
        path=path,
        endpoint=unquote(fields.get("e", "")),
        status=status,
        bytes_out=int(fields.get("b") or 0),
        duration_ms=float(fields.get("d") or 0) * 1000,
        error=error,
        refused=refused and bool(error),
    )


def _stored(db_session: Session, source: str) -> Position | None:
    """The stored position, its row locked for this transaction."""
    query = select(_POSITION.c.device, _POSITION.c.inode, _POSITION.c.offset).where(
        _POSITION.c.source == source
    )
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    else:  # take SQLite's write lock now, so a second ingester waits here
        db_session.execute(
            update(_POSITION).where(_POSITION.c.source == source).values(source=source)
        )
    row = db_session.execute(query).first()
    return Position(*row) if row else None


def _store(db_session: Session, source: str, position: Position, existed: bool) -> None:
    values = {
        "device": position.device,
        "inode": position.inode,
        "offset": position.offset,
        "updated_at": clock.now(),
    }
    if existed:
        db_session.execute(update(_POSITION).where(_POSITION.c.source == source).values(values))
    else:
        db_session.execute(insert(_POSITION).values(source=source, **values))


def _rotated(path: Path, position: Position) -> Path | None:
    """The file the stored position belongs to, when the log was rotated away from it."""
    for candidate in (
        path.with_name(path.name + ".1"),
        *sorted(path.parent.glob(path.name + ".*")),
    ):
        try:
            found = candidate.stat()
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (position.device, position.inode):
            return candidate
    return None


def _read(file: Path, offset: int, limit: int) -> tuple[list[bytes], int]:
    """Up to `limit` complete lines from `offset`, and the offset after the last of them."""
    lines: list[bytes] = []
    with file.open("rb") as handle:
        handle.seek(offset)
        while len(lines) < limit:
            line = handle.readline()
            if not line.endswith(b"\n"):
                break  # the end, or a line still being written
            lines.append(line)
            offset += len(line)
    return lines, offset


def ingest_batch(runtime: Runtime, path: Path, *, batch: int = BATCH) -> Ingested:
    """One batch (at most `batch` lines) and its position, in one transaction."""
    source = str(path)
    done = Ingested()
    with runtime.transaction() as db_session:
        stored = _stored(db_session, source)
        try:
            current = path.stat()
        except FileNotFoundError:
            return done
        position = stored or Position(current.st_dev, current.st_ino, 0)
        file = path
        if (position.device, position.inode) != (current.st_dev, current.st_ino):
            old = _rotated(path, position)
            if old is not None and old.stat().st_size > position.offset:
                file = old  # finish the rotated file first
            else:
                position = Position(current.st_dev, current.st_ino, 0)
        elif current.st_size < position.offset:  # truncated in place
            position = Position(current.st_dev, current.st_ino, 0)
        lines, offset = _read(file, position.offset, batch)
        if file != path and not lines:  # only a broken last line is left of the old file
            position = Position(current.st_dev, current.st_ino, 0)
            file = path
            lines, offset = _read(file, 0, batch)
        done.rotated = file != path
        calls = []
        for line in lines:
            try:
                calls.append(parse_line(line))
            except (ValueError, KeyError, TypeError):
                done.malformed += 1
        done.lines = len(lines)
        if calls:
            done.calls = record_ingested(db_session, calls=calls)
        moved = (
            offset != position.offset
            or stored is None
            or ((stored.device, stored.inode) != (position.device, position.inode))
        )
        if moved:
            position.offset = offset
            _store(db_session, source, position, existed=stored is not None)
        done.batches = 1 if lines else 0
    return done


def ingest(runtime: Runtime, path: Path | None = None, *, batch: int = BATCH) -> Ingested:
    """Everything the access log holds past the stored position, batch by batch."""
    path = path.resolve() if path else access_log(runtime)
    total = Ingested()
    while True:
        done = ingest_batch(runtime, path, batch=batch)
        total.lines += done.lines
        total.calls += done.calls
        total.batches += done.batches
        total.malformed += done.malformed
        if done.lines < batch and not done.rotated:
            return total


def job(runtime: Runtime) -> str:
    """The worker's periodic ingestion (`gateway.ingest`)."""
    path = access_log(runtime)
    if not path.exists():
        return "未启用 nginx 数据面（没有访问日志）"
    done = ingest(runtime, path)
    return f"读取 {done.lines} 行，记录 {done.calls} 次调用"
