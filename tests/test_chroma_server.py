"""Ingest and search against a real `chroma run` server instead of the embedded store."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeEmbedding

from assistant.errors import IndexNotReadyError
from assistant.index import PaperIndex
from assistant.retrieval import HybridRetriever
from assistant.settings import Settings
from ingest.pipeline import ingest
from tests.servers import free_port, start

pytestmark = pytest.mark.server

ROWS = [
    {"title": "Protein Folding with Diffusion", "abstract": "A diffusion model predicts protein folding "
     "structures from amino acid sequences and beats prior baselines on a structure benchmark.",
     "published": "2024-02-01", "organization": "Acme Lab"},
    {"title": "Speech Recognition for Whispers", "abstract": "We train speech recognition models on whispered "
     "speech and halve the word error rate on a new whisper corpus.", "published": "2023-05-10"},
    {"title": "Robot Grasping from Video", "abstract": "Robots learn grasping skills from human video "
     "demonstrations with no teleoperation, transferring to novel household objects.", "authors": 4},
]


def chroma_command() -> list[str]:
    script = Path(sys.executable).parent / "chroma"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chromadb.cli.cli"]


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = start([*chroma_command(), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port",
                    str(port)], f"http://127.0.0.1:{port}", tmp_path / "chroma-server.log", seconds=60,
                   name="chroma run", ready_path="/api/v2/heartbeat")
    try:
        yield server.url
    finally:
        server.stop()


def test_ingest_search_and_reingest_on_a_server(tmp_path: Path, paperscope_home: Path, chroma_url: str,
                                                fake_embedder: FakeEmbedding) -> None:
    source = tmp_path / "papers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    settings = Settings(home=paperscope_home, chroma_url=chroma_url)

    first = ingest([source], settings, embedder=fake_embedder)
    assert (first.papers, first.added, first.chunks, first.failed) == (3, 3, 3, [])
    assert not settings.chroma_path.exists()  # nothing went to the embedded store

    index = PaperIndex(settings, embedder=fake_embedder)
    assert index.collection.count() == 3
    records = {r["paper_id"]: r for r in index.catalog().records}
    assert set(records) == {"protein-folding-with-diffusion", "speech-recognition-for-whispers",
                            "robot-grasping-from-video"}
    assert records["protein-folding-with-diffusion"]["organization"] == "Acme Lab"
    hits = HybridRetriever(index).search("whispered speech recognition", k=2)
    assert hits[0].id == "speech-recognition-for-whispers"
    assert hits[0].similarity > 0

    again = ingest([source], settings, embedder=fake_embedder)
    assert (again.unchanged, again.added, again.updated, again.chunks) == (3, 0, 0, 0)
    assert PaperIndex(settings, embedder=fake_embedder).collection.count() == 3


def test_unreachable_server_says_how_to_start_one(paperscope_home: Path, fake_embedder: FakeEmbedding) -> None:
    settings = Settings(home=paperscope_home, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexNotReadyError, match="chroma run") as info:
        PaperIndex(settings, embedder=fake_embedder)
    assert settings.chroma_url in str(info.value)
    assert "PAPERSCOPE_CHROMA_URL" in str(info.value)
    with pytest.raises(IndexNotReadyError, match="chroma run"):
        ingest(None, settings, embedder=fake_embedder)
