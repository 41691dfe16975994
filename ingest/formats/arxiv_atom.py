"""arXiv API responses (the Atom 1.0 feeds export.arxiv.org/api/query answers with), saved as
files: one <entry> a paper, with its abs URL as <id> (the arXiv id, versioned), <title>, <summary>,
<published> (when v1 appeared), <author><name>, <category term>, and arxiv:doi / arxiv:journal_ref
when known. The feed's opensearch:totalResults and startIndex say where a page sits in its query.
An error feed (arXiv's answer to a malformed query: one entry titled 'Error') is a SourceError.
Parsed with the standard library; a page is small, so it is read whole."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date
from ingest.papers import Paper

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
_A, _X, _O = f"{{{ATOM}}}", f"{{{ARXIV}}}", f"{{{OPENSEARCH}}}"


@dataclass
class Feed:
    """One parsed response: its entries in order, and the query's total and this page's offset."""

    entries: list[ET.Element] = field(default_factory=list)
    total: int | None = None
    start: int = 0
    error: str | None = None  # arXiv's message, when the feed is an error feed


def parse(data: bytes, label: str) -> Feed:
    """The feed in `data`; a SourceError when it is not an Atom feed at all."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(label, f"not a readable Atom feed ({exc}); is the file cut off?") from exc
    if root.tag != f"{_A}feed":
        raise SourceError(label, f"not an Atom feed (the document is <{root.tag}>)")
    feed = Feed(entries=root.findall(f"{_A}entry"), total=_int(root.findtext(f"{_O}totalResults")),
                start=_int(root.findtext(f"{_O}startIndex")) or 0)
    if len(feed.entries) == 1 and "/api/errors" in (feed.entries[0].findtext(f"{_A}id") or ""):
        feed.error = _text(feed.entries[0].findtext(f"{_A}summary")) or "an unexplained error"
        feed.entries = []
    return feed


def categories(entry: ET.Element) -> list[str]:
    """The entry's categories, its primary one first."""
    primary = entry.find(f"{_X}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(f"{_A}category")]
    return list(dict.fromkeys(t for t in terms if t))


def published(entry: ET.Element) -> str | None:
    return iso_date(entry.findtext(f"{_A}published"))


def read(ctx: Context) -> Iterator[Paper]:
    try:
        data = ctx.path.read_bytes()
    except OSError as exc:
        raise SourceError(str(ctx.path), f"cannot be read ({exc.strerror})") from exc
    feed = parse(data, str(ctx.path))
    if feed.error:
        raise SourceError(str(ctx.path), f"an arXiv API error response, not papers: {feed.error}")
    for position, entry in enumerate(feed.entries, start=1):
        terms = categories(entry)
        if not ctx.wanted(terms):
            continue
        paper = to_paper(ctx, entry, position, terms)
        if paper is not None:
            yield paper
    if ctx.progress:
        ctx.progress(len(data))


def to_paper(ctx: Context, entry: ET.Element, position: int, terms: list[str]) -> Paper | None:
    """A paper from one entry (None, and the entry reported, when it lacks a title or summary)."""
    abs_url = _text(entry.findtext(f"{_A}id"))
    names = [_text(a.findtext(f"{_A}name")) for a in entry.findall(f"{_A}author")]
    paper = ctx.paper(
        abs_url or f"entry {position}", entry.findtext(f"{_A}title"), entry.findtext(f"{_A}summary"),
        arxiv_id=abs_url or None, doi=_text(entry.findtext(f"{_X}doi")) or None, published=published(entry),
        author_names=[n for n in names if n], categories=terms,
        venue=_text(entry.findtext(f"{_X}journal_ref")) or None,
    )
    if paper is not None and paper.arxiv_id:
        paper.url = f"https://arxiv.org/abs/{paper.arxiv_id}"
    return paper


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None
