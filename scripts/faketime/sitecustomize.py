"""Put on PYTHONPATH by scripts/test-dates only, never installed: works around libfaketime.

scripts/test-dates leaves the monotonic clock alone (FAKETIME_DONT_FAKE_MONOTONIC=1), because
libfaketime 0.9.10 never wakes a thread whose timed wait on a shifted monotonic clock runs
out. With the monotonic clock left alone, libfaketime still shifts the absolute deadline of
clock_nanosleep, which Python's time.sleep uses, and the call fails with EINVAL. A sleep that
fails that way sleeps in select() instead, which takes a relative timeout.
"""

from __future__ import annotations

import select
import time

_sleep = time.sleep


def _sleep_despite_libfaketime(seconds: float) -> None:
    try:
        _sleep(seconds)
    except OSError:
        select.select([], [], [], seconds)


time.sleep = _sleep_despite_libfaketime
