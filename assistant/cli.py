"""The `paperscope` command: answers about research-paper abstracts.

Argument parsing and printing only; every command calls the public
API (`Assistant`, `ingest`, the eval and bench runners). Errors become one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from assistant.errors import PaperScopeError
from assistant.settings import Settings

READ_PROGRESS_BYTES = 32_000_000  # files this big draw a reading bar
SKIPPED_SHOWN = 20  # skipped entries listed on stderr (all of them with --json)


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"since": getattr(args, "since", None), "until": getattr(args, "until", None)}


def _assistant(settings: Settings) -> Any:
    from assistant.progress import open_assistant

    return open_assistant(settings)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.progress import bar
    from ingest.pipeline import ingest

    update, close = bar("Embedding")
    read_update, read_close = bar("Reading", unit="megabyte")

    def reading(done: int, total: int) -> None:  # a bar only for files big enough to take a while
        if total >= READ_PROGRESS_BYTES:
            read_update(done // 1_000_000, total // 1_000_000)

    categories = frozenset(c.strip() for c in ",".join(args.category or []).split(",") if c.strip())
    try:
        report = ingest([Path(p) for p in args.paths] or None, settings, prune=args.prune, progress=update,
                        categories=categories, reading=reading)
    finally:
        read_close()
        close()
    if args.json:
        _print_json(report.to_json())
    else:
        _print_ingest(report)
    return 1 if report.failed else 0


def _print_ingest(report: Any) -> None:
    print(f"{report.papers} papers: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
          f"{report.removed} removed; {report.chunks} chunks embedded in {report.seconds:.1f} s"
          + (f"; {len(report.skipped)} entries skipped" if report.skipped else ""))
    for failure in report.failed:
        print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    for skip in report.skipped[:SKIPPED_SHOWN]:
        print(f"skipped: {skip['path']}: {skip['entry']}: {skip['reason']}", file=sys.stderr)
    if len(report.skipped) > SKIPPED_SHOWN:
        print(f"… and {len(report.skipped) - SKIPPED_SHOWN} more skipped entries (--json lists them all)",
              file=sys.stderr)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.progress import bar
    from ingest.fetch import fetch_arxiv, fetch_daily_papers

    update, close = bar("Embedding")
    page_update, page_close = bar("Downloading", unit="page")

    def note(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        if args.source == "arxiv":
            print(f"Fetching arXiv {args.category} papers submitted since {args.since}"
                  + (f" until {args.until}" if args.until else "") + f" ({settings.fetch_delay:g} s between requests)",
                  file=sys.stderr, flush=True)
            report = fetch_arxiv(settings, args.category, args.since, args.until, max_papers=args.max,
                                 progress=update, pages=page_update, note=note)
        else:
            print(f"Fetching Hugging Face Daily Papers of {args.date}", file=sys.stderr, flush=True)
            report = fetch_daily_papers(settings, args.date, progress=update, pages=page_update, note=note)
    finally:
        page_close()
        close()
    if args.json:
        _print_json(report.to_json())
        return 1 if report.ingest.failed else 0
    print(f"{report.query}: {report.pages} page{'s' if report.pages != 1 else ''} ({report.downloaded} downloaded, "
          f"{report.reused} saved by an earlier run), {report.kept} paper{'s' if report.kept != 1 else ''} to ingest",
          file=sys.stderr)
    if report.kept:
        _print_ingest(report.ingest)
    else:
        print("0 papers: nothing new to ingest")
    return 1 if report.ingest.failed else 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    hits = _assistant(settings).search(args.query, k=args.k, **_filters(args))
    if args.json:
        _print_json({"hits": [h.to_json() for h in hits]})
        return 0
    for rank, hit in enumerate(hits, start=1):
        date = f" ({hit.published})" if hit.published else ""
        print(f"{rank:>2}. {hit.title}{date}  [{hit.id}]  score {hit.score:.4f}")
    return 0


def _print_answer(answer: Any) -> None:
    for sentence in answer.unsupported:
        print(f"⚠ not supported by its sources ({sentence.why}): “{sentence.text}”")
    for citation in answer.citations:
        date = f", {citation.published}" if citation.published else ""
        print(f"[{citation.marker}] {citation.title}{date}\n    “{citation.evidence}”")
    usage = answer.usage
    tokens = f", {usage.prompt_tokens}+{usage.completion_tokens} tokens" if answer.mode == "llm" else ""
    cost = f", ${usage.cost_usd:.5f}" if usage.cost_usd is not None else ""
    model = f" ({usage.model})" if usage.model else ""
    print(f"— {answer.mode}{model}, {answer.seconds:.2f} s{tokens}{cost}", file=sys.stderr)


def _stream(answers: Iterator[Any]) -> Any:
    """Print an answer as it grows; returns the final one. Text that does not extend what is
    already shown (an LLM failure replaced by the offline answer) is printed afresh."""
    shown = ""
    answer = None
    for answer in answers:
        if answer.text.startswith(shown):
            sys.stdout.write(answer.text[len(shown):])
        else:
            sys.stdout.write("\n\n" + answer.text)
        sys.stdout.flush()
        shown = answer.text
    print("\n")
    if answer is not None:
        if answer.error:
            print(f"error: {answer.error}", file=sys.stderr)
        _print_answer(answer)
    return answer


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _assistant(settings)
    if args.json:
        _print_json(assistant.ask(args.question, k=args.k, **_filters(args)).to_json())
        return 0
    _stream(assistant.stream(args.question, k=args.k, **_filters(args)))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _assistant(settings)
    summary = assistant.summary()
    mode = f"LLM mode, {assistant.model}" if assistant.model else "offline extractive mode"
    print(f"PaperScope over {summary.describe()} ({mode}). Empty line or Ctrl-D quits.")
    history: list[Any] = []
    while True:
        try:
            message = input("\nyou> ").strip()
        except EOFError:
            break
        if not message:
            break
        sys.stdout.write("\n")
        try:
            answer = _stream(assistant.stream_chat(message, history, **_filters(args)))
        except PaperScopeError as exc:
            print(f"\nerror: {exc}", file=sys.stderr)
            continue
        if answer is not None:
            history.append((message, answer))
    return 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ui import main as ui_main

    return ui_main(args, settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.harness import main as eval_main

    return eval_main(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from evals.bench import main as bench_main

    return bench_main(args, settings)


def cmd_llm(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.local_llm import main as llm_main

    return llm_main(args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperscope", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (model calls, rebuilds)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index papers (no path: the bundled collection)")
    p.add_argument("paths", nargs="*", help="listing .txt, .jsonl, .csv, .bib, .ris, Zotero CSV, arXiv / OpenAlex / "
                   "Daily Papers JSON files, or folders (BEIR: the dataset folder)")
    p.add_argument("--prune", action="store_true", help="remove papers that are no longer in the sources")
    p.add_argument("--category", action="append", metavar="CAT",
                   help="only arXiv papers in this category (cs.LG) or archive (cs); repeat or comma-separate")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("fetch", help="download new papers from arXiv or Hugging Face Daily Papers, and ingest them")
    fetch = p.add_subparsers(dest="source", required=True)
    f = fetch.add_parser("arxiv", help="papers submitted to an arXiv category in a date window (arXiv's API)")
    f.add_argument("--category", required=True, help="arXiv category, such as cs.LG, stat.ML or hep-th")
    f.add_argument("--since", required=True, type=_day, help="first submission date, YYYY-MM-DD")
    f.add_argument("--until", type=_day, help="last submission date, YYYY-MM-DD (default: today)")
    f.add_argument("--max", type=int, help="at most this many papers, the oldest first")
    f.add_argument("--json", action="store_true", help="print one JSON summary")
    f = fetch.add_parser("daily-papers", help="one date's Hugging Face Daily Papers, with their upvotes")
    f.add_argument("--date", required=True, type=_day, help="the listing's date, YYYY-MM-DD")
    f.add_argument("--json", action="store_true", help="print one JSON summary")
    p.set_defaults(run=cmd_fetch)

    for name, helptext, arg in (("search", "find papers", "query"), ("ask", "answer a question", "question")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(arg)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--since", help="only papers published on or after this date (YYYY[-MM[-DD]])")
        p.add_argument("--until", help="only papers published on or before this date (YYYY[-MM[-DD]])")
        if name == "search":
            p.add_argument("--k", type=int, default=10, help="how many papers (default 10)")
        else:
            p.add_argument("--k", type=int, help="how many retrieved papers the answer may draw on "
                           "(default 10, or 40 for a 'which papers…' question)")
        p.set_defaults(run=cmd_search if name == "search" else cmd_ask)

    p = sub.add_parser("chat", help="chat in the terminal; follow-up questions use the conversation")
    p.add_argument("--since")
    p.add_argument("--until")
    p.set_defaults(run=cmd_chat)

    p = sub.add_parser("ui", help="open the chat in a browser (Gradio)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.set_defaults(run=cmd_ui)

    p = sub.add_parser("eval", help="score the fixed question set; fail when a metric is worse than the baseline")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all", help="which questions (default all)")
    p.add_argument("--baseline", help="baseline JSON to compare with (default: the committed evals/baseline.json)")
    p.add_argument("--update-baseline", action="store_true", help="write this run as the new baseline")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the Markdown report")
    p.add_argument("--pipeline", choices=("paperscope", "naive"), default="paperscope",
                   help="what answers: PaperScope, or a naive top-5 vector search for comparison")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("bench", help="benchmarks: ingest throughput, BEIR retrieval, query latency")
    bench = p.add_subparsers(dest="bench", required=True)
    b = bench.add_parser("ingest", help="whole-ingest vs raw-embedder throughput; unchanged re-ingest time")
    b.add_argument("path", nargs="?", help="source to ingest (default: the bundled collection)")
    b.add_argument("--json", action="store_true")
    b = bench.add_parser("beir", help="nDCG@10 and recall@100 on a BEIR dataset (ingested into its own collection)")
    b.add_argument("dir", help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    b.add_argument("--split", default="test", help="qrels split to score (default test)")
    b.add_argument("--json", action="store_true")
    b = bench.add_parser("query", help="search and answer latency p50/p95 on the bundled collection; cold start")
    b.add_argument("--json", action="store_true")
    b = bench.add_parser("scale", help="a synthetic collection of N papers, hashed embedder: size, ingest, add, "
                         "re-ingest, cold start, search latency, peak memory")
    b.add_argument("--papers", type=int, default=10_000, help="papers in the synthetic collection (default 10000)")
    b.add_argument("--scifact", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"),
                   help="the SciFact BEIR folder whose sentences and queries are recombined")
    b.add_argument("--dir", help="where to build it (default: a temporary folder; removed afterwards)")
    b.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("llm", help="a local LLM with no key: assemble a packaged model and serve it with llama.cpp")
    llm = p.add_subparsers(dest="llm", required=True)
    for name, helptext in (("serve", "run llama.cpp's OpenAI-compatible server on a local model (foreground)"),
                           ("assemble", "join a packaged model's parts into the data folder once; print its path")):
        b = llm.add_parser(name, help=helptext)
        b.add_argument("--model", default="1.5b", help="1.5b (Qwen2.5-Coder-1.5B-Instruct, the default), 0.5b "
                       "(faster, weaker) or the path of a GGUF file")
        if name == "serve":
            b.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
            b.add_argument("--port", type=int, default=8080, help="port (default 8080)")
            b.add_argument("--threads", type=int, help="generation threads (default: llama.cpp's, half the cores)")
            b.add_argument("--python", help="the Python that has llama-cpp-python's server (default: this one)")
    p.set_defaults(run=cmd_llm)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)  # its parse warnings are reported as skipped entries
    try:
        settings = Settings()
        return int(args.run(args, settings))
    except PaperScopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
