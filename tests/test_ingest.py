"""Incremental ingest into a real embedded Chroma: counts, idempotence, updates, pruning, failures,
the keyword catalog staying consistent, the embedder guard, the CLI, the ingest lock and a killed ingest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEmbedding

from assistant.errors import IndexNotReadyError
from assistant.filters import Filters
from assistant.index import PaperIndex
from assistant.retrieval import HybridRetriever
from assistant.settings import Settings
from ingest.chunking import chunk_paper
from ingest.pipeline import WRITE_GROUP_CHUNKS, IngestReport, ingest, ingest_lock
from ingest.sources import load_sources

REPORT_KEYS = {"papers", "added", "updated", "unchanged", "removed", "chunks", "failed", "seconds", "skipped"}
TOPICS = ["graph neural networks", "protein folding", "speech recognition", "robot grasping", "code generation",
          "weather forecasting", "image segmentation", "machine translation", "recommender systems", "quantum chemistry"]


def paper_row(i: int, sentences: int = 2, **extra: Any) -> dict[str, Any]:
    topic = TOPICS[i % len(TOPICS)]
    body = " ".join(
        f"Sentence {s} of study {i} reports that method {i} improves {topic} benchmarks by a clear margin."
        for s in range(sentences)
    )
    return {"title": f"Study {i} on {topic}", "abstract": body, "published": f"2024-01-{i % 28 + 1:02d}",
            "authors": i % 7 + 1, "organization": "Acme Lab", **extra}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class CountingEmbedding(FakeEmbedding):
    """The fake embedder, counting the texts it embeds."""

    calls: int = 0

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.calls += len(texts)
        return [self._vector(t) for t in texts]

    def _get_text_embedding(self, text: str) -> list[float]:
        self.calls += 1
        return self._vector(text)


@pytest.fixture
def counting() -> CountingEmbedding:
    return CountingEmbedding()


@pytest.fixture
def small_chunks(paperscope_home: Path) -> Settings:
    """Small chunks, so multi-sentence abstracts become several chunks."""
    return Settings(home=paperscope_home, chunk_size=48, chunk_overlap=8)


def chroma_state(settings: Settings, embedder: FakeEmbedding) -> dict[str, dict[str, Any]]:
    """paper id -> its record, read straight from Chroma's papers collection (tombstones left out);
    checks the chunk ids and the chunks' filter fields too."""
    index = PaperIndex(settings, embedder=embedder)
    records = index.stored_records()
    chunks = index.collection.get(include=["metadatas", "documents"])
    expected_ids = {f"{pid}#{i}" for pid, m in records.items() for i in range(m["chunks"])}
    assert set(chunks["ids"]) == expected_ids  # no stale or missing chunks
    assert not any(chunks["documents"])  # a chunk's text is a span of its paper's abstract
    for chunk, meta in zip(chunks["ids"], chunks["metadatas"], strict=True):
        record, meta = records[chunk.rsplit("#", 1)[0]], meta or {}
        assert set(meta) <= {"published_ord", "authors", "upvotes", "org"}
        assert meta.get("published_ord") == record.get("published_ord")
        assert meta.get("org") == (record["organization"].lower() if record.get("organization") else None)
    return records


def assert_consistent(settings: Settings, embedder: FakeEmbedding) -> dict[str, dict[str, Any]]:
    """The keyword catalog holds exactly what Chroma holds, and is stamped with its generation."""
    stored = chroma_state(settings, embedder)
    index = PaperIndex(settings, embedder=embedder)
    catalog = index.catalog()
    records = {r["paper_id"]: r for r in catalog.records}
    assert set(records) == set(stored)
    for pid, meta in stored.items():
        assert records[pid]["content_hash"] == meta["content_hash"]
        assert records[pid]["abstract"] == meta["abstract"]
        assert records[pid]["title"] == meta["title"]
    assert catalog.fingerprint != "dirty"
    assert catalog.fingerprint == index.collection.metadata["generation"]
    return stored


def counts(report: IngestReport) -> tuple[int, int, int, int, int]:
    return report.papers, report.added, report.updated, report.unchanged, report.removed


def test_first_ingest_then_idempotent_reingest(tmp_path: Path, small_chunks: Settings,
                                               counting: CountingEmbedding) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", [paper_row(i, sentences=1 + i % 4) for i in range(12)])
    papers, _ = load_sources([source])
    expected_chunks = sum(len(chunk_paper(p, 48, 8)) for p in papers.values())
    assert expected_chunks > 12  # some papers really are several chunks

    first = ingest([source], small_chunks, embedder=counting)
    assert counts(first) == (12, 12, 0, 0, 0)
    assert first.chunks == expected_chunks == counting.calls
    assert first.failed == []
    stored = assert_consistent(small_chunks, counting)
    assert len(stored) == 12

    counting.calls = 0
    again = ingest([source], small_chunks, embedder=counting)
    assert counts(again) == (12, 0, 0, 12, 0)
    assert again.chunks == 0
    assert counting.calls == 0  # nothing re-embedded
    assert assert_consistent(small_chunks, counting) == stored


def test_bundled_collection_ingest_is_idempotent(settings: Settings, counting: CountingEmbedding) -> None:
    first = ingest(None, settings, embedder=counting)
    assert counts(first) == (465, 465, 0, 0, 0)
    assert first.chunks == counting.calls > 465
    counting.calls = 0
    again = ingest(None, settings, embedder=counting)
    assert counts(again) == (465, 0, 0, 465, 0) and again.chunks == 0 and counting.calls == 0
    stored = assert_consistent(settings, counting)
    merged = stored["training-chain-of-thought-via-latent-variable-inference"]
    assert merged["authors"] == 10 and merged["published"] == "2023-11-28"
    assert merged["sources"].count(",") == 1


def test_changed_abstract_is_updated_and_reembedded(tmp_path: Path, small_chunks: Settings,
                                                     counting: CountingEmbedding) -> None:
    rows = [paper_row(i, sentences=4) for i in range(5)]
    source = write_jsonl(tmp_path / "papers.jsonl", rows)
    ingest([source], small_chunks, embedder=counting)
    before = assert_consistent(small_chunks, counting)
    assert before["study-2-on-speech-recognition"]["chunks"] > 1

    rows[2]["abstract"] = "A much shorter abstract: method two now works for speech recognition of whispers."
    write_jsonl(source, rows)
    counting.calls = 0
    report = ingest([source], small_chunks, embedder=counting)
    assert counts(report) == (5, 0, 1, 4, 0)
    assert report.chunks == 1 == counting.calls  # only the changed paper, now one chunk
    after = assert_consistent(small_chunks, counting)  # its stale chunks are gone
    changed = after["study-2-on-speech-recognition"]
    assert changed["chunks"] == 1 and changed["abstract"] == rows[2]["abstract"]
    assert changed["text_hash"] != before["study-2-on-speech-recognition"]["text_hash"]
    assert {k: v for k, v in after.items() if k != changed["paper_id"]} == {
        k: v for k, v in before.items() if k != changed["paper_id"]}

    # both sides see the new text
    index = PaperIndex(small_chunks, embedder=counting)
    dense = HybridRetriever(index).dense(rows[2]["abstract"], 3, Filters())
    assert next(iter(dense)) == "study-2-on-speech-recognition"
    assert [pid for pid, _ in index.catalog().search("whispers", 3)] == ["study-2-on-speech-recognition"]

    # growing it back adds chunks again
    rows[2] = paper_row(2, sentences=6)
    write_jsonl(source, rows)
    report = ingest([source], small_chunks, embedder=counting)
    assert report.updated == 1 and report.chunks > 1
    assert assert_consistent(small_chunks, counting)["study-2-on-speech-recognition"]["chunks"] == report.chunks


def test_metadata_only_change_updates_without_reembedding(tmp_path: Path, small_chunks: Settings,
                                                           counting: CountingEmbedding) -> None:
    rows = [paper_row(i, sentences=3) for i in range(4)]
    source = write_jsonl(tmp_path / "papers.jsonl", rows)
    ingest([source], small_chunks, embedder=counting)
    before = assert_consistent(small_chunks, counting)
    vectors_before = PaperIndex(small_chunks, embedder=counting).collection.get(
        ids=["study-1-on-protein-folding#0"], include=["embeddings"])["embeddings"][0].tolist()

    rows[1]["organization"] = "Beta Institute"
    rows[1]["published"] = "2023-06-30"
    write_jsonl(source, rows)
    counting.calls = 0
    report = ingest([source], small_chunks, embedder=counting)
    assert counts(report) == (4, 0, 1, 3, 0)
    assert report.chunks == 0 and counting.calls == 0

    after = assert_consistent(small_chunks, counting)
    changed = after["study-1-on-protein-folding"]
    assert changed["organization"] == "Beta Institute" and changed["published_ord"] == 20230630
    assert changed["text_hash"] == before["study-1-on-protein-folding"]["text_hash"]
    assert changed["content_hash"] != before["study-1-on-protein-folding"]["content_hash"]
    collection = PaperIndex(small_chunks, embedder=counting).collection
    every_chunk = collection.get(ids=[f"study-1-on-protein-folding#{i}" for i in range(changed["chunks"])],
                                 include=["metadatas"])
    assert len(every_chunk["ids"]) == changed["chunks"] > 1
    assert {m["org"] for m in every_chunk["metadatas"]} == {"beta institute"}
    assert {m["published_ord"] for m in every_chunk["metadatas"]} == {20230630}
    vectors_after = collection.get(ids=["study-1-on-protein-folding#0"], include=["embeddings"])["embeddings"][0]
    assert vectors_after.tolist() == vectors_before


def test_without_prune_a_paper_keeps_what_it_had(tmp_path: Path, settings: Settings,
                                                  counting: CountingEmbedding) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", [paper_row(0, upvotes=5)])
    two = write_jsonl(tmp_path / "two.jsonl", [{"title": paper_row(0)["title"], "abstract": paper_row(0)["abstract"]}])
    ingest([one], settings, embedder=counting)
    counting.calls = 0
    report = ingest([two], settings, embedder=counting)
    assert counts(report) == (1, 0, 1, 0, 0) and counting.calls == 0
    (stored,) = assert_consistent(settings, counting).values()
    assert stored["sources"] == "one.jsonl,two.jsonl"
    assert (stored["upvotes"], stored["organization"], stored["authors"]) == (5, "Acme Lab", 1)


def test_prune_removes_papers_no_longer_present(tmp_path: Path, small_chunks: Settings,
                                                counting: CountingEmbedding) -> None:
    rows = [paper_row(i, sentences=3) for i in range(6)]
    source = write_jsonl(tmp_path / "papers.jsonl", rows)
    ingest([source], small_chunks, embedder=counting)

    write_jsonl(source, rows[:4])
    unpruned = ingest([source], small_chunks, embedder=counting)
    assert counts(unpruned) == (4, 0, 0, 4, 0)
    assert len(assert_consistent(small_chunks, counting)) == 6  # without --prune nothing is removed

    counting.calls = 0
    pruned = ingest([source], small_chunks, embedder=counting, prune=True)
    assert counts(pruned) == (4, 0, 0, 4, 2)
    assert pruned.chunks == 0 and counting.calls == 0
    stored = assert_consistent(small_chunks, counting)  # every chunk of the removed papers is gone
    assert sorted(stored) == sorted(f"study-{i}-on-{TOPICS[i].replace(' ', '-')}" for i in range(4))
    hits = HybridRetriever(PaperIndex(small_chunks, embedder=counting)).search("study 5 weather forecasting", k=10)
    assert "study-5-on-weather-forecasting" not in {h.id for h in hits}


def test_failed_file_blocks_pruning_but_others_ingest(tmp_path: Path, settings: Settings,
                                                      counting: CountingEmbedding) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [paper_row(i) for i in range(3)])
    other = write_jsonl(tmp_path / "other.jsonl", [paper_row(i) for i in range(3, 6)])
    ingest([good, other], settings, embedder=counting)

    other.write_text("{this is no longer json\n")
    write_jsonl(good, [paper_row(i) for i in (0, 1, 2, 10)])  # one new paper
    report = ingest([good, other], settings, embedder=counting, prune=True)
    assert len(report.failed) == 1
    assert report.failed[0]["path"] == str(other)
    assert "line 1 is not JSON" in report.failed[0]["error"]
    assert counts(report) == (4, 1, 0, 3, 0)  # the new paper ingested; nothing pruned
    assert len(assert_consistent(settings, counting)) == 7

    write_jsonl(other, [paper_row(5)])
    report = ingest([good, other], settings, embedder=counting, prune=True)
    assert report.failed == [] and report.removed == 2
    assert len(assert_consistent(settings, counting)) == 5


def test_embedder_mismatch_is_refused(tmp_path: Path, settings: Settings, fake_embedder: FakeEmbedding) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", [paper_row(i) for i in range(3)])
    ingest([source], settings, embedder=fake_embedder)
    hosted = Settings(home=settings.home, embed_model="text-embedding-3-small", embed_base_url="http://127.0.0.1:9")
    index = PaperIndex(hosted, embedder=fake_embedder)
    with pytest.raises(IndexNotReadyError, match="PAPERSCOPE_COLLECTION") as info:
        index.collection  # noqa: B018
    assert "local:all-MiniLM-L6-v2" in str(info.value) and "PAPERSCOPE_EMBED_MODEL" in str(info.value)
    with pytest.raises(IndexNotReadyError, match="PAPERSCOPE_COLLECTION"):
        HybridRetriever(PaperIndex(hosted, embedder=fake_embedder)).search("protein folding")
    with pytest.raises(IndexNotReadyError, match="PAPERSCOPE_COLLECTION"):
        ingest([source], hosted, embedder=fake_embedder)

    # a new collection for the other model is fine
    fresh = Settings(home=settings.home, embed_model="text-embedding-3-small", embed_base_url="http://127.0.0.1:9",
                     collection="papers-hosted")
    report = ingest([source], fresh, embedder=fake_embedder)
    assert report.added == 3
    assert len(PaperIndex(settings, embedder=fake_embedder).catalog().records) == 3


def test_second_ingest_while_one_holds_the_lock(tmp_path: Path, settings: Settings,
                                                fake_embedder: FakeEmbedding) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", [paper_row(0)])
    with ingest_lock(settings):
        with pytest.raises(IndexNotReadyError, match="Another ingest") as info:
            ingest([source], settings, embedder=fake_embedder)
        assert f"pid {os.getpid()}" in str(info.value)
        assert "PAPERSCOPE_INGEST_LOCK_TIMEOUT" in str(info.value)
    assert ingest([source], settings, embedder=fake_embedder).added == 1  # released


def subprocess_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PAPERSCOPE_HOME"] = str(home)
    return env


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", *args, "--json"],
                          env=subprocess_env(home), capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_ingest_json_and_exit_codes(tmp_path: Path, paperscope_home: Path) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", [paper_row(i) for i in range(3)])
    done = run_cli(paperscope_home, str(source))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == REPORT_KEYS
    assert (report["papers"], report["added"], report["chunks"], report["failed"]) == (3, 3, 3, [])
    assert isinstance(report["seconds"], float | int)

    bad = tmp_path / "bad.csv"
    bad.write_text("name,summary\nx,y\n")
    failed = run_cli(paperscope_home, str(source), str(bad))
    assert failed.returncode != 0
    report = json.loads(failed.stdout.strip().splitlines()[-1])
    assert set(report) == REPORT_KEYS
    assert report["unchanged"] == 3 and report["chunks"] == 0
    assert [f["path"] for f in report["failed"]] == [str(bad)]
    assert "'title' and 'abstract'" in report["failed"][0]["error"]

    # the index the CLI wrote is the real embedder's, searchable in-process
    index = PaperIndex(Settings(home=paperscope_home))
    assert len(index.catalog().records) == 3
    assert HybridRetriever(index).search("protein folding", k=1)[0].id == "study-1-on-protein-folding"


def _stored(home: Path, collection: str) -> int:
    """Items of a collection in the embedded store, read from its SQLite file without opening a Chroma client
    (`papers`: chunks; `papers.papers`: paper records)."""
    db = home / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(
                "SELECT COUNT(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ?", (collection,)).fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_ingest_leaves_previous_papers_searchable(tmp_path: Path, paperscope_home: Path) -> None:
    previous = write_jsonl(tmp_path / "previous.jsonl", [
        {"title": "Holographic Ice Cream Rendering", "abstract": "We render melting ice cream as holograms "
         "with a differentiable physics engine and evaluate realism with a user study of dessert lovers."},
        {"title": "Tidal Energy Forecasting", "abstract": "A transformer forecasts tidal energy output from "
         "harbour sensor data and lunar phase, cutting forecast error by a third."},
    ])
    first = run_cli(paperscope_home, str(previous))
    assert first.returncode == 0, first.stderr
    before = _stored(paperscope_home, "papers")
    assert _stored(paperscope_home, "papers.papers") == 2
    assert before == 2

    n = WRITE_GROUP_CHUNKS * 2 + 76  # one chunk each: two full write groups and a partial one
    big = write_jsonl(tmp_path / "big.jsonl", [paper_row(i) for i in range(n)])
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest", str(big), "--json"],
                            env=subprocess_env(paperscope_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _stored(paperscope_home, "papers.papers") <= 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # killed once a group's records are written: its chunks went first
        assert proc.poll() is None, "the ingest finished before it could be killed; make the source bigger"
        assert _stored(paperscope_home, "papers") > before, "the ingest never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    settings = Settings(home=paperscope_home)
    index = PaperIndex(settings)
    records = {r["paper_id"]: r for r in index.catalog().records}
    assert {"holographic-ice-cream-rendering", "tidal-energy-forecasting"} <= set(records)
    assert 2 < len(records) < n + 2  # the killed run wrote some papers, not all
    hits = HybridRetriever(index).search("melting dessert holograms", k=3)
    assert hits[0].id == "holographic-ice-cream-rendering"
    assert hits[0].similarity > 0.3  # found by the dense side too
    dense = HybridRetriever(index).dense("forecasting tides with lunar phase", 3, Filters())
    assert "tidal-energy-forecasting" in dense

    again = run_cli(paperscope_home, str(big))
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout.strip().splitlines()[-1])
    assert report["failed"] == []
    assert report["papers"] == n and report["added"] + report["unchanged"] == n
    assert report["added"] < n  # what the killed run wrote is kept
    # checked in a fresh process: this one's Chroma client cached the store before the re-run wrote to it
    check = subprocess.run([sys.executable, "-c", (
        "from assistant.index import PaperIndex; from assistant.settings import Settings\n"
        "index = PaperIndex(Settings())\n"
        "catalog = index.catalog()\n"
        "print(len(catalog.records), catalog.fingerprint == index.collection.metadata['generation'] != 'dirty')")],
        env=subprocess_env(paperscope_home), capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [str(n + 2), "True"]


def test_new_chunk_settings_rechunk_on_the_next_ingest(tmp_path: Path, small_chunks: Settings,
                                                       counting: CountingEmbedding) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", [paper_row(i, sentences=4) for i in range(3)])
    ingest([source], small_chunks, embedder=counting)
    wider = small_chunks.model_copy(update={"chunk_size": 400, "chunk_overlap": 0})
    counting.calls = 0
    report = ingest([source], wider, embedder=counting)
    assert counts(report) == (3, 0, 3, 0, 0) and counting.calls == report.chunks == 3  # one chunk each now
    stored = assert_consistent(wider, counting)
    assert {r["chunking"] for r in stored.values()} == {"400/0"} and {r["chunks"] for r in stored.values()} == {1}
    assert PaperIndex(wider, embedder=counting).collection.count() == 3  # no chunk of the old cut is left
    assert counts(ingest([source], wider, embedder=counting)) == (3, 0, 0, 3, 0)
