"""Progress bars for people at a terminal; library code only takes a callback."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.settings import Settings


LOG_EVERY_SECONDS = 30.0


def bar(description: str, unit: str = "paper") -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A (update, close) pair drawing a tqdm bar on stderr when it is a terminal; otherwise (a log
    file, CI) a plain line every `LOG_EVERY_SECONDS` and one at the end."""
    if not sys.stderr.isatty():
        return log_lines(description, unit)
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=description, unit=unit, file=sys.stderr)
        state["bar"].n = done
        state["bar"].refresh()

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return update, close


def log_lines(description: str, unit: str, every: float = LOG_EVERY_SECONDS,
              clock: Callable[[], float] = time.monotonic) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Progress as plain lines on stderr, "description: done/total units (pct%)", at most one per
    `every` seconds besides the first and the last."""
    last: list[float] = []

    def update(done: int, total: int) -> None:
        now = clock()
        if last and done < total and now - last[0] < every:
            return
        last[:] = [now]
        percent = 100 * done // total if total else 100
        print(f"{description}: {done}/{total} {unit}s ({percent}%)", file=sys.stderr, flush=True)

    return update, lambda: None


def open_assistant(settings: Settings) -> Assistant:
    """An `Assistant` with its index open and the collection's statistics computed, drawing a bar
    while a first run ingests the bundled papers, so no later answer pays for either."""
    from assistant.api import Assistant

    update, close = bar("Ingesting the bundled papers (first run)")
    assistant = Assistant(settings, progress=update)
    try:
        assistant.summary()
    finally:
        close()
    return assistant
