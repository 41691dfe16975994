"""Is a claim supported by the abstract it cites? An offline scorer (MiniLM sentence similarity
plus content-word overlap plus matching numbers), an optional LLM judge, and their agreement
with the hand-labelled pairs in `evals/labels/support_pairs.jsonl`. It does not split answers
into claims (`evals.metrics` does)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.evidence import terms
from assistant.llm import explain
from assistant.sentences import split_sentences
from assistant.settings import Settings
from prompts import load

if TYPE_CHECKING:
    from assistant.minilm import MiniLM

LABELS = Path(__file__).parent / "labels" / "support_pairs.jsonl"
# Chosen by `choose_threshold` on the tuning half of the labelled pairs (`split_pairs`) and
# reported on the other half; tests/test_evals.py re-derives it, so it cannot drift silently.
THRESHOLD = 0.59
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[float]:
    """The numbers written in digits in `text`: '25,000' -> 25000.0, '4.70%' -> 4.7, '1/38' -> {1, 38}."""
    found: set[float] = set()
    for token in _NUMBER.findall(text):
        plain = token.replace(",", "")
        try:
            found.add(float(plain))
        except ValueError:  # '1.2.3': a version-like token, kept as its parts
            found.update(float(p) for p in plain.split(".") if p)
    return found


@dataclass(frozen=True)
class Support:
    """How well the evidence backs a claim: the best evidence sentence, its cosine similarity to
    the claim, the share of the claim's content words it contains, their mean (`score`), the
    threshold it was held to, and the claim's numbers that appear nowhere in the evidence."""

    supported: bool
    score: float
    similarity: float
    overlap: float
    missing_numbers: tuple[float, ...]
    sentence: str
    threshold: float

    def why(self) -> str:
        """The reason a claim is unsupported, in a few words."""
        if self.missing_numbers:
            shown = ", ".join(f"{n:g}" for n in self.missing_numbers)
            return f"number {shown} not in the cited abstract"
        return f"best evidence sentence scores {self.score:.2f} < {self.threshold:g}"


class SupportScorer:
    """Offline support: score = (cosine(claim, sentence) + overlap(claim, sentence)) / 2 for the best
    sentence of the evidence; supported when it reaches `threshold` and every number in the claim
    appears in the evidence. Similarity catches paraphrase, overlap keeps the claim's entities and
    terms honest, and the number rule catches a wrong figure, which similarity barely notices."""

    def __init__(self, model: MiniLM | None = None, threshold: float = THRESHOLD) -> None:
        if model is None:
            from assistant.minilm import MiniLM

            model = MiniLM()
        self._model = model
        self.threshold = threshold
        self._vectors: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts`, cached: answers cite the same abstracts again and again."""
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, self._model.embed(new), strict=True))
        return np.stack([self._vectors[t] for t in texts])

    def score(self, claim: str, evidence: Iterable[str]) -> Support:
        """Support of `claim` by the evidence texts (abstracts or sentences), taken together."""
        texts = [t for t in evidence if t.strip()]
        sentences = [s for t in texts for s in split_sentences(t)]
        missing = tuple(sorted(numbers(claim) - set().union(*(numbers(t) for t in texts))))
        if not sentences:
            return Support(False, 0.0, 0.0, 0.0, missing, "", self.threshold)
        vectors = self._embed([claim, *sentences])
        similarities = vectors[1:] @ vectors[0]
        claim_terms = set(terms(claim))
        overlaps = [len(claim_terms & set(terms(s))) / len(claim_terms) if claim_terms else 0.0 for s in sentences]
        scores = (similarities + np.array(overlaps)) / 2
        best = int(np.argmax(scores))
        score = float(scores[best])
        return Support(
            supported=score >= self.threshold and not missing,
            score=score,
            similarity=float(similarities[best]),
            overlap=overlaps[best],
            missing_numbers=missing,
            sentence=sentences[best],
            threshold=self.threshold,
        )


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
