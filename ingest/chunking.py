"""Split a paper into chunks with LlamaIndex's SentenceSplitter, counting tokens with tiktoken
(cl100k_base from the files llama-index-core ships, so nothing downloads). Chunks carry the
paper's metadata; the text that is embedded leads with the title. It does not embed or store."""

from __future__ import annotations

from functools import lru_cache

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode
from llama_index.core.utils import get_tokenizer

from ingest.papers import Paper, chunking


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


def paper_metadata(paper: Paper) -> dict[str, str | int | float]:
    """Flat metadata stored on each of the paper's chunks (Chroma keeps no None or lists)."""
    meta: dict[str, str | int | float] = {
        "paper_id": paper.id,
        "title": paper.title,
        "content_hash": paper.content_hash,
        "text_hash": paper.text_hash,
        "sources": ",".join(paper.sources),
    }
    optional = {
        "published": paper.published,
        "published_ord": published_ordinal(paper.published),
        "authors": paper.authors,
        "organization": paper.organization,
        "upvotes": paper.upvotes,
    }
    meta.update({k: v for k, v in optional.items() if v is not None})
    return meta


def embed_text(title: str, chunk: str) -> str:
    """What the embedder sees for a chunk: the title first, so every chunk knows its paper."""
    return f"{title}\n{chunk}"


def chunk_paper(paper: Paper, chunk_size: int, chunk_overlap: int) -> list[TextNode]:
    """The paper's chunks in order. A short abstract is one chunk. The first chunk also carries the
    whole abstract and the bibliographic metadata (DOI, arXiv id, author names…) in its metadata, so the
    keyword index, the answerer and identity matching can be rebuilt from the store."""
    pieces = splitter(chunk_size, chunk_overlap).split_text(paper.abstract) or [paper.abstract]
    base = paper_metadata(paper)
    nodes = []
    for index, piece in enumerate(pieces):
        meta = dict(base, chunk=index, chunks=len(pieces), chunking=chunking(chunk_size, chunk_overlap))
        if index == 0:  # the paper's record: rebuilt from here, never filtered on
            meta["abstract"] = paper.abstract
            meta.update(paper.extras())
        nodes.append(
            TextNode(
                id_=chunk_id(paper.id, index),
                text=piece,
                metadata=meta,
                excluded_embed_metadata_keys=list(meta),
                excluded_llm_metadata_keys=list(meta),
            )
        )
    return nodes
