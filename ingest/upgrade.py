"""Upgrading a collection written in the earlier layout (format 1: LlamaIndex's node JSON on every
chunk, each paper's record on its first chunk, a keyword sidecar) to today's, keeping every paper.

The records (and the old chunks' vectors, keyed by the text they embed) are saved to files in the
data folder before the old collection is deleted, and the papers are ingested from them; the files
go only once the ingest has finished. A process killed at any point leaves either the old
collection or the files, and the next open finishes the upgrade. A chunk cut as before (the same
title and text, embedded by the same model) takes its old vector back; any other is embedded."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import FORMAT, open_client
from assistant.settings import Settings
from ingest.chunking import embed_text
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


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _save_vectors(collection: Any, titles: dict[str, str], path: Path) -> None:
    """Every old chunk's vector, keyed by what it embedded (`embed_text` of title and chunk)."""
    keys: list[str] = []
    vectors: list[Any] = []
    for offset in range(0, collection.count(), _PAGE):
        got = collection.get(include=["documents", "embeddings"], limit=_PAGE, offset=offset)
        for chunk, document, vector in zip(got["ids"], got["documents"] or [], got["embeddings"], strict=True):
            title = titles.get(chunk.rsplit("#", 1)[0])
            if title is not None and document:
                keys.append(_key(embed_text(title, document)))
                vectors.append(vector)
    handle, tmp = tempfile.mkstemp(prefix=".upgrade-", suffix=".npz", dir=path.parent)
    with os.fdopen(handle, "wb") as out:
        np.savez(out, keys=np.array(keys), vectors=np.array(vectors, dtype=np.float32).reshape(len(keys), -1))
    os.replace(tmp, path)


class _Reused:
    """The embedder of an upgrade: a text embedded before gets its old vector back, any other is
    passed to the real embedder (made only when needed)."""

    def __init__(self, path: Path, settings: Settings, embedder: Any | None) -> None:
        saved = np.load(path) if path.exists() else None
        self._old = {} if saved is None else dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))
        self._settings = settings
        self._embedder = embedder
        self.reused = 0

    def get_text_embedding_batch(self, texts: Sequence[str], **kwargs: Any) -> list[list[float]]:
        found = [self._old.get(_key(t)) for t in texts]
        missing = [t for t, v in zip(texts, found, strict=True) if v is None]
        fresh = iter(self._real().get_text_embedding_batch(missing, **kwargs) if missing else [])
        self.reused += len(texts) - len(missing)
        return [v.tolist() if v is not None else next(fresh) for v in found]

    def _real(self) -> Any:
        if self._embedder is None:
            from assistant.embedding import make_embedder

            self._embedder = make_embedder(self._settings)
        return self._embedder


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
    vectors = path.with_suffix(".vectors.npz")
    with ingest_lock(settings):
        client = open_client(settings)
        old = _old_collection(client, settings)
        if old is not None:
            records = _old_records(old)
            log.warning("upgrading collection %r (%d papers) to the current layout", settings.collection, len(records))
            settings.home.mkdir(parents=True, exist_ok=True)
            if (old.metadata or {}).get("embedder") == settings.embedder_id:  # vectors of another model are not kept
                _save_vectors(old, {str(r["paper_id"]): str(r["title"]) for r in records}, vectors)
            _save(records, path)  # last: its presence says the upgrade's files are complete
            client.delete_collection(settings.collection)
            shutil.rmtree(settings.home / "keyword" / settings.collection, ignore_errors=True)  # the old sidecar
        if not path.exists():
            return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    papers = {str(r["paper_id"]): Paper.from_record(r) for r in rows}
    reused = _Reused(vectors, settings, embedder)
    report = ingest(None, settings, sources=Sources(papers, [], []), embedder=reused, progress=progress)  # type: ignore[arg-type]
    log.warning("upgraded collection %r: %d chunk vectors reused, %d embedded", settings.collection, reused.reused,
                report.chunks - reused.reused)
    path.unlink()
    vectors.unlink(missing_ok=True)
    return report
