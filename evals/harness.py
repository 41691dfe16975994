"""`paperscope eval`: ask every question of the fixed set through a pipeline (PaperScope's public
`Assistant`, or the naive one in `evals.naive`), score each answer, compare the scores with a
baseline run of the same split, pipeline and mode, and print a Markdown report or one JSON object.
The exit code is 1 when a metric is worse than the baseline beyond its tolerance (`evals.metrics.RULES`).

Retrieval metrics come from a separate `search(question, k=20, **filters)` call, so they measure
the ranking to a fixed depth whatever pool an answer draws on; they cover the topical questions
(list, lookup, fact, paraphrase), not the metadata ones, whose answers come from the catalog."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from assistant.errors import PaperScopeError
from assistant.grounding import SupportScorer, check
from assistant.llm import llm_configured, make_llm
from assistant.progress import bar, open_assistant
from assistant.settings import Settings
from assistant.types import Answer, Hit
from evals.metrics import (
    RULES,
    breaks_limit,
    citation_precision,
    citation_recall,
    expected_found,
    invalid_citations,
    retrieval_scores,
    worse,
)
from evals.report import markdown
from evals.support import SupportJudge

HERE = Path(__file__).parent
DEFAULT_BASELINE = HERE / "baseline.json"
SPLITS = ("dev", "test")
RETRIEVAL_KINDS = frozenset({"list", "lookup", "fact", "paraphrase"})
SEARCH_DEPTH = 20
_MEANS = ("hit@1", "recall@5", "recall@20", "mrr", "ndcg@10", "citation_precision", "citation_recall",
          "grounded_sentence_rate", "judge_grounded_sentence_rate", "expected_hit_rate")


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    gold: tuple[str, ...]
    expected: tuple[str, ...]
    filters: dict[str, Any]
    style: str = "original"  # or the phrasing style of a rewording ("terse", "descriptive", "conversational")
    of: str | None = None  # the question a rewording rewords

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    @property
    def base(self) -> str:
        """The question this one asks, whatever its wording."""
        return self.of or self.id


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_questions(split: str, phrasings: bool = True) -> list[Question]:
    """The questions of `split` ('dev', 'test' or 'all'), in file order, then (unless `phrasings`
    is False) the rewordings of that split's questions from `phrasings.jsonl`."""
    names = SPLITS if split == "all" else (split,)
    rows = [row for name in names for row in _rows(HERE / "questions" / f"{name}.jsonl")]
    if phrasings:
        rows += [row for row in _rows(HERE / "questions" / "phrasings.jsonl") if row["split"] in names]
    return [Question(row["id"], row["kind"], row["question"], tuple(row["gold"]), tuple(row["expected"]),
                     dict(row["filters"]), row.get("style", "original"), row.get("of")) for row in rows]


class Pipeline(Protocol):
    """What the harness needs of a pipeline: PaperScope's `Assistant` and `NaivePipeline` both fit."""

    @property
    def mode(self) -> str: ...

    def ask(self, question: str, **filters: Any) -> Answer: ...

    def search(self, query: str, k: int = 10, **filters: Any) -> list[Hit]: ...


# -- baselines ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunKey:
    """What makes two runs comparable."""

    split: str
    pipeline: str
    mode: str

    def describe(self) -> str:
        return f"split={self.split}, pipeline={self.pipeline}, mode={self.mode}"


def default_baseline(key: RunKey) -> Path:
    """evals/baseline.json for the default run (all questions, PaperScope, extractive); a file
    named after the split, pipeline and mode for any other."""
    if key == RunKey("all", "paperscope", "extractive"):
        return DEFAULT_BASELINE
    return HERE / f"baseline-{key.pipeline}-{key.split}-{key.mode}.json"


def read_baseline(path: Path, key: RunKey, explicit: bool) -> dict[str, Any] | None:
    """The baseline run at `path`, refused unless it is a run like this one. A missing default
    baseline means there is nothing to compare with yet; a missing named one is an error."""
    if not path.is_file():
        if explicit:
            raise PaperScopeError(f"No baseline file {path}. Write one with `paperscope eval --split {key.split} "
                                  f"--pipeline {key.pipeline} --update-baseline --baseline {path}`.")
        return None
    baseline: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    theirs = RunKey(baseline.get("split", "?"), baseline.get("pipeline", "?"), baseline.get("mode", "?"))
    if theirs != key:
        raise PaperScopeError(
            f"The baseline {path} is a run of {theirs.describe()}, but this run is {key.describe()}: only like "
            f"with like compares. Run {theirs.describe()} to compare with it (the mode is llm when an LLM endpoint "
            f"or key is set), or pass --baseline FILE holding a {key.describe()} run; write one with "
            f"`paperscope eval --split {key.split} --pipeline {key.pipeline} --update-baseline --baseline FILE`.")
    return baseline


# -- scoring one answer -------------------------------------------------------------------------
class Grounding:
    """Checks every claim sentence of an answer against the abstracts its markers cite, with the
    offline scorer (`assistant.grounding`) and, when one is given, an LLM judge."""

    def __init__(self, scorer: SupportScorer, judge: SupportJudge | None = None) -> None:
        self.scorer = scorer
        self.judge = judge

    def check(self, answer: Answer) -> list[dict[str, Any]]:
        by_marker = {c.marker: c for c in answer.citations}
        checked = []
        for sentence in check(answer, self.scorer):
            entry: dict[str, Any] = {"n": sentence.n, "text": sentence.text, "markers": sentence.markers,
                                     "supported": sentence.supported}
            if sentence.score is not None:
                entry["score"] = sentence.score
            if not sentence.supported:
                entry["why"] = sentence.why
            abstracts = [by_marker[m].abstract for m in dict.fromkeys(sentence.markers) if m in by_marker]
            if self.judge is not None and abstracts and len(abstracts) == len(set(sentence.markers)):
                entry["judge"] = self.judge.judge(sentence.text, abstracts)
            checked.append(entry)
        return checked


def score_answer(q: Question, answer: Answer, ranked: list[Hit] | None,
                 sentences: list[dict[str, Any]], judged: bool) -> dict[str, Any]:
    """One question's scores (None where a metric does not apply) and what went wrong."""
    cited = [c.id for c in answer.citations]
    metrics: dict[str, float | None] = dict.fromkeys(("hit@1", "recall@5", "recall@20", "mrr", "ndcg@10"))
    if ranked is not None:
        metrics.update(retrieval_scores(q.gold, [h.id for h in ranked]))
    metrics["citation_precision"] = citation_precision(cited, q.gold)
    metrics["citation_recall"] = citation_recall(cited, q.gold)
    invalid = invalid_citations(cited, [h.id for h in answer.retrieved])
    metrics["invalid_citations"] = len(invalid)
    metrics["grounded_sentence_rate"] = _share([s["supported"] for s in sentences])
    if judged:
        metrics["judge_grounded_sentence_rate"] = _share([s.get("judge") is True for s in sentences])
    found = expected_found(q.expected, answer.text)
    metrics["expected_hit_rate"] = _share(found) if q.expected else None
    metrics["fact_complete"] = float(all(found)) if q.kind == "fact" and q.expected else None
    metrics["lead_hit"] = float(bool(cited) and cited[0] in q.gold) if q.kind in ("lookup", "paraphrase") else None
    return {
        "id": q.id, "kind": q.kind, "style": q.style, "of": q.base, "question": q.question,
        "abstained": answer.abstained, "cited": cited,
        "metrics": {k: _round(v) for k, v in metrics.items()},
        "sentences": sentences, "seconds": round(answer.seconds, 4), "error": answer.error,
        "problems": _problems(q, answer, ranked, cited, invalid, sentences, found),
    }


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _problems(q: Question, answer: Answer, ranked: list[Hit] | None, cited: list[str], invalid: list[str],
              sentences: list[dict[str, Any]], found: list[bool]) -> list[str]:
    problems = [f"error: {answer.error}"] if answer.error else []
    if not q.answerable and not answer.abstained:
        problems.append(f"should have abstained (cited {len(set(cited))} papers)")
    if q.answerable and answer.abstained:
        problems.append("abstained, but the collection answers it")
    if q.answerable and not answer.abstained:
        problems += [f"missed gold {g}" for g in q.gold if g not in cited]
        problems += _listed("cited non-gold", [c for c in dict.fromkeys(cited) if c not in q.gold])
    problems += [f"cited {pid}, which was not retrieved" for pid in invalid]
    if ranked is not None:
        top = {h.id for h in ranked}
        problems += [f"search top {SEARCH_DEPTH} misses gold {g}" for g in q.gold if g not in top]
    problems += [f"expected '{e}' not in answer" for e, ok in zip(q.expected, found, strict=True) if not ok]
    problems += _capped([f"sentence {s['n']} unsupported ({s['why']}): “{_clip(s['text'])}”"
                         for s in sentences if not s["supported"]], "unsupported sentences")
    problems += _capped([f"sentence {s['n']} judged unsupported" for s in sentences if s.get("judge") is False],
                        "sentences judged unsupported")
    problems += _capped([f"sentence {s['n']}: the judge gave no verdict"
                         for s in sentences if "judge" in s and s["judge"] is None], "sentences without a verdict")
    return problems


def _listed(what: str, ids: list[str], shown: int = 3) -> list[str]:
    if len(ids) <= shown:
        return [f"{what} {pid}" for pid in ids]
    return [f"{what} ({len(ids)}): {', '.join(ids[:shown])}, …"]


def _capped(problems: list[str], what: str, shown: int = 3) -> list[str]:
    """The first few of a run of similar problems, then how many more there are."""
    if len(problems) <= shown + 1:
        return problems
    return [*problems[:shown], f"{len(problems) - shown} more {what}"]


def _clip(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the run ----------------------------------------------------------------------------------
def evaluate(pipeline: Pipeline, questions: list[Question], grounding: Grounding,
             progress: Callable[[int, int], None] = lambda done, total: None) -> list[dict[str, Any]]:
    rows = []
    for done, q in enumerate(questions, start=1):
        answer = pipeline.ask(q.question, **q.filters)
        ranked = pipeline.search(q.question, k=SEARCH_DEPTH, **q.filters) if q.kind in RETRIEVAL_KINDS else None
        rows.append(score_answer(q, answer, ranked, grounding.check(answer), grounding.judge is not None))
        progress(done, len(questions))
    return rows


def _mean(rows: list[dict[str, Any]], name: str) -> float | None:
    values = [r["metrics"][name] for r in rows if r["metrics"].get(name) is not None]
    return statistics.fmean(values) if values else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Overall metrics from the per-question rows: each rate is the mean over the questions it
    applies to (None when none does); invalid citations are summed; latency is over all answers.
    The LLM judge's rate is present only when a judge ran. `phrasing_spread` is the largest
    difference in citation recall between two wordings (styles) of the same questions."""
    out: dict[str, float | None] = {}
    for name in _MEANS:
        value = _mean(rows, name)
        if value is not None or name != "judge_grounded_sentence_rate":
            out[name] = value
    lists = [r for r in rows if r["kind"] == "list"]
    out["list_recall"], out["list_precision"] = _mean(lists, "citation_recall"), _mean(lists, "citation_precision")
    out["metadata_recall"] = _mean([r for r in rows if r["kind"] in ("metadata", "count")], "citation_recall")
    out["fact_complete_rate"] = _mean(rows, "fact_complete")
    out["lead_hit_rate"] = _mean(rows, "lead_hit")
    recall = {style: m["citation_recall"] for style, m in by_style(rows).items() if m["citation_recall"] is not None}
    out["phrasing_spread"] = max(recall.values()) - min(recall.values()) if len(recall) > 1 else None
    out["invalid_citations"] = sum(r["metrics"]["invalid_citations"] for r in rows)
    out["correct_abstention_rate"] = _share([r["abstained"] for r in rows if r["kind"] == "unanswerable"])
    out["false_abstention_rate"] = _share([r["abstained"] for r in rows if r["kind"] != "unanswerable"])
    seconds = sorted(r["seconds"] for r in rows)
    out["latency_p50_s"] = statistics.median(seconds) if seconds else None
    out["latency_p95_s"] = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))] if seconds else None
    return {name: _round(out[name]) for name in RULES if name in out}


def by_style(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per wording style, the mean of each per-question metric over the questions that have every
    style (so that each style is scored on the same questions), plus its abstention counts."""
    styles = sorted({r["style"] for r in rows})
    if len(styles) < 2:
        return {}
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["of"], {})[r["style"]] = r
    complete = [g for g in groups.values() if len(g) == len(styles)]
    out: dict[str, dict[str, float | None]] = {}
    for style in styles:
        chosen = [g[style] for g in complete]
        names = ("citation_recall", "citation_precision", "expected_hit_rate", "fact_complete", "lead_hit")
        metrics = {name: _round(_mean(chosen, name)) for name in names}
        metrics["questions"] = len(chosen)
        metrics["false_abstentions"] = sum(r["abstained"] for r in chosen if r["kind"] != "unanswerable")
        metrics["correct_abstentions"] = sum(r["abstained"] for r in chosen if r["kind"] == "unanswerable")
        out[style] = metrics
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def compare(metrics: dict[str, float | None], baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One check per metric: its baseline value, the delta, and whether it is ok."""
    before = (baseline or {}).get("metrics", {})
    checks = []
    for name, value in metrics.items():
        old = before.get(name)
        failed = value is not None and (breaks_limit(name, value) or (old is not None and worse(name, value, old)))
        checks.append({"metric": name, "value": value, "baseline": old,
                       "delta": None if value is None or old is None else round(value - old, 4), "ok": not failed})
    return checks


def mark_regressions(rows: list[dict[str, Any]], baseline: dict[str, Any] | None) -> None:
    """Name, in each question's problems, the metrics that got worse than in the baseline run."""
    before = {r["id"]: r for r in (baseline or {}).get("per_question", [])}
    for row in rows:
        old = before.get(row["id"])
        if old is None:
            continue
        for name, value in row["metrics"].items():
            was = old["metrics"].get(name)
            if name in RULES and value is not None and was is not None and worse(name, value, was):
                row["problems"].insert(0, f"worse than baseline: {name} {was:g} → {value:g}")


def run(pipeline: Pipeline, key: RunKey, settings: Settings, questions: list[Question],
        baseline: dict[str, Any] | None, baseline_path: Path | None) -> dict[str, Any]:
    """Evaluate, aggregate and compare: the JSON object `paperscope eval --json` prints."""
    from evals.bench import machine

    llm = make_llm(settings)
    grounding = Grounding(SupportScorer(), SupportJudge(llm, settings) if llm is not None else None)
    update, close = bar("Evaluating", unit="question")
    try:
        rows = evaluate(pipeline, questions, grounding, update)
    finally:
        close()
    mark_regressions(rows, baseline)
    metrics = aggregate(rows)
    checks = compare(metrics, baseline)
    return {
        "questions": len(rows), "split": key.split, "pipeline": key.pipeline, "mode": key.mode,
        "model": settings.llm_model if key.mode == "llm" else None,
        "date": date.today().isoformat(), "machine": machine(),
        "baseline": str(baseline_path) if baseline is not None else None,
        "metrics": metrics, "by_style": by_style(rows), "checks": checks, "per_question": rows,
        "passed": all(c["ok"] for c in checks),
    }


def main(args: argparse.Namespace, settings: Settings) -> int:
    from evals.naive import NaivePipeline

    mode = "llm" if llm_configured(settings) else "extractive"
    key = RunKey(args.split, args.pipeline, NaivePipeline.mode if args.pipeline == "naive" else mode)
    path = Path(args.baseline) if args.baseline else default_baseline(key)
    baseline = None if args.update_baseline else read_baseline(path, key, explicit=bool(args.baseline))
    # the index opened (the bundled papers ingested on a first run) and the collection's statistics
    # computed, so that neither lands in the first answer's latency
    assistant = open_assistant(settings)
    pipeline: Pipeline = NaivePipeline(settings) if args.pipeline == "naive" else assistant
    result = run(pipeline, key, settings, load_questions(args.split), baseline, path)
    if args.update_baseline:
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(markdown(result, written=path if args.update_baseline else None,
                       missing=None if baseline is not None or args.update_baseline else path))
    return 0 if result["passed"] else 1
