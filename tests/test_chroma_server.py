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


def _write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_machines_share_one_server(tmp_path: Path, chroma_url: str, fake_embedder: FakeEmbedding) -> None:
    """Two data folders (two machines) on one server: each sees the other's adds, updates and
    removals, and catches up by reading only the papers that changed."""
    one = Settings(home=tmp_path / "machine-one", chroma_url=chroma_url)
    two = Settings(home=tmp_path / "machine-two", chroma_url=chroma_url)
    source = _write_rows(tmp_path / "papers.jsonl", list(ROWS))
    assert ingest([source], one, embedder=fake_embedder).added == 3

    reader = PaperIndex(two, embedder=fake_embedder)
    assert reader.count_papers() == 3 and reader.last_pull == 3  # a new machine reads the records once
    assert reader.count_papers() == 3 and reader.last_pull == 0  # and then only when something changed

    changed = [dict(ROWS[0], abstract="Protein folding predicted by a diffusion model over whole proteomes."),
               *ROWS[1:], {"title": "Tidal Energy Forecasting", "abstract": "Transformers forecast tidal energy."}]
    report = ingest([_write_rows(tmp_path / "changed" / "papers.jsonl", changed)], two, embedder=fake_embedder)
    assert (report.added, report.updated, report.unchanged) == (1, 1, 2)

    first = PaperIndex(one, embedder=fake_embedder)
    catalog = first.catalog()
    assert first.last_pull == 2 and catalog.count() == 4  # only the added and the updated paper were read
    assert catalog.get(["protein-folding-with-diffusion"])["protein-folding-with-diffusion"]["abstract"] == \
        changed[0]["abstract"]
    assert HybridRetriever(first).search("tidal energy transformers", k=1)[0].id == "tidal-energy-forecasting"

    pruned = ingest([_write_rows(tmp_path / "pruned" / "papers.jsonl", changed[2:])], one, embedder=fake_embedder,
                    prune=True)
    assert (pruned.removed, pruned.unchanged) == (2, 2)
    catalog = reader.catalog()
    assert reader.last_pull == 2  # the two removals, nothing else
    assert sorted(catalog.ids()) == ["robot-grasping-from-video", "tidal-energy-forecasting"]
    assert catalog.fingerprint == reader.state()["generation"] == first.state()["generation"]
    assert {h.id for h in HybridRetriever(reader).search("protein folding diffusion", k=5)} <= set(catalog.ids())


def test_ingests_from_two_machines_are_serialised(tmp_path: Path, chroma_url: str,
                                                  fake_embedder: FakeEmbedding) -> None:
    from ingest.lease import Lease, lease

    one = Settings(home=tmp_path / "machine-one", chroma_url=chroma_url)
    two = Settings(home=tmp_path / "machine-two", chroma_url=chroma_url)
    source = _write_rows(tmp_path / "papers.jsonl", list(ROWS))
    held_by_one = PaperIndex(one, embedder=fake_embedder)
    with lease(held_by_one, seconds=60, wait=0):
        with pytest.raises(IndexNotReadyError, match="on this Chroma server") as info:
            ingest([source], two, embedder=fake_embedder)
        assert "PAPERSCOPE_INGEST_LOCK_TIMEOUT" in str(info.value)
    assert ingest([source], two, embedder=fake_embedder).added == 3  # released

    # two machines claiming the same lease number: exactly one gets it
    a, b = Lease(held_by_one, 60), Lease(PaperIndex(two, embedder=fake_embedder), 60)
    number = a._latest()[0] + 1
    assert [a._claim(number), b._claim(number)] == [True, False]
    with pytest.raises(IndexNotReadyError, match="on this Chroma server"):
        b.acquire(wait=0)
    a.renew()
    a.release()
    b.acquire(wait=0)
    with pytest.raises(IndexNotReadyError, match="took it over"):
        a.renew()  # a stalled holder learns it lost the lease
    b.release()

    # an expired lease (its holder vanished on another machine) is taken over
    stale = Lease(held_by_one, seconds=0.01)
    stale.acquire(wait=0)
    held_by_one.leases.update(ids=[f"lease-{stale.number}"], metadatas=[{"host": "elsewhere", "pid": 1}])
    assert ingest([source], two, embedder=fake_embedder).unchanged == 3
