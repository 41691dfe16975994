"""The public API and CLI over the real bundled index (real MiniLM, real embedded Chroma):
hybrid search with filters, extractive cited answers, metadata answers, abstention, follow-ups."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant import CANNOT_ANSWER, Assistant, PaperScopeError, Settings

IMPLICIT_PRM = {"free-process-rewards-without-process-labels", "process-reinforcement-through-implicit-rewards"}


@pytest.fixture
def assistant(bundled_settings: Settings) -> Assistant:
    return Assistant(bundled_settings)


def test_search_ranks_the_paper_that_matches(assistant: Assistant) -> None:
    hits = assistant.search("Monte Carlo Tree Search preference learning for LLM reasoning", k=5)
    assert hits[0].id == "monte-carlo-tree-search-boosts-reasoning-via-iterative-preference-learning"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.text and h.text in h.abstract for h in hits)


def test_search_filters_apply_to_both_sides(assistant: Assistant) -> None:
    hits = assistant.search("reasoning", k=10, since="2025")
    assert hits and all(h.published and h.published >= "2025-01-01" for h in hits)
    two = assistant.search("learning", k=10, authors=2)
    assert two and all(h.authors == 2 for h in two)


def test_unknown_filter_is_refused_with_the_valid_names(assistant: Assistant) -> None:
    with pytest.raises(PaperScopeError, match="since, until"):
        assistant.search("x", year=2024)


def test_which_papers_lists_every_implicit_prm_paper_with_evidence(assistant: Assistant) -> None:
    answer = assistant.ask("Which papers use implicit PRMs?")
    assert not answer.abstained and answer.mode == "extractive"
    cited = {c.id for c in answer.citations}
    assert cited >= IMPLICIT_PRM
    retrieved = {h.id for h in answer.retrieved}
    for citation in answer.citations:
        assert citation.id in retrieved  # never a paper that was not retrieved
        assert citation.evidence in citation.abstract
        assert f"[{citation.marker}]" in answer.text
    assert len(answer.sentences) == len(answer.citations) and not answer.unsupported  # each quote checked verbatim


def test_metadata_questions_are_exact(assistant: Assistant) -> None:
    records = assistant.index.catalog().records
    two = assistant.ask("Which papers have exactly two authors?")
    assert {c.id for c in two.citations} == {r["paper_id"] for r in records if r.get("authors") == 2}
    most = assistant.ask("Which paper has the most authors?")
    top = max(r["authors"] for r in records if r.get("authors"))
    assert {c.id for c in most.citations} == {r["paper_id"] for r in records if r.get("authors") == top}
    year = assistant.ask("Which papers were published in 2025?")
    expected = {r["paper_id"] for r in records if str(r.get("published", "")).startswith("2025")}
    assert {c.id for c in year.citations} == expected


def test_off_topic_question_abstains_and_names_the_collection(assistant: Assistant) -> None:
    answer = assistant.ask("What is the best sourdough bread recipe for high altitude baking?")
    assert answer.abstained and not answer.citations
    assert answer.text.startswith(CANNOT_ANSWER)
    assert "465 papers" in answer.text and "2017-" in answer.text


def test_a_figure_about_a_name_no_paper_mentions_abstains_and_says_which(assistant: Assistant) -> None:
    # PAR is in the collection, MT-Bench is not: no abstract can hold PAR's MT-Bench score
    answer = assistant.ask("What score does the PAR reward-shaping method reach on MT-Bench?")
    assert answer.abstained and not answer.citations
    assert "no paper mentions MT-Bench" in answer.text
    # the same names spelled with other hyphens and case are found
    found = assistant.ask("What FID does dpm solver reach on CIFAR-10 with 10 function evaluations?")
    assert not found.abstained and "4.70 FID" in found.text


def test_the_paper_that_mentions_the_asked_name_leads(assistant: Assistant) -> None:
    # "process labels" pulls toward another PRM paper; the question asks about OmegaPRM
    answer = assistant.ask("How many step-level process labels does OmegaPRM gather to train a process reward model?")
    assert "OmegaPRM" in answer.citations[0].abstract
    assert "1.5 million" in answer.text


def test_keywords_list_the_matches_and_the_best_quotes_what_covers_them(assistant: Assistant) -> None:
    answer = assistant.ask("PRIME implicit process rewards improvement over SFT Eurus")
    assert answer.text.startswith(f"{len(answer.citations)} paper")
    lead = answer.citations[0]
    assert lead.id == "process-reinforcement-through-implicit-rewards"
    assert len(lead.passages) > 1 and all(p in answer.text for p in lead.passages)
    assert "15.1%" in answer.text and "Eurus-2-7B-PRIME" in answer.text


def test_follow_up_looks_only_at_the_previous_papers(assistant: Assistant) -> None:
    first = assistant.chat("Which papers use Monte Carlo tree search?")
    assert not first.abstained
    follow = assistant.chat("Which of those use DPO?", [("Which papers use Monte Carlo tree search?", first)])
    assert follow.citations
    assert {c.id for c in follow.citations} <= {c.id for c in first.citations}


def test_cli_ask_and_search_print_the_documented_json(bundled_settings: Settings) -> None:
    env = {**os.environ, "PAPERSCOPE_HOME": str(bundled_settings.home)}
    ask = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", "Which papers use implicit PRMs?", "--json"],
                         capture_output=True, text=True, env=env, check=True)
    payload = json.loads(ask.stdout)
    assert set(payload) >= {"answer", "mode", "abstained", "citations", "usage", "seconds"}
    assert set(payload["citations"][0]) >= {"id", "title", "published", "score", "evidence"}
    search = subprocess.run([sys.executable, "-m", "assistant.cli", "search", "diffusion time series", "--json",
                             "--k", "3"], capture_output=True, text=True, env=env, check=True)
    hits = json.loads(search.stdout)["hits"]
    assert len(hits) == 3 and set(hits[0]) == {"id", "title", "published", "score", "text"}


def test_an_offline_answer_does_not_load_llama_index(bundled_settings: Settings) -> None:
    """A one-off `paperscope ask` starts fast because the query path needs only Chroma and the ONNX
    model; importing LlamaIndex alone costs about a second (BENCHMARKS.md, cold start)."""
    script = ("import sys; from assistant import Assistant; "
              "answer = Assistant().ask('Which papers use implicit PRMs?'); "
              "print(len(answer.citations), sorted({m.split('.')[0] for m in sys.modules if m.startswith('llama_index')}))")
    env = {**os.environ, "PAPERSCOPE_HOME": str(bundled_settings.home)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split(" ", 1) == ["2", "[]\n"]


def test_term_weights_are_counted_once_per_state_of_the_collection(bundled_settings: Settings) -> None:
    first = Assistant(bundled_settings)
    first.summary()
    saved = json.loads(bundled_settings.term_weights_path.read_text(encoding="utf-8"))
    assert saved["fingerprint"] == first.index.catalog().fingerprint and saved["n"] == 465
    # a later start reads the saved counts instead of recounting (a doctored count shows which it used)
    saved["df"]["prm"] = 465
    bundled_settings.term_weights_path.write_text(json.dumps(saved), encoding="utf-8")
    weights, _ = Assistant(bundled_settings)._collection_stats()
    assert weights.df["prm"] == 465 and weights.n == 465
    # counts saved for another state of the collection are not used
    saved["fingerprint"] = "another-generation"
    bundled_settings.term_weights_path.write_text(json.dumps(saved), encoding="utf-8")
    weights, _ = Assistant(bundled_settings)._collection_stats()
    assert weights.df["prm"] == first._collection_stats()[0].df["prm"] < 465


def test_empty_custom_collection_says_to_ingest(settings: Settings) -> None:
    assistant = Assistant(settings.model_copy(update={"collection": "mine"}))
    with pytest.raises(PaperScopeError, match="paperscope ingest"):
        assistant.search("anything")


def test_a_two_part_fact_quotes_a_sentence_for_each_part(assistant: Assistant) -> None:
    answer = assistant.ask("How many process supervision annotations does OmegaPRM collect, and what success rate "
                           "does it reach on MATH?")
    lead = answer.citations[0]
    assert lead.id == "improve-mathematical-reasoning-in-language-models-by-automated-process-supervisi-8c2118c0"
    assert "1.5 million" in answer.text and "69.4%" in answer.text  # two sentences, LaTeX cleaned at ingest
    assert len(lead.passages) >= 2 and all(p in lead.abstract for p in lead.passages)
    assert lead.evidence == lead.passages[0]


def test_a_topic_with_a_date_filter_screens_only_the_papers_the_filter_allows(assistant: Assistant) -> None:
    answer = assistant.ask("Which diffusion papers were published before 2024?")
    assert not answer.abstained
    assert all(c.published and c.published < "2024" for c in answer.citations)
    assert "score-based-generative-modeling-of-graphs-via-the-system-of-stochastic-different-19f89665" in {
        c.id for c in answer.citations}
    none = assistant.ask("Which papers about protein folding in yeast were published before 2020?")
    assert none.abstained and "published 2019 or earlier" in none.text


def test_how_many_gets_a_number(assistant: Assistant) -> None:
    records = assistant.index.catalog().records
    n = sum(str(r.get("published", "")).startswith("2023") for r in records)
    answer = assistant.ask("How many papers were published in 2023?")
    assert answer.text.startswith(f"{n} papers") and len(answer.citations) == n


def test_a_superlative_over_a_topic_names_the_extreme_and_its_value(assistant: Assistant) -> None:
    answer = assistant.ask("Which reasoning paper lists the most authors, and how many?")
    records = {r["paper_id"]: r for r in assistant.index.catalog().records}
    (top,) = answer.citations
    authors = records[top.id]["authors"]
    assert f"{authors} authors" in answer.text
    others = [h for h in answer.retrieved if h.id != top.id]
    assert all(records[h.id].get("authors") is not None for h in answer.retrieved)  # screened only papers that record it
    assert all(records[h.id]["authors"] <= authors or h.id not in {c.id for c in answer.citations} for h in others)
