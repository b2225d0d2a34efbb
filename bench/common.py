"""The benchmark convention: a human table, then one JSON line of the figures."""

from __future__ import annotations

import json
import time


def best_of(fn, repeat: int = 5) -> float:
    """The fastest of `repeat` timed calls, in seconds (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(title: str, rows: list[tuple], figures: dict) -> None:
    """Print `rows` (label, value, unit/comment) under a title, then the JSON line."""
    print(title)
    print("-" * len(title))
    for row in rows:
        label, value, *rest = row
        text = f"{value:,.4g}" if isinstance(value, float) else str(value)
        print(f"  {label:<52} {text:>14}  {' '.join(map(str, rest))}")
    print(json.dumps(figures, sort_keys=True))
