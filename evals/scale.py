"""`paperscope bench scale`: how PaperScope's own machinery grows with the collection.

It builds a synthetic collection of N papers (SciFact sentences recombined, deterministic) and
ingests it with a cheap hashed embedder, so that the model's speed is not what is timed: ingest,
adding 1,000 papers, an unchanged re-ingest, a fresh process's first search, search latency,
the data folder's size and the peak memory. It measures; it tunes nothing."""

from __future__ import annotations

import hashlib
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import PaperScopeError
from assistant.settings import Settings

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"  # beside the repository
DIMENSIONS = 384  # as MiniLM's vectors, so the vector index is the size it would be
ORGANIZATIONS = [f"Institute {i}" for i in range(200)]
ADDED = 1000
QUERIES = 200
COLD_RUNS = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"\w+")


def hashed_vector(text: str) -> list[float]:
    """Deterministic bag-of-words vector: each word hashed to one of 384 dimensions, L2-normalised.
    Texts that share words are close, so search results still mean something."""
    vec = np.zeros(DIMENSIONS, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        vec[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIMENSIONS] += 1.0
    norm = float(np.linalg.norm(vec)) or 1.0
    return (vec / norm).tolist()


class HashedQueries:
    """The query side of `hashed_embedder`, without importing LlamaIndex (as an offline query does not)."""

    def get_query_embedding(self, query: str) -> list[float]:
        return hashed_vector(query)


def hashed_embedder() -> Any:
    """`hashed_vector` as a LlamaIndex embedding, for ingest."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class HashedEmbedding(BaseEmbedding):
        model_name: str = "hashed-384"

        def _get_query_embedding(self, query: str) -> list[float]:
            return hashed_vector(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return hashed_vector(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return hashed_vector(text)

    return HashedEmbedding()


def _scifact(folder: Path) -> tuple[list[str], list[str], list[str]]:
    """SciFact's titles, abstract sentences and queries."""
    corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        raise PaperScopeError(f"No SciFact corpus at {corpus}: pass --scifact DIR (a BEIR dataset folder).")
    titles: list[str] = []
    sentences: list[str] = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        titles.append(str(row["title"]).strip().rstrip("."))
        sentences.extend(s for s in _SENTENCE.split(str(row["text"])) if len(s) > 30)
    queries = [json.loads(line)["text"] for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    return titles, sentences, queries


def synthetic_papers(n: int, titles: list[str], sentences: list[str], start: int = 0) -> Iterator[dict[str, Any]]:
    """Papers `start` … `start + n - 1`: the same numbers give the same papers on every run."""
    for i in range(start, start + n):
        rng = random.Random(i)
        yield {
            "title": f"{rng.choice(titles)} (study {i})",
            "abstract": " ".join(rng.sample(sentences, rng.randint(3, 7))),
            "published": f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "authors": rng.randint(1, 20),
            "organization": rng.choice(ORGANIZATIONS),
            "upvotes": rng.randint(0, 500),
        }


def _write(path: Path, rows: Iterator[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return path


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


_COLD = """
import sys, time
started = time.perf_counter()
from assistant.index import PaperIndex
from assistant.retrieval import HybridRetriever
from assistant.settings import Settings
from evals.scale import HashedQueries
index = PaperIndex(Settings(home=sys.argv[1], collection=sys.argv[2]), embedder=HashedQueries())
HybridRetriever(index).search(sys.argv[3], k=10)
print(time.perf_counter() - started)
"""


def cold_start(settings: Settings, query: str) -> float:
    """Median wall seconds of a fresh process that opens the index and answers one search."""
    runs = []
    for _ in range(COLD_RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", _COLD, str(settings.home), settings.collection, query],
                       check=True, capture_output=True, timeout=600)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def bench_scale(papers: int, scifact: Path = SCIFACT, folder: Path | None = None) -> dict[str, Any]:
    from assistant.index import PaperIndex
    from assistant.retrieval import HybridRetriever
    from evals.bench import load_average, machine, percentiles_ms
    from ingest.pipeline import ingest

    load = load_average()
    titles, sentences, queries = _scifact(scifact)
    work = Path(tempfile.mkdtemp(prefix="paperscope-scale-", dir=folder))
    try:
        settings = Settings(home=work / "home", collection="scale")
        embedder = hashed_embedder()
        source = _write(work / "papers.jsonl", synthetic_papers(papers, titles, sentences))
        first = ingest([source], settings, embedder=embedder)
        size = _size(settings.home)
        added = ingest([_write(work / "added.jsonl", synthetic_papers(ADDED, titles, sentences, start=papers))],
                       settings, embedder=embedder)
        again = ingest([source], settings, embedder=embedder)
        if first.failed or added.added != ADDED or again.unchanged != papers:
            raise PaperScopeError(f"the synthetic collection did not ingest cleanly: {first.failed or again.to_json()}")
        cold = cold_start(settings, queries[0])
        retriever = HybridRetriever(PaperIndex(settings, embedder=embedder))
        for query in queries[:10]:
            retriever.search(query, k=10)  # warm-up
        samples = []
        for query in queries[:QUERIES]:
            started = time.perf_counter()
            retriever.search(query, k=10)
            samples.append(time.perf_counter() - started)
        p50, p95 = percentiles_ms(samples)
        vectors = first.chunks * DIMENSIONS * 4  # float32, as stored: the part no layout can shrink
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        return {
            "papers": papers,
            "chunks": first.chunks,
            "bytes_per_paper": round(size / papers),
            "bytes_per_paper_beyond_vectors": round((size - vectors) / papers),
            "ingest_papers_per_s": round(papers / first.seconds, 1),
            "ingest_seconds": round(first.seconds, 1),
            "add_1000_seconds": round(added.seconds, 2),
            "reingest_unchanged_seconds": round(again.seconds, 2),
            "cold_start_seconds": round(cold, 2),
            "search_p50_ms": p50,
            "search_p95_ms": p95,
            "peak_rss_mb": round(peak / 1024),
            "machine": machine(),
            "load_1min": load,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
