"""Progress bars for people at a terminal; library code only takes a callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.settings import Settings


def bar(description: str, unit: str = "paper") -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A (update, close) pair drawing a tqdm bar on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return (lambda done, total: None), (lambda: None)
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
