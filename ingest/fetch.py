"""Keep a collection current from the paper services: `fetch_arxiv` pages through arXiv's Atom API
for one category and a window of submission dates, `fetch_daily_papers` downloads one date of
Hugging Face's Daily Papers. Each page is saved under the data folder (`fetch/`) as it arrives and a
saved page is not asked for again, so a rerun after an interruption continues where it stopped (a
window reaching today asks again for its last page, which may have grown). Only when every page is
in are the papers written to one file and ingested through `ingest.pipeline.ingest` like any file:
a service that cannot be reached raises FetchError before the index is touched."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import FetchError, SourceError
from assistant.settings import Settings
from ingest.download import BadPage, Downloader
from ingest.formats import arxiv_atom
from ingest.formats.common import Context
from ingest.papers import normalise_arxiv
from ingest.pipeline import IngestReport, Progress, ingest

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

log = logging.getLogger(__name__)

_CATEGORY = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?$")  # cs.LG, stat.ML, hep-th, physics.chem-ph, math
MAX_DAILY_PAGES = 100  # a guard against a server that ignores `p` and repeats one page
Note = Callable[[str], None]


@dataclass
class FetchReport:
    """What a fetch read and kept, and the ingest of what it kept."""

    source: str  # "arxiv" or "daily-papers"
    query: str  # what was asked for, as messages name it
    pages: int = 0  # pages read: downloaded now or saved by an earlier run
    downloaded: int = 0
    reused: int = 0
    requests: int = 0  # HTTP requests, retries included
    entries: int = 0  # papers in the pages read
    kept: int = 0  # papers in the window (and within --max), handed to ingest
    files: list[str] = field(default_factory=list)  # what was ingested
    ingest: IngestReport = field(default_factory=IngestReport)

    def to_json(self) -> dict[str, Any]:
        fetched = {"source": self.source, "query": self.query, "pages": self.pages, "downloaded": self.downloaded,
                   "reused": self.reused, "requests": self.requests, "entries": self.entries, "kept": self.kept,
                   "files": self.files}
        return {**self.ingest.to_json(), "fetch": fetched}


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def fetch_arxiv(settings: Settings, category: str, since: date, until: date | None = None, *,
                max_papers: int | None = None, embedder: BaseEmbedding | None = None,
                progress: Progress | None = None, pages: Progress | None = None, note: Note | None = None,
                today: date | None = None) -> FetchReport:
    """Papers first submitted to `category` (or cross-listed there) from `since` to `until`
    (default: today), oldest first, at most `max_papers` of them; downloaded, then ingested.
    `pages(read, expected)` follows the download, `progress` the embedding, `note` hears of retries."""
    today = today or utc_today()
    until = until or today
    if not _CATEGORY.match(category):
        raise FetchError(f"{category!r} is not an arXiv category; give one such as cs.LG, stat.ML or math")
    if since > until:
        raise FetchError(f"--since {since} is after --until {until}; nothing to fetch")
    if max_papers is not None and max_papers < 1:
        raise FetchError("--max must be 1 or more")
    report = FetchReport("arxiv", f"arXiv {category}, submitted {since} to {until}")
    query = f"cat:{category} AND submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"
    folder = settings.home / "fetch" / "arxiv"
    saved = folder / f"{category}_{since}_{until}"
    window = Context(saved, categories=frozenset({category}))
    closed = until < today  # nothing new can appear in the window: every saved page is final
    kept: dict[str, ET.Element] = {}
    start = 0
    with Downloader(settings, "arXiv", note=note) as downloader:
        while True:
            path = saved / f"page-{start:06d}.xml"
            feed = _saved_feed(path, closed)
            if feed is None:
                params = {"search_query": query, "start": start, "max_results": settings.arxiv_page_size,
                          "sortBy": "submittedDate", "sortOrder": "ascending"}
                data = downloader.get(settings.arxiv_api_url, params, check=_arxiv_check(start))
                feed = arxiv_atom.parse(data, settings.arxiv_api_url)
                _save(path, data)
                report.downloaded += 1
            else:
                report.reused += 1
            report.pages += 1
            report.entries += len(feed.entries)
            later = False  # the results are oldest first: an entry past `until` ends the window
            for entry in feed.entries:
                day = (arxiv_atom.published(entry) or "")[:10]
                later = later or day > until.isoformat()
                if since.isoformat() <= day <= until.isoformat() and window.wanted(arxiv_atom.categories(entry)):
                    kept.setdefault(_entry_key(entry), entry)
            total = feed.total if feed.total is not None else start + len(feed.entries)
            start += len(feed.entries)
            full = max_papers is not None and len(kept) >= max_papers
            done = later or full or not feed.entries or start >= total
            if pages:
                left = 0 if done else math.ceil((total - start) / settings.arxiv_page_size)
                pages(report.pages, report.pages + left)
            if done:
                break
        report.requests = downloader.requests
    entries = list(kept.values())[:max_papers]
    report.kept = len(entries)
    if entries:
        merged = folder / f"arxiv-{category}-{since}-to-{until}.xml"
        _save(merged, _feed_document(entries, f"arXiv query: {query}"))
        _ingest(report, merged, settings, embedder, progress)
    return report


def fetch_daily_papers(settings: Settings, day: date, *, embedder: BaseEmbedding | None = None,
                       progress: Progress | None = None, pages: Progress | None = None, note: Note | None = None,
                       today: date | None = None) -> FetchReport:
    """The papers of one date's Hugging Face Daily Papers, with their upvotes; downloaded, then
    ingested. Callbacks as for `fetch_arxiv`."""
    today = today or utc_today()
    if day > today:
        raise FetchError(f"{day} is in the future; there is no Daily Papers listing for it yet")
    report = FetchReport("daily-papers", f"Hugging Face Daily Papers of {day}")
    folder = settings.home / "fetch" / "daily-papers"
    saved = folder / day.isoformat()
    size = settings.daily_papers_page_size
    items: dict[str, Any] = {}
    with Downloader(settings, "Hugging Face Daily Papers", note=note) as downloader:
        for page in range(MAX_DAILY_PAGES):
            path = saved / f"page-{page}.json"
            batch = _saved_items(path, reuse_short=day < today, size=size)
            if batch is None:
                params = {"date": day.isoformat(), "limit": size, "p": page}
                data = downloader.get(settings.daily_papers_url, params, check=_daily_check)
                batch = json.loads(data)
                _save(path, data)
                report.downloaded += 1
            else:
                report.reused += 1
            report.pages += 1
            report.entries += len(batch)
            new = [i for i in batch if _item_key(i) not in items]
            items.update((_item_key(i), i) for i in new)
            done = len(batch) < size or not new
            if pages:
                pages(report.pages, report.pages + (0 if done else 1))
            if done:
                break
        report.requests = downloader.requests
    report.kept = len(items)
    if items:
        merged = folder / f"daily-papers-{day}.json"
        _save(merged, json.dumps(list(items.values()), ensure_ascii=False).encode())
        _ingest(report, merged, settings, embedder, progress)
    return report


def _ingest(report: FetchReport, path: Path, settings: Settings, embedder: BaseEmbedding | None,
            progress: Progress | None) -> None:
    report.files = [str(path)]
    report.ingest = ingest([path], settings, embedder=embedder, progress=progress)


def _arxiv_check(start: int) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        try:
            feed = arxiv_atom.parse(data, "arXiv's answer")
        except SourceError as exc:  # a throttling notice, or a page cut off on the way
            raise BadPage(f"the answer is not an Atom feed: {data[:80]!r}") from exc
        if feed.error:
            raise FetchError(f"arXiv rejected the query: {feed.error}")
        if not feed.entries and feed.total is not None and start < feed.total:
            raise BadPage(f"an empty page at {start} of {feed.total} results")
    return check


def _daily_check(data: bytes) -> None:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise BadPage(f"the answer is not JSON: {data[:80]!r}") from exc
    if isinstance(document, dict) and document.get("error"):
        raise FetchError(f"Hugging Face answered with an error: {document['error']}")
    if not isinstance(document, list):
        raise FetchError("Hugging Face's answer is not a list of papers; is PAPERSCOPE_DAILY_PAPERS_URL the "
                         "/api/daily_papers endpoint?")


def _saved_feed(path: Path, closed: bool) -> arxiv_atom.Feed | None:
    """The page an earlier run saved, when it can stand: in a closed window any page, else every
    page but the last (the oldest-first order keeps earlier pages as they were)."""
    try:
        feed = arxiv_atom.parse(path.read_bytes(), str(path))
    except (OSError, SourceError):
        return None
    if feed.error or not feed.entries:
        return None
    if closed or (feed.total is not None and feed.start + len(feed.entries) < feed.total):
        return feed
    return None


def _saved_items(path: Path, *, reuse_short: bool, size: int) -> list[Any] | None:
    """A saved Daily Papers page: a full one always, a short (last) one only for a past date."""
    try:
        batch = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(batch, list) or (len(batch) < size and not reuse_short):
        return None
    return batch


def _entry_key(entry: ET.Element) -> str:
    abs_url = entry.findtext(f"{{{arxiv_atom.ATOM}}}id") or ""
    return normalise_arxiv(abs_url) or abs_url or ET.tostring(entry, encoding="unicode")


def _item_key(item: Any) -> str:
    paper = item.get("paper") if isinstance(item, dict) else None
    if isinstance(paper, dict) and paper.get("id"):
        return str(paper["id"])
    return json.dumps(item, sort_keys=True)


def _feed_document(entries: list[ET.Element], title: str) -> bytes:
    """One Atom feed holding `entries`, laid out as arXiv lays out its answers."""
    for prefix, uri in (("", arxiv_atom.ATOM), ("arxiv", arxiv_atom.ARXIV), ("opensearch", arxiv_atom.OPENSEARCH)):
        ET.register_namespace(prefix, uri)
    root = ET.Element(f"{{{arxiv_atom.ATOM}}}feed")
    root.text = "\n  "
    for tag, text in ((f"{{{arxiv_atom.ATOM}}}title", title),
                      (f"{{{arxiv_atom.OPENSEARCH}}}totalResults", str(len(entries))),
                      (f"{{{arxiv_atom.OPENSEARCH}}}startIndex", "0")):
        ET.SubElement(root, tag).text = text
        root[-1].tail = "\n  "
    root.extend(entries)
    root[-1].tail = "\n"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _save(path: Path, data: bytes) -> None:
    """Write whole or not at all: a run killed mid-write leaves no half page behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)
    log.info("saved %s (%d bytes)", path, len(data))
