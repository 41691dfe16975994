"""Shared pieces of every answer: the "cannot answer" phrase, the relevance bar, the collection
summary an abstention names, and turning a hit into a citation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from assistant.evidence import TermWeights, covering_sentences, group_coverage, term_groups, terms
from assistant.types import Citation, Hit

CANNOT_ANSWER = "I cannot answer this from the collection."


@dataclass(frozen=True)
class RelevanceBar:
    """Which retrieved papers answer a question, judged on each candidate's relevance:
    `dense_weight * cosine + (1 - dense_weight) * coverage` (cosine: its best chunk's similarity to
    the question; coverage: the share of the topic's weighted terms it contains, where the terms of
    a parenthesis or a run of examples count as one alternative).

    The decision adapts to each question's scores. The question is answered at all only when its
    best candidate reaches `threshold` (an absolute bar: nothing relevant, abstain). A "which
    papers…" list then takes every candidate scoring at least `list_ratio` of the best one (and
    above `list_floor`): a long or descriptive question lowers every candidate's score alike, so the
    cut is relative to the question's own best, and recall comes first. Any other question takes
    the candidates within `margin` of the best and above `threshold`, and retrieval's ranking picks
    the lead. `screen_threshold` is looser: the candidates an LLM reads. Calibrated on the dev
    questions and their rewordings with `python -m evals.calibrate`."""

    threshold: float = 0.4
    margin: float = 0.15
    list_ratio: float = 0.7
    list_floor: float = 0.25
    screen_threshold: float = 0.35
    dense_weight: float = 0.7

    def score(self, hit: Hit, query: str, weights: TermWeights) -> float:
        return self.scores([hit], query, weights)[0]

    def scores(self, hits: list[Hit], query: str, weights: TermWeights) -> list[float]:
        groups = term_groups(query)
        return [self.dense_weight * h.similarity
                + (1 - self.dense_weight) * group_coverage(groups, set(terms(f"{h.title}\n{h.abstract}")), weights)
                for h in hits]

    def select(self, scores: list[float], is_list: bool) -> list[int]:
        """Positions of the relevant candidates, given their relevance in retrieval order."""
        best = max(scores, default=0.0)
        if best < self.threshold:
            return []
        cut = max(self.list_floor, best * self.list_ratio) if is_list else max(self.threshold, best - self.margin)
        return [i for i, s in enumerate(scores) if s >= cut]

    def relevant(self, hits: list[Hit], query: str, weights: TermWeights, is_list: bool) -> list[tuple[float, Hit]]:
        """The relevant candidates with their relevance, in retrieval order; [] when none is."""
        scores = self.scores(hits, query, weights)
        return [(scores[i], hits[i]) for i in self.select(scores, is_list)]


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


def cite(hit: Hit, query: str, weights: TermWeights, marker: int, relevance: float | None = None,
         limit: int = 1, numeric: bool = False, parts: Iterable[str] = ()) -> Citation:
    """A citation of `hit` whose evidence is the abstract sentence that best answers `query`;
    `passages` holds it and, up to `limit` in all, the sentences that answer the query's other parts
    (`numeric`: the question asks for quantities, so the sentences that state figures)."""
    best = covering_sentences(query, hit.abstract, weights, hit.text, limit=limit, numeric=numeric, parts=parts)
    return Citation(
        id=hit.id,
        title=hit.title,
        published=hit.published,
        score=hit.score if relevance is None else relevance,
        evidence=best[0] if best else hit.abstract[:300],
        passages=best or [hit.abstract[:300]],
        abstract=hit.abstract,
        authors=hit.authors,
        marker=marker,
    )
