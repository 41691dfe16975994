"""Each claim sentence of an answer is checked against the abstracts it cites when the answer is
made: verbatim for quoted (extractive) answers, with the offline support scorer for LLM answers;
unsupported sentences are marked in `Answer.sentences`, the JSON and the page."""

from __future__ import annotations

import pytest

from assistant.grounding import SupportScorer, check
from assistant.render import render_answer
from assistant.types import Answer, Citation

PRIME = ("Starting from Qwen2.5-Math-7B-Base, PRIME achieves a 15.1% average improvement across several key "
         "reasoning benchmarks over the SFT model. Notably, our resulting model, Eurus-2-7B-PRIME, surpasses "
         "Qwen2.5-Math-7B-Instruct on seven reasoning benchmarks with 10% of its training data.")


def _answer(text: str, mode: str = "llm") -> Answer:
    citation = Citation(id="prime", title="PRIME", published=None, score=1.0, evidence="", abstract=PRIME, marker=1)
    return Answer(text=text, citations=[citation], mode=mode)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scorer() -> SupportScorer:
    return SupportScorer()


def test_llm_sentences_are_scored_and_the_unsupported_ones_say_why(scorer: SupportScorer) -> None:
    answer = _answer("PRIME improves reasoning benchmarks by 15.1% over the SFT model [1]. It improves them by 51.1% [1]. "
                     "It was trained on a cluster of GPUs. A marker that names nothing [4].")
    sentences = check(answer, scorer)
    assert [s.supported for s in sentences] == [True, False, False, False]
    assert sentences[0].evidence.startswith("Starting from Qwen2.5-Math-7B-Base") and sentences[0].score is not None
    assert [s.why for s in sentences[1:]] == ["number 51.1 not in the cited abstract", "no citation marker",
                                             "marker [4] names no citation"]


def test_quoted_sentences_are_checked_verbatim_without_a_model() -> None:
    answer = _answer("- **PRIME** [1]: “Notably, our resulting model, Eurus-2-7B-PRIME, surpasses Qwen2.5-Math-7B-Instruct "
                     "on seven reasoning benchmarks with 10% of its training data.”\n- **PRIME** [1]: “A made-up quote.”",
                     mode="extractive")
    first, second = check(answer, None)
    assert first.supported and first.evidence == first.text
    assert not second.supported and second.why == "not a quote of the cited abstracts"


def test_unsupported_sentences_are_in_the_json_and_marked_on_the_page(scorer: SupportScorer) -> None:
    answer = _answer("PRIME improves reasoning by 15.1% [1]. It was trained on a cluster of GPUs.")
    answer.sentences = check(answer, scorer)
    payload = answer.to_json()
    assert [s["supported"] for s in payload["sentences"]] == [True, False]
    assert payload["sentences"][1]["why"] == "no citation marker"
    html = render_answer(answer, 1, final=True, llm_model="m")
    assert "Not supported by the cited abstracts" in html and "It was trained on a cluster of GPUs" in html
    assert "(no citation marker)" in html
