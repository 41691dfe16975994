"""Reading a question without an LLM: metadata constraints, superlatives, the topic left over."""

from __future__ import annotations

import pytest

from assistant.filters import Filters
from assistant.intent import names, parse, squash


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
    ("Which papers got more than 2 upvotes?", Filters(min_upvotes=3), None),
    ("papers that received at least 2 upvotes", Filters(min_upvotes=2), None),
    ("list the papers written by more than 5 people", Filters(min_authors=6), None),
    ("which papers were authored by a single researcher?", Filters(authors=1), None),
    ("pre-2022 papers", Filters(until="2021"), None),
    ("number of papers published 2024", Filters(since="2024", until="2024"), None),
    ("Which papers have exactly two authors (no more and no fewer, i.e. two-person author teams)?", Filters(authors=2),
     None),
    ("Of the papers with a 2025 publication date, which one has the longest author list?",
     Filters(since="2025", until="2025"), ("authors", True)),
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


ORGS = {"ByteDance Seed", "Alibaba-NLP", "Tsinghua University"}


@pytest.mark.parametrize(("question", "filters"), [
    ("Which diffusion papers were published before 2024?", Filters(until="2023")),
    ("RL papers from 2022-2024", Filters(since="2022", until="2024")),
    ("papers from 2023 or later with 5 or more authors", Filters(since="2023", min_authors=5)),
    ("Anything on attention published in or before 2023?", Filters(until="2023")),
    ("Which papers have more than 2 upvotes?", Filters(min_upvotes=3)),
    ("upvoted papers about agents", Filters(min_upvotes=1)),
    ("Which single-authored papers are there?", Filters(authors=1)),
    ("papers by Tsinghua on attention", Filters(organization="Tsinghua University")),
    ("What has ByteDance Seed published?", Filters(organization="ByteDance Seed")),
])
def test_constraints_are_read_from_the_words(question: str, filters: Filters) -> None:
    assert parse(question, organizations=ORGS).filters == filters


def test_an_organisation_the_collection_does_not_record_is_not_a_filter() -> None:
    assert parse("Which papers come from DeepMind?", organizations=ORGS).filters == Filters()


@pytest.mark.parametrize(("question", "superlative", "topic"), [
    ("Which paper about reasoning lists the most authors, and how many?", ("authors", True), "reasoning"),
    ("Which is the most upvoted paper?", ("upvotes", True), ""),
    ("the diffusion paper with the largest author list", ("authors", True), "diffusion"),
])
def test_a_superlative_keeps_its_topic(question: str, superlative: object, topic: str) -> None:
    intent = parse(question)
    assert intent.superlative == superlative and intent.topic == topic


@pytest.mark.parametrize(("question", "shape"), [
    ("How many papers were published in 2023?", "count"),
    ("How many papers study attention sinks?", "count"),
    ("How many process supervision annotations does OmegaPRM collect?", "fact"),
    ("With 1-shot RLVR, how does Qwen2.5-Math-1.5B's MATH500 accuracy change?", "fact"),
    ("implicit PRM papers", "list"),
    ("conformal prediction", "list"),
    ("hey, do we have anything on conformal prediction?", "list"),
    ("I'm trying to remember a paper that solved Wordle with rollout", "one"),
    ("Which paper has the most authors?", "one"),
    ("I'm after work on long-duration video generation", "list"),
    ("What research on RLHF exists?", "list"),
    ("Which work on speculative decoding reports a 2x speedup?", "one"),
])
def test_the_shape_of_the_answer(question: str, shape: str) -> None:
    assert parse(question).shape == shape


def test_conversational_framing_is_not_topic() -> None:
    assert parse("hey, do we have anything in the collection on conformal prediction?").topic == "conformal prediction"
    assert parse("Which papers study on-policy RL?").topic == "on-policy RL"
    assert parse("I'm after work on protein design").topic == "protein design"
    assert parse("Among papers published in 2025, which one lists the most authors?").topic == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("What does PAR score on MT-Bench?", ["PAR", "MT-Bench"]),
    ("DPM-Solver on CIFAR10, as in GPT-4o.", ["DPM-Solver", "CIFAR10", "GPT-4o"]),
    ("Which papers train PRMs with IV-style estimates?", ["PRM"]),  # a plural is singular; "IV" is too short
    ("What is the accuracy of the model on the benchmark?", []),
])
def test_names_are_words_written_as_names(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_squash_makes_one_spelling() -> None:
    assert squash("CIFAR-10") == squash("cifar 10") == squash("Cifar10") == "cifar10"
