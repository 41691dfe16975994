"""Choosing the evidence sentence: the one that answers, not the one that links to the code."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.evidence import (
    TERMS_VERSION,
    TermWeights,
    best_sentences,
    covering_sentences,
    group_coverage,
    question_parts,
    term_groups,
    terms,
)

ABSTRACT = ("We present VoxFlow, a flow-matching text-to-speech model. VoxFlow halves the word error rate of "
            "prior zero-shot speech synthesis systems. Code for VoxFlow speech synthesis is available at "
            "https://github.com/example/voxflow-speech-synthesis.")


def test_a_link_sentence_loses_to_the_sentence_that_answers() -> None:
    weights = TermWeights([ABSTRACT, "An unrelated abstract about graphs."])
    best = best_sentences("Which papers improve zero-shot speech synthesis?", ABSTRACT, weights)
    assert best[0][0] == "VoxFlow halves the word error rate of prior zero-shot speech synthesis systems."


def test_a_question_about_code_may_get_the_link_sentence() -> None:
    weights = TermWeights([ABSTRACT, "An unrelated abstract about graphs."])
    best = best_sentences("Where is the code for VoxFlow speech synthesis?", ABSTRACT, weights)
    assert "github.com" in best[0][0]


def test_term_weights_are_read_back_only_under_the_fingerprint_they_were_saved_with(tmp_path: Path) -> None:
    weights = TermWeights([ABSTRACT, "An unrelated abstract about graphs."])
    path = tmp_path / "keyword" / "papers.terms.json"
    weights.save(path, "generation-1")
    again = TermWeights.load(path, "generation-1")
    assert again is not None and again.n == 2 and again.df == weights.df
    assert again.idf("voxflow") == weights.idf("voxflow") < again.idf("never-seen")
    assert TermWeights.load(path, "generation-2") is None
    path.write_text("{not json", encoding="utf-8")
    assert TermWeights.load(path, "generation-1") is None
    assert TermWeights.load(tmp_path / "missing.json", "generation-1") is None


def test_an_acronym_and_its_plural_are_one_term() -> None:
    assert terms("implicit PRMs") == terms("implicit PRM") == terms("implicit prms") == ["implicit", "prm"]
    assert terms("LLMs") == terms("llms") == terms("LLM") == ["llm"]
    assert terms("ViTs") == terms("ViT") and terms("GPUs") == terms("GPU")
    assert terms("MCTS") == terms("mcts")  # a final capital S is part of the acronym, and both spellings agree
    assert terms("rewards models") == terms("reward model")  # ordinary words still go through the stemmer


def test_the_sentence_naming_both_question_terms_wins_whatever_their_number() -> None:
    abstract = ("This can be attributed to the challenges of training process reward models (PRMs) online. "
                "We propose PRIME, which enables online PRM updates through implicit process rewards.")
    weights = TermWeights([abstract, "Process reward models score each step.", "An unrelated abstract."])
    best = best_sentences("Which papers use implicit PRMs?", abstract, weights)
    assert best[0][0].startswith("We propose PRIME")


def test_term_weights_counted_by_another_version_of_terms_are_recounted(tmp_path: Path) -> None:
    path = tmp_path / "papers.terms.json"
    TermWeights([ABSTRACT]).save(path, "generation-1")
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved["version"] = TERMS_VERSION - 1
    path.write_text(json.dumps(saved), encoding="utf-8")
    assert TermWeights.load(path, "generation-1") is None


def test_parentheses_and_examples_are_one_group_of_alternatives() -> None:
    groups = term_groups("tree search (MCTS or beam search) for planners such as robots and agents")
    assert ("tree",) in groups and ("search",) in groups
    assert ("mct", "beam", "search") in groups and ("robot", "agent") in groups
    weights = TermWeights(["tree search with beam search", "robots plan", "agents plan"])
    # one example is enough for its group; the plain terms are each needed
    assert group_coverage(groups, set(terms("tree search for planners of robots")), weights) == 1.0
    assert group_coverage(groups, set(terms("beam search for planners of agents")), weights) < 1.0


def test_a_hyphenated_question_word_is_met_with_or_without_its_hyphen() -> None:
    groups = term_groups("LLM-driven reward-shaping")
    weights = TermWeights(["reward shaping driven by an LLM"])
    assert group_coverage(groups, set(terms("reward shaping driven by an LLM")), weights) == 1.0
    assert group_coverage(groups, set(terms("LLM-driven reward-shaping")), weights) == 1.0


def test_each_part_of_a_multi_part_question_gets_its_sentence() -> None:
    question = "What average improvement does PRIME report, and what is the resulting model called?"
    assert question_parts(question) == ["What average improvement does PRIME report",
                                        "what is the resulting model called?"]
    abstract = ("We propose PRIME, online process reward updates from outcome labels. PRIME achieves a 15.1% average "
                "improvement across reasoning benchmarks. Notably, our resulting model, Eurus-2-7B-PRIME, surpasses "
                "larger ones. Code is released.")
    weights = TermWeights([abstract, "reward models for reasoning", "benchmarks of models"])
    topic = "average improvement PRIME report resulting called"
    alone = covering_sentences(topic, abstract, weights, numeric=True)
    both = covering_sentences(topic, abstract, weights, numeric=True, parts=question_parts(question))
    assert "15.1%" in both[0] and any("Eurus-2-7B-PRIME" in s for s in both)
    assert not any("Eurus-2-7B-PRIME" in s for s in alone)  # the topic alone gives that part too little weight
