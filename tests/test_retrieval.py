"""Retrieval: min-max convex fusion on hand-made rankings, the hybrid retriever's hits over a real
Chroma (fake embedder), the BEIR metrics against hand-computed values, and `bench beir` end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEmbedding

from assistant.filters import Filters
from assistant.index import PaperIndex
from assistant.retrieval import FusionConfig, HybridRetriever, fuse, min_max
from assistant.settings import Settings
from evals.bench import beir_collection, bench_beir, ndcg_at_k, recall_at_k
from ingest.chunking import embed_text
from ingest.pipeline import ingest

# -- fusion ------------------------------------------------------------------------------------


def test_min_max_maps_best_to_one_and_worst_to_zero() -> None:
    assert min_max({"a": 0.9, "b": 0.5, "c": 0.1}) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    assert min_max({}) == {}


def test_a_side_with_all_equal_scores_gives_each_candidate_one() -> None:
    assert min_max({"a": 3.0, "b": 3.0}) == {"a": 1.0, "b": 1.0}
    assert min_max({"only": -0.2}) == {"only": 1.0}
    # every keyword candidate ties: each gets the full keyword half, a dense-only paper gets none of it
    fused = dict(fuse({"a": 0.8, "x": 0.4}, {"a": 2.0, "b": 2.0}, 0.5))
    assert fused == pytest.approx({"a": 1.0, "b": 0.5, "x": 0.0})


def test_a_paper_on_one_side_only_scores_zero_on_the_other() -> None:
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}  # normalised: a 1, b 0.5, c 0
    keyword = {"d": 12.0, "a": 8.0, "e": 4.0}  # normalised: d 1, a 0.5, e 0
    fused = fuse(dense, keyword, 0.5)
    assert [pid for pid, _ in fused] == ["a", "d", "b", "c", "e"]
    assert dict(fused) == pytest.approx({"a": 0.75, "d": 0.5, "b": 0.25, "c": 0.0, "e": 0.0})
    weighted = dict(fuse(dense, keyword, 0.8))
    assert weighted["a"] == pytest.approx(0.8 + 0.2 * 0.5)
    assert weighted["d"] == pytest.approx(0.2) and weighted["b"] == pytest.approx(0.4)


def test_ties_are_ordered_by_id() -> None:
    fused = fuse({"b": 1.0, "a": 0.0}, {"a": 1.0, "b": 0.0}, 0.5)
    assert fused == [("a", 0.5), ("b", 0.5)]


def test_weight_one_is_the_dense_order_and_an_empty_side_is_harmless() -> None:
    dense = {"a": 0.2, "b": 0.7, "c": 0.5}
    assert [pid for pid, _ in fuse(dense, {"z": 5.0}, 1.0)][:3] == ["b", "c", "a"]
    half = fuse(dense, {}, 0.5)
    assert [pid for pid, _ in half] == ["b", "c", "a"]
    assert dict(half) == pytest.approx({"b": 0.5, "c": 0.3, "a": 0.0})
    assert fuse({}, {}, 0.5) == []


# -- the retriever over a real Chroma ---------------------------------------------------------

TOPICS = ["protein folding", "tidal energy forecasting", "speech recognition", "graph neural networks",
          "solar panel degradation", "coral reef bleaching"]


def write_papers(path: Path) -> Path:
    rows = [{"title": f"Study {i} on {topic}",
             "abstract": " ".join(f"Sentence {s}: method {i} advances {topic} with careful experiments." for s in range(6)),
             "published": f"202{i % 3 + 2}-03-0{i + 1}"} for i, topic in enumerate(TOPICS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_index(tmp_path: Path, paperscope_home: Path, fake_embedder: FakeEmbedding) -> PaperIndex:
    """Six papers of several chunks each, embedded with the deterministic fake embedder."""
    settings = Settings(home=paperscope_home, chunk_size=32, chunk_overlap=4)
    ingest([write_papers(tmp_path / "papers.jsonl")], settings, embedder=fake_embedder)
    return PaperIndex(settings, embedder=fake_embedder)


def test_hits_carry_the_fused_score_and_each_sides_raw_score(small_index: PaperIndex,
                                                             fake_embedder: FakeEmbedding) -> None:
    query = "tidal energy forecasting"
    hits = HybridRetriever(small_index).search(query, k=6)
    assert hits[0].id == "study-1-on-tidal-energy-forecasting"
    assert hits[0].score == pytest.approx(1.0)  # best on both sides
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    keyword = dict(small_index.catalog().search(query, 10))
    q = fake_embedder.get_query_embedding(query)
    for hit in hits:
        assert hit.keyword_score == pytest.approx(keyword.get(hit.id, 0.0))  # raw BM25
        chunk = fake_embedder.get_text_embedding(embed_text(hit.title, hit.text))
        assert hit.similarity == pytest.approx(sum(a * b for a, b in zip(q, chunk, strict=True)), abs=1e-5)


def test_dense_returns_distinct_papers_up_to_depth(small_index: PaperIndex) -> None:
    assert small_index.collection.count() > 2 * len(TOPICS)  # several chunks per paper
    retriever = HybridRetriever(small_index)
    assert len(retriever.dense("experiments", 2, Filters())) == 2
    every = retriever.dense("experiments", len(TOPICS), Filters())
    assert len(every) == len(TOPICS)  # asked again for more chunks until each paper was seen
    assert [s for s, _ in every.values()] == sorted((s for s, _ in every.values()), reverse=True)


def test_filters_apply_to_both_sides(small_index: PaperIndex) -> None:
    dated = HybridRetriever(small_index).search("method experiments", k=6, filters=Filters(since="2024"))
    assert {h.id for h in dated} == {"study-2-on-speech-recognition", "study-5-on-coral-reef-bleaching"}
    dense_only = HybridRetriever(small_index, FusionConfig(dense_weight=1.0)).search("coral reef", k=6)
    assert dense_only[0].id == "study-5-on-coral-reef-bleaching" and dense_only[0].score == pytest.approx(1.0)


# -- BEIR metrics ------------------------------------------------------------------------------


def test_ndcg_binary_and_graded_by_hand() -> None:
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1}) == pytest.approx(1.0)
    # graded: the grade-1 document first, the grade-2 one second
    dcg = 1 + 2 / math.log2(3)
    idcg = 2 + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}) == pytest.approx(dcg / idcg)
    # a judged-irrelevant document (grade 0) counts as a miss
    assert ndcg_at_k(["z", "a"], {"z": 0, "a": 1}) == pytest.approx(1 / math.log2(3))


def test_ndcg_cuts_both_lists_at_k() -> None:
    relevant = {f"d{i}": 1 for i in range(12)}
    assert ndcg_at_k([f"d{i}" for i in range(10)], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"] * 10 + ["d0"], relevant, 10) == 0.0  # found only at rank 11
    assert ndcg_at_k([], {"a": 1}) == 0.0 and ndcg_at_k(["a"], {}) == 0.0


def test_recall_by_hand() -> None:
    relevance = {"a": 1, "b": 2, "c": 0}
    assert recall_at_k(["a", "x", "c"], relevance, 100) == pytest.approx(0.5)
    assert recall_at_k(["x", "a", "b"], relevance, 1) == 0.0
    assert recall_at_k(["b", "a"], relevance, 2) == 1.0
    assert recall_at_k(["a"], {}, 10) == 0.0


# -- bench beir, end to end --------------------------------------------------------------------

DOCS = {
    "d1": ("Protein folding with deep learning", "We predict three-dimensional protein structures from amino acid sequences."),
    "d2": ("Tidal energy forecasting", "Lunar phase and harbour geometry predict tidal currents for turbine output."),
    "d3": ("Coral reef bleaching", "Ocean heat waves expel symbiotic algae and whiten coral reefs."),
    "d4": ("Sourdough fermentation", "Wild yeast and lactic acid bacteria leaven bread dough overnight."),
    "d5": ("Volcanic ash and aviation", "Ash clouds from eruptions damage jet engines and close airspace."),
    "d6": ("Honeybee colony collapse", "Varroa mites and pesticides weaken honeybee hives in winter."),
    "d7": ("Glacier retreat in the Alps", "Alpine glaciers lost a third of their ice volume since 1980."),
    "d8": ("Chess engines and search", "Alpha-beta pruning lets chess programs search deeper game trees."),
    "d9": ("Malaria vaccine trial", "A malaria vaccine cut clinical cases in African children by half."),
    "d10": ("Solar panel degradation", "Photovoltaic modules lose efficiency from heat and ultraviolet light."),
    "d11": ("Urban bicycle lanes", "Protected bike lanes increased cycling commutes in large cities."),
    "d12": ("Sleep and memory consolidation", "Slow-wave sleep strengthens memories learned during the day."),
}
QUERIES = {"q1": "volcanic ash damages jet engines", "q2": "malaria vaccine for children",
           "q3": "honeybee hives weakened by varroa mites", "q4": "not judged in this split"}


def write_beir(folder: Path) -> Path:
    """A BEIR-layout dataset: q1 and q2 have one relevant document each; q3's second relevant
    document is missing from the corpus, so even a perfect ranking scores 1/(1 + 1/log2 3) and half recall."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in DOCS.items()), encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items()), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td5\t1\nq2\td9\t1\nq3\td6\t1\nq3\tgone\t1\nq9\td1\t1\n", encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td5\t1\n", encoding="utf-8")
    return folder


def run_bench(folder: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "bench", "beir", str(folder), *args, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_bench_beir_cli_json_and_known_scores(tmp_path: Path, paperscope_home: Path) -> None:
    folder = write_beir(tmp_path / "tiny")
    result = run_bench(folder)
    assert set(result) >= {"dataset", "split", "queries", "ndcg_at_10", "recall_at_100", "seconds"}
    assert (result["dataset"], result["split"], result["queries"]) == ("tiny", "test", 3)  # q9 has no query text
    assert result["collection"] == "beir-tiny" and result["papers"] == 12
    assert result["ndcg_at_10"] == pytest.approx((2 + 1 / (1 + 1 / math.log2(3))) / 3, abs=1e-4)
    assert result["recall_at_100"] == pytest.approx(2.5 / 3, abs=1e-4)

    # the dataset went into its own collection under PAPERSCOPE_HOME, and a re-run reuses it
    again = bench_beir(folder, "train", Settings())
    assert again["chunks_embedded"] == 0
    assert (again["queries"], again["ndcg_at_10"], again["recall_at_100"]) == (1, 1.0, 1.0)


def test_bench_beir_names_a_missing_split(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "tiny")
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "bench", "beir", str(folder), "--split", "dev"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "No qrels/dev.tsv" in done.stderr and "train" in done.stderr


def test_beir_collection_name_is_valid() -> None:
    assert beir_collection(Path("/data/scifact")) == "beir-scifact"
    Settings(collection=beir_collection(Path("/data/my data set (v2)!")))  # validated by the pattern
