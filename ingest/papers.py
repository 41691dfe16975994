"""The `Paper` record every source parses into, its stable id and its content hash."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)
MAX_SLUG = 80


def normalise_title(title: str) -> str:
    """Lowercase ASCII words joined by '-': the same paper titled with other spacing, case or
    accents gets the same key."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("-", ascii_title.lower()).strip("-")


def paper_id(title: str, arxiv_id: str | None = None) -> str:
    """Stable across runs and machines: `arxiv-<id>` when the arXiv id is known, else the
    normalised title (cut to 80 characters, with a short hash of the whole when cut)."""
    if arxiv_id:
        match = _ARXIV_ID.match(arxiv_id.strip())
        if match:
            return f"arxiv-{match.group(1)}"
    slug = normalise_title(title)
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha1(slug.encode()).hexdigest()[:8]
        slug = f"{slug[:MAX_SLUG].rstrip('-')}-{digest}"
    return slug


@dataclass
class Paper:
    """One paper: what is embedded (title, abstract) and what is filtered or shown (the rest)."""

    id: str
    title: str
    abstract: str
    published: str | None = None  # ISO date "2023-11-28", or partial "--12-24" when the year is unknown
    authors: int | None = None  # author count
    organization: str | None = None
    upvotes: int | None = None
    sources: list[str] = field(default_factory=list)  # listing / file names the paper came from

    @property
    def text_hash(self) -> str:
        """Changes when what is embedded (title, abstract) changes: only then is the paper re-embedded."""
        return hashlib.sha256(json.dumps([self.title, self.abstract], ensure_ascii=False).encode()).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored about the paper changes; drives incremental ingest."""
        payload = json.dumps(
            [self.title, self.abstract, self.published, self.authors, self.organization, self.upvotes,
             sorted(self.sources)],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def merge(self, other: Paper) -> None:
        """Fold a second listing of the same paper into this one: the fuller abstract, and every
        piece of metadata either listing knows."""
        if len(other.abstract) > len(self.abstract):
            self.abstract = other.abstract
        self.fill_gaps(other)

    def fill_gaps(self, other: Paper) -> None:
        """Take from `other` the metadata this paper lacks, and its sources; keep title and abstract."""
        if other.published and (not self.published or self.published.startswith("--")):
            self.published = other.published
        self.authors = self.authors if self.authors is not None else other.authors
        self.organization = self.organization or other.organization
        if other.upvotes is not None:
            self.upvotes = max(self.upvotes or 0, other.upvotes)
        self.sources = sorted(set(self.sources) | set(other.sources))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Paper:
        """The paper as the index stores it (a chunk's metadata, see `ingest.chunking`)."""
        return cls(
            id=record["paper_id"], title=record["title"], abstract=record.get("abstract", ""),
            published=record.get("published"), authors=record.get("authors"),
            organization=record.get("organization"), upvotes=record.get("upvotes"),
            sources=[s for s in str(record.get("sources", "")).split(",") if s],
        )


def chunking(chunk_size: int, chunk_overlap: int) -> str:
    """How a paper was cut into chunks; a paper stored with other settings is re-chunked on ingest."""
    return f"{chunk_size}/{chunk_overlap}"
