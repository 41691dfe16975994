"""`paperscope bench`: measured performance, printed as JSON or a short table.

- `ingest`: papers/s of a whole ingest into a fresh index next to the raw embedder's papers/s
  on exactly the texts that ingest embeds, in the same run, and the time of an unchanged re-ingest.
- `beir`: nDCG@10 and recall@100 of the product's hybrid retriever on a BEIR dataset's qrels split,
  the corpus ingested into a collection of its own (re-runs reuse it).
- `query`: search and extractive-answer latency p50/p95 over the fixed question set on the bundled
  collection, and the wall time of a fresh `paperscope ask` process.

It measures; it does not tune anything or judge answer quality (`paperscope eval` does)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import PaperScopeError
from assistant.settings import Settings
from ingest.pipeline import ingest
from ingest.sources import bundled_collection, load_sources

QUESTIONS = Path(__file__).parent / "questions"
QUESTION_SETS = ("dev.jsonl", "test.jsonl")
COLD_START_RUNS = 5
TIMED_PASSES = 3  # each question is timed this many times, after one untimed warm-up pass


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load_average() -> float:
    """The 1-minute load average when the benchmark started: timings mean little on a busy machine."""
    return round(os.getloadavg()[0], 2)


# -- ingest ------------------------------------------------------------------------------------
def bench_ingest(paths: list[Path], settings: Settings) -> dict[str, Any]:
    from assistant.embedding import make_embedder
    from ingest.chunking import chunk_paper, embed_text

    load = load_average()
    papers, failed = load_sources(paths)
    embedder = make_embedder(settings)
    texts = [embed_text(p.title, n.get_content()) for p in papers.values()
             for n in chunk_paper(p, settings.chunk_size, settings.chunk_overlap)]
    embedder.get_text_embedding_batch(texts[:8])  # warm the session up, as the ingest's first batch would be
    started = time.perf_counter()
    embedder.get_text_embedding_batch(texts)
    raw_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="paperscope-bench-") as home:
        fresh = settings.model_copy(update={"home": Path(home), "chroma_url": None})
        first = ingest(paths, fresh, embedder=embedder)
        again = ingest(paths, fresh, embedder=embedder)
    n = len(papers)
    return {
        "papers": n,
        "chunks": len(texts),
        "failed": [f.path for f in failed],
        "raw_embedder_papers_per_s": round(n / raw_seconds, 2),
        "raw_embedder_chunks_per_s": round(len(texts) / raw_seconds, 2),
        "ingest_papers_per_s": round(n / first.seconds, 2),
        "ingest_vs_raw": round(raw_seconds / first.seconds, 3),
        "ingest_seconds": round(first.seconds, 2),
        "unchanged_reingest_seconds": round(again.seconds, 3),
        "machine": machine(),
        "load_1min": load,
    }


# -- BEIR retrieval quality --------------------------------------------------------------------
def ndcg_at_k(ranked: list[str], relevance: dict[str, int], k: int = 10) -> float:
    """nDCG@k as BEIR reports it (pytrec_eval's `ndcg_cut`): the gain of a document is its graded
    relevance from the qrels, discounted by log2(rank + 1); the ideal DCG ranks the qrels' relevant
    documents by grade, also cut at k. A query with no relevant document scores 0.

    Not LlamaIndex's `NDCG` metric: it treats relevance as binary and sums the ideal DCG over every
    expected document rather than the first k, so it disagrees with BEIR whenever grades differ or
    a query has more than k relevant documents (and it raises on an empty result list)."""
    dcg = sum(relevance.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    ideal = sorted((grade for grade in relevance.values() if grade > 0), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], relevance: dict[str, int], k: int = 100) -> float:
    """Share of the qrels' relevant documents (grade > 0) found in the first k results (BEIR's recall@k)."""
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def beir_collection(folder: Path) -> str:
    """The collection a BEIR dataset is ingested into: `beir-<folder name>`, made a valid collection name."""
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", folder.resolve().name).strip("._-") or "dataset"
    return f"beir-{name}"[:62].rstrip("._-")


def load_queries(folder: Path) -> dict[str, str]:
    path = folder / "queries.jsonl"
    if not path.exists():
        raise PaperScopeError(f"No queries.jsonl in {folder}: give a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/).")
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {str(row["_id"]): str(row["text"]) for row in rows}


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    """query id -> {document id: relevance grade} from `qrels/<split>.tsv` (header row, tab-separated)."""
    path = folder / "qrels" / f"{split}.tsv"
    if not path.exists():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise PaperScopeError(f"No qrels/{split}.tsv in {folder}; pass --split with one of {found or 'its splits'}.")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader, None)
        for row in reader:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def bench_beir(folder: Path, split: str, settings: Settings,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    from assistant.filters import Filters
    from assistant.index import PaperIndex
    from assistant.retrieval import HybridRetriever

    load = load_average()
    qrels = load_qrels(folder, split)
    queries = load_queries(folder)
    scored = sorted(qid for qid in qrels if qid in queries)
    beir = settings.model_copy(update={"collection": beir_collection(folder)})
    report = ingest([folder], beir, progress=progress)
    if report.failed:
        raise PaperScopeError(f"Could not ingest {folder}: {report.failed[0]['path']}: {report.failed[0]['error']}")
    index = PaperIndex(beir)
    index.require_papers()
    retriever = HybridRetriever(index)
    retriever.search("warm-up", k=1)  # loads the model and the keyword index outside the timing
    started = time.perf_counter()
    runs = {qid: [hit.id for hit in retriever.search(queries[qid], k=100, filters=Filters())] for qid in scored}
    seconds = time.perf_counter() - started
    return {
        "dataset": folder.resolve().name,
        "split": split,
        "queries": len(scored),
        "ndcg_at_10": round(statistics.fmean(ndcg_at_k(runs[q], qrels[q], 10) for q in scored), 4) if scored else 0.0,
        "recall_at_100": round(statistics.fmean(recall_at_k(runs[q], qrels[q], 100) for q in scored), 4) if scored else 0.0,
        "seconds": round(seconds, 2),
        "ingest_seconds": round(report.seconds, 2),
        "papers": report.papers,
        "chunks_embedded": report.chunks,  # 0 when the collection was already up to date
        "collection": beir.collection,
        "machine": machine(),
        "load_1min": load,
    }


# -- query latency -----------------------------------------------------------------------------
def load_questions() -> list[dict[str, Any]]:
    """The fixed question set: every row of the dev and test files (`question`, optional `filters`)."""
    rows: list[dict[str, Any]] = []
    for name in QUESTION_SETS:
        text = (QUESTIONS / name).read_text(encoding="utf-8")
        rows.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return rows


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of durations in seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(cuts[49] * 1000, 1), round(cuts[94] * 1000, 1)


def timings(questions: list[dict[str, Any]], call: Callable[[dict[str, Any]], object], passes: int) -> list[float]:
    """Seconds of `call(row)` for every question row, `passes` times over the set."""
    samples = []
    for _ in range(passes):
        for row in questions:
            started = time.perf_counter()
            call(row)
            samples.append(time.perf_counter() - started)
    return samples


def cold_start(question: str, settings: Settings, runs: int) -> list[float]:
    """Wall seconds of fresh `python -m assistant.cli ask QUESTION --json` processes on the built index."""
    env = {**os.environ, "PAPERSCOPE_HOME": str(settings.home), "PAPERSCOPE_COLLECTION": settings.collection}
    if settings.chroma_url:
        env["PAPERSCOPE_CHROMA_URL"] = settings.chroma_url
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant.cli", "ask", question, "--json"],
                       env=env, check=True, capture_output=True, timeout=300)
        seconds.append(round(time.perf_counter() - started, 3))
    return seconds


def bench_query(settings: Settings) -> dict[str, Any]:
    from assistant.progress import open_assistant

    load = load_average()
    assistant = open_assistant(settings)  # the first run ingests the bundled papers, before anything is timed
    questions = load_questions()
    cold = cold_start(questions[0]["question"], settings, COLD_START_RUNS)  # while this process is still idle

    def search_one(row: dict[str, Any]) -> object:
        return assistant.search(row["question"], k=10)

    def ask_one(row: dict[str, Any]) -> object:
        return assistant.ask(row["question"], **row.get("filters", {}))

    timings(questions, search_one, 1)  # warm-up: model session, keyword index, term weights
    timings(questions, ask_one, 1)
    search = timings(questions, search_one, TIMED_PASSES)
    answer = timings(questions, ask_one, TIMED_PASSES)
    search_p50, search_p95 = percentiles_ms(search)
    answer_p50, answer_p95 = percentiles_ms(answer)
    return {
        "papers": assistant.summary().papers,
        "questions": len(questions),
        "timed_passes": TIMED_PASSES,
        "search_p50_ms": search_p50,
        "search_p95_ms": search_p95,
        "answer_p50_ms": answer_p50,
        "answer_p95_ms": answer_p95,
        "cold_start_s": statistics.median(cold),
        "cold_start_runs_s": cold,
        "machine": machine(),
        "load_1min": load,
    }


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.bench == "ingest":
        result = bench_ingest([Path(args.path)] if args.path else bundled_collection(), settings)
    elif args.bench == "beir":
        from assistant.progress import bar

        update, close = bar(f"Ingesting {args.dir}")
        try:
            result = bench_beir(Path(args.dir), args.split, settings, progress=update)
        finally:
            close()
    elif args.bench == "query":
        result = bench_query(settings)
    elif args.bench == "scale":
        from evals.scale import bench_scale

        result = bench_scale(args.papers, Path(args.scifact), Path(args.dir) if args.dir else None)
    else:
        raise SystemExit(f"unknown benchmark {args.bench!r}")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0
