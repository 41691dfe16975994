"""Read every source file into one set of papers: the same paper from several files (or twice in
one) becomes one paper, found by arXiv id, DOI or title (`identity`), its metadata merged. Files that
fail and entries that are skipped are collected, never raised; nothing here touches the index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import SourceError
from ingest.formats import Context, Skipped
from ingest.identity import Identities
from ingest.papers import Paper, paper_id
from ingest.sources import expand, load_file


@dataclass
class Sources:
    papers: dict[str, Paper] = field(default_factory=dict)  # by id
    failed: list[SourceError] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def read_sources(paths: list[Path], *, categories: frozenset[str] = frozenset(),
                 progress: Callable[[int, int], None] | None = None) -> Sources:
    """Papers of every file, merged; `categories` keeps only arXiv papers in them (formats that carry
    categories); `progress(bytes read, bytes in all files)` is called as large files are read."""
    found = Sources()
    known = Identities()
    files = expand(paths)
    total = sum(_size(f) for f in files)
    offset = 0
    for path in files:
        def report(done: int, start: int = offset) -> None:
            if progress:
                progress(start + done, total)

        ctx = Context(path, found.skipped, categories, report if progress else None)
        try:
            papers = load_file(path, ctx)
        except SourceError as exc:
            found.failed.append(exc)
            papers = []
        offset += _size(path)
        for paper in papers:
            pid = known.resolve(paper)
            if pid is None:
                found.papers[paper.id] = paper
            else:
                found.papers[pid].merge(paper)
                paper = found.papers[pid]
            known.add_paper(paper)
    return Sources(_prefer_arxiv_ids(found.papers), found.failed, found.skipped)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _prefer_arxiv_ids(papers: dict[str, Paper]) -> dict[str, Paper]:
    """A paper first met without its arXiv id (a listing) and later with it (a .bib) is keyed by the
    arXiv id, whatever order the files came in."""
    out: dict[str, Paper] = {}
    for paper in papers.values():
        if paper.arxiv_id and paper.id == paper_id(paper.title):
            paper.id = paper_id(paper.title, paper.arxiv_id)
        out[paper.id] = paper
    return out
