"""Calibrate the extractive relevance decision on the dev questions and their rewordings:
`python -m evals.calibrate`.

Every dev question (with its phrasings) retrieves its candidates once, through the same
`Assistant.candidates` the answers use; then a grid of `RelevanceBar`s (dense weight, the
answerable threshold, the list ratio and floor) is searched for the one that answers best:
- a "which papers…" or count question scores the F2 of the papers the bar lets through against
  gold (recall weighs four times precision: a missed paper is worse than one extra);
- a lookup, fact or paraphrase question scores 1 when the lead paper (the first relevant one in
  retrieval order) is gold;
- a question nothing answers scores 1 when no candidate is relevant.
Questions answered from metadata alone do not use the bar. Each question weighs equally, and so
does each wording style, so the bar cannot favour one way of asking. Only the dev split is used."""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from assistant.answers import RelevanceBar
from assistant.api import Assistant
from assistant.evidence import group_coverage, term_groups, terms
from assistant.filters import Filters
from assistant.intent import parse
from assistant.settings import Settings
from evals.harness import load_questions


@dataclass
class Case:
    kind: str
    style: str
    is_list: bool
    gold: set[str]
    ids: list[str]
    similarity: np.ndarray  # per candidate, in retrieval order: cosine of its best chunk
    cover: np.ndarray  # per candidate: share of the topic's weighted term groups it contains


def cases(assistant: Assistant, split: str) -> list[Case]:
    weights, _ = assistant._collection_stats()
    catalog = assistant.index.catalog()
    organizations = catalog.organizations()
    out = []
    for q in load_questions(split):
        intent = parse(q.question, Filters.from_kwargs(**q.filters), organizations=organizations)
        if intent.metadata_only:
            continue
        hits = assistant.candidates(intent)
        groups = term_groups(intent.subject)
        out.append(Case(q.kind, q.style, intent.is_list or intent.superlative is not None, set(q.gold),
                        [h.id for h in hits], np.array([h.similarity for h in hits]),
                        np.array([group_coverage(groups, set(terms(f"{h.title}\n{h.abstract}")), weights)
                                  for h in hits])))
    return out


def score(case: Case, bar: RelevanceBar) -> float:
    relevance = bar.dense_weight * case.similarity + (1 - bar.dense_weight) * case.cover
    passed = [case.ids[i] for i in bar.select(list(relevance), case.is_list)]
    if case.kind == "unanswerable":
        return float(not passed)
    if not passed:
        return 0.0
    if case.is_list and case.kind in ("list", "count", "metadata"):
        hit = len(set(passed) & case.gold)
        precision, recall = hit / len(passed), hit / len(case.gold)
        return 5 * precision * recall / (4 * precision + recall) if hit else 0.0
    return float(passed[0] in case.gold)


def mean_score(all_cases: list[Case], bar: RelevanceBar) -> float:
    """Mean over wording styles of the mean score over that style's questions."""
    by_style: dict[str, list[float]] = defaultdict(list)
    for case in all_cases:
        by_style[case.style].append(score(case, bar))
    return float(np.mean([np.mean(v) for v in by_style.values()]))


def grid(all_cases: list[Case]) -> list[tuple[float, RelevanceBar]]:
    thresholds = [round(x, 3) for x in np.arange(0.25, 0.551, 0.025)]
    ratios = [round(x, 3) for x in np.arange(0.5, 0.951, 0.025)]
    floors = [0.2, 0.25, 0.3, 0.35, 0.4]
    results = []
    for dense_weight in (0.4, 0.5, 0.6, 0.7, 0.8):
        for threshold, ratio, floor in itertools.product(thresholds, ratios, floors):
            bar = RelevanceBar(threshold=threshold, list_ratio=ratio, list_floor=floor, dense_weight=dense_weight)
            results.append((mean_score(all_cases, bar), bar))
    return sorted(results, key=lambda r: -r[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", default="dev", choices=("dev",), help="the split to calibrate on: dev only")
    parser.add_argument("--top", type=int, default=10, help="how many of the best bars to print")
    args = parser.parse_args()
    assistant = Assistant(Settings())
    all_cases = cases(assistant, args.split)
    styles = sorted({c.style for c in all_cases})
    print(f"{len(all_cases)} questions ({', '.join(styles)}); current bar {assistant.bar}: "
          f"{mean_score(all_cases, assistant.bar):.3f}")
    for value, bar in grid(all_cases)[: args.top]:
        print(f"{value:.3f}  dense_weight={bar.dense_weight} threshold={bar.threshold} list_ratio={bar.list_ratio} "
              f"list_floor={bar.list_floor}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
