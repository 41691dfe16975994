"""Upgrading a collection written in the earlier layout (format 1: LlamaIndex's node JSON on every
chunk, each paper's record on its first chunk, a keyword sidecar) to today's, keeping every paper.

The records are saved to a file in the data folder before the old collection is deleted, and the
papers are ingested from that file; the file goes only once the ingest has finished. A process
killed at any point leaves either the old collection or the file, and the next open finishes the
upgrade. Vectors are recomputed (the chunks are cut and stored differently now)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from assistant.index import FORMAT, open_client
from assistant.settings import Settings
from ingest.papers import Paper
from ingest.pipeline import IngestReport, Progress, ingest, ingest_lock
from ingest.reading import Sources

log = logging.getLogger(__name__)

# what the earlier layout kept of a paper on its first chunk's metadata
_RECORD_KEYS = ("paper_id", "title", "abstract", "published", "published_ord", "authors", "organization",
                "upvotes", "sources", "content_hash", "text_hash", "chunks", "chunking",
                "arxiv_id", "doi", "author_names", "categories", "venue", "url")
_PAGE = 5000


def _old_collection(client: Any, settings: Settings) -> Any | None:
    """The collection when it is in an earlier layout and holds anything, else None."""
    names = {getattr(c, "name", c) for c in client.list_collections()}
    if settings.collection not in names:
        return None
    collection = client.get_collection(settings.collection, embedding_function=None)
    if (collection.metadata or {}).get("format") == FORMAT or collection.count() == 0:
        return None
    return collection


def needs_upgrade(settings: Settings) -> bool:
    return settings.upgrade_path.exists() or _old_collection(open_client(settings), settings) is not None


def _old_records(collection: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    total = collection.count()
    for offset in range(0, total, _PAGE):
        got = collection.get(where={"chunk": 0}, include=["metadatas"], limit=_PAGE, offset=offset)
        for meta in got["metadatas"] or []:
            records.append({k: meta[k] for k in _RECORD_KEYS if k in meta and meta[k] != ""})
    return records


def _save(records: list[dict[str, Any]], path: Path) -> None:
    handle, tmp = tempfile.mkstemp(prefix=".upgrade-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def upgrade(settings: Settings, *, embedder: Any | None = None, progress: Progress | None = None) -> IngestReport | None:
    """Rewrite the collection in today's layout if it is in an earlier one (or an upgrade was
    interrupted); None when there was nothing to upgrade."""
    path = settings.upgrade_path
    with ingest_lock(settings):
        client = open_client(settings)
        old = _old_collection(client, settings)
        if old is not None:
            records = _old_records(old)
            log.warning("upgrading collection %r (%d papers) to the current layout; their vectors are recomputed",
                        settings.collection, len(records))
            settings.home.mkdir(parents=True, exist_ok=True)
            _save(records, path)
            client.delete_collection(settings.collection)
            shutil.rmtree(settings.home / "keyword" / settings.collection, ignore_errors=True)  # the old sidecar
        if not path.exists():
            return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    papers = {str(r["paper_id"]): Paper.from_record(r) for r in rows}
    report = ingest(None, settings, sources=Sources(papers, [], []), embedder=embedder, progress=progress)
    path.unlink()
    return report
