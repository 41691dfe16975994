"""`Assistant`: the one public entry point. The CLI, the chat UI and the evals all go through it.

It owns the index, the retriever and (when configured) the LLM, and picks the answer mode:
extractive offline, LLM when an endpoint or key is set. It does not parse sources or draw UI."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

from assistant import extractive
from assistant.answers import CollectionSummary, RelevanceBar
from assistant.errors import PaperScopeError
from assistant.evidence import TermWeights
from assistant.filters import Filters
from assistant.index import PaperIndex
from assistant.intent import parse
from assistant.retrieval import FusionConfig, HybridRetriever
from assistant.settings import Settings
from assistant.types import Answer, Hit

log = logging.getLogger(__name__)

Turn = tuple[str, Answer]  # (the user's message, the answer it got)
SEARCH_POOL = 10  # candidates for a lookup or fact question
LIST_POOL = 40  # candidates screened for a "which papers…" question


class Assistant:
    """Answers questions about the indexed papers, with citations.

    `Assistant()` reads `Settings()` from the environment. On first use with an empty default
    collection it ingests the bundled papers (`progress` receives (done, total) updates)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Any | None = None,
        progress: Callable[[int, int], None] | None = None,
        fusion: FusionConfig | None = None,
        bar: RelevanceBar | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._progress = progress
        self._fusion = fusion
        self.bar = bar or RelevanceBar()
        self._derived: tuple[str, TermWeights, CollectionSummary] | None = None

    # -- set-up -----------------------------------------------------------------------------
    @cached_property
    def index(self) -> PaperIndex:
        index = PaperIndex(self.settings, embedder=self._embedder)
        if index.count_papers() == 0 and self.settings.collection == Settings.model_fields["collection"].default:
            from ingest.pipeline import ingest

            log.info("the index is empty: ingesting the bundled collection")
            ingest(None, self.settings, embedder=index.embedder, progress=self._progress)
            index = PaperIndex(self.settings, embedder=index.embedder)
        index.require_papers()
        return index

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.index, self._fusion)

    @property
    def mode(self) -> str:
        """How answers are made: 'extractive' (quoted, cited abstract sentences)."""
        return "extractive"

    def _collection_stats(self) -> tuple[TermWeights, CollectionSummary]:
        """Term weights and summary of the collection, recomputed only when an ingest changed it."""
        catalog = self.index.catalog()
        if self._derived is None or self._derived[0] != catalog.fingerprint:
            docs = [f"{r['title']}\n{r.get('abstract', '')}" for r in catalog.records]
            self._derived = (catalog.fingerprint, TermWeights(docs), CollectionSummary.of(catalog.records))
        return self._derived[1], self._derived[2]

    def summary(self) -> CollectionSummary:
        """How many papers the collection holds and the range of their dates."""
        return self._collection_stats()[1]

    # -- the API ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, **filters: Any) -> list[Hit]:
        """The k papers that best match `query` (hybrid BM25 + dense), best first."""
        return self.retriever.search(query, k, Filters.from_kwargs(**filters))

    def ask(self, question: str, **filters: Any) -> Answer:
        """Answer `question` from the collection, citing the papers it draws on."""
        *_, final = self.stream(question, **filters)
        return final

    def stream(self, question: str, **filters: Any) -> Iterator[Answer]:
        """Yield the answer as it grows (`Answer.text` so far); the last item is complete."""
        yield from self._respond(question, Filters.from_kwargs(**filters), history=())

    def chat(self, message: str, history: Sequence[Turn] = (), **filters: Any) -> Answer:
        """Answer `message` in the context of earlier turns; "which of those…" refers to the
        papers cited in the previous answer."""
        *_, final = self.stream_chat(message, history, **filters)
        return final

    def stream_chat(self, message: str, history: Sequence[Turn] = (), **filters: Any) -> Iterator[Answer]:
        yield from self._respond(message, Filters.from_kwargs(**filters), history=tuple(history))

    # -- the work ---------------------------------------------------------------------------
    def _respond(self, question: str, filters: Filters, history: tuple[Turn, ...]) -> Iterator[Answer]:
        if not question.strip():
            raise PaperScopeError("Ask a question: the message is empty.")
        started = time.perf_counter()
        intent = parse(question, filters, has_history=bool(history))
        restrict = None
        if intent.follow_up and history:
            previous = history[-1][1]
            restrict = {c.id for c in previous.citations} or None
        weights, summary = self._collection_stats()
        if intent.metadata_only and restrict is None:
            result = extractive.metadata_answer(intent, self.index.catalog().records, summary, weights)
            result.seconds = time.perf_counter() - started
            result.usage.retrieval_seconds = result.seconds
            yield result
            return
        pool = LIST_POOL if intent.is_list else SEARCH_POOL
        hits = self.retriever.search(intent.query, max(pool, len(restrict or ())), intent.filters, restrict)
        retrieval_seconds = time.perf_counter() - started
        result = extractive.answer(intent, hits, summary, weights, self.bar)
        result.usage.retrieval_seconds = retrieval_seconds
        result.usage.candidates_screened = len(hits)
        result.seconds = time.perf_counter() - started
        yield result
