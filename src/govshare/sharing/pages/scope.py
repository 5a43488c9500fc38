"""What every sharing form with a scope (data items, row filter, masking) shares: the choices
the scope macros offer and how a typed list of values is split."""

from __future__ import annotations

import re

from govshare.sharing.models import MaskRule, RowOp

VALUE_SEPARATORS = re.compile(r"[,，、;；\n]")
CHOICES = {
    "ops": RowOp.choices(),
    "rules": [(r.value, r.label, r.takes_n) for r in MaskRule],
}


def split_values(text: str) -> list[str]:
    """A filter row's values as typed ("361102，361103" or one per line)."""
    return [v.strip() for v in VALUE_SEPARATORS.split(text) if v.strip()]
