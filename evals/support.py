"""How far to trust the offline support scorer (`assistant.grounding`): an optional LLM judge of
support, and the agreement of either with the hand-labelled pairs in
`evals/labels/support_pairs.jsonl`. It does not split answers into claims or score them
(`assistant.grounding` does)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.grounding import Support
from assistant.llm import explain
from assistant.settings import Settings
from prompts import load

LABELS = Path(__file__).parent / "labels" / "support_pairs.jsonl"


class SupportJudge:
    """An LLM's verdict on support, from the template `prompts/judge_support.txt`. The evidence is
    fenced with a per-call nonce so an abstract cannot pose as an instruction."""

    def __init__(self, llm: Any, settings: Settings) -> None:
        self._llm = llm
        self._settings = settings

    def judge(self, claim: str, evidence: Iterable[str]) -> bool | None:
        """True (supported), False (not supported), or None when the reply gave no verdict."""
        prompt = load("judge_support").format(claim=claim, evidence="\n\n".join(evidence), nonce=secrets.token_hex(4))
        try:
            reply = self._llm.complete(prompt).text
        except Exception as exc:  # the openai client's errors, turned into one sentence that names the fix
            raise explain(exc, self._settings) from exc
        return verdict(reply)


def verdict(reply: str) -> bool | None:
    """SUPPORTED / UNSUPPORTED (or NOT SUPPORTED) from the first word of a judge's reply; None
    when the reply starts with anything else."""
    words = re.findall(r"[A-Za-z]+", reply)
    first = words[0].upper() if words else ""
    return {"SUPPORTED": True, "UNSUPPORTED": False, "NOT": False}.get(first)


# -- agreement with the hand labels ------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    claim: str
    paper_id: str
    evidence: str
    supported: bool


def load_pairs(path: Path = LABELS) -> list[Pair]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Pair(r["claim"], r["paper_id"], r["evidence"], bool(r["supported"])) for r in rows]


def split_pairs(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(tuning half, held-out half), split by paper so the two halves share no evidence."""
    def tuning(pair: Pair) -> bool:
        return int(hashlib.sha1(pair.paper_id.encode()).hexdigest(), 16) % 2 == 0

    return [p for p in pairs if tuning(p)], [p for p in pairs if not tuning(p)]


@dataclass(frozen=True)
class Agreement:
    """How often a predictor agrees with the labels; 'positive' means supported."""

    pairs: int
    accuracy: float
    precision: float
    recall: float

    def to_json(self) -> dict[str, float | int]:
        return {"pairs": self.pairs, "accuracy": round(self.accuracy, 4), "precision": round(self.precision, 4),
                "recall": round(self.recall, 4)}


def agreement(pairs: list[Pair], predict: Callable[[Pair], bool]) -> Agreement:
    predicted = [predict(p) for p in pairs]
    true_pos = sum(1 for p, y in zip(pairs, predicted, strict=True) if y and p.supported)
    correct = sum(1 for p, y in zip(pairs, predicted, strict=True) if y == p.supported)
    said_yes, labelled_yes = sum(1 for y in predicted if y), sum(1 for p in pairs if p.supported)
    return Agreement(
        pairs=len(pairs),
        accuracy=correct / len(pairs) if pairs else 0.0,
        precision=true_pos / said_yes if said_yes else 0.0,
        recall=true_pos / labelled_yes if labelled_yes else 0.0,
    )


def choose_threshold(scored: list[tuple[Support, bool]]) -> float:
    """The score threshold (two decimals) that best reproduces the labels; among equally good
    thresholds, the middle one, so it sits away from the nearest mistakes on either side."""
    def accuracy(threshold: float) -> int:
        return sum(1 for s, label in scored if (s.score >= threshold and not s.missing_numbers) == label)

    candidates = [round(t, 2) for t in np.arange(0.0, 1.0, 0.01)]
    best = max(accuracy(t) for t in candidates)
    tied = [t for t in candidates if accuracy(t) == best]
    return tied[len(tied) // 2]
