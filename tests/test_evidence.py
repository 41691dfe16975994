"""Choosing the evidence sentence: the one that answers, not the one that links to the code."""

from __future__ import annotations

from pathlib import Path

from assistant.evidence import TermWeights, best_sentences

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
