"""The real job queue (Huey on the platform database) over a database migrated the way a
deployment's is: its tables come from the migrations, and it can be opened while a request
holds SQLite's write lock."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import inspect

from govshare.core import clock
from govshare.core.runtime import get_runtime
from govshare.exchange import jobs
from govshare.exchange.models import RunKind, RunState, SyncRun
from govshare.exchange.service import runs
from tests.conftest import Cli
from tests.exchange.builders import exchange_world


def test_a_run_requested_in_a_request_is_worked_by_the_real_queue(govshare_cli: Cli) -> None:
    runtime = get_runtime()
    names = set(inspect(runtime.engine).get_table_names())
    assert {"job_task", "job_schedule", "job_kv", "job_counter"} <= names
    with runtime.transaction() as db:
        x = exchange_world(db, govshare_cli.data_dir, rows=7)
        officer, binding_id = x.s.provider_officer, x.binding.id
    with runtime.transaction() as db:
        # The queue is first opened inside a transaction holding the write lock, as in a
        # request: it must not need to write (create its tables) to open.
        queue = jobs.job_queue(runtime)
        run = runs.request_run(
            db, actor=officer, binding_id=binding_id, kind=RunKind.FULL, enqueue=queue.enqueue
        )
        run_id = run.id
    assert queue.huey.pending_count() == 1
    task = queue.huey.dequeue()
    assert task is not None
    assert queue.huey.execute(task) == f"run {run_id}: succeeded"
    assert queue.huey.pending_count() == 0
    with runtime.transaction() as db:
        done = db.get(SyncRun, run_id)
        assert done is not None and done.state is RunState.SUCCEEDED and done.rows_written == 7


def test_the_background_worker_works_runs_as_they_are_queued(govshare_cli: Cli) -> None:
    runtime = get_runtime()
    with runtime.transaction() as db:
        x = exchange_world(db, govshare_cli.data_dir, rows=4)
        officer, binding_id = x.s.provider_officer, x.binding.id
        # Not due: the worker's minute tick must not queue the binding's scheduled run first.
        x.binding.next_run_at = clock.now() + timedelta(days=1)
    queue = jobs.job_queue(runtime)
    with jobs.background_worker(runtime):
        with runtime.transaction() as db:
            run_id = runs.request_run(
                db, actor=officer, binding_id=binding_id, kind=RunKind.FULL, enqueue=queue.enqueue
            ).id
        deadline = time.monotonic() + 30
        state = RunState.QUEUED
        while state is not RunState.SUCCEEDED and time.monotonic() < deadline:
            time.sleep(0.1)
            with runtime.transaction() as db:
                state = db.get(SyncRun, run_id).state  # type: ignore[union-attr]
    assert state is RunState.SUCCEEDED
    # The run's job was taken off the queue. A periodic tick the worker's timer enqueued at
    # a minute boundary just before it stopped may still wait: that is not the run's job.
    run_job = queue.run_task.task_class.__name__
    runs_left = [t for t in queue.huey.pending() if t.name == run_job]
    assert runs_left == []
