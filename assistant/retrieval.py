"""Hybrid retrieval over the paper index: dense (Chroma, chunk-level, best chunk per paper) and
keyword (BM25, paper-level) rankings fused by weighted reciprocal rank. Filters apply to both
sides. It returns ranked `Hit`s; it does not judge relevance or write answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.filters import Filters
from assistant.index import PaperIndex
from assistant.types import Hit


@dataclass(frozen=True)
class FusionConfig:
    """Reciprocal-rank fusion: score = sum over sides of weight / (k + rank)."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    depth: int = 100  # candidates taken from each side before fusing


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of several rankings (ids best first, weight)."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


class HybridRetriever:
    def __init__(self, index: PaperIndex, fusion: FusionConfig | None = None) -> None:
        self.index = index
        self.fusion = fusion or FusionConfig()

    def dense(self, query: str, depth: int, filters: Filters,
              restrict: set[str] | None = None) -> dict[str, tuple[float, str]]:
        """paper id -> (cosine similarity, id of its best chunk), best first.

        Asks Chroma for distances only: fetching metadata for every candidate chunk costs more
        than the search itself, and only the final hits need their text."""
        collection = self.index.collection
        total = collection.count()
        if total == 0:
            return {}
        embedding: Any = [self.index.embedder.get_query_embedding(query)]
        where = filters.to_chroma_where()
        if restrict is not None:
            only: dict[str, Any] = {"paper_id": {"$in": sorted(restrict)}}
            where = {"$and": [where, only]} if where else only
        result = collection.query(
            query_embeddings=embedding,
            n_results=min(depth * 2, total),
            where=where,
            include=["distances"],
        )
        best: dict[str, tuple[float, str]] = {}
        for chunk, distance in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True):
            paper = chunk.rsplit("#", 1)[0]
            if paper not in best:  # results come nearest first
                best[paper] = (1.0 - float(distance), chunk)
        return dict(list(best.items())[:depth])

    def search(self, query: str, k: int = 10, filters: Filters | None = None,
               restrict: set[str] | None = None) -> list[Hit]:
        """The top-k papers for `query`; `restrict` limits results to the given paper ids."""
        filters = filters or Filters()
        catalog = self.index.catalog()
        records = {r["paper_id"]: r for r in catalog.records}
        allowed = {pid for pid, r in records.items() if filters.matches(r)} if filters else None
        if restrict is not None:
            allowed = (allowed if allowed is not None else set(records)) & restrict
        depth = max(self.fusion.depth, k)
        dense = self.dense(query, depth, filters, restrict)
        if allowed is not None:
            dense = {pid: v for pid, v in dense.items() if pid in allowed}
        keyword = dict(catalog.search(query, depth, allowed))
        fused = rrf([(list(dense), self.fusion.dense_weight), (list(keyword), self.fusion.keyword_weight)],
                    self.fusion.rrf_k)
        ranked = [(pid, score) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])[:k] if pid in records]
        chunk_ids = [dense[pid][1] for pid, _ in ranked if pid in dense]
        texts = dict(zip(*self._documents(chunk_ids), strict=True)) if chunk_ids else {}
        return [self._hit(records[pid], score, dense.get(pid), keyword.get(pid, 0.0), texts) for pid, score in ranked]

    def _documents(self, chunk_ids: list[str]) -> tuple[list[str], list[str]]:
        got = self.index.collection.get(ids=chunk_ids, include=["documents"])
        return got["ids"], [d or "" for d in got["documents"] or []]

    @staticmethod
    def _hit(record: dict[str, Any], score: float, dense: tuple[float, str] | None, keyword: float,
             texts: dict[str, str]) -> Hit:
        abstract = record.get("abstract", "")
        return Hit(
            id=record["paper_id"],
            title=record["title"],
            published=record.get("published"),
            score=score,
            text=texts.get(dense[1], abstract) if dense else abstract,
            abstract=abstract,
            authors=record.get("authors"),
            organization=record.get("organization"),
            upvotes=record.get("upvotes"),
            similarity=dense[0] if dense else 0.0,
            keyword_score=keyword,
        )
