"""Prompt templates, one text file each, with named `{placeholders}`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def load(name: str) -> str:
    """The template `prompts/<name>.txt`; fill it with `str.format(**values)`."""
    path = _HERE / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template {path.name} in {_HERE}")
    return path.read_text(encoding="utf-8")
