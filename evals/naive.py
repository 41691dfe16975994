"""A naive pipeline to measure PaperScope against: LlamaIndex's `VectorStoreIndex` over the same
Chroma collection, top-5 chunks by the same embedder, and an answer that lists those chunks'
papers, each cited with the chunk's first sentence. No keyword side, no fusion, no relevance
bar, no abstention, no citation checks. It answers with PaperScope's own `Answer` type so the
same metrics apply; it is for `paperscope eval --pipeline naive` only."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from assistant.embedding import make_embedder
from assistant.filters import Filters
from assistant.index import PaperIndex, open_client
from assistant.retrieval import chunk_text
from assistant.sentences import split_sentences
from assistant.settings import Settings
from assistant.types import Answer, Citation, Hit

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import NodeWithScore

TOP_CHUNKS = 5


class NaivePipeline:
    """`ask` and `search` over the vector store alone, the way a LlamaIndex quick start would."""

    mode = "extractive"

    def __init__(self, settings: Settings, embedder: BaseEmbedding | None = None) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        collection = open_client(settings).get_collection(settings.collection, embedding_function=None)
        self._total = collection.count()
        # The chunks hold only their vectors and filter fields: LlamaIndex reads them back as TextNodes
        # whose id is `paper#n`, and the papers' records (title, abstract, where each chunk lies in
        # it) come from PaperScope's catalog.
        self._catalog = PaperIndex(settings, embedder=embedder).catalog()
        store = ChromaVectorStore(chroma_collection=collection)
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=embedder or make_embedder(settings))

    def _chunks(self, query: str, n: int, filters: dict[str, Any]) -> list[NodeWithScore]:
        where = Filters.from_kwargs(**filters).to_chroma_where()
        retriever = self._index.as_retriever(similarity_top_k=n, vector_store_kwargs={"where": where} if where else {})
        return retriever.retrieve(query)

    def search(self, query: str, k: int = 10, **filters: Any) -> list[Hit]:
        """The papers of the nearest chunks, in the order of their best chunk, until there are k."""
        n = 2 * k
        while True:
            hits = self._papers(self._chunks(query, n, filters))
            if len(hits) >= k or n >= self._total:
                return hits[:k]
            n *= 2

    def ask(self, question: str, **filters: Any) -> Answer:
        """The top-5 chunks' papers, each cited with the first sentence of its chunk; never abstains."""
        started = time.perf_counter()
        hits = self._papers(self._chunks(question, TOP_CHUNKS, filters))
        citations = [_cite(h, marker) for marker, h in enumerate(hits, start=1)]
        lines = [f"- **{c.title}** [{c.marker}]: “{c.evidence}”" for c in citations]
        text = f"The {len(citations)} best-matching papers:\n" + "\n".join(lines)
        return Answer(text=text, citations=citations, mode="extractive", retrieved=hits,
                      seconds=time.perf_counter() - started)

    def _papers(self, chunks: list[NodeWithScore]) -> list[Hit]:
        """One hit per paper, from its best chunk, whose text is the hit's text."""
        records = self._catalog.get(c.node.node_id.rsplit("#", 1)[0] for c in chunks)
        hits: dict[str, Hit] = {}
        for chunk in chunks:
            pid, number = chunk.node.node_id.rsplit("#", 1)
            record = records.get(pid)
            if record is None or pid in hits:
                continue
            hits[pid] = Hit(id=pid, title=str(record["title"]), published=record.get("published"),
                            score=float(chunk.score or 0.0), text=chunk_text(record, int(number)),
                            abstract=str(record["abstract"]), authors=record.get("authors"),
                            similarity=float(chunk.score or 0.0))
        return list(hits.values())


def _cite(hit: Hit, marker: int) -> Citation:
    sentences = split_sentences(hit.text)
    return Citation(id=hit.id, title=hit.title, published=hit.published, score=hit.score,
                    evidence=sentences[0] if sentences else hit.text, abstract=hit.abstract, authors=hit.authors,
                    marker=marker)
