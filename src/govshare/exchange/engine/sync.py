"""The three runs: full, incremental, compare-keys. Each opens the target first (its lock and
state), then one snapshot of the source, streams batches from one to the other and reports.

Exactly once rests on two rules: the watermark lives in the target and changes only in the
transaction that writes the rows it covers, and every write is keyed (a swap of a complete
table, or an upsert), so replaying rows already written changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Lines, Source, Target, Window
from govshare.exchange.engine.copytext import Checksum, pick, split_line
from govshare.exchange.engine.model import (
    Cancelled,
    EngineError,
    Rejected,
    RejectLog,
    State,
    SyncOutcome,
    SyncSpec,
    TargetFailed,
    key_text,
    row_text,
)
from govshare.exchange.engine.mysql import MySqlSource, MySqlTarget
from govshare.exchange.engine.postgres import PgSource, PgTarget
from govshare.exchange.engine.sqlite import SqliteSource, SqliteTarget

Progress = Callable[[int], None]
Cancel = Callable[[], bool]

SOURCES: dict[str, type[Source]] = {
    "postgresql": PgSource,
    "mysql": MySqlSource,
    "sqlite": SqliteSource,
}
TARGETS: dict[str, type[Target]] = {
    "postgresql": PgTarget,
    "mysql": MySqlTarget,
    "sqlite": SqliteTarget,
}


class _Run:
    """One run's shared bookkeeping: counters, checksum, progress and cancellation."""

    def __init__(self, spec: SyncSpec, progress: Progress | None, cancel: Cancel | None) -> None:
        self.spec = spec
        self.progress = progress
        self.cancel = cancel
        self.log = RejectLog()
        self.checksum = Checksum()
        self.streamed = 0
        self.started = time.monotonic()
        self.source = SOURCES[connect.parse(spec.source_url).dialect](spec, self.log)
        self.target = TARGETS[connect.parse(spec.target_url).dialect](spec, self.log)

    @property
    def rows_read(self) -> int:
        # Rows rejected before sending were read but not streamed; duplicates were streamed.
        return self.streamed + self.log.count - self.log.duplicates

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("同步已取消，未完成的批次没有写入")

    def counted(self, blocks: Iterator[Lines]) -> Iterator[Lines]:
        """Passes blocks through, counting and digesting them; after each `batch_rows` rows it
        reports progress and polls `cancel` (a Cancelled raised here aborts the target's open
        write, so nothing of the unfinished batch is kept)."""
        mark = self.spec.batch_rows
        for lines in blocks:
            self.checksum.add(lines)
            self.streamed += len(lines)
            if self.streamed >= mark:
                mark = (self.streamed // self.spec.batch_rows + 1) * self.spec.batch_rows
                self.report()
            if lines:
                yield lines
        self.report()

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.rows_read)
        self.check_cancel()

    def outcome(self, mode: str, before: State | None) -> SyncOutcome:
        watermark = None if before is None else before.watermark
        return SyncOutcome(mode=mode, watermark_before=watermark, watermark_after=watermark)

    def finish(self, outcome: SyncOutcome) -> SyncOutcome:
        outcome.rows_read = self.rows_read
        outcome.rows_rejected = self.log.count
        outcome.rejected = list(self.log.kept)
        outcome.checksum = self.checksum.hex()
        outcome.seconds = round(time.monotonic() - self.started, 3)
        return outcome

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            self.target.close()


def _state(spec: SyncSpec, mode: str, watermark: str | None, key: list[str] | None) -> State:
    key_json = None if key is None else json.dumps(key, ensure_ascii=False)
    return State(spec.state_name, mode, watermark, key_json, spec.signature, spec.target_table)


def _full(run: _Run, before: State | None) -> SyncOutcome:
    spec = run.spec
    outcome = run.outcome("full", before)
    run.check_cancel()
    run.source.begin()
    upto = run.source.max_change() if spec.change_column else None
    run.source.rejects(None)
    state = _state(spec, "full", upto, None)
    outcome.rows_written = run.target.replace(run.counted(run.source.rows(None)), state)
    outcome.watermark_after = upto
    return outcome


def _continuable(run: _Run, state: State | None) -> bool:
    """Whether an incremental run can build on the target as it is."""
    return (
        run.spec.change_column is not None
        and state is not None
        and state.watermark is not None
        and state.signature == run.spec.signature
        and run.target.exists()
    )


def _incremental(run: _Run, before: State) -> SyncOutcome:
    spec = run.spec
    outcome = run.outcome("incremental", before)
    run.check_cancel()
    run.source.begin()
    upto = run.source.max_change()
    if upto is None:
        return outcome
    window = Window(before.watermark, before.key_values, upto)
    run.source.rejects(window)
    positions = (spec.change_index or 0, *spec.key_indexes)
    pending: Lines = []
    pending_at: list[tuple[str | None, ...]] = []
    for batch in _batches(run.counted(run.source.rows(window)), spec.batch_rows):
        lines = pending + batch
        at = pending_at + [pick(line, positions) for line in lines[len(pending) :]]
        # Rows sharing the last (change, key) may go on in the next batch: hold them back so
        # a duplicate group is never split across a watermark.
        cut = len(lines)
        while cut > 0 and at[cut - 1] == at[-1]:
            cut -= 1
        pending, pending_at = lines[cut:], at[cut:]
        if cut:
            _apply(run, outcome, lines[:cut], at[:cut])
    if pending:
        _apply(run, outcome, pending, pending_at)
    return outcome


def _batches(blocks: Iterator[Lines], size: int) -> Iterator[Lines]:
    """Blocks regrouped into batches of at least `size` rows (the last one may be smaller)."""
    batch: Lines = []
    for block in blocks:
        batch.extend(block)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _apply(run: _Run, outcome: SyncOutcome, lines: Lines, at: list[tuple[str | None, ...]]) -> None:
    """Upserts one batch (one row per key) and moves the watermark to its last row."""
    chosen: dict[tuple[str | None, ...], int] = {}
    for i, position in enumerate(at):
        key = position[1:]
        j = chosen.get(key)
        if j is None:
            chosen[key] = i
            continue
        # Rows come in (change, key) order, so i is the newer unless the change values tie;
        # then the greater row text wins, as in a full run's choice.
        newer = position[0] != at[j][0] or bytes(lines[i]) > bytes(lines[j])
        loser = j if newer else i
        if newer:
            chosen[key] = i
        values = split_line(lines[loser])
        run.log.add(
            Rejected(key_text(list(key)), "主键重复", row_text(run.spec.names, values)),
            duplicate=True,
        )
    kept = lines if len(chosen) == len(lines) else [lines[i] for i in sorted(chosen.values())]
    last = at[-1]
    state = _state(run.spec, "incremental", last[0], [v or "" for v in last[1:]])
    outcome.rows_written += run.target.upsert(kept, state)
    outcome.watermark_after = last[0]


def _compare(run: _Run, before: State | None) -> SyncOutcome:
    outcome = run.outcome("compare_keys", before)
    if not run.target.exists():
        raise TargetFailed(f"目标表 {run.spec.target_table} 不存在，请先执行全量同步")
    run.check_cancel()
    run.source.begin()
    outcome.rows_deleted = run.target.delete_absent(run.counted(run.source.keys()))
    return outcome


def _execute(
    spec: SyncSpec, mode: str, progress: Progress | None, cancel: Cancel | None
) -> SyncOutcome:
    run = _Run(spec, progress, cancel)
    try:
        run.target.open()
        before = run.target.state()
        if mode == "compare_keys":
            outcome = _compare(run, before)
        elif mode == "incremental" and before is not None and _continuable(run, before):
            outcome = _incremental(run, before)
        else:
            outcome = _full(run, before)
    except EngineError:
        raise
    except connect.DRIVER_ERRORS as exc:
        raise EngineError(f"同步失败：{type(exc).__name__}", detail=str(exc)[:500]) from exc
    finally:
        run.close()
    return run.finish(outcome)


def run_full(
    spec: SyncSpec, *, progress: Progress | None = None, cancel: Cancel | None = None
) -> SyncOutcome:
    """Replaces the target table with the source's current rows and resets the watermark to
    the source's largest change value seen before reading."""
    return _execute(spec, "full", progress, cancel)


def run_incremental(
    spec: SyncSpec, *, progress: Progress | None = None, cancel: Cancel | None = None
) -> SyncOutcome:
    """Upserts the rows changed since the watermark, batch by batch; a full run instead when
    there is no usable watermark (first run, changed columns, missing table)."""
    return _execute(spec, "incremental", progress, cancel)


def run_compare_keys(
    spec: SyncSpec, *, progress: Progress | None = None, cancel: Cancel | None = None
) -> SyncOutcome:
    """Deletes from the target the rows whose key the source no longer has."""
    return _execute(spec, "compare_keys", progress, cancel)
