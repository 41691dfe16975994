"""A collection written in the earlier layout (LlamaIndex node JSON on every chunk, each paper's
record on its first chunk) is rewritten in today's on first use, keeping every paper and its
metadata, and an upgrade killed after the old collection was deleted is finished by the next open."""

from __future__ import annotations

import json

import chromadb
import pytest

from assistant import Assistant, Settings
from assistant.errors import OldLayoutError
from assistant.index import PaperIndex
from ingest.upgrade import needs_upgrade, upgrade
from tests.conftest import FakeEmbedding

PAPERS = [
    {"paper_id": "tree-search-for-math", "title": "Tree search for math reasoning",
     "abstract": "We use Monte Carlo tree search to improve mathematical reasoning. It gains 5.8 points.",
     "published": "2024-05-01", "published_ord": 20240501, "authors": 3, "sources": "listing-a.txt"},
    {"paper_id": "private-tests", "title": "Private hypothesis tests",
     "abstract": "We propose differentially private hypothesis tests with exact coverage.",
     "organization": "Tsinghua University", "upvotes": 7, "sources": "listing-b.txt"},
]


def _write_old_layout(settings: Settings, whole: dict[str, list[float]] | None = None) -> None:
    """What the earlier PaperScope stored: no `format` in the collection's metadata, the record on
    chunk 0. A paper named in `whole` is one chunk, its whole abstract, with that vector (as
    today's chunking cuts a short abstract); the others are cut at every sentence."""
    client = chromadb.PersistentClient(path=str(settings.chroma_path),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.create_collection(settings.collection, embedding_function=None,
                                          metadata={"embedder": settings.embedder_id, "generation": "g1"})
    embedder = FakeEmbedding()
    for paper in PAPERS:
        vector = (whole or {}).get(str(paper["paper_id"]))
        chunks = [str(paper["abstract"])] if vector else str(paper["abstract"]).split(". ")
        collection.add(
            ids=[f"{paper['paper_id']}#{i}" for i in range(len(chunks))],
            embeddings=[vector] if vector else [embedder.get_text_embedding(c) for c in chunks],  # type: ignore[arg-type]
            documents=chunks,
            metadatas=[{**paper, "chunk": 0, "_node_content": json.dumps({"text": chunks[0]})},
                       *({"paper_id": paper["paper_id"], "chunk": i, "_node_content": "{}"}
                         for i in range(1, len(chunks)))],
        )


def test_an_old_collection_is_upgraded_on_first_use_keeping_its_papers(settings: Settings) -> None:
    _write_old_layout(settings)
    with pytest.raises(OldLayoutError, match="upgrades it"):
        PaperIndex(settings).count_papers()
    assert needs_upgrade(settings)
    assistant = Assistant(settings, embedder=FakeEmbedding())
    records = {r["paper_id"]: r for r in assistant.index.catalog().records}
    assert set(records) == {p["paper_id"] for p in PAPERS}
    assert records["tree-search-for-math"]["authors"] == 3 and records["tree-search-for-math"]["published"] == "2024-05-01"
    assert records["private-tests"]["organization"] == "Tsinghua University" and records["private-tests"]["upvotes"] == 7
    assert not settings.upgrade_path.exists() and not needs_upgrade(settings)
    answer = assistant.ask("Which papers use Monte Carlo tree search?")
    assert [c.id for c in answer.citations] == ["tree-search-for-math"]
    assert upgrade(settings, embedder=FakeEmbedding()) is None  # nothing left to do


def test_an_upgrade_killed_after_the_old_collection_went_is_finished_by_the_next_open(settings: Settings) -> None:
    _write_old_layout(settings)
    # the upgrade saved the records and deleted the old collection, then died before ingesting them
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.upgrade_path.write_text("".join(json.dumps(p) + "\n" for p in PAPERS), encoding="utf-8")
    chromadb.PersistentClient(path=str(settings.chroma_path),
                              settings=chromadb.Settings(anonymized_telemetry=False)).delete_collection(settings.collection)
    assert needs_upgrade(settings)
    assistant = Assistant(settings, embedder=FakeEmbedding())
    assert assistant.index.count_papers() == 2
    assert not settings.upgrade_path.exists()


class Counting(FakeEmbedding):
    texts: list[str] = []

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return [self._vector(t) for t in texts]


def test_an_upgrade_keeps_the_vectors_of_chunks_cut_as_before(settings: Settings) -> None:
    marked = [1.0] + [0.0] * 63  # no text embeds to this
    _write_old_layout(settings, whole={"private-tests": marked})
    counting = Counting()
    upgrade(settings, embedder=counting)
    chunks = PaperIndex(settings, embedder=counting).collection.get(include=["embeddings"])
    vectors = dict(zip(chunks["ids"], chunks["embeddings"], strict=True))
    assert list(vectors["private-tests#0"]) == marked  # taken back, not embedded again
    assert counting.texts and not any("Private hypothesis tests" in t for t in counting.texts)
    assert not settings.upgrade_path.exists() and not settings.upgrade_path.with_suffix(".vectors.npz").exists()
