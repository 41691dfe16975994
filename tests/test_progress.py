"""Progress reporting when stderr is not a terminal: plain lines, throttled, never silent at the end."""

from __future__ import annotations

import pytest

from assistant.progress import log_lines


def test_log_lines_report_the_first_update_then_at_most_one_per_interval_and_the_last(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    update, close = log_lines("Embedding", "chunk", every=30.0, clock=lambda: now[0])
    for done, at in [(0, 0.0), (10, 5.0), (20, 29.0), (30, 31.0), (40, 40.0), (100, 41.0)]:
        now[0] = at
        update(done, 100)
    close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["Embedding: 0/100 chunks (0%)", "Embedding: 30/100 chunks (30%)", "Embedding: 100/100 chunks (100%)"]


def test_log_lines_handle_an_empty_job(capsys: pytest.CaptureFixture[str]) -> None:
    update, _ = log_lines("Ingesting", "paper")
    update(0, 0)
    assert capsys.readouterr().err == "Ingesting: 0/0 papers (100%)\n"
