"""LLM answers over retrieved papers, held to the sources.

The sources go into the prompt numbered and fenced with a per-request nonce, so an abstract
cannot close its fence or pose as an instruction. The reply's `[n]` markers are checked
against the sources: a number that names no source is removed and counted, so every citation
is a retrieved paper, and each one carries the abstract sentence that best supports the
sentences citing it. "Which papers…" questions are screened paper by paper instead: the LLM
judges each candidate and quotes its evidence, which must be a sentence of the abstract."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.answers import CANNOT_ANSWER, CollectionSummary, abstention
from assistant.evidence import TermWeights, best_sentences
from assistant.llm import explain
from assistant.sentences import split_sentences
from assistant.settings import Settings
from assistant.types import Answer, Citation, Hit, Usage
from prompts import load

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

MARKER = re.compile(r"( ?)\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_OPEN_TAIL = re.compile(r"\[[\d,; ]{0,12}$")  # a marker still being streamed
_ABSTAIN = re.compile(r"cannot answer (this|that|the question)", re.IGNORECASE)
MAX_WORDS = 250
PROMPT_MARGIN = 64  # tokens kept free for chat-template overhead


@dataclass
class Markers:
    text: str  # the reply with invalid markers removed
    cited: list[int]  # valid source numbers, in order of first appearance
    removed: int  # marker numbers that named no source


def check_markers(text: str, sources: int) -> Markers:
    """Keep the `[n]` markers that name one of `sources` sources; drop and count the rest."""
    cited: list[int] = []
    removed = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(2))]
        valid = [n for n in numbers if 1 <= n <= sources]
        removed += len(numbers) - len(valid)
        for n in valid:
            if n not in cited:
                cited.append(n)
        return match.group(1) + "".join(f"[{n}]" for n in valid) if valid else ""  # with its leading space

    return Markers(MARKER.sub(keep, text), cited, removed)


def visible(text: str, sources: int) -> str:
    """What to show of a reply still streaming: checked markers, without a marker cut in half."""
    tail = _OPEN_TAIL.search(text)
    return check_markers(text[: tail.start()] if tail else text, sources).text


class Tokens:
    """tiktoken counts (cl100k_base, shipped with llama-index-core) for servers that report none."""

    def __init__(self) -> None:
        from llama_index.core.utils import get_tokenizer

        self._encode = get_tokenizer()

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def messages(self, messages: Sequence[ChatMessage]) -> int:
        return sum(4 + self.count(str(m.content or "")) for m in messages) + 2


def _usage(settings: Settings, prompt: int, completion: int, local: bool, seconds: float) -> Usage:
    cost = None
    if settings.llm_price_prompt is not None and settings.llm_price_completion is not None:
        cost = (prompt * settings.llm_price_prompt + completion * settings.llm_price_completion) / 1e6
    return Usage(generation_seconds=seconds, prompt_tokens=prompt, completion_tokens=completion,
                 tokens_counted_locally=local, cost_usd=cost, model=settings.llm_model)


def _reported(raw: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens the server reported on a response or its last stream chunk."""
    usage = getattr(raw, "usage", None) if raw is not None else None
    if usage is None and isinstance(raw, dict):
        usage = raw.get("usage")
    if usage is None:
        return None
    get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
    prompt, completion = get("prompt_tokens"), get("completion_tokens")
    return (int(prompt), int(completion)) if prompt is not None and completion is not None else None


class Generator:
    """Writes LLM answers for one configured model."""

    def __init__(self, llm: LLM, settings: Settings, weights: TermWeights, summary: CollectionSummary) -> None:
        self.llm = llm
        self.settings = settings
        self.weights = weights
        self.summary = summary
        self.tokens = Tokens()

    # -- prompts ----------------------------------------------------------------------------
    def messages(self, question: str, sources: list[Hit]) -> tuple[list[ChatMessage], list[Hit]]:
        """The chat messages for `question`, with as many sources (best first) as the context
        window holds next to the reply; returns the sources actually included."""
        from llama_index.core.llms import ChatMessage

        nonce = secrets.token_hex(6)
        system = load("answer_system").format(cannot_answer=CANNOT_ANSWER, max_words=MAX_WORDS)
        budget = (self.settings.llm_context_window - self.settings.llm_max_tokens - PROMPT_MARGIN
                  - self.tokens.count(system) - self.tokens.count(load("answer_user")) - self.tokens.count(question))
        blocks: list[str] = []
        for n, hit in enumerate(sources, start=1):
            block = load("source").format(n=n, nonce=nonce, title=_flat(hit.title),
                                          published=hit.published or "unknown", abstract=_flat(hit.abstract))
            cost = self.tokens.count(block)
            if cost > budget:
                break
            budget -= cost
            blocks.append(block)
        user = load("answer_user").format(sources="\n\n".join(blocks), question=_flat(question), nonce=nonce,
                                          cannot_answer=CANNOT_ANSWER)
        return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)], \
            sources[: len(blocks)]

    # -- answers ----------------------------------------------------------------------------
    def stream(self, question: str, hits: list[Hit]) -> Iterator[Answer]:
        """Stream a cited answer from `hits`; raises `LLMError` when the call fails."""
        messages, sources = self.messages(question, hits)
        started = time.perf_counter()
        reply, raw = "", None
        try:
            for chunk in self.llm.stream_chat(messages):
                reply += chunk.delta or ""
                raw = chunk.raw
                yield Answer(text=visible(reply, len(sources)).strip(), citations=[], mode="llm", retrieved=hits)
        except Exception as exc:  # the openai client's errors, wrapped into one sentence
            raise explain(exc, self.settings) from exc
        seconds = time.perf_counter() - started
        yield self._finish(reply, sources, hits, messages, raw, seconds, question)

    def _finish(self, reply: str, sources: list[Hit], hits: list[Hit], messages: Sequence[ChatMessage], raw: Any,
                seconds: float, question: str) -> Answer:
        markers = check_markers(reply.strip(), len(sources))
        reported = _reported(raw)
        prompt, completion = reported or (self.tokens.messages(messages), self.tokens.count(reply))
        usage = _usage(self.settings, prompt, completion, reported is None, seconds)
        usage.invalid_citations_removed = markers.removed
        citations = [self._cite(sources[n - 1], n, _claims(markers.text, n) or question) for n in markers.cited]
        abstained = not citations and bool(_ABSTAIN.search(markers.text))
        text = markers.text
        if abstained:
            text = abstention(self.summary, "the retrieved papers do not answer this question")
        return Answer(text=text, citations=citations, mode="llm", abstained=abstained, usage=usage, retrieved=hits)

    def _cite(self, hit: Hit, marker: int, claim: str, quote: str | None = None) -> Citation:
        """A citation whose evidence is a real sentence of the abstract: the quoted one when the
        quote is verbatim, else the sentence that best supports the claim."""
        sentences = split_sentences(hit.abstract)
        evidence = next((s for s in sentences if quote and _norm(quote) in _norm(s)), None)
        if evidence is None:
            best = best_sentences(f"{claim} {quote or ''}", hit.abstract, self.weights, hit.text)
            evidence = best[0][0] if best else hit.abstract[:300]
        return Citation(id=hit.id, title=hit.title, published=hit.published, score=hit.score, evidence=evidence,
                        abstract=hit.abstract, authors=hit.authors, marker=marker)

    # -- "which papers…": judge every candidate ---------------------------------------------
    def _judge(self, question: str, hit: Hit) -> tuple[str, int, int, bool]:
        """The LLM's reply on one candidate, with its (prompt, completion) tokens and whether they
        were counted locally."""
        from llama_index.core.llms import ChatMessage

        content = load("judge_candidate").format(question=_flat(question), nonce=secrets.token_hex(6),
                                                 title=_flat(hit.title), abstract=_flat(hit.abstract))
        messages = [ChatMessage(role="user", content=content)]
        try:
            response = self.llm.chat(messages, max_tokens=160)
        except Exception as exc:
            raise explain(exc, self.settings) from exc
        reply = str(response.message.content or "")
        reported = _reported(response.raw)
        prompt, completion = reported or (self.tokens.messages(messages), self.tokens.count(reply))
        return reply, prompt, completion, reported is None

    def stream_list(self, question: str, candidates: list[Hit], hits: list[Hit],
                    concurrency: int | None = None) -> Iterator[Answer]:
        """Ask the LLM about every candidate, `concurrency` calls in flight (default
        `Settings.llm_concurrency`); list those it accepts, with the sentence it quoted, in
        retrieval order. A paper is shown as soon as every candidate ranked above it has its
        verdict, so the text only grows, one line per accepted paper."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        started = time.perf_counter()
        prompt_tokens = completion_tokens = 0
        local = False
        verdicts: dict[int, Citation | None] = {}
        accepted: list[Citation] = []
        text = ""
        shown = 0  # candidates whose verdict is settled in the text, in retrieval order
        workers = max(1, min(concurrency or self.settings.llm_concurrency, len(candidates) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paperscope-judge") as pool:
            futures = {pool.submit(self._judge, question, hit): i for i, hit in enumerate(candidates)}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    reply, p, c, counted = future.result()
                    prompt_tokens, completion_tokens, local = prompt_tokens + p, completion_tokens + c, local or counted
                    verdict, _, quote = reply.strip().partition("\n")
                    verdicts[i] = (self._cite(candidates[i], 0, question, quote.strip().strip('"“”') or None)
                                   if re.match(r"\W*yes\b", verdict, re.IGNORECASE) else None)
                    grew = False
                    while shown in verdicts:
                        citation = verdicts[shown]
                        shown += 1
                        if citation is None:
                            continue
                        citation.marker = len(accepted) + 1
                        accepted.append(citation)
                        date = f" ({citation.published})" if citation.published else ""
                        text = (text or "Papers in the collection that match:") + \
                            f"\n- **{citation.title}**{date} [{citation.marker}]: “{citation.evidence}”"
                        grew = True
                    if grew:
                        yield Answer(text=text, citations=list(accepted), mode="llm", retrieved=hits)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        usage = _usage(self.settings, prompt_tokens, completion_tokens, local, time.perf_counter() - started)
        usage.candidates_screened = len(candidates)
        if not accepted:
            yield Answer(text=abstention(self.summary, "no retrieved paper matches this request"), citations=[],
                         mode="llm", abstained=True, usage=usage, retrieved=hits)
            return
        text += f"\n\n{len(accepted)} of {len(candidates)} candidate papers match."
        yield Answer(text=text, citations=accepted, mode="llm", usage=usage, retrieved=hits)

    # -- reading the question -------------------------------------------------------------------
    def read(self, question: str, organizations: Sequence[str]) -> dict[str, Any]:
        """The LLM's structured reading of `question` (the keys of prompts/read_question.txt), or {}
        when its reply holds no JSON object. Nothing here is trusted: `intent.adopt` checks it."""
        import json

        known = ", ".join(f'"{o}"' for o in sorted(organizations)) or "none"
        prompt = load("read_question").format(question=_flat(question), organizations=known)
        try:
            response = self.llm.complete(prompt, max_tokens=160)
        except Exception as exc:
            raise explain(exc, self.settings) from exc
        match = re.search(r"\{.*\}", str(response.text), re.DOTALL)
        if not match:
            return {}
        try:
            found = json.loads(match.group(0))
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    # -- follow-ups ---------------------------------------------------------------------------
    def condense(self, message: str, history: Sequence[tuple[str, Answer]]) -> str:
        """`message` rewritten as a standalone question, using the recent conversation (trimmed
        to a token budget by LlamaIndex's chat memory)."""
        from llama_index.core.llms import ChatMessage
        from llama_index.core.memory import ChatMemoryBuffer

        memory = ChatMemoryBuffer.from_defaults(token_limit=1500, tokenizer_fn=self.tokens._encode)
        for asked, answered in history:
            memory.put(ChatMessage(role="user", content=asked))
            memory.put(ChatMessage(role="assistant", content=_strip_markers(answered.text)))
        lines = [f"{m.role.value.capitalize()}: {_flat(str(m.content))}" for m in memory.get()]
        prompt = load("condense").format(history="\n".join(lines), message=_flat(message))
        try:
            response = self.llm.complete(prompt, max_tokens=96)
        except Exception as exc:
            raise explain(exc, self.settings) from exc
        question = str(response.text).strip().splitlines()[0].strip().strip('"“”') if response.text.strip() else ""
        return question or message


def _claims(text: str, marker: int) -> str:
    """The sentences of `text` that cite `[marker]`."""
    tag = f"[{marker}]"
    return " ".join(s for line in text.splitlines() for s in split_sentences(line) if tag in s)


def _strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.]+", " ", text.lower()).split())
