"""The paper index: a Chroma collection of embedded chunks plus the keyword/catalog sidecar that
is kept consistent with it. Ingest writes through it; retrieval reads through it. It does not
parse sources (`ingest`) or rank results (`retrieval`).

Consistency: the collection's metadata holds a `generation`. A writer first marks it dirty, then
writes chunks, then rebuilds the sidecar and stamps both with a fresh generation. A reader whose
sidecar does not carry the collection's generation rebuilds it from Chroma, so a killed ingest
never leaves keyword and vector search disagreeing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
from chromadb.api.models.Collection import Collection

from assistant.errors import ConfigError, IndexNotReadyError
from assistant.keyword import KeywordIndex
from assistant.settings import DEFAULT_EMBED_MODEL, Settings

if TYPE_CHECKING:  # llama_index takes a second to import: only paths that write or use a hosted model load it
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import BaseNode

    from assistant.minilm import MiniLM

log = logging.getLogger(__name__)

DIRTY = "dirty"  # the generation while a write is under way: nothing derived from it may be kept
_WRITE_BATCH = 1000


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


class PaperIndex:
    """One collection of papers, for reading and (during ingest) writing."""

    def __init__(self, settings: Settings, embedder: BaseEmbedding | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._local_model: MiniLM | None = None
        self._client = open_client(settings)
        self._sidecar: KeywordIndex | None = None

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
        collection = self._client.get_or_create_collection(
            self.settings.collection,
            metadata={"embedder": self.embedder_id, "generation": "empty"},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        built_with = (collection.metadata or {}).get("embedder")
        if built_with != self.embedder_id and collection.count() > 0:
            raise IndexNotReadyError(
                f"Collection {self.settings.collection!r} was built with the embedder {built_with!r}, but "
                f"PaperScope is configured for {self.embedder_id!r}; vectors from different models cannot be "
                "compared. Set PAPERSCOPE_EMBED_MODEL back to the model that built it, or ingest into a new "
                "collection with PAPERSCOPE_COLLECTION=<new name>."
            )
        return collection

    def _generation(self) -> str:
        self.collection  # noqa: B018 - creates the collection on first use and refuses a mismatched embedder
        # the cached Collection's metadata is a snapshot: read the current generation afresh
        return str((self._client.get_collection(self.settings.collection, embedding_function=None).metadata or {})
                   .get("generation", DIRTY))

    def _set_generation(self, generation: str) -> None:
        self.collection.modify(metadata={"embedder": self.embedder_id, "generation": generation})

    # -- reading ----------------------------------------------------------------------------
    def paper_records(self) -> list[dict[str, Any]]:
        """Every paper's metadata and abstract, read from its first chunk in Chroma."""
        records: list[dict[str, Any]] = []
        total = self.collection.count()
        for offset in range(0, total, 5000):
            got = self.collection.get(where={"chunk": 0}, include=["metadatas"], limit=5000, offset=offset)
            records.extend(_record(m) for m in got["metadatas"] or [])
        return records

    def catalog(self) -> KeywordIndex:
        """The keyword index and paper records, consistent with what Chroma holds now."""
        generation = self._generation()
        if self._sidecar is not None and self._sidecar.fingerprint == generation != DIRTY:
            return self._sidecar
        sidecar = KeywordIndex.load(self.settings.keyword_path)
        if sidecar is None or sidecar.fingerprint != generation or generation == DIRTY:
            log.info("rebuilding the keyword index of %r from Chroma", self.settings.collection)
            sidecar = KeywordIndex.build(self.paper_records(), generation)
            if generation != DIRTY:
                sidecar.save(self.settings.keyword_path)
        self._sidecar = sidecar
        return sidecar

    def count_papers(self) -> int:
        return len(self.catalog().records)

    def require_papers(self) -> None:
        if self.count_papers() == 0:
            raise IndexNotReadyError(
                f"The collection {self.settings.collection!r} is empty. Run `paperscope ingest` (the bundled "
                "papers) or `paperscope ingest FILE…` (your own) first."
            )

    # -- writing (ingest holds the ingest lock around these) -----------------------------------
    def begin_write(self) -> None:
        self._set_generation(DIRTY)

    def upsert(self, nodes: Sequence[BaseNode]) -> None:
        """Insert or replace chunks (with their embeddings set) by id, atomically per batch."""
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        for start in range(0, len(nodes), _WRITE_BATCH):
            batch = nodes[start : start + _WRITE_BATCH]
            metadatas: Any = [node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in batch]
            embeddings: Any = [n.get_embedding() for n in batch]
            self.collection.upsert(
                ids=[n.node_id for n in batch],
                embeddings=embeddings,
                metadatas=metadatas,
                documents=[n.get_content() for n in batch],
            )

    def relabel(self, nodes: Sequence[BaseNode]) -> None:
        """Replace the metadata of stored chunks whose text (and so embedding) is unchanged."""
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        for start in range(0, len(nodes), _WRITE_BATCH):
            batch = nodes[start : start + _WRITE_BATCH]
            self.collection.update(
                ids=[n.node_id for n in batch],
                metadatas=[node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in batch],
            )

    def delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), _WRITE_BATCH):
            self.collection.delete(ids=chunk_ids[start : start + _WRITE_BATCH])

    def end_write(self) -> None:
        """Rebuild the sidecar from what Chroma now holds and stamp both with a new generation."""
        generation = uuid.uuid4().hex
        sidecar = KeywordIndex.build(self.paper_records(), generation)
        sidecar.save(self.settings.keyword_path)
        self._set_generation(generation)
        self._sidecar = sidecar


_RECORD_KEYS = ("paper_id", "title", "abstract", "published", "published_ord", "authors", "organization",
                "upvotes", "sources", "content_hash", "text_hash", "chunks", "chunking",
                "arxiv_id", "doi", "author_names", "categories", "venue", "url")


def _record(metadata: Any) -> dict[str, Any]:
    return {k: metadata[k] for k in _RECORD_KEYS if k in metadata and metadata[k] != ""}
