"""The three runs: full, incremental, compare-keys. Each opens the target first (its lock and
state), then one snapshot of the source, streams batches from one to the other and reports.

Exactly once rests on two rules: the watermark lives in the target and changes only in the
transaction that writes the rows it covers, and every write is keyed (a swap of a complete
table, or an upsert), so replaying rows already written changes nothing.

An incremental run first tries its window as one transaction, read unordered in a second
thread and upserted while it is read: the usual window (a share of a table changed since the
last run) then costs about the slower of the two servers' work instead of their sum. A window
of more than one batch, or one holding a key twice, is rolled back and read again in (change,
key) order, in batches that each move the watermark.
"""

from __future__ import annotations

import contextlib
import gc
import json
import operator
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from queue import Empty, Full, Queue
from typing import Any

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Lines, Source, Target, Window, beside
from govshare.exchange.engine.copytext import Checksum, decode_field, split_line
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
        self.begun = False
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

    def begin(self) -> None:
        """Opens the source's snapshot, once (the run may have opened it beside reading the
        target's state)."""
        if not self.begun:
            self.source.begin()
            self.begun = True

    def restart(self) -> None:
        """Forgets what was read so far and opens a new source: the window starts again."""
        self.source.close()
        self.source = SOURCES[connect.parse(self.spec.source_url).dialect](self.spec, self.log)
        self.begun = False
        self.log.clear()
        self.checksum = Checksum()
        self.streamed = 0

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
    run.begin()
    upto = run.source.max_change() if spec.change_column else None
    state = _state(spec, "full", upto, None)
    rows = run.counted(run.source.rows(None))
    outcome.rows_written = run.target.replace(rows, state, lambda: run.source.rejects(None))
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
    outcome = run.outcome("incremental", before)
    run.check_cancel()
    window = _open_window(run, before)
    if window is None:
        return outcome
    try:
        return _in_one_transaction(run, outcome, window)
    except _Spill:
        run.restart()  # nothing was written: the target rolled the transaction back
    window = _open_window(run, before)
    if window is not None:
        _in_batches(run, outcome, window)
    return outcome


def _open_window(run: _Run, before: State) -> Window | None:
    """Opens the source's snapshot; the window from the watermark to its largest change value
    (None: the source has no change value at all)."""
    run.begin()
    upto = run.source.max_change()
    return None if upto is None else Window(before.watermark, before.key_values, upto)


class _Spill(Exception):
    """The window holds more than one batch of rows, or a key twice: it is applied in ordered
    batches instead."""


class _Stopped(Exception):
    """The consumer of a `_Reader` went away."""


_END = object()


class _Reader:
    """Reads a window in a thread while the caller writes what has arrived, so both servers
    work at once. It hands on the blocks that arrived while the caller wrote the previous
    group, as one group. Past `spec.batch_rows` rows, or on a key seen twice, it stops with
    `_Spill`; it keeps the block that brings the rows to `batch_rows` until the stream has
    ended, so a window that spills never reaches a progress report. After the stream it runs
    `then`, while the caller writes the last group. Progress and cancellation stay in the
    caller's thread."""

    def __init__(self, blocks: Iterator[Lines], spec: SyncSpec, then: Callable[[], object]):
        self.blocks = blocks
        self.limit = spec.batch_rows
        self.then = then
        indexes = spec.key_indexes
        fields = operator.itemgetter(*indexes)
        self.key_of = lambda line: fields(bytes(line).split(b"\t", max(indexes) + 1))
        self.exhausted = False
        self.failure: BaseException | None = None
        self.queue: Queue[Any] = Queue(maxsize=32)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="govshare-sync-reader")
        self.thread.start()

    def _put(self, item: Any) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Full):
                self.queue.put(item, timeout=0.1)
                return
        raise _Stopped

    def _read(self) -> None:
        try:
            held: Lines | None = None  # the block that brought the rows to the limit
            rows = 0
            seen: set[Any] = set()
            for lines in self.blocks:
                if not lines:
                    continue
                rows += len(lines)
                seen.update(map(self.key_of, lines))
                if rows > self.limit or len(seen) != rows:
                    raise _Spill
                if rows < self.limit:
                    self._put(lines)
                else:
                    held = lines
            self.exhausted = True
            if held is not None:
                self._put(held)
            self.then()
            self._put(_END)
        except _Stopped:
            pass
        except BaseException as exc:
            self.failure = exc  # seen before any block still queued is written
            with contextlib.suppress(_Stopped):
                self._put(exc)

    def __iter__(self) -> Iterator[Lines]:
        while True:
            group: Lines = []
            item = self.queue.get()
            while True:
                if self.failure is not None:
                    raise self.failure
                if item is _END:
                    if group:
                        yield group
                    return
                group.extend(item)
                try:
                    item = self.queue.get_nowait()
                except Empty:
                    break
            yield group

    def close(self, abandon: Callable[[], object]) -> None:
        """Stops and joins the thread. A stream left unfinished is abandoned: `abandon` closes
        the source's connection first, so the stream's own cleanup cannot read the rest of
        the rows (PyMySQL would, to the last one) nor wait on the server."""
        self.stop.set()
        with contextlib.suppress(Empty):
            while True:
                self.queue.get_nowait()
        self.thread.join()
        if not self.exhausted:
            abandon()
            getattr(self.blocks, "close", lambda: None)()


def _in_one_transaction(run: _Run, outcome: SyncOutcome, window: Window) -> SyncOutcome:
    """The window, read unordered, upserted in one transaction that moves the watermark to the
    window's bound; `_Spill` (the target rolled back) if it does not fit one batch."""
    state = _state(run.spec, "incremental", window.upto, None)
    reader = _Reader(
        run.source.rows(window, ordered=False),
        run.spec,
        then=partial(run.source.rejects, window),
    )
    try:
        # Called at once, so the target prepares its transaction while the source scans.
        outcome.rows_written = run.target.upsert(run.counted(iter(reader)), state)
        if outcome.rows_written:  # (an empty window leaves the state as it is)
            outcome.watermark_after = window.upto
    finally:
        reader.close(abandon=run.source.close)
    return outcome


def _in_batches(run: _Run, outcome: SyncOutcome, window: Window) -> None:
    """The window in (change, key) order, batch by batch, each batch's transaction moving the
    watermark to its last row."""
    spec = run.spec
    pending = Rows([], [], [])
    rejects_read = False
    batches = _batches(run.counted(run.source.rows(window)), spec.batch_rows)
    current = next(batches, None)
    while current is not None:
        following = next(batches, None)  # read ahead: is there more after this batch?
        rows = pending + Rows.of(current, spec)
        cut = len(rows.lines)
        if following is not None:
            # Rows sharing the last (change, key) may go on in the next batch: hold them back
            # so a group of duplicates is never split across a watermark.
            while cut > 0 and rows.positions[cut - 1] == rows.positions[-1]:
                cut -= 1
        ready, pending = rows.split(cut)
        if following is None:
            # The stream is done: the source's connection is free to read the rejected rows
            # while the target applies the last batch. And the window is exhausted, so the
            # watermark becomes its bound with no key: the next run starts past every row of
            # the last tie instead of re-reading them only to skip them.
            apply_last = partial(_apply, run, outcome, ready, window.upto)
            beside(partial(run.source.rejects, window), apply_last)
            rejects_read = True
        elif cut:
            _apply(run, outcome, ready, None)
        current = following
    if not rejects_read:  # no row to apply, yet rows may have been rejected
        run.source.rejects(window)


@dataclass
class Rows:
    """Lines with their raw (still escaped) change-and-key fields and key fields, as parallel
    lists (no object per row). Equal values have equal escaped text, so comparing these needs
    no decoding."""

    lines: Lines
    positions: list[tuple[bytes, ...]]  # change field, then key fields
    keys: list[Any]  # the key fields (one bytes value for a single-column key)

    @classmethod
    def of(cls, lines: Lines, spec: SyncSpec) -> Rows:
        with _collector_paused():
            return cls._of(lines, spec)

    @classmethod
    def _of(cls, lines: Lines, spec: SyncSpec) -> Rows:
        split = list(map(operator.methodcaller("split", b"\t"), map(bytes, lines)))
        position = operator.itemgetter(spec.change_index or 0, *spec.key_indexes)
        return cls(
            lines,
            list(map(position, split)),
            list(map(operator.itemgetter(*spec.key_indexes), split)),
        )

    def __add__(self, other: Rows) -> Rows:
        if not self.lines:
            return other
        return Rows(
            self.lines + other.lines, self.positions + other.positions, self.keys + other.keys
        )

    def split(self, cut: int) -> tuple[Rows, Rows]:
        head = Rows(self.lines[:cut], self.positions[:cut], self.keys[:cut])
        return head, Rows(self.lines[cut:], self.positions[cut:], self.keys[cut:])


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector: splitting a batch makes a list per row, none
    in a cycle, and the collector would otherwise run hundreds of times over them (it
    multiplied the cost of an incremental batch by five)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


def _one_per_key(run: _Run, rows: Rows) -> Lines:
    """The batch's lines with one row per key; the others are logged as 主键重复. Rows come in
    (change, key) order, so the later is the newer unless the change values tie; then the
    greater row text wins, as in a full run's choice."""
    chosen: dict[Any, int] = {}
    for i, key in enumerate(rows.keys):
        j = chosen.get(key)
        if j is None:
            chosen[key] = i
            continue
        newer = rows.positions[i][0] != rows.positions[j][0] or bytes(rows.lines[i]) > bytes(
            rows.lines[j]
        )
        loser = rows.lines[j if newer else i]
        if newer:
            chosen[key] = i
        values = split_line(loser)
        keys = [values[k] for k in run.spec.key_indexes]
        run.log.add(
            Rejected(key_text(keys), "主键重复", row_text(run.spec.names, values)), duplicate=True
        )
    return [rows.lines[i] for i in sorted(chosen.values())]


def _apply(run: _Run, outcome: SyncOutcome, rows: Rows, closing: str | None) -> None:
    """Upserts one batch and, in the same transaction, moves the watermark to its last row
    (change value and key), or to `closing` with no key after the window's last batch."""
    unique = len(set(rows.keys)) == len(rows.keys)
    kept = rows.lines if unique else _one_per_key(run, rows)
    if closing is None:
        last = [decode_field(raw.rstrip(b"\n")) or "" for raw in rows.positions[-1]]
        state = _state(run.spec, "incremental", last[0], last[1:])
    else:
        state = _state(run.spec, "incremental", closing, None)
    outcome.rows_written += run.target.upsert([kept], state)
    outcome.watermark_after = state.watermark


def _compare(run: _Run, before: State | None) -> SyncOutcome:
    outcome = run.outcome("compare_keys", before)
    if not run.target.exists():
        raise TargetFailed(f"目标表 {run.spec.target_table} 不存在，请先执行全量同步")
    run.check_cancel()
    run.begin()
    outcome.rows_deleted = run.target.delete_absent(run.counted(run.source.keys()))
    return outcome


def _execute(
    spec: SyncSpec, mode: str, progress: Progress | None, cancel: Cancel | None
) -> SyncOutcome:
    run = _Run(spec, progress, cancel)
    try:
        # The source connects while the target opens (takes its lock); the snapshot starts
        # once the lock is held, while the target's state is read: every run reads the
        # source next, and the two waits on two servers overlap.
        beside(run.source.connect, run.target.open)
        before = beside(run.begin, run.target.state)
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
    """Upserts the rows changed since the watermark: in one transaction when they fit one
    batch (`batch_rows`), else batch by batch; a full run instead when there is no usable
    watermark (first run, changed columns, missing table)."""
    return _execute(spec, "incremental", progress, cancel)


def run_compare_keys(
    spec: SyncSpec, *, progress: Progress | None = None, cancel: Cancel | None = None
) -> SyncOutcome:
    """Deletes from the target the rows whose key the source no longer has."""
    return _execute(spec, "compare_keys", progress, cancel)
