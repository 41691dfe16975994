"""The Daily Papers listing parser, pinned on the five bundled listings and on cut-off listings."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS

from assistant.errors import SourceError
from ingest.listings import parse_date, parse_listing
from ingest.papers import Paper, normalise_title, paper_id
from ingest.sources import bundled_collection, load_sources

EXPECTED_COUNTS = {"000": 74, "001": 75, "002": 33, "003": 263, "004": 74}
CHROME = {"new", "subscribe", "daily papers", "byak and the research community",
          "by ak and the research community", "get trending papers in your email inbox!",
          "get trending papers in your email inbox once a day!", "·"}

ABSTRACT = ("We study a simple method for training language models that reason step by step, and we show "
            "that it improves accuracy on several benchmarks while using less compute than prior work.")


def seed(prefix: str) -> Path:
    (path,) = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    return path


def parse_seed(prefix: str) -> list[Paper]:
    path = seed(prefix)
    return parse_listing(path.read_text(encoding="utf-8"), path.name)


def by_title(papers: list[Paper], prefix: str) -> Paper:
    (found,) = [p for p in papers if p.title.startswith(prefix)]
    return found


@pytest.mark.parametrize(("prefix", "count"), sorted(EXPECTED_COUNTS.items()))
def test_paper_count_per_seed_listing(prefix: str, count: int) -> None:
    papers = parse_seed(prefix)
    assert len(papers) == count
    # every paper has a title and a real abstract, and titles are never longer than abstracts
    for paper in papers:
        assert paper.title and paper.abstract
        assert len(paper.abstract.split()) >= 12
        assert len(paper.title) < len(paper.abstract)
        assert paper.sources == [seed(prefix).name]
        assert paper.id == paper_id(paper.title)


def test_bundled_collection_is_the_five_seeds() -> None:
    assert [p.name for p in bundled_collection()] == sorted(p.name for p in SEEDS.glob("*.txt"))
    assert len(bundled_collection()) == 5


def test_distinct_papers_across_all_listings() -> None:
    papers, failed = load_sources(bundled_collection())
    assert failed == []
    assert len(papers) == 465
    total = sum(EXPECTED_COUNTS.values())
    assert total > 465  # some papers are listed more than once
    assert all(pid == paper.id for pid, paper in papers.items())


def test_first_title_glued_to_subscribe_is_freed() -> None:
    raw = seed("003").read_text(encoding="utf-8")
    assert "SubscribeSliding Window Attention Training" in raw
    papers = parse_seed("003")
    assert papers[0].title == "Sliding Window Attention Training for Efficient Large Language Models"
    assert papers[0].abstract.startswith("Recent advances in transformer-based Large Language Models")
    assert papers[1].title == "Can Transformers Learn Sequential Function Classes In Context?"


def test_exact_metadata_of_002_entries() -> None:
    papers = parse_seed("002")
    cot = by_title(papers, "Training Chain-of-Thought via Latent-Variable Inference")
    assert cot.published == "2023-11-28"
    assert cot.authors == 10
    assert cot.organization is None
    assert cot.upvotes is None
    assert cot.abstract.startswith("Large language models (LLMs) solve problems")
    assert cot.abstract.endswith("more than STaR or prompt-tuning with or without CoT.")

    swiss = by_title(papers, "LLM Swiss Round")
    assert swiss.title == ("LLM Swiss Round: Aggregating Multi-Benchmark Performance via Competitive "
                           "Swiss-System Dynamics")
    assert swiss.organization == "ByteDance Seed"
    assert swiss.published == "2025-12-24"
    assert swiss.upvotes == 2
    assert swiss.authors is None

    arena = by_title(papers, "ArenaRL")
    assert arena.published == "--01-10"  # no year in the listing: partial, never guessed
    assert arena.upvotes == 2
    assert arena.organization == "Alibaba-NLP"

    paris = by_title(papers, "State and parameter learning with PaRIS particle Gibbs")
    assert (paris.published, paris.authors) == ("2023-01-02", 5)


def test_paper_in_several_listings_is_one_merged_paper() -> None:
    title = "Training Chain-of-Thought via Latent-Variable Inference"
    in_000 = by_title(parse_seed("000"), title)
    in_002 = by_title(parse_seed("002"), title)
    assert in_000.id == in_002.id == paper_id(title)
    assert in_000.authors is None and in_000.published is None  # 000 lists it without metadata

    papers, _ = load_sources(bundled_collection())
    merged = papers[paper_id(title)]
    assert merged.sources == sorted([seed("000").name, seed("002").name])
    assert merged.published == "2023-11-28"
    assert merged.authors == 10
    assert merged.abstract == max(in_000.abstract, in_002.abstract, key=len)
    assert sum(1 for p in papers.values() if p.title == title) == 1


def test_every_multi_listed_paper_lists_all_its_files() -> None:
    per_file = {seed(prefix).name: {p.id for p in parse_seed(prefix)} for prefix in EXPECTED_COUNTS}
    papers, _ = load_sources(bundled_collection())
    multi = 0
    for paper in papers.values():
        expected = sorted(name for name, ids in per_file.items() if paper.id in ids)
        assert paper.sources == expected
        multi += len(expected) > 1
    assert multi > 0
    assert sum(len(ids) for ids in per_file.values()) == 465 + sum(len(p.sources) - 1 for p in papers.values())


def test_chrome_never_becomes_a_paper() -> None:
    papers, _ = load_sources(bundled_collection())
    for paper in papers.values():
        for text in (paper.title, paper.abstract):
            assert text.lower() not in CHROME
            assert parse_date(text) is None, text  # header dates such as "Mar 17"
            assert not text.startswith("•")
        assert paper.title not in ("Subscribe", "Daily Papers", "Mar 17")
        assert not paper.title.startswith("Subscribe")


def test_header_date_and_chrome_are_skipped_in_a_small_listing() -> None:
    text = f"new\n\nSubscribe\n\nDaily Papers\n\nbyAK and the research community\n\nMar 17\n\nA Paper\n\n{ABSTRACT}\n"
    papers = parse_listing(text, "small.txt")
    assert [(p.title, p.abstract) for p in papers] == [("A Paper", ABSTRACT)]


def test_consecutive_lines_without_blank_lines() -> None:
    text = f"SubscribeFirst Paper\n{ABSTRACT}\nSecond Paper\n{ABSTRACT}\n  • 3 authors\n·\nFeb 2, 2024 7\n"
    papers = parse_listing(text, "dense.txt")
    assert [p.title for p in papers] == ["First Paper", "Second Paper"]
    assert (papers[1].authors, papers[1].published, papers[1].upvotes) == (3, "2024-02-02", 7)
    assert papers[0].authors is None


def test_cut_off_title_without_abstract() -> None:
    text = f"A Paper\n\n{ABSTRACT}\n\nA Second Paper Whose Abstract Is Missing\n"
    with pytest.raises(SourceError, match="cut off") as info:
        parse_listing(text, "cut.txt")
    assert info.value.path == "cut.txt"
    assert "A Second Paper Whose Abstract Is Missing" in str(info.value)
    assert "line 5" in str(info.value)


def test_cut_off_separator_without_date() -> None:
    text = f"A Paper\n\n{ABSTRACT}\n\n  • 4 authors\n·\n"
    with pytest.raises(SourceError, match="without its date"):
        parse_listing(text, "cut.txt")


def test_cut_off_final_abstract_mid_sentence() -> None:
    truncated = ABSTRACT[: ABSTRACT.index(" while using")]
    text = f"A Paper\n\n{ABSTRACT}\n\nAnother Paper\n\n{truncated}"
    with pytest.raises(SourceError, match="ends mid-sentence") as info:
        parse_listing(text, "cut.txt")
    assert "Another Paper" in str(info.value)
    # the same listing, complete, parses
    assert len(parse_listing(f"A Paper\n\n{ABSTRACT}\n\nAnother Paper\n\n{ABSTRACT}\n", "ok.txt")) == 2


def test_seed_listing_cut_in_half_is_rejected() -> None:
    raw = seed("002").read_text(encoding="utf-8")
    cut = raw[: raw.index("LLM Swiss Round") + 200]  # mid-way through an abstract
    with pytest.raises(SourceError, match="cut off"):
        parse_listing(cut, "002-cut.txt")


def test_metadata_before_any_abstract_and_empty_listing_are_rejected() -> None:
    with pytest.raises(SourceError, match="does not follow an abstract"):
        parse_listing("  • 3 authors\n·\nJan 2, 2024\n", "meta.txt")
    with pytest.raises(SourceError, match="no papers found"):
        parse_listing("new\nSubscribe\nDaily Papers\nMar 17\n", "chrome.txt")


def test_over_long_title_is_reported() -> None:
    text = f"A Paper\n\n{ABSTRACT}\n\n{ABSTRACT} {ABSTRACT}\n"
    with pytest.raises(SourceError, match="expected a paper title"):
        parse_listing(text, "steps.txt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Nov 28, 2023", ("2023-11-28", None)), ("Jan 10 2", ("--01-10", 2)), ("Dec 24, 2025 2", ("2025-12-24", 2)),
     ("Mar 17", ("--03-17", None)), ("Mar 32", None), ("March 17", None), ("Subscribe", None)],
)
def test_parse_date(text: str, expected: tuple[str, int | None] | None) -> None:
    assert parse_date(text) == expected


def test_paper_ids_are_stable() -> None:
    title = "Training Chain-of-Thought via Latent-Variable Inference"
    assert paper_id(title) == "training-chain-of-thought-via-latent-variable-inference"
    assert paper_id("  TRAINING chain of thought — via   Latent Variable Inference! ") == paper_id(title)
    assert paper_id("Naïve Café") == "naive-cafe"
    assert paper_id(title, "2312.02179") == "arxiv-2312.02179"
    assert paper_id(title, "arXiv:2312.02179v3") == "arxiv-2312.02179"
    assert paper_id(title, "not-an-arxiv-id") == paper_id(title)
    long_title = "A " + "very " * 40 + "long title"
    pid = paper_id(long_title)
    assert pid == paper_id(long_title) and len(pid) <= 80 + 9
    assert pid != paper_id(long_title + " two")
    assert normalise_title(long_title).startswith(pid[:60])
    # ids of the bundled papers do not depend on parsing order or run
    first = sorted(load_sources(bundled_collection())[0])
    second = sorted(load_sources(list(reversed(bundled_collection())))[0])
    assert first == second
