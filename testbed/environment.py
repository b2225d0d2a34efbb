"""Environment variables that would break the run at import time, checked before anything heavy is imported."""

from __future__ import annotations

import os

_POSITIVE = ("NUMBA_NUM_THREADS", "TESTBED_YOSYS_TIMEOUT", "TESTBED_YOSYS_MEMORY")


def environment_problem() -> str | None:
    """One line naming the first environment variable set to something unusable, or None."""
    for name in _POSITIVE:
        text = os.environ.get(name)
        if text is None or text == "":
            continue
        try:
            ok = int(text) >= 1
        except ValueError:
            ok = False
        if not ok:
            return f"environment variable {name}={text!r}: must be a whole number >= 1"
    return None
