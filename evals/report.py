"""The Markdown report of an eval run: the overall table against the baseline, then one row per
question with what went wrong. It formats a finished run (`evals.harness.run`); it scores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.metrics import RULES, breaks_limit

_SHOWN = ("hit@1", "recall@20", "citation_precision", "citation_recall", "grounded_sentence_rate")
_SHORT = {"hit@1": "hit@1", "recall@20": "R@20", "citation_precision": "cite P", "citation_recall": "cite R",
          "grounded_sentence_rate": "grounded"}


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not signed:
        return str(value)
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def overall_table(result: dict[str, Any]) -> list[str]:
    lines = ["| metric | value | baseline | delta | ok |", "| --- | ---: | ---: | ---: | --- |"]
    for check in result["checks"]:
        rule = RULES[check["metric"]]
        if not check["ok"]:
            ok = "**FAIL**"
        elif check["value"] is None or rule.tolerance is None or check["baseline"] is None:
            ok = "not compared" if rule.tolerance is None else "—"
        else:
            ok = "ok"
        lines.append(f"| {check['metric']} | {_num(check['value'])} | {_num(check['baseline'])} | "
                     f"{_num(check['delta'], signed=True)} | {ok} |")
    return lines


def question_table(rows: list[dict[str, Any]]) -> list[str]:
    head = " | ".join(_SHORT[m] for m in _SHOWN)
    lines = [f"| question | kind | {head} | s | problems |", "| --- | --- |" + " ---: |" * (len(_SHOWN) + 1) + " --- |"]
    for row in rows:
        scores = " | ".join(_num(row["metrics"].get(m)) for m in _SHOWN)
        problems = _cell("; ".join(row["problems"])) or "ok"
        lines.append(f"| {row['id']} | {row['kind']} | {scores} | {row['seconds']:.2f} | {problems} |")
    return lines


def style_table(result: dict[str, Any]) -> list[str]:
    """Each wording style's scores on the same questions, when the run has more than one style."""
    styles = result.get("by_style") or {}
    if not styles:
        return []
    names = ("citation_recall", "citation_precision", "expected_hit_rate", "fact_complete", "lead_hit")
    lines = ["## By wording", "", "| style | questions | " + " | ".join(names) + " | false abstentions |",
             "| --- |" + " ---: |" * (len(names) + 2)]
    for style, m in styles.items():
        lines.append(f"| {style} | {m['questions']} | " + " | ".join(_num(m[n]) for n in names)
                     + f" | {m['false_abstentions']} |")
    return [*lines, ""]


def abstentions(rows: list[dict[str, Any]]) -> str:
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    right = sum(r["abstained"] for r in unanswerable)
    wrong = sum(r["abstained"] for r in answerable)
    return (f"Abstentions: {right} of {len(unanswerable)} unanswerable questions abstained (correct); "
            f"{wrong} of {len(answerable)} answerable questions abstained (false).")


def verdict(result: dict[str, Any]) -> str:
    failed = [c for c in result["checks"] if not c["ok"]]
    if not failed:
        return "**PASSED**: no metric is worse than the baseline beyond its tolerance."
    reasons = []
    for c in failed:
        rule = RULES[c["metric"]]
        if breaks_limit(c["metric"], c["value"]):
            reasons.append(f"{c['metric']} is {c['value']:g} (must be {rule.limit:g})")
        else:
            way = "lower" if rule.higher_is_better else "higher"
            reasons.append(f"{c['metric']} is {way} than the baseline ({_num(c['value'])} vs {_num(c['baseline'])}, "
                           f"tolerance {rule.tolerance:g})")
    return "**FAILED**: " + "; ".join(reasons) + "."


def markdown(result: dict[str, Any], written: Path | None = None, missing: Path | None = None) -> str:
    """The whole report. `written`: where this run was saved as the new baseline; `missing`: the
    default baseline that does not exist yet (so nothing was compared)."""
    model = f" ({result['model']})" if result.get("model") else ""
    title = (f"# Eval: split {result['split']}, pipeline {result['pipeline']}, mode {result['mode']}{model}")
    if written is not None:
        against = f"Saved as the new baseline: `{written}` (not compared)."
    elif missing is not None:
        against = (f"No baseline yet (`{missing}`), so nothing was compared; write one with "
                   f"`paperscope eval --split {result['split']} --pipeline {result['pipeline']} --update-baseline`.")
    elif result["baseline"] is not None:
        against = f"Baseline: `{result['baseline']}`."
    else:
        against = "Not compared with a baseline."
    parts = [title, "", f"{result['questions']} questions, {result['date']}, {result['machine']}. {against}", "",
             *overall_table(result), "", abstentions(result["per_question"]), "", *style_table(result), "## Per question", "",
             *question_table(result["per_question"]), "", verdict(result)]
    return "\n".join(parts)
