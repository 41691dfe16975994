"""The paper index, in Chroma: a collection of embedded chunks (each carrying only its paper's id
and the fields filters need) and a collection of paper records (title, abstract, metadata,
hashes: one per paper), with the local `Catalog` kept in step with them. Ingest writes through
it; retrieval reads through it. It does not parse sources (`ingest`) or rank results (`retrieval`).

Consistency: every record written gets the next change number (`seq`); a removed paper leaves a
tombstone with one. The chunk collection's metadata holds the last committed number, the highest
one a writer has reserved, and a `generation` that is "dirty" while a write is under way. A writer
reserves numbers before it uses them, writes a group's chunks before their records, and commits
(new generation) at the end. A reader pulls the records numbered above what its catalog holds:
so a killed ingest, or another machine's ingest on a shared server, costs the reader only the
papers that changed, and keyword and vector search never disagree about the papers it wrote."""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
import zlib
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
from chromadb.api.models.Collection import Collection
from chromadb.api.types import FtsIndexConfig, Schema, StringInvertedIndexConfig, VectorIndexConfig

from assistant.catalog import Catalog
from assistant.errors import ConfigError, IndexNotReadyError, OldLayoutError
from assistant.settings import DEFAULT_EMBED_MODEL, Settings

if TYPE_CHECKING:  # llama_index takes a second to import: only paths that write or use a hosted model load it
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import BaseNode

    from assistant.minilm import MiniLM

log = logging.getLogger(__name__)

DIRTY = "dirty"  # the generation while a write is under way: nothing derived from it may be kept
FORMAT = 2  # how the collections are laid out; 1 was LlamaIndex's node JSON and the record on chunk 0
_WRITE_BATCH = 1000
_PULL_WINDOW = 5000  # change numbers asked for at once when catching up
_FILTER_KEYS = ("published_ord", "authors", "upvotes", "org")  # all a chunk's metadata
_PART = 900  # characters of an encoded record per metadata value: SQLite indexes longer strings on overflow pages
_PARTS = 8  # values per record (the last one takes whatever is left)
_NO_VECTOR = [0.0]  # records and leases are stored without a meaningful vector


def open_client(settings: Settings) -> Any:
    """Chroma's embedded PersistentClient under `home`, or an HttpClient when `chroma_url` is set."""
    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url is None:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"PAPERSCOPE_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000.")
    try:
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb raises several unrelated types for "cannot connect"
        raise IndexNotReadyError(
            f"Cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}). Start it with "
            "`chroma run --path DIR --port PORT`, or unset PAPERSCOPE_CHROMA_URL to use the embedded store."
        ) from exc
    return client


def _schema(*strings: str, space: str | None = None) -> Schema:
    """No full-text index on documents and no index on string metadata except `strings`: PaperScope
    ranks keywords in its catalog, and Chroma's trigram index alone was most of the data folder."""
    schema = Schema()
    schema.delete_index(config=FtsIndexConfig(), key="#document")
    schema.delete_index(config=StringInvertedIndexConfig())
    for key in strings:
        schema.create_index(config=StringInvertedIndexConfig(), key=key)
    if space:
        schema.create_index(config=VectorIndexConfig(space=space))  # type: ignore[arg-type]
    return schema


class PaperIndex:
    """One collection of papers, for reading and (during ingest) writing."""

    def __init__(self, settings: Settings, embedder: BaseEmbedding | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._local_model: MiniLM | None = None
        self._client = open_client(settings)
        self._catalog: Catalog | None = None
        self._sync = threading.Lock()
        self._pulled = 0  # highest change number pulled by this process while the index was dirty
        self._next_seq = 0  # during a write: the next change number to give out
        self.last_pull = 0  # records (and tombstones) the last catch-up of the catalog read from Chroma
        self._chunks: tuple[str, int] | None = None  # (generation, chunk count)

    # -- the pieces -------------------------------------------------------------------------
    @property
    def embedder(self) -> BaseEmbedding:
        """The LlamaIndex embedding that ingest writes with (sharing the local model once it is loaded)."""
        if self._embedder is None:
            from assistant.embedding import make_embedder

            self._embedder = make_embedder(self.settings, model=self._local_model)
        return self._embedder

    def local_model(self) -> MiniLM:
        """The offline MiniLM model, loaded once (queries of the default embedder and the support
        scorer share it)."""
        if self._local_model is None:
            from assistant.minilm import MiniLM

            self._local_model = MiniLM()
        return self._local_model

    def query_embedding(self, query: str) -> list[float]:
        """The vector to search with. With the local model and no embedder given, it is asked
        directly, so a one-off `paperscope ask` never imports LlamaIndex."""
        if self._embedder is None and self.settings.embed_model == DEFAULT_EMBED_MODEL:
            return self.local_model().get_query_embedding(query)
        return self.embedder.get_query_embedding(query)

    @property
    def embedder_id(self) -> str:
        return self.settings.embedder_id

    @cached_property
    def collection(self) -> Collection:
        """The chunks: id `paper#n`, the embedding and `_FILTER_KEYS`. No text: Chroma's local store
        indexes every string it holds twice over (a B-tree and a trigram index), so a chunk's text
        is the span of the abstract its paper's record names."""
        collection = self._client.get_or_create_collection(
            self.settings.collection,
            metadata={"embedder": self.embedder_id, "generation": "empty", "format": FORMAT, "seq": 0, "reserved": 0},
            schema=_schema("org", space="cosine"),
            embedding_function=None,
        )
        meta = collection.metadata or {}
        if meta.get("embedder") != self.embedder_id and collection.count() > 0:
            raise IndexNotReadyError(
                f"Collection {self.settings.collection!r} was built with the embedder {meta.get('embedder')!r}, but "
                f"PaperScope is configured for {self.embedder_id!r}; vectors from different models cannot be "
                "compared. Set PAPERSCOPE_EMBED_MODEL back to the model that built it, or ingest into a new "
                "collection with PAPERSCOPE_COLLECTION=<new name>."
            )
        if meta.get("format") != FORMAT and collection.count() > 0:
            raise OldLayoutError(
                f"Collection {self.settings.collection!r} was written by an earlier PaperScope in a layout this one "
                "does not read. `paperscope ingest` (or the first question) upgrades it, keeping every paper."
            )
        return collection

    @cached_property
    def papers(self) -> Collection:
        """The paper records: id = paper id; metadata = `seq` and the whole record, compressed
        (`_encode`), or `gone` for a removed paper."""
        return self._client.get_or_create_collection(
            f"{self.settings.collection}.papers", schema=_schema(), embedding_function=None)

    @cached_property
    def leases(self) -> Collection:
        """Who holds the right to write (`ingest.lease`), shared by every machine on the server."""
        return self._client.get_or_create_collection(
            f"{self.settings.collection}.leases", schema=_schema(), embedding_function=None)

    def state(self) -> dict[str, Any]:
        """The chunk collection's metadata, read afresh (a cached Collection's is a snapshot)."""
        self.collection  # noqa: B018 - creates the collection on first use and refuses a mismatched one
        return dict(self._client.get_collection(self.settings.collection, embedding_function=None).metadata or {})

    def _set_state(self, **changes: Any) -> dict[str, Any]:
        state = {**self.state(), **changes}
        self.collection.modify(metadata=state)
        return state

    # -- reading ----------------------------------------------------------------------------
    @property
    def local(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.settings.catalog_path)
        return self._catalog

    def catalog(self) -> Catalog:
        """The local catalog, brought in line with what Chroma holds now: only the records changed
        since it was last in line are read."""
        with self._sync:
            self.last_pull = 0
            state = self.state()
            generation = str(state.get("generation", DIRTY))
            catalog = self.local
            collection_id = str(self.collection.id)
            if catalog.meta("collection") != collection_id:  # a new or another store: start over
                catalog.clear()
                with catalog.transaction():
                    catalog.set_meta("collection", collection_id)
                self._pulled = 0
            if generation == DIRTY or catalog.meta("generation") != generation:
                since = int(catalog.meta("seq") or 0)
                if generation == DIRTY:
                    since = max(since, self._pulled)
                pulled = self._pull(since, int(state.get("reserved", 0)))
                self.last_pull = len(pulled)
                with catalog.transaction():
                    catalog.put(r for r in pulled if not r.get("gone"))
                    catalog.remove(r["paper_id"] for r in pulled if r.get("gone"))
                    if generation != DIRTY:
                        catalog.set_meta("seq", str(state.get("seq", 0)))
                        catalog.set_meta("generation", generation)
                if generation == DIRTY:
                    self._pulled = max([since, *(int(r["seq"]) for r in pulled)])
                log.info("catalog of %r: %d changed paper(s) pulled", self.settings.collection, len(pulled))
            catalog.fingerprint = generation
            return catalog

    def _pull(self, since: int, reserved: int) -> list[dict[str, Any]]:
        """The records (and tombstones) numbered above `since`, up to `reserved`."""
        records: list[dict[str, Any]] = []
        for low in range(since, max(since, reserved), _PULL_WINDOW):
            where: Any = {"$and": [{"seq": {"$gt": low}}, {"seq": {"$lte": low + _PULL_WINDOW}}]}
            got = self.papers.get(where=where, include=["metadatas"])
            for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                records.append(_decode(pid, meta))
        return records

    def stored_records(self) -> dict[str, dict[str, Any]]:
        """Every paper's record as Chroma holds it now (the catalog's source), by paper id."""
        got = self.papers.get(include=["metadatas"])
        decoded = (_decode(pid, meta) for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=True))
        return {r["paper_id"]: r for r in decoded if not r.get("gone")}

    def count_papers(self) -> int:
        return self.catalog().count()

    def count_chunks(self) -> int:
        """The chunks in the collection, counted once per generation: Chroma counts them anew on
        every call, which takes longer than a search on a large collection."""
        generation = self.catalog().fingerprint
        if self._chunks is None or self._chunks[0] != generation or generation == DIRTY:
            self._chunks = (generation, self.collection.count())
        return self._chunks[1]

    def require_papers(self) -> None:
        if self.count_papers() == 0:
            raise IndexNotReadyError(
                f"The collection {self.settings.collection!r} is empty. Run `paperscope ingest` (the bundled "
                "papers) or `paperscope ingest FILE…` (your own) first."
            )

    # -- writing (ingest holds the ingest lock and lease around these) -----------------------
    def begin_write(self) -> None:
        self.catalog()  # everything numbered so far is in the local catalog, committed or not
        state = self._set_state(generation=DIRTY)
        self._pulled = int(state.get("reserved", 0))
        self._next_seq = self._pulled + 1

    def reserve(self, count: int) -> None:
        """Claim the next `count` change numbers before records use them: a writer killed after
        using them never sees them given out again."""
        self._set_state(reserved=self._next_seq + count - 1)

    def upsert(self, nodes: Sequence[BaseNode]) -> None:
        """Insert or replace chunks (with their embeddings set) by id, atomically per batch."""
        for start in range(0, len(nodes), _WRITE_BATCH):
            batch = nodes[start : start + _WRITE_BATCH]
            embeddings: Any = [n.get_embedding() for n in batch]
            self.collection.upsert(
                ids=[n.node_id for n in batch], embeddings=embeddings, metadatas=[_chunk_metadata(n.metadata) for n in batch])

    def relabel(self, nodes: Sequence[BaseNode]) -> None:
        """Replace the metadata of stored chunks whose text (and so embedding) is unchanged."""
        for start in range(0, len(nodes), _WRITE_BATCH):
            batch = nodes[start : start + _WRITE_BATCH]
            self.collection.update(ids=[n.node_id for n in batch], metadatas=[_chunk_metadata(n.metadata) for n in batch])

    def delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), _WRITE_BATCH):
            self.collection.delete(ids=chunk_ids[start : start + _WRITE_BATCH])

    def put_records(self, records: Sequence[dict[str, Any]]) -> None:
        """Store papers' records (after their chunks), each under a new change number."""
        self.reserve(len(records))
        rows = []
        for record in records:
            rows.append({**record, "seq": self._next_seq})
            self._next_seq += 1
        self._pulled = self._next_seq - 1  # this process has them: a read while dirty need not pull them back
        for start in range(0, len(rows), _WRITE_BATCH):
            batch = rows[start : start + _WRITE_BATCH]
            self.papers.upsert(
                ids=[r["paper_id"] for r in batch],
                embeddings=[_NO_VECTOR] * len(batch),  # type: ignore[arg-type]
                metadatas=[{"seq": r.pop("seq"), **_encode(r), "gone": None} for r in batch],
            )
        with self.local.transaction():
            self.local.put(records)

    def remove_records(self, paper_ids: Sequence[str]) -> None:
        """Replace removed papers' records (after their chunks are deleted) with numbered tombstones."""
        self.reserve(len(paper_ids))
        for start in range(0, len(paper_ids), _WRITE_BATCH):
            batch = paper_ids[start : start + _WRITE_BATCH]
            self.papers.upsert(
                ids=list(batch),
                embeddings=[_NO_VECTOR] * len(batch),  # type: ignore[arg-type]
                metadatas=[{"seq": self._next_seq + i, **_encode(None), "gone": True} for i in range(len(batch))],
            )
            self._next_seq += len(batch)
        self._pulled = self._next_seq - 1
        with self.local.transaction():
            self.local.remove(paper_ids)

    def end_write(self) -> None:
        """Commit: every change number reserved so far is part of the new generation."""
        self.catalog()  # while still dirty: pulls what an earlier, killed writer left uncommitted
        state = self.state()
        committed = max(int(state.get("reserved", 0)), self._next_seq - 1)
        generation = uuid.uuid4().hex
        self._set_state(generation=generation, seq=committed, reserved=committed)
        with self.local.transaction():
            self.local.set_meta("seq", str(committed))
            self.local.set_meta("generation", generation)
        self.local.checkpoint()
        self._pulled = 0


def _encode(record: dict[str, Any] | None) -> dict[str, str | None]:
    """A record as metadata values `r0`…`r7`: JSON, zlib-compressed, base85 (Chroma keeps strings only),
    cut into short pieces; unused ones are None, which removes what an older record left there."""
    text = "" if record is None else base64.b85encode(
        zlib.compress(json.dumps(record, ensure_ascii=False).encode(), 9)).decode("ascii")
    pieces = [text[i * _PART:(i + 1) * _PART] for i in range(_PARTS - 1)] + [text[(_PARTS - 1) * _PART:]]
    return {f"r{i}": piece or None for i, piece in enumerate(pieces)}


def _decode(paper_id: str, meta: Any) -> dict[str, Any]:
    """A papers-collection entry as a record: `paper_id`, `seq`, and the record's fields or `gone`."""
    text = "".join(str(meta.get(f"r{i}") or "") for i in range(_PARTS))
    if meta.get("gone") or not text:
        return {"paper_id": paper_id, "seq": meta.get("seq", 0), "gone": True}
    record = json.loads(zlib.decompress(base64.b85decode(text)))
    return {**record, "paper_id": paper_id, "seq": meta.get("seq", 0)}


def _chunk_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata with every filter field present: None removes one the paper no longer has."""
    return {k: meta.get(k) for k in _FILTER_KEYS}
