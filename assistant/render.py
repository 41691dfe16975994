"""HTML for the chat page: answers, citation cards and search results, built from escaped text.

Abstracts, titles, questions and answers are untrusted: every piece goes through `html.escape`
before any markup is added, so an abstract holding `<script>` shows as text. Plain functions,
no Gradio: the page (`assistant.ui`) places what these return."""

from __future__ import annotations

import html
import re

from assistant.types import Answer, Citation, Hit

FALLBACK_PAPERS = 5  # retrieved papers listed when a failed answer cites none
CONTEXT_CHARS = 220  # abstract text a card shows on each side of the evidence sentence
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MARKER = re.compile(r"\[(\d+)\]")



def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _inline(escaped: str, anchors: dict[int, str]) -> str:
    """**bold** and [n] markers (linked to their card when the answer cites n) in escaped text."""
    text = _BOLD.sub(r"<strong>\1</strong>", escaped)

    def link(match: re.Match[str]) -> str:
        anchor = anchors.get(int(match.group(1)))
        return f'<a class="ps-ref" href="#{anchor}">{match.group(0)}</a>' if anchor else match.group(0)

    return _MARKER.sub(link, text)


def render_text(text: str, anchors: dict[int, str]) -> str:
    """Answer text as HTML: the light Markdown answers use ("- " or "* " bullets, blank-line paragraphs,
    **bold**, [n] markers), rendered from escaped text so nothing in it becomes markup."""
    parts: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            parts.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()
        if items:
            parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        bullet = stripped.startswith(("- ", "* "))
        if not stripped or (bullet and paragraph) or (not bullet and items):
            flush()
        if stripped:
            (items if bullet else paragraph).append(_inline(escape(stripped[2:] if bullet else stripped), anchors))
    flush()
    return "".join(parts)


def _meta(published: str | None, authors: int | None) -> str:
    parts = [published] if published else []
    if authors is not None:
        parts.append(f"{authors} author{'' if authors == 1 else 's'}")
    return " · ".join(parts)


def _meta_line(paper_id: str, meta: str) -> str:
    """Date and author count when known, then the paper's id (what the CLI and API call it)."""
    known = f"{escape(meta)} · " if meta else ""
    return f'<div class="ps-meta">{known}<code class="ps-id">{escape(paper_id)}</code></div>'


def _around(text: str, *, before: bool) -> str:
    """At most CONTEXT_CHARS of `text` beside the evidence, cut at a space, with an ellipsis."""
    if len(text) <= CONTEXT_CHARS:
        return text
    if before:
        start = len(text) - CONTEXT_CHARS
        space = text.find(" ", start)
        return "…" + text[(space + 1 if space >= 0 else start):]
    space = text.rfind(" ", 0, CONTEXT_CHARS)
    return text[:(space if space > 0 else CONTEXT_CHARS)] + "…"


def _highlighted(abstract: str, evidence: str) -> str:
    """The evidence sentence in a <mark> amid the abstract text around it, and the whole abstract
    (marked too) behind a disclosure when the excerpt leaves some out. A sentence that is not a
    verbatim part of the abstract is shown on its own above the abstract."""
    at = abstract.find(evidence) if evidence else -1
    if at < 0:
        quote = f'<p class="ps-abstract ps-excerpt"><mark>{escape(evidence)}</mark></p>' if evidence else ""
        return quote + f'<details><summary>Abstract</summary><p class="ps-abstract">{escape(abstract)}</p></details>'
    before, after = abstract[:at], abstract[at + len(evidence):]
    mark = f"<mark>{escape(evidence)}</mark>"
    shown = f"{escape(_around(before, before=True))}{mark}{escape(_around(after, before=False))}"
    excerpt = f'<p class="ps-abstract ps-excerpt">{shown}</p>'
    if len(before) <= CONTEXT_CHARS and len(after) <= CONTEXT_CHARS:
        return excerpt
    whole = f"{escape(before)}{mark}{escape(after)}"
    return excerpt + f'<details><summary>Full abstract</summary><p class="ps-abstract">{whole}</p></details>'


def render_citation(citation: Citation, anchor: str) -> str:
    """A cited paper's card: marker, title, date and author count when known, highlighted abstract."""
    meta = _meta(citation.published, citation.authors)
    return (
        f'<article class="ps-card" id="{anchor}"><header><span class="ps-marker">[{citation.marker}]</span>'
        f'<span class="ps-title">{escape(citation.title)}</span></header>{_meta_line(citation.id, meta)}'
        + _highlighted(citation.abstract, citation.evidence) + "</article>"
    )


def render_hit(hit: Hit) -> str:
    """A retrieved paper's card: title, date and author count when known, the opening of its
    abstract, and the whole abstract behind a disclosure when it is longer."""
    abstract = hit.abstract or hit.text
    opening = f'<p class="ps-abstract ps-excerpt">{escape(_around(abstract, before=False))}</p>'
    full = (f'<details><summary>Full abstract</summary><p class="ps-abstract">{escape(abstract)}</p></details>'
            if len(abstract) > CONTEXT_CHARS else "")
    return (f'<article class="ps-card"><header><span class="ps-title">{escape(hit.title)}</span></header>'
            f"{_meta_line(hit.id, _meta(hit.published, hit.authors))}{opening}{full}</article>")


def usage_line(answer: Answer, llm_model: str) -> str:
    """How the answer was made, how long it took and the tokens (and cost) it used."""
    usage = answer.usage
    if answer.mode == "llm":
        who = f"LLM {usage.model or llm_model}"
    else:
        who = "offline extractive (fallback)" if answer.error else "offline extractive"
    timing = f"{answer.seconds:.2f} s (retrieval {usage.retrieval_seconds:.2f} s"
    timing += f", generation {usage.generation_seconds:.2f} s)" if usage.generation_seconds else ")"
    if usage.prompt_tokens or usage.completion_tokens or answer.mode == "llm":
        approx = "≈" if usage.tokens_counted_locally else ""
        tokens = f"{approx}{usage.prompt_tokens} prompt + {approx}{usage.completion_tokens} completion tokens"
    else:
        tokens = "no LLM tokens"
    parts = [who, timing, tokens] + ([f"${usage.cost_usd:.5f}"] if usage.cost_usd is not None else [])
    return " · ".join(parts)


def render_answer(answer: Answer, turn: int, *, final: bool, llm_model: str) -> str:
    """An answer bubble: the error sentence first when there is one, the text with linked [n]
    markers, the cited papers as cards, and (once complete) the usage line."""
    anchors = {c.marker: f"ps-{turn}-{c.marker}" for c in answer.citations}
    parts = [f'<div class="ps-answer {"ps-final" if final else "ps-streaming"}">']
    if answer.error:
        parts.append(f'<div class="ps-error" role="alert">{escape(answer.error)}</div>')
    parts.append(f'<div class="ps-text">{render_text(answer.text, anchors)}</div>')
    if final and answer.unsupported:
        items = "".join(f"<li>“{escape(s.text)}” <span class=\"ps-why\">({escape(s.why or 'not supported')})</span></li>"
                        for s in answer.unsupported)
        parts.append(f'<div class="ps-unsupported" role="note"><strong>Not supported by the cited abstracts:</strong>'
                     f"<ul>{items}</ul></div>")
    if answer.citations:
        cards = "".join(render_citation(c, anchors[c.marker]) for c in answer.citations)
        parts.append(f'<section class="ps-cards"><h4>Cited papers</h4>{cards}</section>')
    elif answer.error and answer.retrieved:
        cards = "".join(render_hit(h) for h in answer.retrieved[:FALLBACK_PAPERS])
        parts.append(f'<section class="ps-cards"><h4>Retrieved papers</h4>{cards}</section>')
    if final:
        parts.append(f'<div class="ps-usage">{escape(usage_line(answer, llm_model))}</div>')
    return "".join(parts) + "</div>"


def render_error(message: str) -> str:
    return f'<div class="ps-answer ps-final"><div class="ps-error" role="alert">{escape(message)}</div></div>'


def internal_error(exc: BaseException) -> str:
    return (f"An internal error ({type(exc).__name__}) stopped this answer; the details are in the server log. "
            "Try again, or rephrase the question.")
