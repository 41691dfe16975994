"""The regression evals: metrics against hand computations (and LlamaIndex's own), the support
scorer against the hand-labelled pairs, the LLM judge through a scripted LLM, baseline
comparison, and `paperscope eval` end to end on the real bundled index."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.evaluation.retrieval.metrics import NDCG
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback

from assistant import CANNOT_ANSWER, Answer, Citation, Hit, LLMError, Settings
from assistant.cli import main as cli
from assistant.grounding import THRESHOLD, SupportScorer, claims, numbers
from evals.harness import Grounding, Question, aggregate, compare, load_questions, score_answer
from evals.metrics import citation_precision, citation_recall, hit_at, invalid_citations, mrr, ndcg, recall_at
from evals.naive import NaivePipeline
from evals.support import SupportJudge, agreement, choose_threshold, load_pairs, split_pairs, verdict

PRIME = ("Starting from Qwen2.5-Math-7B-Base, PRIME achieves a 15.1% average improvement across several key "
         "reasoning benchmarks over the SFT model. PRIME enables online PRM updates using only policy rollouts "
         "and outcome labels.")


@pytest.fixture(scope="module")
def scorer() -> SupportScorer:
    return SupportScorer()


# -- metrics ----------------------------------------------------------------------------------
def test_retrieval_metrics_match_a_hand_computation() -> None:
    gold = ["a", "b"]
    ranked = ["x", "a", "y", "b"] + [f"n{i}" for i in range(20)]
    assert hit_at(gold, ranked, 1) == 0.0 and hit_at(gold, ranked, 2) == 1.0
    assert recall_at(gold, ranked, 3) == 0.5 and recall_at(gold, ranked, 5) == 1.0
    assert mrr(gold, ranked) == 0.5
    # DCG@10 = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3)
    assert ndcg(gold, ranked, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert ndcg(gold, ranked, 10) == pytest.approx(0.650921, abs=1e-6)
    assert hit_at(gold, [], 1) == recall_at(gold, [], 5) == mrr(gold, []) == ndcg(gold, [], 10) == 0.0


def test_ndcg_agrees_with_llamaindex_until_there_are_more_gold_papers_than_k() -> None:
    gold = ["a", "b", "c"]
    ranked = ["x", "a", "y", "b", "c"]
    theirs = NDCG().compute(expected_ids=gold, retrieved_ids=ranked[:10]).score
    assert ndcg(gold, ranked, 10) == pytest.approx(theirs)
    many = [f"g{i}" for i in range(12)]
    perfect = many[:10]
    assert ndcg(many, perfect, 10) == pytest.approx(1.0)
    # LlamaIndex's ideal DCG sums over all 12 gold papers, so a perfect top 10 scores below 1
    assert NDCG().compute(expected_ids=many, retrieved_ids=perfect).score < 0.95


def test_citation_metrics() -> None:
    assert citation_precision(["a", "b", "c", "a"], ["a", "d"]) == pytest.approx(1 / 3)
    assert citation_recall(["a", "b", "c"], ["a", "d"]) == 0.5
    assert citation_precision([], ["a"]) is None and citation_recall(["a"], []) is None
    assert citation_precision(["a"], []) == 0.0  # citing anything for an unanswerable question
    assert invalid_citations(["a", "z", "z"], ["a", "b"]) == ["z"]


def test_claims_leave_out_framing_lines_titles_bare_references_and_abstentions() -> None:
    listing = ("2 papers in the collection match:\n"
               "- **PRIME: Process Reinforcement** (2025-02-03) [1]: “PRIME uses implicit process rewards.”\n"
               "- **Free Process Rewards** [2]: “An implicit PRM can be obtained at no additional cost.”")
    found = claims(listing, abstained=False)
    assert [(c.n, c.text, c.markers) for c in found] == [
        (1, "PRIME uses implicit process rewards", (1,)),
        (2, "An implicit PRM can be obtained at no additional cost", (2,)),
    ]
    lead = "PRIME improves by 15.1%. [1] (from **PRIME**)\n\nAlso relevant:\n- **Other** (2024-01-01) [2]: “More text.”"
    assert [(c.text, c.markers) for c in claims(lead, abstained=False)] == [("PRIME improves by 15.1%", (1,)),
                                                                           ("More text", (2,))]
    prose = "Two papers use implicit PRMs [1, 2]. They train on outcome labels.\n- **X** (2023, 2 authors) [3]"
    assert [c.markers for c in claims(prose, abstained=False)] == [(1, 2), ()]
    metadata = "1 paper in the collection matches:\n- **Some Title** (2023-01-01, 2 authors) [1]"
    assert claims(metadata, abstained=False) == []
    assert claims(f"{CANNOT_ANSWER} Among the collection's 465 papers, none.", abstained=True) == []


def test_numbers_are_read_as_values() -> None:
    assert numbers("25,000 runs; 4.70 FID; less than 1/38 of the data; 15.1%.") == {25000.0, 4.7, 1.0, 38.0, 15.1}


# -- the support scorer and the judge ---------------------------------------------------------
def test_support_scorer_accepts_a_quote_and_rejects_a_wrong_number(scorer: SupportScorer) -> None:
    quote = scorer.score("PRIME enables online PRM updates using only policy rollouts and outcome labels.", [PRIME])
    assert quote.supported and quote.score > 0.95
    wrong = scorer.score("PRIME achieves a 51.1% average improvement over the SFT model.", [PRIME])
    assert not wrong.supported and wrong.missing_numbers == (51.1,)
    assert "51.1" in wrong.why()
    assert not scorer.score("GANs pit a generator against a discriminator.", [PRIME]).supported


def test_support_scorer_agrees_with_the_hand_labels_on_the_held_out_half(scorer: SupportScorer) -> None:
    """The threshold is chosen on one half of the labelled pairs (split by paper) and agreement is
    measured on the other. Measured: accuracy 0.765 (26 of 34), precision 0.70, recall 0.875.
    The bar, 0.70 (24 of 34), is where chance agreement has p ≈ 0.01 (binomial, n = 34), and the
    scorer must also beat its own number rule alone, so the similarity and overlap carry weight."""
    tuning, held_out = split_pairs(load_pairs())
    assert len(tuning) == len(held_out) == 34
    scores = {p: scorer.score(p.claim, [p.evidence]) for p in tuning + held_out}
    assert choose_threshold([(scores[p], p.supported) for p in tuning]) == THRESHOLD

    def says_supported(pair: Any) -> bool:
        return scores[pair].supported

    measured = agreement(held_out, says_supported)
    numbers_only = agreement(held_out, lambda p: not scores[p].missing_numbers)
    assert measured.accuracy >= 0.70
    assert measured.accuracy > numbers_only.accuracy
    assert measured.precision >= 0.65 and measured.recall >= 0.80


class ScriptedLLM(CustomLLM):
    """Replies with the next scripted text; an exception instance is raised instead. Records prompts."""

    replies: list[Any] = []
    prompts: list[str] = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return CompletionResponse(text=str(reply))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise NotImplementedError


def test_the_judge_fills_its_template_and_reads_its_verdict() -> None:
    llm = ScriptedLLM(replies=["SUPPORTED", "Unsupported: the number differs.", "Maybe?", RuntimeError("boom")],
                      prompts=[])
    judge = SupportJudge(llm, Settings(llm_base_url="http://127.0.0.1:1/v1", llm_model="scripted"))
    assert judge.judge("PRIME improves by 15.1%.", [PRIME]) is True
    assert "PRIME improves by 15.1%." in llm.prompts[0] and PRIME in llm.prompts[0]
    assert "{" not in llm.prompts[0]  # every placeholder filled
    assert judge.judge("PRIME improves by 51.1%.", [PRIME]) is False
    assert judge.judge("Anything.", [PRIME]) is None
    with pytest.raises(LLMError, match="127.0.0.1:1.*RuntimeError: boom"):
        judge.judge("Anything.", [PRIME])
    assert verdict("not supported") is False and verdict("") is None


# -- scoring an answer, aggregating, comparing ---------------------------------------------------
def _answer(text: str, cited: list[str], retrieved: list[str], abstained: bool = False) -> Answer:
    citations = [Citation(id=pid, title=pid, published=None, score=1.0, evidence="", abstract=PRIME, marker=n)
                 for n, pid in enumerate(cited, start=1)]
    hits = [Hit(id=pid, title=pid, published=None, score=1.0, text="") for pid in retrieved]
    return Answer(text=text, citations=citations, mode="extractive", abstained=abstained, retrieved=hits)


def test_an_answer_is_scored_and_its_problems_named(scorer: SupportScorer) -> None:
    q = Question("q1", "fact", "How much does PRIME improve?", ("prime",), ("15.1%",), {})
    answer = _answer("PRIME improves reasoning benchmarks [1]. PRIME improves them by 51.1% [2].",
                     ["other", "ghost"], ["other", "prime"])
    ranked = [Hit(id=pid, title=pid, published=None, score=1.0, text="") for pid in ("other", "prime")]
    row = score_answer(q, answer, ranked, Grounding(scorer).check(answer), judged=False)
    m = row["metrics"]
    assert (m["hit@1"], m["mrr"], m["citation_precision"], m["citation_recall"]) == (0.0, 0.5, 0.0, 0.0)
    assert m["invalid_citations"] == 1 and m["grounded_sentence_rate"] == 0.5 and m["expected_hit_rate"] == 0.0
    problems = "\n".join(row["problems"])
    for expected in ("missed gold prime", "cited non-gold other", "cited ghost, which was not retrieved",
                     "expected '15.1%' not in answer", "sentence 2 unsupported (number 51.1"):
        assert expected in problems

    unanswerable = Question("q2", "unanswerable", "Which papers study yeast?", (), (), {})
    row2 = score_answer(unanswerable, answer, None, [], judged=False)
    assert "should have abstained (cited 2 papers)" in row2["problems"]
    metrics = aggregate([row, row2])
    assert metrics["correct_abstention_rate"] == 0.0 and metrics["false_abstention_rate"] == 0.0
    assert metrics["invalid_citations"] == 2 and metrics["citation_precision"] == 0.0
    assert "judge_grounded_sentence_rate" not in metrics


def test_comparison_fails_only_beyond_tolerance_and_never_on_latency() -> None:
    base = {"metrics": {"hit@1": 0.9, "recall@20": 0.9, "false_abstention_rate": 0.1, "latency_p50_s": 0.01,
                        "invalid_citations": 0}}
    now = {"hit@1": 0.895, "recall@20": 0.85, "false_abstention_rate": 0.2, "latency_p50_s": 5.0,
           "invalid_citations": 0, "expected_hit_rate": None}
    failed = {c["metric"] for c in compare(now, base) if not c["ok"]}
    assert failed == {"recall@20", "false_abstention_rate"}
    assert {c["metric"] for c in compare({"invalid_citations": 1}, None) if not c["ok"]} == {"invalid_citations"}


def test_the_question_set_is_well_formed() -> None:
    dev, test = load_questions("dev"), load_questions("test")
    everything = dev + test
    assert len(everything) == len(load_questions("all")) and len({q.id for q in everything}) == len(everything)
    originals = {q.id: q for q in everything if q.style == "original"}
    assert len(load_questions("all", phrasings=False)) == len(originals) >= 105  # 65 first, 40+ added since
    assert {q.kind for q in everything} == {"list", "lookup", "fact", "paraphrase", "unanswerable", "metadata", "count"}
    assert all(bool(q.gold) == q.answerable for q in everything)
    assert all(q.expected for q in everything if q.kind in ("fact", "count"))
    assert all(q.filters == {} for q in originals.values() if q.id not in FIRST_METADATA)
    rewordings = [q for q in everything if q.style != "original"]
    assert {q.style for q in rewordings} == {"terse", "descriptive", "conversational"}
    for q in rewordings:  # a rewording asks the same question of the same split, with the same answer
        base = originals[q.base]
        assert (q.kind, q.gold, q.expected) == (base.kind, base.gold, base.expected)
        assert (q in dev) == (base in dev) and q.filters == {}
    reworded_dev = {q.base for q in rewordings if q in dev}
    assert len(reworded_dev) >= 30
    assert all(sum(q.base == b for q in rewordings) == 3 for b in reworded_dev)


FIRST_METADATA = {"q-meta-two-authors", "q-meta-most-authors", "q-meta-before-2022", "q-meta-at-least-seven-authors",
                  "q-meta-published-2025", "q-meta-2023-few-authors", "q-meta-oldest", "q-meta-most-recent",
                  "q-meta-2025-diffusion"}


# -- end to end on the real bundled index ---------------------------------------------------------
def _eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(["eval", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_cli_scores_the_dev_split_and_fails_on_a_better_baseline(
        bundled_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERSCOPE_HOME", str(bundled_settings.home))
    baseline = tmp_path / "baseline.json"
    code, out, _ = _eval(capsys, "--split", "dev", "--json", "--update-baseline", "--baseline", str(baseline))
    result = json.loads(out)
    assert code == 0 and result["passed"] is True
    assert json.loads(baseline.read_text()) == result
    assert (result["questions"], result["split"], result["pipeline"], result["mode"]) == (
        len(load_questions("dev")), "dev", "paperscope", "extractive")
    assert [r["id"] for r in result["per_question"]] == [q.id for q in load_questions("dev")]
    metrics = result["metrics"]
    assert metrics["invalid_citations"] == 0
    rates = {k: v for k, v in metrics.items() if k != "invalid_citations" and not k.startswith("latency")}
    assert set(rates) >= {"hit@1", "recall@5", "recall@20", "mrr", "ndcg@10", "citation_precision", "citation_recall",
                          "grounded_sentence_rate", "correct_abstention_rate", "false_abstention_rate",
                          "expected_hit_rate", "list_recall", "list_precision", "metadata_recall",
                          "fact_complete_rate", "lead_hit_rate", "phrasing_spread"}
    assert all(v is not None and 0.0 <= v <= 1.0 for v in rates.values())
    assert set(result["by_style"]) == {"original", "terse", "descriptive", "conversational"}
    recalls = [m["citation_recall"] for m in result["by_style"].values()]
    assert metrics["phrasing_spread"] == pytest.approx(max(recalls) - min(recalls), abs=2e-4)
    assert all(row["problems"] == [] or isinstance(row["problems"][0], str) for row in result["per_question"])

    better = dict(result, metrics=dict(metrics, citation_recall=round(metrics["citation_recall"] + 0.1, 4)))
    baseline.write_text(json.dumps(better))
    code, out, _ = _eval(capsys, "--split", "dev", "--baseline", str(baseline))
    assert code == 1
    assert "| citation_recall |" in out and "**FAIL**" in out
    assert "**FAILED**: citation_recall is lower than the baseline" in out


def test_eval_refuses_a_baseline_of_another_split_before_running(
        settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    baseline = tmp_path / "test-baseline.json"
    baseline.write_text(json.dumps({"split": "test", "pipeline": "paperscope", "mode": "extractive", "metrics": {}}))
    code, out, err = _eval(capsys, "--split", "dev", "--baseline", str(baseline))
    assert code == 2 and out == ""
    assert "split=test" in err and "split=dev" in err and "only like with like" in err
    assert not (settings.home / "chroma").exists()  # refused before opening (or ingesting) anything


def test_naive_pipeline_reads_the_chroma_chunks_back_through_llamaindex(bundled_settings: Settings) -> None:
    naive = NaivePipeline(bundled_settings)
    answer = naive.ask("Which paper feeds a language agent the diff between consecutive observations in NetHack?")
    assert not answer.abstained and 1 <= len(answer.citations) <= 5
    assert {c.id for c in answer.citations} <= {h.id for h in answer.retrieved}
    assert answer.citations[0].id == "diff-history-for-neural-language-agents"
    for c in answer.citations:
        assert f"[{c.marker}]" in answer.text and c.evidence and c.evidence in c.abstract
    hits = naive.search("diffusion models", k=20)
    assert len(hits) == len({h.id for h in hits}) == 20
    dated = naive.search("reasoning", k=5, since="2025")
    assert dated and all(h.published and h.published >= "2025" for h in dated)
