"""Shared pieces of every answer: the "cannot answer" phrase, the relevance bar, the collection
summary an abstention names, and turning a hit into a citation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.evidence import TermWeights, best_sentences, coverage, terms
from assistant.types import Citation, Hit

CANNOT_ANSWER = "I cannot answer this from the collection."


@dataclass(frozen=True)
class RelevanceBar:
    """A paper is relevant when `dense_weight * cosine + (1 - dense_weight) * coverage` reaches
    the threshold (cosine: the best chunk's similarity to the question; coverage: the share of
    the question's weighted terms the paper contains).

    Calibrated on the dev questions with `python -m evals.calibrate`: `list_threshold` is the F1
    optimum for "which papers…" lists; `threshold` (whether a lookup answers at all; retrieval's
    ranking picks its lead) is the highest value on the optimal plateau, the most cautious one
    the dev questions allow. `screen_threshold` is looser: the candidates an LLM reads.
    """

    threshold: float = 0.375
    list_threshold: float = 0.50
    screen_threshold: float = 0.35
    dense_weight: float = 0.5

    def score(self, hit: Hit, query: str, weights: TermWeights) -> float:
        cover = coverage(terms(query), f"{hit.title}\n{hit.abstract}", weights)
        return self.dense_weight * hit.similarity + (1 - self.dense_weight) * cover


@dataclass(frozen=True)
class CollectionSummary:
    papers: int
    first: str | None
    last: str | None

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> CollectionSummary:
        dated = sorted(r["published"] for r in records if r.get("published") and not r["published"].startswith("--"))
        return cls(len(records), dated[0] if dated else None, dated[-1] if dated else None)

    def describe(self) -> str:
        span = f", published {self.first} to {self.last}" if self.first else ""
        return f"{self.papers} papers{span}"


def abstention(summary: CollectionSummary, reason: str = "no paper is relevant enough to this question") -> str:
    return f"{CANNOT_ANSWER} Among the collection's {summary.describe()}, {reason}."


def cite(hit: Hit, query: str, weights: TermWeights, marker: int, relevance: float | None = None) -> Citation:
    """A citation of `hit` whose evidence is the abstract sentence that best answers `query`."""
    best = best_sentences(query, hit.abstract, weights, hit.text)
    return Citation(
        id=hit.id,
        title=hit.title,
        published=hit.published,
        score=hit.score if relevance is None else relevance,
        evidence=best[0][0] if best else hit.abstract[:300],
        abstract=hit.abstract,
        authors=hit.authors,
        marker=marker,
    )
