"""Ingesting the bibliographic formats into a real embedded Chroma: the same paper from a .bib, the
arXiv snapshot, OpenAlex and Daily Papers is one paper, a paper already in the index keeps its id,
and skipped entries are reported in the summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeEmbedding

from assistant.index import PaperIndex
from assistant.settings import Settings
from ingest.pipeline import ingest
from ingest.reading import read_sources

DATA = Path(__file__).parent / "data"


def records(settings: Settings, embedder: FakeEmbedding) -> dict[str, dict]:
    return {r["paper_id"]: r for r in PaperIndex(settings, embedder=embedder).catalog().records}


def test_one_paper_across_formats() -> None:
    names = ["library.bib", "references.ris", "zotero-export.csv", "openalex-works.json", "arxiv-metadata-sample.json"]
    found = read_sources([DATA / n for n in names])
    assert not found.failed
    attention = found.papers["arxiv-1706.03762"]  # by arXiv id: eprint, DOI 10.48550/…, URL, snapshot id
    assert attention.sources == sorted(names)
    assert attention.venue == "Advances in Neural Information Processing Systems 30"  # the first file's
    bert = found.papers["bert-pre-training-of-deep-bidirectional-transformers-for-language-understanding"]
    assert bert.sources == ["library.bib", "references.ris", "zotero-export.csv"]  # by DOI and title
    causal = found.papers["arxiv-2102.11107"]  # the CSV row has only the DOI
    assert causal.sources == ["library.bib", "zotero-export.csv"]
    assert found.papers["arxiv-1412.6980"].sources == ["library.bib", "references.ris"]
    assert len(found.papers) == 8  # and AEVB, CoT and the two 2007 papers from the snapshot
    # a listing-style source without the arXiv id, read first, still ends up under the arXiv id
    reverse = read_sources([DATA / n for n in reversed(names)])
    assert sorted(reverse.papers) == sorted(found.papers)


def test_bib_of_bundled_papers_merges_into_the_bundled_collection(settings: Settings) -> None:
    embedder = FakeEmbedding()
    assert ingest(None, settings, embedder=embedder).added == 465
    before = records(settings, embedder)

    report = ingest([DATA / "bundled-sample.bib"], settings, embedder=embedder)
    assert (report.papers, report.added, report.updated, report.chunks, report.skipped) == (12, 0, 12, 0, [])
    after = records(settings, embedder)
    assert len(after) == 465 and set(after) == set(before)  # the same papers, under their own ids
    cot = after["training-chain-of-thought-via-latent-variable-inference"]
    assert (cot["arxiv_id"], cot["authors"], cot["sources"]) == (
        "2312.02179", 10, "000_ffecd0a6866ea0e7.txt,002_d3ad90e1ff99b22c.txt,bundled-sample.bib")
    assert cot["author_names"].startswith("Du Phan; Matthew D. Hoffman")
    assert after["auto-encoding-variational-bayes"]["published"] == "2013-12"
    assert cot["published"] == "2023-11-28"  # the bib's '2023-11' is less precise than the listing's date
    assert after["process-reinforcement-through-implicit-rewards"].get("authors") is None  # "and others"

    again = ingest([DATA / "bundled-sample.bib"], settings, embedder=embedder)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 12)

    # the arXiv snapshot now finds them by arXiv id; --category keeps cs.LG
    snapshot = ingest([DATA / "arxiv-metadata-sample.json"], settings, embedder=embedder,
                      categories=frozenset({"cs.LG"}))
    assert (snapshot.papers, snapshot.added, snapshot.updated) == (3, 1, 2)
    daily = ingest([DATA / "daily-papers.json"], settings, embedder=embedder)
    assert (daily.papers, daily.added, daily.updated) == (3, 1, 2)
    final = records(settings, embedder)
    assert len(final) == 467 and {"arxiv-1706.03762", "arxiv-2501.12948"} <= set(final)
    prime = final["process-reinforcement-through-implicit-rewards"]
    assert (prime["upvotes"], prime["url"]) == (61, "https://huggingface.co/papers/2502.01456")
    assert prime["arxiv_id"] == "2502.01456"


def test_skipped_entries_are_in_the_summary(settings: Settings, tmp_path: Path) -> None:
    bib = tmp_path / "cut.bib"
    bib.write_bytes((DATA / "library.bib").read_bytes()[:3000])
    report = ingest([bib, DATA / "references.ris"], settings, embedder=FakeEmbedding())
    assert report.failed == []
    entries = {(Path(s["path"]).name, s["entry"]) for s in report.skipped}
    assert entries == {("cut.bib", "devlin2019bert"), ("references.ris", "Deep Learning")}
    assert set(report.to_json()["skipped"][0]) == {"path", "entry", "reason"}
    assert report.papers == 3  # Attention from both files, BERT and Adam from the RIS


@pytest.mark.slow
def test_cli_ingest_of_a_bib_with_category_and_skips(tmp_path: Path, paperscope_home: Path) -> None:
    env = dict(os.environ, PAPERSCOPE_HOME=str(paperscope_home))
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(DATA / "library.bib"),
                           str(DATA / "arxiv-metadata-sample.json"), "--category", "math,hep-ph", "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["papers"], report["added"], report["failed"]) == (6, 6, [])
    assert [s["entry"] for s in report["skipped"]] == ["DBLP:conf/iclr/2015", "he2016deep"]
    text = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(DATA / "library.bib")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0
    assert "4 papers: 0 added, 0 updated, 4 unchanged" in text.stdout and "2 entries skipped" in text.stdout
    assert "skipped: " in text.stderr and "he2016deep: no abstract" in text.stderr
