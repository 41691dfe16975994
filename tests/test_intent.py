"""Reading a question without an LLM: metadata constraints, superlatives, the topic left over."""

from __future__ import annotations

import pytest

from assistant.filters import Filters
from assistant.intent import parse


@pytest.mark.parametrize(("question", "filters", "superlative"), [
    ("Which papers published in 2023 have at most three authors?", Filters(since="2023", until="2023", max_authors=3),
     None),
    ("Which papers have at least seven authors?", Filters(min_authors=7), None),
    ("Which papers have exactly two authors?", Filters(authors=2), None),
    ("Which papers have more than 10 authors?", Filters(min_authors=11), None),
    ("Which papers were published before 2022?", Filters(until="2021"), None),
    ("Which is the most recently published paper in the collection?", Filters(), ("published_ord", True)),
    ("Which is the oldest paper in the collection?", Filters(), ("published_ord", False)),
    ("Which paper has the most authors?", Filters(), ("authors", True)),
])
def test_metadata_questions_have_no_topic(question: str, filters: Filters, superlative: object) -> None:
    intent = parse(question)
    assert intent.filters == filters and intent.superlative == superlative
    assert intent.metadata_only and intent.topic == ""


def test_a_topic_with_constraints_keeps_both() -> None:
    intent = parse("Which papers published in 2025 are about diffusion models?")
    assert intent.filters == Filters(since="2025", until="2025") and intent.is_list
    assert intent.topic == "diffusion models" and not intent.metadata_only


def test_explicit_filters_win_over_the_text() -> None:
    assert parse("Which papers were published in 2024?", Filters(since="2023")).filters == Filters(since="2023",
                                                                                                   until="2024")


def test_a_back_reference_is_a_follow_up_only_with_history() -> None:
    assert parse("Which of those use DPO?", has_history=True).follow_up
    assert not parse("Which of those use DPO?").follow_up


@pytest.mark.parametrize(("question", "is_list"), [
    ("Which papers use implicit PRMs?", True),
    ("List work on speculative decoding", True),
    ("Which paper finds that language models fail to take corrective hints on board?", False),
    ("Which study shows that agent evaluations are noisy?", False),
    ("What is speculative decoding used for?", False),
])
def test_plural_questions_ask_for_a_list_singular_for_one_paper(question: str, is_list: bool) -> None:
    assert parse(question).is_list is is_list
