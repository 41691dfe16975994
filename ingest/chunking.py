"""Split a paper into chunks with LlamaIndex's SentenceSplitter, counting tokens with tiktoken
(cl100k_base from the files llama-index-core ships, so nothing downloads). Chunks carry only
their paper's id and the fields filters need; the paper's record is built here too. The text
that is embedded leads with the title. It does not embed or store."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode
from llama_index.core.utils import get_tokenizer

from ingest.papers import Paper


@lru_cache(maxsize=8)
def splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        tokenizer=get_tokenizer(),
        include_metadata=False,
        include_prev_next_rel=False,
    )


def count_tokens(text: str) -> int:
    return len(get_tokenizer()(text))


def chunk_id(paper_id: str, index: int) -> str:
    return f"{paper_id}#{index}"


def published_ordinal(published: str | None) -> int | None:
    """'2023-11-28' -> 20231128, for range filters; None for a partial or missing date."""
    if not published or published.startswith("--"):
        return None
    return int(published.replace("-", "")[:8].ljust(8, "0"))


def paper_record(paper: Paper, spans: list[int], cut: str) -> dict[str, Any]:
    """Everything the index keeps about the paper, once: its catalog record (no None values).
    `spans` are its chunks' places in the abstract (`chunk_spans`) as `cut` (`papers.chunking`) made them."""
    meta: dict[str, Any] = {
        "paper_id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "content_hash": paper.content_hash,
        "text_hash": paper.text_hash,
        "sources": ",".join(paper.sources),
        "chunks": len(spans) // 2,
        "spans": spans,
        "chunking": cut,
    }
    optional = {
        "published": paper.published,
        "published_ord": published_ordinal(paper.published),
        "authors": paper.authors,
        "organization": paper.organization,
        "upvotes": paper.upvotes,
    }
    meta.update({k: v for k, v in optional.items() if v is not None})
    meta.update(paper.extras())
    return meta


def chunk_metadata(paper: Paper) -> dict[str, str | int]:
    """What each chunk carries besides its id (`paper#n`): the fields searches filter on, nothing
    else. Its text is a span of the abstract (`chunk_spans`), kept with the paper's record."""
    filtered = {"published_ord": published_ordinal(paper.published), "authors": paper.authors,
                "upvotes": paper.upvotes, "org": paper.organization.lower() if paper.organization else None}
    return {k: v for k, v in filtered.items() if v is not None}


def chunk_spans(abstract: str, pieces: list[str]) -> list[int]:
    """Where each chunk lies in the abstract, flat: [start0, end0, start1, end1, …]. The splitter
    only cuts (it never rewrites text), so every chunk is found, in order."""
    spans: list[int] = []
    cursor = 0
    for piece in pieces:
        start = abstract.find(piece, cursor)
        if start < 0:
            raise ValueError(f"chunk is not a piece of its abstract: {piece[:60]!r}")
        spans.extend((start, start + len(piece)))
        cursor = start + 1
    return spans


def embed_text(title: str, chunk: str) -> str:
    """What the embedder sees for a chunk: the title first, so every chunk knows its paper."""
    return f"{title}\n{chunk}"


def chunk_paper(paper: Paper, chunk_size: int, chunk_overlap: int) -> list[TextNode]:
    """The paper's chunks in order, each with `chunk_metadata`. A short abstract is one chunk."""
    pieces = splitter(chunk_size, chunk_overlap).split_text(paper.abstract) or [paper.abstract]
    nodes = []
    meta = chunk_metadata(paper)
    for index, piece in enumerate(pieces):
        nodes.append(
            TextNode(
                id_=chunk_id(paper.id, index),
                text=piece,
                metadata=dict(meta),
                excluded_embed_metadata_keys=list(meta),
                excluded_llm_metadata_keys=list(meta),
            )
        )
    return nodes
