"""Which sentence of an abstract answers a question, and how much of the question a paper covers.

Scores are lexical (stemmed content words weighted by their rarity in the collection) with a
bonus for sentences inside the chunk that dense retrieval matched, so the choice reflects both
the question's words and its meaning without embedding every sentence at query time."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from assistant.sentences import split_sentences

log = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")
_STOP = set(STOPWORDS_EN) | {"paper", "papers", "use", "uses", "using", "used", "which", "those", "them", "propose", "proposes",
                             "method", "approach", "work", "study", "show", "shows", "does", "model", "models", "from", "its",
                             "out", "so", "including", "example", "examples"}
_stemmer = Stemmer.Stemmer("english")
CHUNK_BONUS = 0.15
LINK_PENALTY = 0.3  # "Code is available at https://…" is rarely the sentence that answers
_LINK = re.compile(r"https?://|www\.|github\.com|huggingface\.co", re.IGNORECASE)
_ASKS_FOR_LINK = re.compile(r"\b(code|github|repository|repo|url|link|website|released|available)\b", re.IGNORECASE)


_VOWEL = re.compile(r"[aeiou]")
# Bump when `terms` changes what it returns: saved term weights counted by another version are recounted.
TERMS_VERSION = 3


@lru_cache(maxsize=65536)
def _term(word: str) -> str:
    """The stemmed term of one word as written, or "" for a stopword or a single character.

    The stemmer keeps an acronym's plural ("prms" stays "prms"), so plurals are made singular
    first: by case ("PRMs", "ViTs" -> PRM, ViT) or, for lower-case text, when the word has no
    vowel ("llms" -> llm). Both sides of a comparison go through here, so "MCTS" and "mcts"
    agree (both "mct")."""
    if len(word) > 2 and word.endswith("s") and sum(c.isupper() for c in word) >= 2:
        word = word[:-1]
    word = word.lower()
    if len(word) > 2 and word.endswith("s") and not _VOWEL.search(word):
        word = word[:-1]
    if len(word) < 2 or word in _STOP:
        return ""
    return str(_stemmer.stemWord(word))


def terms(text: str) -> list[str]:
    """Stemmed content words; a hyphenated word also yields its parts ("MCTS-DPO" -> mcts-dpo, mct, dpo)."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = [word, *word.split("-")] if "-" in word else [word]
        out.extend(t for t in map(_term, parts) if t)
    return out


class TermWeights:
    """Inverse document frequency of terms over a set of documents (the collection's abstracts).

    Counting takes about a second per 5,000 abstracts, so the counts are saved (`save`) and read
    back (`load`) under the fingerprint of the collection they were counted on."""

    def __init__(self, documents: Iterable[str] = ()) -> None:
        self.n = 0
        self.df: Counter[str] = Counter()
        for doc in documents:
            self.n += 1
            self.df.update(set(terms(doc)))

    def idf(self, term: str) -> float:
        return math.log(1 + (self.n + 1) / (self.df.get(term, 0) + 0.5))

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the counts atomically; a failed write only costs the next start a recount."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(prefix=".terms-", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": TERMS_VERSION, "fingerprint": fingerprint, "n": self.n, "df": self.df}, out)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save term weights to %s (%s); they will be recounted", path, exc)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> TermWeights | None:
        """The counts saved for `fingerprint` by this version of `terms`, or None (none saved,
        unreadable, counted on another state of the collection or by another version)."""
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("fingerprint") != fingerprint or saved.get("version") != TERMS_VERSION:
                return None
            weights = cls()
            weights.n, weights.df = int(saved["n"]), Counter(saved["df"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return weights


# a parenthesis, or a run of examples ("such as A, B or C", "e.g. A and B"), offers alternatives: any one of them will do
_ALTERNATIVES = re.compile(r"\(([^()]*)\)|\b(?:such as|e\.g\.,?|for example,?|for instance,?|including|like)\s+"
                           r"([^.;:()?!]*?)(?=[.;:?!]|$| (?:as|in|for|to|that|which|when|where|with)\b)", re.IGNORECASE)


def _parts(text: str) -> list[str]:
    """`terms` without the whole of a hyphenated word: its parts are what a text must contain,
    written with or without the hyphen ("language-model" is met by "language model")."""
    return terms(text.replace("-", " "))


def term_groups(query: str) -> list[tuple[str, ...]]:
    """The query's terms, one group per term, except that the terms of a parenthesis or of a run of
    examples form one group: a text satisfies the group when it contains any of them."""
    groups: list[tuple[str, ...]] = []
    rest = query
    for match in _ALTERNATIVES.finditer(query):
        span = match.group(1) if match.group(1) is not None else match.group(2)
        found = tuple(dict.fromkeys(_parts(span)))
        if found:
            groups.append(found)
        rest = rest.replace(match.group(0), " ", 1)
    return [(t,) for t in dict.fromkeys(_parts(rest))] + groups


def group_coverage(groups: list[tuple[str, ...]], present: set[str], weights: TermWeights) -> float:
    """Share of the groups' weight that `present` satisfies; a group weighs as its rarest term."""
    total = covered = 0.0
    for group in groups:
        weight = max(weights.idf(t) for t in group)
        total += weight
        if any(t in present for t in group):
            covered += weight
    return covered / total if total else 0.0


def coverage(query_terms: list[str], text: str, weights: TermWeights) -> float:
    """Share of the query's term weight that `text` contains (0..1)."""
    unique = set(query_terms)
    total = sum(weights.idf(t) for t in unique)
    if total == 0:
        return 0.0
    present = set(terms(text))
    return sum(weights.idf(t) for t in unique if t in present) / total


_NUMERIC = re.compile(r"\d")
_ASKS_FOR_NUMBER = re.compile(r"\b(how (many|much|large|big|fast|long|often)|by how|(what|which) (\w+ )?(percentage|fraction|"
                              r"share|accuracy|score|rate|number|proportion|size|fid|perplexity|speed-?up|improvement|"
                              r"reduction|error|gain))\b", re.IGNORECASE)


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity ("how many…", "what accuracy…")."""
    return bool(_ASKS_FOR_NUMBER.search(question))


# where a question asks its next part: "…, and what is the model called?", "…; how many…"
_NEXT_PART = re.compile(r",?\s+and\s+(?=(?:what|which|how|who|whom|whose|when|where|why|is|are|does|do|did)\b)|"
                        r";\s*|\?\s+(?=\S)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a multi-part question ("what X, and what Y?" -> ["what X", "what Y?"])."""
    return [p for p in _NEXT_PART.split(question) if terms(p)]


def covering_sentences(query: str, abstract: str, weights: TermWeights, matched_chunk: str = "",
                       limit: int = 3, min_gain: float = 0.15, numeric: bool = False,
                       parts: Iterable[str] = ()) -> list[str]:
    """The abstract sentences that together answer every part of `query`, best first: the best
    sentence, then the best sentence for each of the question's further `parts` that the chosen
    ones do not already answer, then each sentence that covers a further part of the query's term
    weight (at least `min_gain` of it), up to `limit`. With `numeric` (the question asks for
    quantities) only sentences that state a figure count, when any of them matches the query at all."""
    ranked = best_sentences(query, abstract, weights, matched_chunk, n=len(abstract))
    if not ranked:
        return []
    if numeric:
        # a sentence without a figure names the topic but answers no part of a question about quantities
        figures = [s for s in ranked if _NUMERIC.search(s[0])]
        ranked = figures if figures and figures[0][1] > 0 else ranked
    unique = set(terms(query))
    total = sum(weights.idf(t) for t in unique)
    chosen = [ranked[0][0]]
    for part in parts:
        if len(chosen) >= limit:
            break
        own = best_sentences(part, abstract, weights, n=len(abstract))
        if asks_for_number(part):
            own = [s for s in own if _NUMERIC.search(s[0])] or own
        part_terms = terms(part)
        if own and own[0][0] not in chosen and own[0][1] > max(coverage(part_terms, s, weights) for s in chosen):
            chosen.append(own[0][0])
    covered = set().union(*(set(terms(s)) for s in chosen)) & unique
    while len(chosen) < limit and total:
        candidates = [(sum(weights.idf(t) for t in (set(terms(s)) & unique) - covered) / total, s)
                      for s, _ in ranked if s not in chosen]
        if not candidates:
            break
        best_gain, best = max(candidates, key=lambda c: c[0])
        if best_gain < min_gain:
            break
        chosen.append(best)
        covered |= set(terms(best)) & unique
    order = {s: i for i, s in enumerate(split_sentences(abstract))}
    return [chosen[0], *sorted(chosen[1:], key=lambda s: order.get(s, 0))]


def best_sentences(query: str, abstract: str, weights: TermWeights, matched_chunk: str = "",
                   n: int = 1) -> list[tuple[str, float]]:
    """The abstract's `n` sentences that best answer `query`, best first, with their scores."""
    sentences = split_sentences(abstract)
    if not sentences:
        return []
    query_terms = terms(query)
    scored = []
    for position, sentence in enumerate(sentences):
        score = coverage(query_terms, sentence, weights)
        if matched_chunk and sentence in matched_chunk:
            score += CHUNK_BONUS
        if _LINK.search(sentence) and not _ASKS_FOR_LINK.search(query):
            score -= LINK_PENALTY
        score -= 0.002 * position  # on a tie, the earlier sentence (usually the thesis) wins
        scored.append((sentence, score))
    return sorted(scored, key=lambda s: -s[1])[:n]
