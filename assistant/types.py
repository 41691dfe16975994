"""The values PaperScope hands back: search hits, citations, answers and their usage report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Hit:
    """A retrieved paper: its best-matching passage and the fused relevance score."""

    id: str
    title: str
    published: str | None
    score: float
    text: str  # the best-matching chunk
    abstract: str = ""
    authors: int | None = None
    organization: str | None = None
    upvotes: int | None = None
    similarity: float = 0.0  # cosine similarity of the best chunk to the query (dense side)
    keyword_score: float = 0.0  # BM25 score of the paper (keyword side)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "published": self.published, "score": round(self.score, 6),
                "text": self.text}


@dataclass
class Citation:
    """A cited paper with the abstract sentence that supports the claim."""

    id: str
    title: str
    published: str | None
    score: float
    evidence: str
    abstract: str = ""
    authors: int | None = None
    marker: int = 0  # the [n] this paper carries in the answer text
    passages: list[str] = field(default_factory=list)  # every sentence quoted from it, `evidence` first

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "published": self.published, "score": round(self.score, 6),
                "evidence": self.evidence, "passages": self.passages or [self.evidence], "marker": self.marker,
                "authors": self.authors}


@dataclass
class SentenceCheck:
    """One claim sentence of an answer and whether the abstracts it cites support it."""

    n: int  # its number among the answer's claim sentences
    text: str  # without markers or titles
    markers: list[int]  # the [n] it carries
    supported: bool
    score: float | None = None  # the support scorer's score, when it was scored
    evidence: str = ""  # the cited abstracts' sentence that best supports it
    why: str | None = None  # why it is not supported

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "text": self.text, "markers": self.markers, "supported": self.supported,
                "score": self.score, "evidence": self.evidence, "why": self.why}


@dataclass
class Usage:
    """Where an answer's time and tokens went, and what it cost when prices are configured."""

    retrieval_seconds: float = 0.0
    generation_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_counted_locally: bool = False
    cost_usd: float | None = None
    model: str | None = None
    invalid_citations_removed: int = 0
    candidates_screened: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    mode: Literal["extractive", "llm"]
    abstained: bool = False
    usage: Usage = field(default_factory=Usage)
    retrieved: list[Hit] = field(default_factory=list)  # every paper the answer could draw on
    error: str | None = None  # set when the answer fell short (e.g. the LLM was unreachable)
    seconds: float = 0.0
    sentences: list[SentenceCheck] = field(default_factory=list)  # each claim sentence, checked against its sources

    @property
    def unsupported(self) -> list[SentenceCheck]:
        """The claim sentences that no cited abstract supports (or that cite nothing)."""
        return [s for s in self.sentences if not s.supported]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "answer": self.text,
            "mode": self.mode,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [s.to_json() for s in self.sentences],
            "usage": self.usage.to_json(),
            "seconds": round(self.seconds, 4),
        }
        if self.error:
            out["error"] = self.error
        return out
