"""Scores of one answer against its question's gold papers, and the table that says which way
each metric should move and how far it may slip. Pure functions: no model, no index.

Retrieval metrics (hit@1, recall@5, recall@20, MRR) are LlamaIndex's, applied to the ranked ids
cut at k; nDCG@10 is computed here because LlamaIndex's normalises by the wrong ideal (see `ndcg`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from llama_index.core.evaluation.retrieval.metrics import MRR, BaseRetrievalMetric, HitRate, Recall


# -- retrieval ------------------------------------------------------------------------------
def _llama(metric: BaseRetrievalMetric, gold: Sequence[str], ranked: Sequence[str]) -> float:
    """A LlamaIndex metric; an empty ranking scores 0 (LlamaIndex raises on it)."""
    if not ranked:
        return 0.0
    return float(metric.compute(expected_ids=list(gold), retrieved_ids=list(ranked)).score)


def hit_at(gold: Sequence[str], ranked: Sequence[str], k: int) -> float:
    """1 when a gold paper is among the first k, else 0."""
    return _llama(HitRate(), gold, ranked[:k])


def recall_at(gold: Sequence[str], ranked: Sequence[str], k: int) -> float:
    """Share of the gold papers found among the first k."""
    return _llama(Recall(), gold, ranked[:k])


def mrr(gold: Sequence[str], ranked: Sequence[str]) -> float:
    """1 / rank of the first gold paper (0 when none is ranked)."""
    return _llama(MRR(), gold, ranked)


def ndcg(gold: Sequence[str], ranked: Sequence[str], k: int) -> float:
    """Binary-relevance nDCG@k: DCG of the first k over the DCG of an ideal ranking of k results.

    Written here because LlamaIndex's `NDCG` takes the ideal DCG over all `len(expected_ids)` gold
    papers whatever the cut-off, so with more gold papers than k even a perfect top-k scores
    below 1 (and repeated gold ids inflate the ideal). The ideal here has min(|gold|, k) hits."""
    relevant = set(gold)
    if not relevant:
        return 0.0
    dcg = sum(1 / math.log2(rank + 1) for rank, pid in enumerate(ranked[:k], start=1) if pid in relevant)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def retrieval_scores(gold: Sequence[str], ranked: Sequence[str]) -> dict[str, float]:
    return {
        "hit@1": hit_at(gold, ranked, 1),
        "recall@5": recall_at(gold, ranked, 5),
        "recall@20": recall_at(gold, ranked, 20),
        "mrr": mrr(gold, ranked),
        "ndcg@10": ndcg(gold, ranked, 10),
    }


# -- citations ------------------------------------------------------------------------------
def citation_precision(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the cited papers that are gold; None when nothing is cited."""
    unique = set(cited)
    return len(unique & set(gold)) / len(unique) if unique else None


def citation_recall(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the gold papers that are cited; None when the question has no gold papers."""
    wanted = set(gold)
    return len(wanted & set(cited)) / len(wanted) if wanted else None


def invalid_citations(cited: Sequence[str], retrieved: Sequence[str]) -> list[str]:
    """Cited ids that are not among the papers the answer retrieved (must be none)."""
    sources = set(retrieved)
    return sorted({pid for pid in cited if pid not in sources})


def expected_found(expected: Sequence[str], text: str) -> list[bool]:
    """For each expected string, whether the answer contains it (case-insensitive)."""
    lower = text.lower()
    return [e.lower() in lower for e in expected]


# -- what counts as worse ---------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """Which way a metric should move and how far it may slip below its baseline before the run
    fails. `tolerance=None`: reported, never compared. `limit`: a bound that holds with or without
    a baseline."""

    higher_is_better: bool
    tolerance: float | None
    limit: float | None = None
    describes: str = ""


# 0.01 lets rounding through: over a split's ~200 answers (questions and their rewordings) it is
# about two answers, and a metric that applies to fewer answers moves more per answer. Latency
# depends on the machine and its load, so it is shown and never fails a run (`paperscope bench
# query` is the place to hold speed to a target).
RULES: dict[str, Rule] = {
    "hit@1": Rule(True, 0.01, describes="a gold paper ranked first (topical questions)"),
    "recall@5": Rule(True, 0.01, describes="share of gold papers in the top 5"),
    "recall@20": Rule(True, 0.01, describes="share of gold papers in the top 20"),
    "mrr": Rule(True, 0.01, describes="1 / rank of the first gold paper"),
    "ndcg@10": Rule(True, 0.01, describes="ranking quality of the top 10 (binary relevance)"),
    "citation_precision": Rule(True, 0.01, describes="share of cited papers that are gold"),
    "citation_recall": Rule(True, 0.01, describes="share of gold papers cited"),
    "invalid_citations": Rule(False, 0.0, limit=0.0, describes="citations of papers that were not retrieved"),
    "grounded_sentence_rate": Rule(True, 0.01, describes="claim sentences cited and supported (offline scorer)"),
    "judge_grounded_sentence_rate": Rule(True, 0.05, describes="the same, judged by the LLM (LLM runs vary)"),
    "correct_abstention_rate": Rule(True, 0.01, describes="unanswerable questions that abstained"),
    "false_abstention_rate": Rule(False, 0.01, describes="answerable questions that abstained"),
    "expected_hit_rate": Rule(True, 0.01, describes="share of expected strings in the answers that have some"),
    "list_recall": Rule(True, 0.01, describes='"which papers…" questions: share of the qualifying papers cited'),
    "list_precision": Rule(True, 0.01, describes='"which papers…" questions: share of the cited papers that qualify'),
    "metadata_recall": Rule(True, 0.01, describes="metadata and count questions: share of the matching papers cited"),
    "fact_complete_rate": Rule(True, 0.01, describes="fact questions whose answer holds every expected string"),
    "lead_hit_rate": Rule(True, 0.01, describes="lookups, paraphrases and facts whose first citation is the gold paper"),
    "phrasing_spread": Rule(False, 0.01, describes="largest gap in citation recall between wordings of the same questions"),
    "latency_p50_s": Rule(False, None, describes="median seconds per answer (not compared)"),
    "latency_p95_s": Rule(False, None, describes="95th-percentile seconds per answer (not compared)"),
}


def worse(metric: str, value: float, baseline: float) -> bool:
    """Whether `value` is worse than `baseline` by more than the metric's tolerance."""
    rule = RULES[metric]
    if rule.tolerance is None:
        return False
    slip = baseline - value if rule.higher_is_better else value - baseline
    return slip > rule.tolerance + 1e-9


def breaks_limit(metric: str, value: float) -> bool:
    rule = RULES[metric]
    if rule.limit is None:
        return False
    return value < rule.limit if rule.higher_is_better else value > rule.limit
