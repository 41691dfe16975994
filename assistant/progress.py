"""Progress bars for people at a terminal; library code only takes a callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def bar(description: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A (update, close) pair drawing a tqdm bar on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return (lambda done, total: None), (lambda: None)
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=description, unit="paper", file=sys.stderr)
        state["bar"].n = done
        state["bar"].refresh()

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return update, close
