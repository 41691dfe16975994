"""LaTeX in abstracts and titles becomes plain text at parse time, pinned on reference pairs and
on the bundled collection."""

from __future__ import annotations

import re

import pytest

from ingest.latex import clean
from ingest.sources import bundled_collection, load_sources

PAIRS = [
    (r"a 69.4\% success rate", "a 69.4% success rate"),
    (r"na\"ive and na\"{\i}ve", "naïve and naïve"),
    (r"G{\"o}del, R\'enyi, Mat\'ern, Hyv\"arinen, \c{c}a", "Gödel, Rényi, Matérn, Hyvärinen, ça"),
    (r"relatively ``easy'' operators", 'relatively "easy" operators'),
    (r"a mild ''informative'' condition", 'a mild "informative" condition'),
    (r"a model {p}_{\theta}(Y|X) knows", "a model p_θ(Y|X) knows"),
    (r"how much {p}_{theta}(Y|X) knows", "how much p_theta(Y|X) knows"),
    ("the Fokker--Planck equation -- and (RTB) --- each", "the Fokker–Planck equation – and (RTB) — each"),
    (r"O(1/{\alpha}^2) and mathcal{O}(K^{2/3})", "O(1/α^2) and O(K^(2/3))"),
    (r"a {\it single-loop} manner, {\sc PASCombUCB}", "a single-loop manner, PASCombUCB"),
    (r"sampling, \eg Focal Loss, \ie implementable", "sampling, e.g. Focal Loss, i.e. implementable"),
    (r"released on \url{https://github.com/x/y}.", "released on https://github.com/x/y."),
    ("don't change plain text: it's 3-4 words", "don't change plain text: it's 3-4 words"),
    (r"runs in $O(n^2)$ time, between $x$ and $y$", "runs in O(n^2) time, between x and y"),
    ("costs $5 and $10, or $0.031 each", "costs $5 and $10, or $0.031 each"),
    (r"Erd{\H{o}}s, {\v{S}}koda, {\L}ukasz, {\ss}, {\aa}, Fran\c{c}ois", "Erdős, Škoda, Łukasz, ß, å, François"),
]


@pytest.mark.parametrize(("raw", "plain"), PAIRS)
def test_latex_becomes_plain_text(raw: str, plain: str) -> None:
    assert clean(raw) == plain
    assert clean(plain) == plain  # idempotent


def test_the_bundled_collection_has_no_latex_left() -> None:
    papers, failed = load_sources(bundled_collection())
    assert not failed
    leftovers = [p.id for p in papers.values()
                 if re.search(r"\\[%\"'`a-zA-Z]|``|''|[{}]|(?<!-)--(?!-)", p.title + p.abstract)]
    assert leftovers == []
    prime = next(p for p in papers.values() if "69.4% success rate" in p.abstract)
    assert "69.4\\%" not in prime.abstract
