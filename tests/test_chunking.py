"""Chunking papers: chunks re-join into the abstract, fit the token limit, carry the paper."""

from __future__ import annotations

import re

import pytest

from assistant.settings import Settings
from ingest.chunking import (
    chunk_id,
    chunk_paper,
    chunk_spans,
    count_tokens,
    embed_text,
    paper_record,
    published_ordinal,
)
from ingest.papers import Paper, paper_id
from ingest.sources import bundled_collection, load_sources


@pytest.fixture(scope="module")
def bundled() -> list[Paper]:
    papers, failed = load_sources(bundled_collection())
    assert failed == [] and len(papers) == 465
    return list(papers.values())


def spans(abstract: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Where each chunk sits in the abstract, searching forward from the previous chunk's start."""
    found: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        start = abstract.find(piece, cursor)
        assert start >= 0, f"chunk is not a substring of the abstract after offset {cursor}: {piece[:80]!r}"
        found.append((start, start + len(piece)))
        cursor = start + 1
    return found


def assert_rejoins(abstract: str, pieces: list[str]) -> None:
    """Each chunk is a piece of the abstract, in order, and together they cover every word."""
    placed = spans(abstract, pieces)
    starts = [s for s, _ in placed]
    assert starts == sorted(starts)
    covered = [False] * len(abstract)
    for start, end in placed:
        covered[start:end] = [True] * (end - start)
    for word in re.finditer(r"\S+", abstract):
        assert all(covered[word.start():word.end()]), f"word {word.group()!r} at {word.start()} is in no chunk"


def test_default_chunks_fit_the_token_limit_and_rejoin(bundled: list[Paper]) -> None:
    settings = Settings()
    multi = 0
    for paper in bundled:
        nodes = chunk_paper(paper, settings.chunk_size, settings.chunk_overlap)
        assert nodes
        for node in nodes:
            assert count_tokens(node.text) <= settings.chunk_size, (paper.id, node.node_id)
        assert_rejoins(paper.abstract, [n.text for n in nodes])
        multi += len(nodes) > 1
    assert multi > 0  # the default size does split some bundled abstracts


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), [(64, 16), (100, 0), (48, 32)])
def test_small_chunks_fit_and_rejoin(bundled: list[Paper], chunk_size: int, chunk_overlap: int) -> None:
    for paper in bundled[::7]:
        nodes = chunk_paper(paper, chunk_size, chunk_overlap)
        assert len(nodes) >= 2 or count_tokens(paper.abstract) <= chunk_size
        assert all(count_tokens(n.text) <= chunk_size for n in nodes)
        assert_rejoins(paper.abstract, [n.text for n in nodes])


def test_short_abstract_is_one_chunk() -> None:
    abstract = "We show that a small model answers questions about papers with citations."
    paper = Paper(id=paper_id("Small"), title="Small", abstract=abstract, sources=["x.jsonl"])
    (node,) = chunk_paper(paper, 200, 32)
    assert node.text == abstract
    assert node.node_id == "small#0"


def test_chunks_carry_only_their_paper_and_filter_fields() -> None:
    sentence = "This sentence describes one more finding about retrieval augmented generation systems. "
    paper = Paper(id="arxiv-2401.01234", title="Long Paper", abstract=(sentence * 30).strip(),
                  published="2024-01-05", authors=3, organization="Acme Lab", upvotes=9, sources=["b.txt", "a.txt"])
    nodes = chunk_paper(paper, 64, 16)
    assert len(nodes) > 2
    for index, node in enumerate(nodes):
        assert node.node_id == chunk_id(paper.id, index) == f"arxiv-2401.01234#{index}"
        assert node.metadata == {"published_ord": 20240105, "authors": 3, "upvotes": 9, "org": "acme lab"}
        # metadata is stored, not embedded: the embedded text is the title plus the chunk
        assert set(node.excluded_embed_metadata_keys) == set(node.metadata)
        assert node.get_content(metadata_mode="embed") == node.text
    assert embed_text(paper.title, nodes[1].text) == f"Long Paper\n{nodes[1].text}"
    spans = chunk_spans(paper.abstract, [n.text for n in nodes])
    assert [paper.abstract[spans[2 * i]:spans[2 * i + 1]] for i in range(len(nodes))] == [n.text for n in nodes]


def test_the_record_holds_the_paper_once() -> None:
    paper = Paper(id="arxiv-2401.01234", title="Long Paper", abstract="An abstract.", published="2024-01-05",
                  authors=3, organization="Acme Lab", upvotes=9, sources=["b.txt", "a.txt"], doi="10.1234/X")
    record = paper_record(paper, [0, 5, 3, 12], "64/16")
    assert record["paper_id"] == paper.id and record["title"] == "Long Paper" and record["abstract"] == "An abstract."
    assert record["published"] == "2024-01-05" and record["published_ord"] == 20240105
    assert (record["authors"], record["organization"], record["upvotes"]) == (3, "Acme Lab", 9)
    assert record["sources"] == "b.txt,a.txt" and record["doi"] == "10.1234/x"
    assert (record["chunks"], record["spans"], record["chunking"]) == (2, [0, 5, 3, 12], "64/16")
    assert record["content_hash"] == paper.content_hash and record["text_hash"] == paper.text_hash


def test_record_drops_missing_values() -> None:
    paper = Paper(id="p", title="T", abstract="An abstract.", published="--12-24")
    meta = paper_record(paper, [0, 12], "100/20")
    assert meta["published"] == "--12-24"
    assert not {"published_ord", "authors", "organization", "upvotes"} & set(meta)
    assert all(v is not None for v in meta.values())
    assert chunk_paper(paper, 100, 20)[0].metadata == {}


@pytest.mark.parametrize(("published", "ordinal"), [
    ("2023-11-28", 20231128), ("2024", 20240000), ("2024-03", 20240300), ("--01-10", None), (None, None), ("", None)])
def test_published_ordinal(published: str | None, ordinal: int | None) -> None:
    assert published_ordinal(published) == ordinal


def test_count_tokens_is_tiktoken_cl100k() -> None:
    import tiktoken

    text = "Sliding Window Attention Training for Efficient Large Language Models"
    tokens = count_tokens(text)  # first: llama-index points tiktoken at the files it ships
    assert tokens == len(tiktoken.get_encoding("cl100k_base").encode(text)) > 5
    assert count_tokens("") == 0
