"""Incremental ingest: sources -> chunks -> embeddings -> the paper index.

Unchanged papers (same content hash) are skipped and never re-embedded; changed papers are
replaced chunk by chunk with upserts, so a killed ingest leaves every paper readable; `prune`
removes papers no longer in the sources. Only the stored papers the sources name are read, so
adding k papers costs O(k). One ingest at a time per data folder (a file lock) and per
collection on a shared Chroma server (a lease, `ingest.lease`)."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import IndexNotReadyError
from assistant.index import DIRTY, PaperIndex
from assistant.settings import Settings
from ingest.identity import Identities, rekey
from ingest.lease import lease
from ingest.papers import Paper, chunking
from ingest.reading import Sources, read_sources
from ingest.sources import bundled_collection

if TYPE_CHECKING:  # llama_index takes a second to import: an unchanged re-ingest never needs it
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)

# Chunks embedded and written together. The embedder sorts each group by length before batching
# it, so a larger group pads less (BENCHMARKS.md, ingest); a killed ingest redoes at most one group.
WRITE_GROUP_CHUNKS = 512

Progress = Callable[[int, int], None]  # (papers embedded so far, papers to embed)


@dataclass
class IngestReport:
    papers: int = 0  # distinct papers in the sources that were read
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks embedded and written by this run
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[dict[str, str]] = field(default_factory=list)  # entries of readable files left out: path, entry, reason

    def to_json(self) -> dict[str, Any]:
        return {
            "papers": self.papers, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "removed": self.removed, "chunks": self.chunks, "failed": self.failed, "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """Hold the data folder's ingest lock; wait up to `ingest_lock_timeout` seconds for it.
    The OS drops the lock when its holder dies, even by kill -9."""
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "ingest.lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + settings.ingest_lock_timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise IndexNotReadyError(
                        f"Another ingest (pid {holder}) is writing to {settings.home}. Wait for it to finish, or "
                        "set PAPERSCOPE_INGEST_LOCK_TIMEOUT=<seconds> to wait for it automatically."
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _embed(nodes: list[TextNode], records: list[dict[str, Any]], embedder: BaseEmbedding) -> None:
    """Embed the chunks of the papers whose records are `records`."""
    from ingest.chunking import embed_text

    titles = {str(r["paper_id"]): str(r["title"]) for r in records}
    texts = [embed_text(titles[n.node_id.rsplit("#", 1)[0]], n.get_content()) for n in nodes]
    for node, vector in zip(nodes, embedder.get_text_embedding_batch(texts), strict=True):
        node.embedding = vector


def ingest(
    paths: list[Path] | None,
    settings: Settings,
    *,
    prune: bool = False,
    embedder: BaseEmbedding | None = None,
    progress: Progress | None = None,
    categories: frozenset[str] = frozenset(),
    reading: Progress | None = None,
    sources: Sources | None = None,
) -> IngestReport:
    """Bring the index in line with `paths` (None: the bundled collection). Files that fail are
    reported in `failed`, entries left out in `skipped`; the rest still ingest, and nothing of a
    failed file's papers is removed. A paper the index already holds (the same arXiv id, DOI or
    title) keeps its id. `categories` keeps only arXiv papers in those categories (cs.LG, or a
    whole archive: cs); `reading(bytes read, bytes)` follows the reading of the files.

    Without `prune`, sources add to what is stored: a paper keeps the listings and metadata it
    already had. With `prune`, the sources are the whole truth and stored papers absent from
    them are removed (unless a file failed, when nothing is removed). `sources`, when given, are
    papers already read (an upgrade of an older index) and `paths` is not read."""
    started = time.perf_counter()
    if sources is None:
        from ingest.upgrade import upgrade

        upgrade(settings, embedder=embedder, progress=progress)  # a collection in an earlier layout is rewritten first
    found = sources or read_sources(paths if paths else bundled_collection(), categories=categories, progress=reading)
    failures = found.failed
    report = IngestReport(failed=[{"path": f.path, "error": f.reason} for f in failures],
                          skipped=[s.to_json() for s in found.skipped])
    with ingest_lock(settings):
        index = PaperIndex(settings, embedder=embedder)
        with lease(index, settings.ingest_lease_seconds, settings.ingest_lock_timeout) as held:
            catalog = index.catalog()
            stored = {r["paper_id"]: r for r in catalog.matching(
                ids=found.papers, arxiv_ids=(p.arxiv_id for p in found.papers.values() if p.arxiv_id),
                dois=(p.doi for p in found.papers.values() if p.doi), titles=(p.title for p in found.papers.values()))}
            papers = rekey(found.papers, Identities.of_records(stored.values()))
            report.papers = len(papers)
            cut = chunking(settings.chunk_size, settings.chunk_overlap)
            embed: list[Paper] = []
            relabel: list[Paper] = []
            for paper in papers.values():
                old = stored.get(paper.id)
                if old is None:
                    report.added += 1
                    embed.append(paper)
                    continue
                if not prune:
                    paper.fill_gaps(Paper.from_record(old))
                same_chunks = old.get("chunking") == cut
                if old.get("content_hash") == paper.content_hash and same_chunks:
                    report.unchanged += 1
                    continue
                report.updated += 1
                (relabel if old.get("text_hash") == paper.text_hash and same_chunks else embed).append(paper)
            gone = [pid for pid in catalog.ids() if pid not in papers] if prune else []
            if gone and failures:
                log.warning("not pruning: %d source file(s) failed, and their papers would be lost", len(failures))
                gone = []
            if gone:
                stored.update(catalog.get(gone))
            if embed or relabel or gone:
                _write(index, embed, relabel, gone, stored, settings, progress, report, held.renew)
            elif catalog.fingerprint == DIRTY:
                index.end_write()  # an earlier ingest was killed mid-write: commit what Chroma holds
    report.seconds = time.perf_counter() - started
    return report


def _chunk_count(record: dict[str, Any] | None) -> int:
    return int(record.get("chunks", 1)) if record else 0


def _write(
    index: PaperIndex,
    embed: list[Paper],
    relabel: list[Paper],
    gone: list[str],
    stored: dict[str, dict[str, Any]],
    settings: Settings,
    progress: Progress | None,
    report: IngestReport,
    renew: Callable[[], None],
) -> None:
    """Each group's chunks first, then their papers' records: a record never names chunks that are
    not there yet, and a paper whose record is old is redone by the next ingest."""
    from ingest.chunking import chunk_id, chunk_paper, chunk_spans, paper_record

    cut = chunking(settings.chunk_size, settings.chunk_overlap)
    index.begin_write()
    for start in range(0, len(relabel), WRITE_GROUP_CHUNKS):
        group = [(p, chunk_paper(p, settings.chunk_size, settings.chunk_overlap))
                 for p in relabel[start:start + WRITE_GROUP_CHUNKS]]
        index.relabel([n for _, nodes in group for n in nodes])
        index.put_records([paper_record(p, chunk_spans(p.abstract, [n.text for n in nodes]), cut) for p, nodes in group])
        renew()
    if progress:
        progress(0, len(embed))
    pending: list[TextNode] = []
    records: list[dict[str, Any]] = []
    stale: list[str] = []
    for done, paper in enumerate(embed, start=1):
        chunks = chunk_paper(paper, settings.chunk_size, settings.chunk_overlap)
        pending.extend(chunks)
        records.append(paper_record(paper, chunk_spans(paper.abstract, [n.text for n in chunks]), cut))
        stale.extend(chunk_id(paper.id, i) for i in range(len(chunks), _chunk_count(stored.get(paper.id))))
        if len(pending) >= WRITE_GROUP_CHUNKS or done == len(embed):
            _embed(pending, records, index.embedder)
            index.upsert(pending)  # replaces a changed paper's chunks in place
            index.delete_chunks(stale)  # then drops the chunks it no longer has
            index.put_records(records)
            report.chunks += len(pending)
            pending, records, stale = [], [], []
            renew()
            if progress:
                progress(done, len(embed))
    for start in range(0, len(gone), WRITE_GROUP_CHUNKS):
        removed = gone[start:start + WRITE_GROUP_CHUNKS]
        index.delete_chunks([chunk_id(pid, i) for pid in removed for i in range(_chunk_count(stored[pid]))])
        index.remove_records(removed)
        renew()
    report.removed = len(gone)
    index.end_write()
