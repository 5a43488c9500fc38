"""The command line as a newcomer meets it: every command on an empty data directory works or
says in one line what to run first, and `--help` and the calendar commands start without
loading the web application or the other domains."""

from __future__ import annotations

import enum
import os
import re
import signal
import subprocess
import sys
import threading
import typing
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from govshare import cli
from govshare.core.uscc import check_character

USCC = "11369000MB0000001" + check_character("11369000MB0000001")

# Values for required parameters that a generic value would not satisfy. A new command whose
# arguments fail to parse fails the test below: give its parameter a sample here.
SAMPLES: dict[str, str] = {
    "start": "2026-09-28",
    "a": "2026-09-28",
    "b": "2026-10-09",
    "day": "2026-10-01",
    "name": "江州市测试局",
    "uscc": USCC,
    "username": "newcomer",
    "real_name": "王小明",
    "mobile": "13800000000",
    "password": "Newcomer-pass-1",
}

# Commands that serve until stopped: started in a process of their own and stopped with
# Ctrl+C once they print that they run. `demo` builds the whole demo city first (the slowest).
SERVING: dict[str, str] = {
    "serve": "Application startup complete",
    "worker": "工作进程启动",
    "demo": "Application startup complete",
}

CREATED = "（首次使用）"  # the notice of the embedded database's creation


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            _, sub, _ = command.resolve_command(ctx, [name])
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


def _all_commands() -> list[tuple[tuple[str, ...], Any]]:
    return list(_leaves(typer.main.get_command(cli.app)))


def _sample(param: Any, workdir: Path) -> str:
    if param.name in SAMPLES:
        return SAMPLES[param.name]
    annotation = param.type_descriptor.annotation
    while typing.get_args(annotation):  # list[Role], Path | None: the element type
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str(next(iter(annotation)).value)
    if annotation is int:
        return "1"
    if annotation in (date, datetime):
        return "2026-09-28"
    if annotation is Path:
        return str(workdir / f"{param.name}.xlsx")
    return "x"


def _minimal_args(path: tuple[str, ...], command: Any, workdir: Path) -> list[str]:
    args = list(path)
    for param in command.params:
        if not (param.required or getattr(param, "prompt", None)):
            continue
        value = _sample(param, workdir)
        if param.param_type_name == "argument":
            args.extend([value] * (param.nargs if param.nargs > 0 else 1))
        else:
            args.extend([param.opts[0], value])
    return args


def _fresh_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    return env | {"GOVSHARE_DATA_DIR": str(data_dir), "GOVSHARE_POLICY_PROFILE": "shangrao"}


@pytest.fixture
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory nothing has run in yet (no `db upgrade`)."""
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    for name in list(os.environ):
        if name.startswith("GOVSHARE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GOVSHARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVSHARE_POLICY_PROFILE", "shangrao")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    yield tmp_path / "data"
    if get_runtime.cache_info().currsize:
        get_runtime().engine.dispose()
    get_settings.cache_clear()
    get_runtime.cache_clear()


COMMANDS = _all_commands()


def test_the_walk_finds_every_command() -> None:
    found = {" ".join(path) for path, _ in COMMANDS}
    assert {"workdays add", "db upgrade", "exchange sync", "worker", "serve"} <= found
    assert len(found) == len(COMMANDS) > 20


@pytest.mark.parametrize(
    ("path", "command"),
    [c for c in COMMANDS if c[0][0] not in SERVING],
    ids=[" ".join(c[0]) for c in COMMANDS if c[0][0] not in SERVING],
)
def test_each_command_on_an_empty_data_directory(
    path: tuple[str, ...], command: Any, empty_data_dir: Path, tmp_path: Path
) -> None:
    args = _minimal_args(path, command, tmp_path)
    result = CliRunner().invoke(cli.app, args)
    said = [line for line in result.stderr.splitlines() if line.strip() and CREATED not in line]
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    if result.exit_code == 2:
        assert len(said) == 1 and "Usage" not in said[0], (args, result.output)


@pytest.mark.parametrize("name", sorted(SERVING))
def test_each_serving_command_starts_on_an_empty_data_directory(name: str, tmp_path: Path) -> None:
    args = {
        "serve": ["--port", "0"],
        "worker": ["--workers", "1"],
        # The province and county platforms are left out: tests/demo/test_levels.py starts them.
        "demo": [
            *("--data-dir", str(tmp_path / "demo"), "--port", "0", "--service-port", "0"),
            "--no-levels",
        ],
    }[name]
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", name, *args],
        env=_fresh_environment(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    stuck = threading.Timer(600, process.kill)  # never waits forever for the line
    stuck.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output += line
            if SERVING[name] in line or "Traceback" in line:
                break
    finally:
        stuck.cancel()
        os.killpg(process.pid, signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            rest, _ = process.communicate()
        output += rest or ""
    assert SERVING[name] in output, output
    assert "Traceback" not in _without_daemon_exit_noise(output), output


# CPython 3.11 may report a daemon thread (the job queue's scheduler) that ends while the
# interpreter shuts down after Ctrl+C: "Exception ignored in thread started by …", ending in
# a KeyError from threading._delete, or cut short when the process ends mid-report. It comes
# after the command has stopped, from the interpreter, not from govshare (seen twice in four
# runs under libfaketime, never without it). Only a report about a thread's bootstrap is
# dropped: any other traceback still fails the test.
_DAEMON_EXIT_NOISE = re.compile(
    r"Exception ignored in thread started by: <bound method Thread\._bootstrap of "
    r"<Thread\([^)]*daemon[^)]*\)>>\nTraceback \(most recent call last\):\n"
    r"(?:  .*(?:\n|$))*(?:KeyError: \d+\n?)?"
)


def _without_daemon_exit_noise(output: str) -> str:
    return _DAEMON_EXIT_NOISE.sub("", output)


def test_only_the_interpreters_report_on_a_daemon_thread_is_dropped() -> None:
    report = (
        "Exception ignored in thread started by: <bound method Thread._bootstrap of "
        "<Thread(Scheduler, started daemon 140312520320704)>>\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/threading.py", line 1002, in _bootstrap\n'
    )
    whole = (
        report + '  File "/usr/lib/python3.11/threading.py", line 1050, in _delete\nKeyError: 1\n'
    )
    started = "工作进程启动，并行任务数 1；按 Ctrl+C 停止\n"
    assert _without_daemon_exit_noise(started + whole) == started
    assert _without_daemon_exit_noise(started + report) == started  # cut short at exit
    ours = 'Traceback (most recent call last):\n  File "cli.py", line 1, in main\nValueError: x\n'
    assert "Traceback" in _without_daemon_exit_noise(started + whole + ours)
    assert "Traceback" in _without_daemon_exit_noise(ours)


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    empty_data_dir: Path,
) -> None:
    empty_data_dir.mkdir()
    (empty_data_dir / "govshare.db").write_bytes(b"this is not a database" * 100)
    plain = CliRunner().invoke(cli.app, ["workdays", "add", "2026-09-28", "5"])
    assert plain.exit_code in (2, 70)
    assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr
    assert "Traceback" not in plain.output
    debug = CliRunner().invoke(cli.app, ["--debug", "workdays", "add", "2026-09-28", "5"])
    assert debug.exception is not None and not isinstance(debug.exception, SystemExit)


def test_a_configured_database_is_not_migrated_implicitly(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    env = _fresh_environment(tmp_path / "data") | {
        "GOVSHARE_DATABASE_URL": f"sqlite:///{elsewhere}"
    }
    ran = subprocess.run(
        [sys.executable, "-m", "govshare", "workdays", "add", "2026-09-28", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.strip().splitlines() == [
        "错误: 数据库结构尚未建立或不是最新版本，请先运行 govshare db upgrade"
    ]


def test_the_embedded_database_is_created_on_first_use(empty_data_dir: Path) -> None:
    first = CliRunner().invoke(cli.app, ["workdays", "add", "2026-09-28", "5"])
    assert first.exit_code == 0, first.output
    assert first.stdout == "2026-10-10\n"
    assert CREATED in first.stderr
    again = CliRunner().invoke(cli.app, ["workdays", "add", "2026-09-28", "5"])
    assert (again.stdout, again.stderr) == ("2026-10-10\n", "")


def test_each_listed_help_line_is_the_commands_own() -> None:
    root = typer.main.get_command(cli.app)
    for name, entry in cli.COMMANDS.items():
        loaded = cli.load(name)
        own = (loaded.help or "").strip().split("\n\n")[0].replace("\n", "")
        assert entry.help == own, name
    assert list(cli.COMMANDS) == root.list_commands(typer.Context(root))


# --- what starting a command loads ---------------------------------------------------------

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "jieba",
    "openpyxl",
    "httpx",
    "httpcore",
    "huey",
    "alembic",
    "govshare.web",
    "govshare.catalog",
    "govshare.sharing",
    "govshare.identity",
    "govshare.exchange",
    "govshare.demo",
    "govshare.core.cli",  # db, policy, audit: alembic and the audit service's export
)


def _imported(args: list[str], data_dir: Path) -> set[str]:
    """The modules a `govshare …` process has loaded when it exits."""
    listing = data_dir.parent / "modules.txt"
    program = (
        "import atexit, sys\n"
        "listing, sys.argv = sys.argv[1], ['govshare', *sys.argv[2:]]\n"
        "atexit.register(lambda: open(listing, 'w').write('\\n'.join(sys.modules)))\n"
        "from govshare.cli import main\n"
        "main()\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, str(listing), *args],
        env=_fresh_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    return set(listing.read_text().split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def test_help_loads_no_domain_and_no_database(tmp_path: Path) -> None:
    modules = _imported(["--help"], tmp_path / "data")
    assert "govshare.cli" in modules  # the log is read right
    assert _heavy(modules) == []
    assert "sqlalchemy" not in modules


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory at the newest schema: the calendar commands' everyday start."""
    data_dir = tmp_path_factory.mktemp("upgraded") / "data"
    ran = subprocess.run(
        [sys.executable, "-m", "govshare", "db", "upgrade"],
        env=_fresh_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    return data_dir


@pytest.mark.parametrize(
    "args",
    [
        ["workdays", "add", "2026-09-28", "5"],
        ["workdays", "between", "2026-09-28", "2026-10-09"],
        ["workdays", "is", "2026-10-01"],
        ["workdays", "status"],
        ["workdays", "add", "--help"],
    ],
    ids=lambda args: " ".join(args),
)
def test_the_calendar_commands_load_the_calendar_alone(args: list[str], upgraded: Path) -> None:
    modules = _imported(args, upgraded)
    assert "govshare.core.calendar.cli" in modules
    assert _heavy(modules) == []
    if args[1] in ("add", "between", "is"):
        # The counting commands read the embedded database with the standard library.
        assert "sqlalchemy" not in modules
