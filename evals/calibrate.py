"""Calibrate the extractive relevance bar on the dev questions: `python -m evals.calibrate`.

For every dev question it retrieves the candidates once, then searches a grid of bars (dense
weight, threshold for lookups, threshold for lists) for the one that answers best:
- a "which papers…" question scores the F1 of the papers the bar lets through against gold;
- a lookup, fact or paraphrase question scores 1 when the best paper above the bar is gold;
- a question nothing answers scores 1 when no candidate clears the bar.
Metadata questions are answered from metadata and do not use the bar. It prints the grid's best
bars; the chosen one goes into `RelevanceBar`'s defaults. Only the dev split is used."""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.answers import RelevanceBar
from assistant.api import LIST_POOL, SEARCH_POOL, Assistant
from assistant.evidence import coverage, terms
from assistant.filters import Filters
from assistant.intent import parse
from assistant.settings import Settings

QUESTIONS = Path(__file__).resolve().parent / "questions"


@dataclass
class Case:
    kind: str
    is_list: bool
    gold: set[str]
    ids: list[str]
    similarity: np.ndarray  # per candidate: cosine of its best chunk
    cover: np.ndarray  # per candidate: share of the question's weighted terms it contains


def cases(assistant: Assistant, split: str) -> list[Case]:
    weights, _ = assistant._collection_stats()
    out = []
    for line in (QUESTIONS / f"{split}.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q["kind"] == "metadata":
            continue
        intent = parse(q["question"], Filters.from_kwargs(**q.get("filters", {})))
        if intent.metadata_only:
            continue
        hits = assistant.retriever.search(intent.query, LIST_POOL if intent.is_list else SEARCH_POOL, intent.filters)
        query_terms = terms(intent.subject)
        out.append(Case(q["kind"], intent.is_list, set(q["gold"]), [h.id for h in hits],
                        np.array([h.similarity for h in hits]),
                        np.array([coverage(query_terms, f"{h.title}\n{h.abstract}", weights) for h in hits])))
    return out


def score(case: Case, bar: RelevanceBar) -> float:
    relevance = bar.dense_weight * case.similarity + (1 - bar.dense_weight) * case.cover
    threshold = bar.list_threshold if case.is_list else bar.threshold
    passed = [pid for pid, r in zip(case.ids, relevance, strict=True) if r >= threshold]  # retrieval order
    if case.kind == "unanswerable":
        return float(not passed)
    if not passed:
        return 0.0
    if case.is_list:
        hit = len(set(passed) & case.gold)
        return 2 * hit / (len(passed) + len(case.gold))
    return float(passed[0] in case.gold)


def grid(all_cases: list[Case]) -> list[tuple[float, RelevanceBar]]:
    steps = [round(x, 3) for x in np.arange(0.15, 0.801, 0.025)]
    results = []
    for dense_weight in (0.3, 0.4, 0.5, 0.6, 0.7):
        for threshold, list_threshold in itertools.product(steps, steps):
            bar = RelevanceBar(threshold=threshold, list_threshold=list_threshold, dense_weight=dense_weight)
            results.append((float(np.mean([score(c, bar) for c in all_cases])), bar))
    return sorted(results, key=lambda r: -r[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", default="dev", help="question split to calibrate on (default dev)")
    parser.add_argument("--top", type=int, default=10, help="how many of the best bars to print")
    args = parser.parse_args()
    assistant = Assistant(Settings())
    all_cases = cases(assistant, args.split)
    current = float(np.mean([score(c, assistant.bar) for c in all_cases]))
    print(f"{len(all_cases)} questions; current bar {assistant.bar}: {current:.3f}")
    for value, bar in grid(all_cases)[: args.top]:
        print(f"{value:.3f}  dense_weight={bar.dense_weight} threshold={bar.threshold} list_threshold={bar.list_threshold}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
