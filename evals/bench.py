"""`paperscope bench`: measured performance, printed as JSON or a short table.

- `ingest`: papers/s of a whole ingest into a fresh index next to the raw embedder's papers/s
  on exactly the texts that ingest embeds, in the same run, and the time of an unchanged re-ingest."""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.embedding import make_embedder
from assistant.settings import Settings
from ingest.chunking import chunk_paper, embed_text
from ingest.pipeline import ingest
from ingest.sources import bundled_collection, load_sources


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_ingest(paths: list[Path], settings: Settings) -> dict[str, Any]:
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
        "ingest_papers_per_s": round(n / first.seconds, 2),
        "ingest_vs_raw": round(raw_seconds / first.seconds, 3),
        "ingest_seconds": round(first.seconds, 2),
        "unchanged_reingest_seconds": round(again.seconds, 3),
        "machine": machine(),
    }


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.bench == "ingest":
        result = bench_ingest([Path(args.path)] if args.path else bundled_collection(), settings)
    else:
        raise SystemExit(f"unknown benchmark {args.bench!r}")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0
