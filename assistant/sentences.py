"""Split an abstract into sentences, keeping abbreviations ("e.g.", "et al.") and numbers
("81.8%") inside their sentence. nltk's punkt (LlamaIndex's default) splits after "e.g." and
takes a second to load, so a small rule set serves better for abstracts."""

from __future__ import annotations

import re

_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "cf.", "Fig.", "fig.", "Eq.", "eq.", "approx.", "resp.", "No.", "etc.")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, in order, stripped; their concatenation covers every word of `text`."""
    pieces = _BOUNDARY.split(text.strip())
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]
