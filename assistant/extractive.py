"""Offline answers: no LLM, only sentences quoted from the retrieved abstracts, each cited.

A "which papers…" question lists every candidate that clears the relevance bar; any other
question leads with the one sentence that best answers it. When nothing clears the bar the
answer abstains and says what the collection holds."""

from __future__ import annotations

from assistant.answers import CollectionSummary, RelevanceBar, abstention, cite
from assistant.evidence import TermWeights
from assistant.intent import Intent
from assistant.types import Answer, Citation, Hit

MAX_SUPPORTING = 2  # papers cited after the lead sentence of a non-list answer


def _line(c: Citation) -> str:
    date = f" ({c.published})" if c.published else ""
    return f"- **{c.title}**{date} [{c.marker}]: “{c.evidence}”"


def answer(intent: Intent, hits: list[Hit], summary: CollectionSummary, weights: TermWeights,
           bar: RelevanceBar) -> Answer:
    threshold = bar.list_threshold if intent.is_list else bar.threshold
    # the bar decides which papers are relevant; retrieval's fused ranking, the better judge of
    # order, decides which of them leads
    scored = [(bar.score(h, intent.subject, weights), h) for h in hits]
    relevant = [(s, h) for s, h in scored if s >= threshold]
    if not relevant:
        return Answer(text=abstention(summary), citations=[], mode="extractive", abstained=True, retrieved=hits)
    if intent.is_list:
        citations = [cite(h, intent.subject, weights, i, s) for i, (s, h) in enumerate(relevant, start=1)]
        noun = "paper" if len(citations) == 1 else "papers"
        text = f"{len(citations)} {noun} in the collection match:\n" + "\n".join(_line(c) for c in citations)
    else:
        citations = [cite(h, intent.subject, weights, i, s)
                     for i, (s, h) in enumerate(relevant[: 1 + MAX_SUPPORTING], start=1)]
        lead, rest = citations[0], citations[1:]
        text = f"{lead.evidence} [{lead.marker}] (from **{lead.title}**)"
        if rest:
            text += "\n\nAlso relevant:\n" + "\n".join(_line(c) for c in rest)
    return Answer(text=text, citations=citations, mode="extractive", retrieved=hits)


def metadata_answer(intent: Intent, records: list[dict], summary: CollectionSummary,
                    weights: TermWeights, limit: int = 50) -> Answer:
    """Exact answers from metadata: every paper matching the filters, or those at the extreme of
    a superlative ("the most authors"), with ties."""
    matching = [r for r in records if intent.filters.matches(r)]
    what = "matches"
    if intent.superlative:
        key, highest = intent.superlative
        known = [r for r in matching if r.get(key) is not None]
        if known:
            extreme = (max if highest else min)(r[key] for r in known)
            matching = [r for r in known if r[key] == extreme]
            what = f"has the {'highest' if highest else 'lowest'} {key.replace('_ord', '')} ({_show(key, matching[0])})"
        else:
            matching = []
    if not matching:
        return Answer(text=abstention(summary, "no paper's metadata matches"), citations=[], mode="extractive",
                      abstained=True)
    matching.sort(key=lambda r: (r.get("published_ord") or 0, r["title"]))
    hits = [Hit(id=r["paper_id"], title=r["title"], published=r.get("published"), score=1.0,
                text=r.get("abstract", ""), abstract=r.get("abstract", ""), authors=r.get("authors"))
            for r in matching[:limit]]
    citations = [cite(h, intent.query, weights, i) for i, h in enumerate(hits, start=1)]
    for c, r in zip(citations, matching, strict=False):
        c.authors = r.get("authors")
    count = len(matching)
    head = f"{count} paper{'s' if count != 1 else ''} in the collection {what if intent.superlative else 'match'}"
    shown = "" if count <= limit else f" (the first {limit} by date are listed)"
    lines = [f"- **{c.title}** ({_meta(c)}) [{c.marker}]" for c in citations]
    return Answer(text=f"{head}{shown}:\n" + "\n".join(lines), citations=citations, mode="extractive", retrieved=hits)


def _show(key: str, record: dict) -> str:
    return str(record.get("published") if key == "published_ord" else record.get(key))


def _meta(c: Citation) -> str:
    parts = [c.published or "date unknown"]
    if c.authors is not None:
        parts.append(f"{c.authors} author{'s' if c.authors != 1 else ''}")
    return ", ".join(parts)
