"""`Assistant`: the one public entry point. The CLI, the chat UI and the evals all go through it.

It owns the index, the retriever and (when configured) the LLM, and picks the answer mode:
extractive offline, LLM when an endpoint or key is set. It does not parse sources or draw UI."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant import extractive
from assistant.answers import CollectionSummary, RelevanceBar, abstention
from assistant.errors import LLMError, OldLayoutError, PaperScopeError
from assistant.evidence import TermWeights
from assistant.filters import Filters
from assistant.grounding import SupportScorer, check
from assistant.index import DIRTY, PaperIndex
from assistant.intent import Intent, adopt, names, parse
from assistant.llm import llm_configured, make_llm, verify_model
from assistant.retrieval import FusionConfig, HybridRetriever
from assistant.settings import Settings
from assistant.types import Answer, Hit

if TYPE_CHECKING:
    from assistant.generate import Generator

log = logging.getLogger(__name__)

Turn = tuple[str, Answer]  # (the user's message, the answer it got)
SEARCH_POOL = 10  # candidates for a lookup or fact question
LIST_POOL = 40  # candidates screened for a "which papers…" question
MAX_JUDGED = 20  # candidates an LLM judges, one call each, for a "which papers…" question


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
        self._model_verified = False

    # -- set-up -----------------------------------------------------------------------------
    @cached_property
    def index(self) -> PaperIndex:
        index = PaperIndex(self.settings, embedder=self._embedder)
        try:
            outdated = self.settings.upgrade_path.exists()
            index.count_papers()  # opens the collection: raises for an earlier layout
        except OldLayoutError:
            outdated = True
        if outdated:  # written by an earlier PaperScope, or its upgrade was interrupted: finish it
            from ingest.upgrade import upgrade

            upgrade(self.settings, embedder=self._embedder, progress=self._progress)
            index = PaperIndex(self.settings, embedder=index.embedder)
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
        """How answers are made: 'llm' when an endpoint or API key is configured, else
        'extractive' (quoted, cited abstract sentences; no network)."""
        return "llm" if llm_configured(self.settings) else "extractive"

    @property
    def model(self) -> str | None:
        """The LLM's model name in LLM mode."""
        return self.settings.llm_model if self.mode == "llm" else None

    def _generator(self, weights: TermWeights, summary: CollectionSummary) -> Generator | None:
        """The LLM answer writer, or None offline. The first call checks that the endpoint serves
        the configured model; raises `LLMError` when it does not or cannot be reached."""
        if self._llm is None:
            return None
        from assistant.generate import Generator

        if not self._model_verified:
            verify_model(self.settings)
            self._model_verified = True
        return Generator(self._llm, self.settings, weights, summary)

    @cached_property
    def _llm(self) -> Any:
        return make_llm(self.settings)

    def _collection_stats(self) -> tuple[TermWeights, CollectionSummary]:
        """Term weights and summary of the collection, recomputed only when an ingest changed it."""
        catalog = self.index.catalog()
        if self._derived is None or self._derived[0] != catalog.fingerprint:
            path = self.settings.term_weights_path
            weights = TermWeights.load(path, catalog.fingerprint)
            if weights is None:
                weights = TermWeights(f"{r['title']}\n{r.get('abstract', '')}" for r in catalog.iter_records())
                if catalog.fingerprint != DIRTY:
                    weights.save(path, catalog.fingerprint)
            self._derived = (catalog.fingerprint, weights, CollectionSummary(catalog.count(), *catalog.dates()))
        return self._derived[1], self._derived[2]

    def unknown_names(self, intent: Intent) -> list[str]:
        """The names a fact question asks about ("MT-Bench", "GPT-4o") that no paper of the
        collection mentions, in any spelling of hyphens, spaces and case: a figure about them
        cannot be in the collection."""
        asked = names(intent.query) if intent.shape == "fact" else []
        catalog = self.index.catalog() if asked else None
        return [name for name in asked if catalog is not None and not catalog.mentions(name)]

    def summary(self) -> CollectionSummary:
        """How many papers the collection holds and the range of their dates."""
        return self._collection_stats()[1]

    # -- the API ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, **filters: Any) -> list[Hit]:
        """The k papers that best match `query` (hybrid BM25 + dense), best first."""
        return self.retriever.search(query, k, Filters.from_kwargs(**filters))

    def ask(self, question: str, k: int | None = None, **filters: Any) -> Answer:
        """Answer `question` from the collection, citing the papers it draws on; `k` overrides how
        many retrieved papers the answer may draw on."""
        *_, final = self.stream(question, k=k, **filters)
        return final

    def stream(self, question: str, k: int | None = None, **filters: Any) -> Iterator[Answer]:
        """Yield the answer as it grows (`Answer.text` so far); the last item is complete."""
        yield from self._respond(question, Filters.from_kwargs(**filters), history=(), k=k)

    def chat(self, message: str, history: Sequence[Turn] = (), **filters: Any) -> Answer:
        """Answer `message` in the context of earlier turns; "which of those…" refers to the
        papers cited in the previous answer."""
        *_, final = self.stream_chat(message, history, **filters)
        return final

    def stream_chat(self, message: str, history: Sequence[Turn] = (), **filters: Any) -> Iterator[Answer]:
        yield from self._respond(message, Filters.from_kwargs(**filters), history=tuple(history))

    # -- the work ---------------------------------------------------------------------------
    def _respond(self, question: str, filters: Filters, history: tuple[Turn, ...], k: int | None = None
                 ) -> Iterator[Answer]:
        if not question.strip():
            raise PaperScopeError("Ask a question: the message is empty.")
        started = time.perf_counter()
        weights, summary = self._collection_stats()
        catalog = self.index.catalog()
        organizations = catalog.organizations()
        intent = parse(question, filters, has_history=bool(history), organizations=organizations)
        restrict = None
        if intent.follow_up and history:
            restrict = {c.id for c in history[-1][1].citations} or None
        generator, llm_error = None, None
        try:
            generator = self._generator(weights, summary)
            if generator is not None and self.settings.llm_read_questions:
                intent = adopt(generator.read(question, sorted(organizations)), intent, organizations)
            if generator is not None and history:
                standalone = parse(generator.condense(question, history), filters, organizations=organizations)
                intent = replace(standalone, follow_up=intent.follow_up,
                                 shape="list" if intent.is_list and not standalone.is_list else standalone.shape)
        except LLMError as exc:
            generator, llm_error = None, str(exc)
        unknown = self.unknown_names(intent) if restrict is None else []
        if unknown:
            result = Answer(text=abstention(summary, f"no paper mentions {' or '.join(unknown)}"), citations=[],
                            mode="llm" if generator is not None else "extractive", abstained=True)
            yield self._finished(result, time.perf_counter() - started, 0, started)
            return
        if intent.metadata_only and restrict is None:
            result = extractive.metadata_answer(intent, *catalog.select(intent.filters, intent.superlative), summary,
                                                weights)
            result.seconds = result.usage.retrieval_seconds = time.perf_counter() - started
            yield result
            return
        hits = self.candidates(intent, None, restrict, k)
        records = catalog.get(h.id for h in hits)
        retrieval_seconds = time.perf_counter() - started
        offline = extractive.answer(intent, hits, summary, weights, self.bar, records)
        result = offline
        if generator is not None:
            try:
                for result in self._generate(generator, intent, hits, weights):
                    yield result
            except LLMError as exc:
                llm_error, result = str(exc), offline
        if llm_error:
            offline.error = f"{llm_error} The answer below is the offline one, quoted from the retrieved abstracts."
        yield self._finished(result, retrieval_seconds, len(hits), started)

    def candidates(self, intent: Intent, records: dict[str, dict[str, Any]] | None = None,
                   restrict: set[str] | None = None, k: int | None = None) -> list[Hit]:
        """The retrieved papers an answer to `intent` chooses from. A question with metadata
        constraints searches only the catalog's papers that meet them (and, for a superlative, that
        record the field): filter the catalog, then screen the topic over what remains. `records`
        (by paper id) stands in for the catalog when given."""
        pool = k or (LIST_POOL if intent.is_list else SEARCH_POOL)
        if restrict is not None:  # a follow-up: every paper of the previous answer is a candidate
            pool = max(pool, len(restrict))
        if intent.constrained:
            key = intent.superlative[0] if intent.superlative else None
            if records is None:
                allowed = self.index.catalog().ids_matching(intent.filters, present=key)
            else:
                allowed = {pid for pid, r in records.items()
                           if intent.filters.matches(r) and (key is None or r.get(key) is not None)}
            restrict = allowed if restrict is None else restrict & allowed
            if not restrict:
                return []
            pool = max(pool, min(len(restrict), LIST_POOL))
        return self.retriever.search(intent.query, pool, intent.filters, restrict)

    def _generate(self, generator: Generator, intent: Intent, hits: list[Hit], weights: TermWeights
                  ) -> Iterator[Answer]:
        """LLM answers: every candidate above the screening bar judged for a list question; the
        relevant sources, numbered, for any other. Nothing relevant: abstain without a call."""
        screened = [h for h, s in zip(hits, self.bar.scores(hits, intent.subject, weights), strict=True)
                    if s >= self.bar.screen_threshold]
        if not screened:
            yield Answer(text=abstention(generator.summary), citations=[], mode="llm", abstained=True, retrieved=hits)
        elif intent.is_list:
            yield from generator.stream_list(intent.question, screened[:MAX_JUDGED], hits)
        else:
            yield from generator.stream(intent.question, screened)

    @cached_property
    def _support(self) -> SupportScorer:
        return SupportScorer(self.index.local_model())

    def _finished(self, answer: Answer, retrieval_seconds: float, screened: int, started: float) -> Answer:
        """The answer with its timing, and every claim sentence checked against the abstracts it
        cites: scored by the support scorer for LLM answers, verbatim for quoted (extractive) ones."""
        answer.sentences = check(answer, self._support if answer.mode == "llm" else None)
        answer.usage.retrieval_seconds = retrieval_seconds
        answer.usage.candidates_screened = answer.usage.candidates_screened or screened
        answer.seconds = time.perf_counter() - started
        return answer
