"""The local catalog's indexed queries: metadata selections with extremes, name mentions, and
keyword search that follows updates and removals."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.catalog import Catalog
from assistant.filters import Filters
from assistant.intent import names, squash

PAPERS = [
    {"paper_id": "a", "title": "Tree search for CIFAR-10", "abstract": "We search trees on CIFAR-10 images.",
     "published": "2023-02-01", "published_ord": 20230201, "authors": 3, "upvotes": 4},
    {"paper_id": "b", "title": "Big team paper", "abstract": "Evaluated on MT-Bench and GSM8K.",
     "published": "2024-06-01", "published_ord": 20240601, "authors": 12, "organization": "Tsinghua University"},
    {"paper_id": "c", "title": "Another big team", "abstract": "A study of speech recognition.",
     "published": "2024-01-05", "published_ord": 20240105, "authors": 12},
    {"paper_id": "d", "title": "Undated", "abstract": "No date and no authors recorded, 1-for-1."},
]


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    with catalog.transaction():
        catalog.put(PAPERS)
    return catalog


def test_select_counts_and_lists_by_date(catalog: Catalog) -> None:
    count, rows = catalog.select(Filters.from_kwargs(since="2024"))
    assert count == 2 and [r["paper_id"] for r in rows] == ["c", "b"]
    count, rows = catalog.select(Filters(), limit=2)
    assert count == 4 and [r["paper_id"] for r in rows] == ["d", "a"]  # undated first, then by date


def test_select_an_extreme_keeps_ties_and_respects_filters(catalog: Catalog) -> None:
    count, rows = catalog.select(Filters(), ("authors", True))
    assert count == 2 and {r["paper_id"] for r in rows} == {"b", "c"}
    count, rows = catalog.select(Filters.from_kwargs(until="2023"), ("authors", True))
    assert count == 1 and rows[0]["paper_id"] == "a"
    assert catalog.select(Filters.from_kwargs(until="2020"), ("authors", False)) == (0, [])
    with pytest.raises(ValueError, match="no extreme"):
        catalog.select(Filters(), ("title", True))


def test_mentions_matches_any_spelling_of_hyphens_spaces_and_case(catalog: Catalog) -> None:
    assert catalog.mentions("cifar10") and catalog.mentions("CIFAR 10") and catalog.mentions("mt-bench")
    assert catalog.mentions("MTBench") and catalog.mentions("GSM-8K") and catalog.mentions("TreeSearch")
    assert catalog.mentions("1-For-1") and catalog.mentions("1 for 1")  # pieces the keyword index drops
    assert not catalog.mentions("MMLU") and not catalog.mentions("GSM-8K-Hard") and not catalog.mentions("2-For-1")


def test_keyword_search_follows_updates_and_removals(catalog: Catalog) -> None:
    assert [pid for pid, _ in catalog.search("speech recognition", 3)] == ["c"]
    with catalog.transaction():
        catalog.put([{**PAPERS[2], "abstract": "A study of whispers."}])
        catalog.remove(["a"])
    assert catalog.search("speech recognition", 3) == []
    assert [pid for pid, _ in catalog.search("whispers", 3)] == ["c"]
    assert catalog.search("tree search", 3) == [] and catalog.count() == 3


def test_mentions_agrees_with_a_plain_search_of_every_abstract(catalog: Catalog) -> None:
    text = squash(" ".join(f"{p['title']} {p['abstract']}" for p in PAPERS))
    asked = {n for p in PAPERS for n in names(f"{p['title']} {p['abstract']}")}
    asked |= {f"{n}X9" for n in asked} | {"CNN", "Tree-Search", "GSM8", "CIFA"}
    assert {n: catalog.mentions(n) for n in asked} == {n: squash(n) in text for n in asked}
