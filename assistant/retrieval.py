"""Hybrid retrieval over the paper index: dense (Chroma, chunk-level, best chunk per paper) and
keyword (BM25 in the catalog, paper-level) scores, each min-max normalised per query, fused by a
weighted sum. Filters apply to both sides. It returns ranked `Hit`s; it does not judge relevance or write answers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from assistant.filters import Filters
from assistant.index import PaperIndex
from assistant.types import Hit


@dataclass(frozen=True)
class FusionConfig:
    """Convex fusion: score = dense_weight * dense + (1 - dense_weight) * keyword, each side's scores
    min-max normalised over its own candidates for the query.

    The defaults were tuned on SciFact's train split only (see BENCHMARKS.md): a dense weight of
    0.55 did best there, and convex fusion beat reciprocal-rank fusion, because it keeps how far
    apart the scores are, not just their order.
    `depth` bounds the work per query on large collections; a smaller collection is taken whole."""

    dense_weight: float = 0.55
    depth: int = 1000  # candidate papers taken from each side before fusing


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scores rescaled to [0, 1] over this query's candidates (best 1, worst 0). When every
    candidate has the same score they all get 1: each was found, and is as good as the best."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 0:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def fuse(dense: dict[str, float], keyword: dict[str, float], dense_weight: float) -> list[tuple[str, float]]:
    """Every candidate of either side with its fused score, best first (ties by id, so the order
    is reproducible). A paper missing from one side scores 0 on that side."""
    dense_norm, keyword_norm = min_max(dense), min_max(keyword)
    fused = {
        pid: dense_weight * dense_norm.get(pid, 0.0) + (1.0 - dense_weight) * keyword_norm.get(pid, 0.0)
        for pid in dense_norm.keys() | keyword_norm.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def chunk_text(record: dict[str, Any], chunk: int) -> str:
    """The text of the paper's `chunk`-th chunk: the span of its abstract the record names."""
    abstract = str(record.get("abstract", ""))
    spans = record.get("spans") or []
    if 2 * chunk + 1 >= len(spans):
        return abstract
    return abstract[spans[2 * chunk]:spans[2 * chunk + 1]]


class HybridRetriever:
    def __init__(self, index: PaperIndex, fusion: FusionConfig | None = None) -> None:
        self.index = index
        self.fusion = fusion or FusionConfig()

    def dense(self, query: str, depth: int, filters: Filters, restrict: set[str] | None = None, *,
              papers: int | None = None) -> dict[str, tuple[float, str]]:
        """The `depth` papers whose best chunk is nearest to `query`: paper id -> (cosine similarity,
        id of that chunk), best first. `papers` is the collection's paper count, when the caller
        has already read the catalog.

        Chroma ranks chunks, so it is asked for about `depth` papers' worth of chunks and asked
        again for more while fewer than `depth` distinct papers came back. It returns distances only:
        fetching metadata for every candidate chunk costs more than the search, and only the final
        hits need their text."""
        collection = self.index.collection
        total = self.index.count_chunks()
        if total == 0:
            return {}
        embedding: Any = [self.index.query_embedding(query)]
        where = filters.to_chroma_where()
        ids = None
        if restrict is not None:
            records = self.index.catalog().get(restrict)
            ids = sorted(f"{pid}#{i}" for pid, r in records.items() for i in range(int(r.get("chunks", 1))))
            if not ids:
                return {}
            total = min(total, len(ids))
        papers = max(1, papers if papers is not None else self.index.count_papers())
        wanted = min(total, math.ceil(depth * total / papers))
        while True:
            result = collection.query(query_embeddings=embedding, n_results=wanted, where=where, ids=ids,
                                      include=["distances"])
            chunks, distances = result["ids"][0], (result["distances"] or [[]])[0]
            best: dict[str, tuple[float, str]] = {}
            for chunk, distance in zip(chunks, distances, strict=True):
                paper = chunk.rsplit("#", 1)[0]
                if paper not in best:  # results come nearest first
                    best[paper] = (1.0 - float(distance), chunk)
            if len(best) >= depth or len(chunks) < wanted or wanted >= total:
                return dict(list(best.items())[:depth])
            wanted = min(total, 2 * wanted)

    def search(self, query: str, k: int = 10, filters: Filters | None = None,
               restrict: set[str] | None = None) -> list[Hit]:
        """The top-k papers for `query`; `restrict` limits results to the given paper ids.
        `Hit.score` is the fused score; `similarity` and `keyword_score` are each side's raw score.
        Both sides apply the filters themselves (Chroma's `where`, the catalog's SQL), so no list
        of allowed papers is ever built."""
        filters = filters or Filters()
        catalog = self.index.catalog()
        depth = max(self.fusion.depth, k)
        dense = self.dense(query, depth, filters, restrict, papers=catalog.count())
        keyword = dict(catalog.search(query, depth, filters, restrict))
        fused = fuse({pid: sim for pid, (sim, _) in dense.items()}, keyword, self.fusion.dense_weight)
        records: dict[str, dict[str, Any]] = {}
        for start in range(0, len(fused), 2 * k):  # a chunk whose paper's record is not written yet is skipped
            records.update(catalog.get(pid for pid, _ in fused[start:start + 2 * k]))
            if len(records) >= k:
                break
        ranked = [(pid, score) for pid, score in fused if pid in records][:k]
        return [self._hit(records[pid], score, dense.get(pid), keyword.get(pid, 0.0)) for pid, score in ranked]

    @staticmethod
    def _hit(record: dict[str, Any], score: float, dense: tuple[float, str] | None, keyword: float) -> Hit:
        abstract = record.get("abstract", "")
        return Hit(
            id=record["paper_id"],
            title=record["title"],
            published=record.get("published"),
            score=score,
            text=chunk_text(record, int(dense[1].rsplit("#", 1)[1])) if dense else abstract,
            abstract=abstract,
            authors=record.get("authors"),
            organization=record.get("organization"),
            upvotes=record.get("upvotes"),
            similarity=dense[0] if dense else 0.0,
            keyword_score=keyword,
        )
