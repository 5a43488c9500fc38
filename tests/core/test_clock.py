"""The platform's clock: frozen, running from a set instant, inherited by child processes; and
the guards that keep the real date out of the platform and out of the suite."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from govshare.core import clock

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "govshare"
TESTS = ROOT / "tests"

# Calls that read the machine's date or time. The platform asks `clock.now()` instead, and
# the suite sets that clock; `time.monotonic()` measures durations and is not in this list.
REAL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("func", "now"),
    ("func", "current_timestamp"),
    ("func", "current_date"),
}


def _real_clock_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if (name, node.func.attr) in REAL_CLOCK_CALLS:
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            found.append(f"{where}:{node.lineno} {name}.{node.func.attr}()")
    return found


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "demo_data" not in p.parts)


def test_the_platform_reads_the_time_only_through_its_clock() -> None:
    allowed = {SOURCE / "core" / "clock.py"}
    calls = [c for p in _sources(SOURCE) if p not in allowed for c in _real_clock_calls(p)]
    assert calls == [], "read the time through govshare.core.clock:\n" + "\n".join(calls)


def test_no_test_reads_the_real_date() -> None:
    calls = [c for p in _sources(TESTS) for c in _real_clock_calls(p)]
    assert calls == [], "tests set the clock; they never read the real one:\n" + "\n".join(calls)


def test_the_guard_finds_a_real_clock_call(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\nfrom datetime import date\nDAY = date.today()\nT = time.monotonic()\n",
        encoding="utf-8",
    )
    assert _real_clock_calls(sample) == ["sample.py:3 date.today()"]


def test_the_suite_runs_on_a_set_clock_not_the_real_one() -> None:
    assert clock.is_set()
    # The suite's clock started at its epoch and has run for no more than the suite's length.
    from tests.conftest import TEST_EPOCH

    elapsed = clock.now() - datetime.fromisoformat(TEST_EPOCH)
    assert timedelta(0) <= elapsed < timedelta(hours=6)


def test_a_frozen_clock_stands_still_and_gives_way_back() -> None:
    before = clock.now()
    with clock.frozen("2026-10-03T23:30:00+08:00") as at:
        assert clock.now() == at == datetime(2026, 10, 3, 15, 30, tzinfo=UTC)
        assert clock.today() == date(2026, 10, 3)
        time.sleep(0.01)
        assert clock.now() == at
    assert clock.now() - before < timedelta(minutes=5)


def test_a_running_clock_runs_from_its_start() -> None:
    with clock.running_from("2027-12-31T23:59:59.900+08:00") as start:
        assert clock.today() == date(2027, 12, 31)
        time.sleep(0.15)
        assert clock.now() > start
        assert clock.today() == date(2028, 1, 1)


def test_the_city_date_is_not_the_utc_date() -> None:
    with clock.frozen(datetime(2026, 12, 7, 20, 30, tzinfo=UTC)):
        assert clock.now().date() == date(2026, 12, 7)
        assert clock.today() == date(2026, 12, 8)


def test_a_child_process_inherits_the_running_clock() -> None:
    with clock.running_from("2031-05-06T10:00:00+08:00"):
        printed = subprocess.run(
            [
                sys.executable,
                "-c",
                "from govshare.core import clock; print(clock.now().isoformat())",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        child = datetime.fromisoformat(printed)
        assert timedelta(0) <= child - datetime(2031, 5, 6, 2, 0, tzinfo=UTC) < timedelta(minutes=1)


def test_a_malformed_inherited_clock_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.START_VARIABLE, "yesterday")
    with pytest.raises(ValueError, match="GOVSHARE_CLOCK_START"):
        clock._from_environment()
