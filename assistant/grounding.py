"""Is each sentence of an answer held to its sources? It splits an answer into claim sentences
with the `[n]` markers they carry, and scores each claim against the abstracts it cites, offline:
MiniLM sentence similarity plus content-word overlap plus matching numbers. Answers are checked
with it when they are made (`Answer.sentences`); the evals score grounding with it. It does not
judge with an LLM (`evals.support` does, to measure this scorer)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.answers import CANNOT_ANSWER
from assistant.evidence import terms
from assistant.sentences import split_sentences
from assistant.types import Answer, SentenceCheck

if TYPE_CHECKING:
    from assistant.minilm import MiniLM

# Chosen by `choose_threshold` on the tuning half of the labelled pairs (`split_pairs`) and
# reported on the other half; tests/test_evals.py re-derives it from `evals/labels`, so it cannot drift silently.
THRESHOLD = 0.6
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[float]:
    """The numbers written in digits in `text`: '25,000' -> 25000.0, '4.70%' -> 4.7, '1/38' -> {1, 38}."""
    found: set[float] = set()
    for token in _NUMBER.findall(text):
        plain = token.replace(",", "")
        try:
            found.add(float(plain))
        except ValueError:  # '1.2.3': a version-like token, kept as its parts
            found.update(float(p) for p in plain.split(".") if p)
    return found


@dataclass(frozen=True)
class Support:
    """How well the evidence backs a claim: the best evidence sentence, its cosine similarity to
    the claim, the share of the claim's content words it contains, their mean (`score`), the
    threshold it was held to, and the claim's numbers that appear nowhere in the evidence."""

    supported: bool
    score: float
    similarity: float
    overlap: float
    missing_numbers: tuple[float, ...]
    sentence: str
    threshold: float

    def why(self) -> str:
        """The reason a claim is unsupported, in a few words."""
        if self.missing_numbers:
            shown = ", ".join(f"{n:g}" for n in self.missing_numbers)
            return f"number {shown} not in the cited abstract"
        return f"best evidence sentence scores {self.score:.2f} < {self.threshold:g}"


class SupportScorer:
    """Offline support: score = (cosine(claim, sentence) + overlap(claim, sentence)) / 2 for the best
    sentence of the evidence; supported when it reaches `threshold` and every number in the claim
    appears in the evidence. Similarity catches paraphrase, overlap keeps the claim's entities and
    terms honest, and the number rule catches a wrong figure, which similarity barely notices."""

    def __init__(self, model: MiniLM | None = None, threshold: float = THRESHOLD) -> None:
        if model is None:
            from assistant.minilm import MiniLM

            model = MiniLM()
        self._model = model
        self.threshold = threshold
        self._vectors: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts`, cached: answers cite the same abstracts again and again."""
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, self._model.embed(new), strict=True))
        return np.stack([self._vectors[t] for t in texts])

    def score(self, claim: str, evidence: Iterable[str]) -> Support:
        """Support of `claim` by the evidence texts (abstracts or sentences), taken together."""
        texts = [t for t in evidence if t.strip()]
        sentences = [s for t in texts for s in split_sentences(t)]
        missing = tuple(sorted(numbers(claim) - set().union(*(numbers(t) for t in texts))))
        if not sentences:
            return Support(False, 0.0, 0.0, 0.0, missing, "", self.threshold)
        vectors = self._embed([claim, *sentences])
        similarities = vectors[1:] @ vectors[0]
        claim_terms = set(terms(claim))
        overlaps = [len(claim_terms & set(terms(s))) / len(claim_terms) if claim_terms else 0.0 for s in sentences]
        scores = (similarities + np.array(overlaps)) / 2
        best = int(np.argmax(scores))
        score = float(scores[best])
        return Support(
            supported=score >= self.threshold and not missing,
            score=score,
            similarity=float(similarities[best]),
            overlap=overlaps[best],
            missing_numbers=missing,
            sentence=sentences[best],
            threshold=self.threshold,
        )


# -- the answer's sentences -------------------------------------------------------------------
MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
# a bold title, with the "(date, n authors)" that may follow it, or a "(from **Title**)" tag
_TITLE = re.compile(r"\(from \*\*.+?\*\*\)|\*\*.+?\*\*(?:\s*\([^)]*\))?")
_EDGES = "-*•:;,.“”\"' \t"


@dataclass(frozen=True)
class Claim:
    """A sentence of an answer that states something: its number among the answer's claims,
    its text without markers or titles, and the [n] markers it carries."""

    n: int
    text: str
    markers: tuple[int, ...]


def claims(text: str, abstained: bool) -> list[Claim]:
    """The sentences of an answer that make a claim, in order.

    Not claims: an abstention; a framing line that ends with ':' ("3 papers in the collection
    match:", "Also relevant:"); and what is left of a line once the paper titles (with their
    date/author parenthesis) and the markers are taken out, when that has no content word (a bare
    reference such as "- **Title** (2023, 2 authors) [1]"). Every other sentence counts, cited or not."""
    if abstained:
        return []
    found: list[Claim] = []
    for line in text.splitlines():
        body = _TITLE.sub(" ", line).strip()
        if not body or body.endswith(":"):
            continue
        for sentence in _attach_markers(split_sentences(body)):
            if CANNOT_ANSWER in sentence:
                continue
            markers = tuple(int(n) for m in MARKER.findall(sentence) for n in re.split(r"\s*[,;]\s*", m))
            plain = " ".join(MARKER.sub(" ", sentence).split()).strip(_EDGES)
            if terms(plain):
                found.append(Claim(len(found) + 1, plain, markers))
    return found


def _attach_markers(sentences: list[str]) -> list[str]:
    """Give markers written after a full stop ("… results. [2] Next …") to the sentence they close."""
    out: list[str] = []
    for sentence in sentences:
        lead = re.match(r"^((?:\s*\[[\d,; ]+\])+)\s*", sentence)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(1).strip()}"
            sentence = sentence[lead.end():]
        if sentence:
            out.append(sentence)
    return out


def check(answer: Answer, scorer: SupportScorer | None) -> list[SentenceCheck]:
    """Every claim sentence of `answer` with its verdict: a sentence without a marker, or with a
    marker that names no citation, is unsupported; any other is scored against the abstracts its
    markers cite (with `scorer`), or, without a scorer, supported only when it quotes one of them
    verbatim (how extractive answers are made)."""
    by_marker = {c.marker: c for c in answer.citations}
    checked = []
    for claim in claims(answer.text, answer.abstained):
        unknown = [m for m in claim.markers if m not in by_marker]
        cited = [by_marker[m] for m in dict.fromkeys(claim.markers) if m in by_marker]
        entry = SentenceCheck(n=claim.n, text=claim.text, markers=list(claim.markers), supported=False)
        if not claim.markers:
            entry.why = "no citation marker"
        elif unknown:
            entry.why = f"marker [{unknown[0]}] names no citation"
        elif scorer is None:
            quoted = next((c for c in cited if claim.text in c.abstract), None)
            entry.supported = quoted is not None
            entry.evidence = claim.text if quoted else ""
            entry.why = None if quoted else "not a quote of the cited abstracts"
        else:
            support = scorer.score(claim.text, [c.abstract for c in cited])
            entry.supported, entry.score, entry.evidence = support.supported, round(support.score, 4), support.sentence
            entry.why = None if support.supported else support.why()
        checked.append(entry)
    return checked
