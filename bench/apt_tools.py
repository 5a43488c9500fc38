"""The Debian tools a benchmark compares against (pgloader, wrk), installed when missing.

A benchmark whose comparison tool is missing does not quietly print its own figures alone: it
installs the tool with apt-get (through sudo when not root), as `scripts/test` installs
chromium, and stops with a message naming the package when it cannot.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def require(binary: str, package: str | None = None) -> str:
    """The path of `binary`, installing Debian's `package` (default: same name) if needed."""
    found = shutil.which(binary)
    if found:
        return found
    package = package or binary
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        raise SystemExit(
            f"{binary} is needed and sudo is missing: apt-get install {package} as root"
        )
    print(f"== installing Debian's {package} (needed for the comparison)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        [*sudo, "apt-get", "update", "-qq"],
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                f"{binary} is needed and `{' '.join(argv)}` failed "
                f"(exit {done.returncode}):\n{done.stderr[-2000:]}"
            )
    found = shutil.which(binary)
    if found is None:
        raise SystemExit(f"{binary} is still missing after installing Debian's {package}")
    return found
