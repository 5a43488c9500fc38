"""Every action a service records has a Chinese label for the audit page."""

from __future__ import annotations

import re
from pathlib import Path

import govshare
from govshare.core.audit.labels import ACTION_LABELS

ACTION = re.compile(r'action="([a-z_]+(?:\.[a-z_]+)+)"')


def test_every_recorded_action_has_a_label() -> None:
    package = Path(govshare.__file__).parent
    used = {
        m
        for path in package.rglob("*.py")
        for m in ACTION.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "found no recorded actions: the pattern no longer matches the code"
    assert sorted(used - set(ACTION_LABELS)) == []
