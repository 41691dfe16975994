"""The `Paper` record every source parses into, its stable id and its content hash."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# new-style (2401.01234) and old-style (hep-th/9901001) arXiv identifiers, with or without a version
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?$", re.IGNORECASE)
_ARXIV_IN_TEXT = re.compile(r"(?:arxiv\.org/(?:abs|pdf)/|arxiv[.:]\s*|10\.48550/arxiv\.)"
                            r"(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})", re.IGNORECASE)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
MAX_SLUG = 80


def normalise_title(title: str) -> str:
    """Lowercase ASCII words joined by '-': the same paper titled with other spacing, case or
    accents gets the same key."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("-", ascii_title.lower()).strip("-")


def normalise_arxiv(value: str | None) -> str | None:
    """'arXiv:2401.01234v2', 'https://arxiv.org/abs/2401.01234', '10.48550/arXiv.2401.01234' ->
    '2401.01234'; old-style ids keep their archive ('hep-th/9901001'). None when there is none."""
    if not value:
        return None
    text = str(value).strip()
    match = _ARXIV_ID.match(text) or _ARXIV_IN_TEXT.search(text)
    return match.group(1).lower() if match else None


def normalise_doi(value: str | None) -> str | None:
    """'https://doi.org/10.1/ABC' or 'doi:10.1/abc' -> '10.1/abc' (DOIs are case-insensitive)."""
    if not value:
        return None
    match = _DOI.search(str(value).strip())
    return match.group(1).rstrip(".,;").lower() if match else None


def paper_id(title: str, arxiv_id: str | None = None) -> str:
    """Stable across runs and machines: `arxiv-<id>` when the arXiv id is known, else the
    normalised title (cut to 80 characters, with a short hash of the whole when cut)."""
    arxiv = normalise_arxiv(arxiv_id)
    if arxiv:
        return "arxiv-" + arxiv.replace("/", "-")
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
    # bibliographic metadata, kept with the paper's record (its first chunk) but not filtered on
    arxiv_id: str | None = None  # normalised: '2401.01234'
    doi: str | None = None  # normalised: '10.1234/abc', lowercase
    author_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # arXiv categories, e.g. ['cs.LG', 'stat.ML']
    venue: str | None = None  # journal or proceedings
    url: str | None = None

    def __post_init__(self) -> None:
        # an arXiv DOI (10.48550/arXiv.…) or abs/pdf URL names the preprint too
        self.arxiv_id = normalise_arxiv(self.arxiv_id) or normalise_arxiv(self.doi) or normalise_arxiv(self.url)
        self.doi = normalise_doi(self.doi)

    @property
    def text_hash(self) -> str:
        """Changes when what is embedded (title, abstract) changes: only then is the paper re-embedded."""
        return hashlib.sha256(json.dumps([self.title, self.abstract], ensure_ascii=False).encode()).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored about the paper changes; drives incremental ingest."""
        fields: list[Any] = [self.title, self.abstract, self.published, self.authors, self.organization,
                             self.upvotes, sorted(self.sources)]
        extras = self.extras()
        if extras:  # only then: a paper without them hashes as it always did, and is not relabelled
            fields.append(extras)
        payload = json.dumps(fields, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def extras(self) -> dict[str, str]:
        """The bibliographic metadata as flat strings, as the paper's record stores it."""
        values = {"arxiv_id": self.arxiv_id, "doi": self.doi, "author_names": "; ".join(self.author_names),
                  "categories": " ".join(self.categories), "venue": self.venue, "url": self.url}
        return {k: v for k, v in values.items() if v}

    def merge(self, other: Paper) -> None:
        """Fold a second listing of the same paper into this one: the fuller abstract, and every
        piece of metadata either listing knows."""
        if len(other.abstract) > len(self.abstract):
            self.abstract = other.abstract
        self.fill_gaps(other)

    def fill_gaps(self, other: Paper) -> None:
        """Take from `other` the metadata this paper lacks, and its sources; keep title and abstract."""
        if other.published and (not self.published or self.published.startswith("--") or (
                len(other.published) > len(self.published) and other.published.startswith(self.published))):
            self.published = other.published  # a date, or a more precise one ('2023-11' -> '2023-11-28')
        self.authors = self.authors if self.authors is not None else other.authors
        self.organization = self.organization or other.organization
        if other.upvotes is not None:
            self.upvotes = max(self.upvotes or 0, other.upvotes)
        self.arxiv_id = self.arxiv_id or other.arxiv_id
        self.doi = self.doi or other.doi
        self.author_names = self.author_names or other.author_names
        self.categories = self.categories or other.categories
        self.venue = self.venue or other.venue
        self.url = self.url or other.url
        self.sources = sorted(set(self.sources) | set(other.sources))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Paper:
        """The paper as the index stores it (a chunk's metadata, see `ingest.chunking`)."""
        return cls(
            id=record["paper_id"], title=record["title"], abstract=record.get("abstract", ""),
            published=record.get("published"), authors=record.get("authors"),
            organization=record.get("organization"), upvotes=record.get("upvotes"),
            sources=[s for s in str(record.get("sources", "")).split(",") if s],
            arxiv_id=record.get("arxiv_id"), doi=record.get("doi"),
            author_names=[n for n in str(record.get("author_names", "")).split("; ") if n],
            categories=str(record.get("categories", "")).split(), venue=record.get("venue"), url=record.get("url"),
        )


def chunking(chunk_size: int, chunk_overlap: int) -> str:
    """How a paper was cut into chunks; a paper stored with other settings is re-chunked on ingest."""
    return f"{chunk_size}/{chunk_overlap}"
