"""Offline answers: no LLM, only sentences quoted from the retrieved abstracts, each cited.

The question's shape decides the form: a "which papers…" list or a count names every relevant
candidate; a superlative ("the most authors") names the relevant paper at the extreme; any other
question leads with the sentences of the best paper that answer all its parts. When nothing is
relevant the answer abstains and says what the collection (or the part its filters allow) holds."""

from __future__ import annotations

from assistant.answers import CollectionSummary, RelevanceBar, abstention, cite
from assistant.evidence import TermWeights, asks_for_number, question_parts
from assistant.intent import Intent, names, squash
from assistant.types import Answer, Citation, Hit

MAX_SUPPORTING = 2  # papers cited after the lead of a non-list answer
MAX_PASSAGES = 3  # sentences quoted from the lead paper, so that every part of a question is answered
_KEYS = {"authors": "authors", "upvotes": "upvotes", "published_ord": "publication date"}


def _line(c: Citation) -> str:
    date = f" ({c.published})" if c.published else ""
    more = "".join(f"\n  “{p}” [{c.marker}]" for p in c.passages[1:])  # each quote its own cited line
    return f"- **{c.title}**{date} [{c.marker}]: “{c.evidence}”{more}"


def _lead(intent: Intent, relevant: tuple[float, Hit], weights: TermWeights) -> Citation:
    """The citation of the best paper, quoting the sentences that answer every part of the question."""
    score, hit = relevant
    parts = question_parts(intent.question)
    return cite(hit, intent.subject, weights, 1, score, limit=MAX_PASSAGES, numeric=asks_for_number(intent.question),
                parts=parts if len(parts) > 1 else ())


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def answer(intent: Intent, hits: list[Hit], summary: CollectionSummary, weights: TermWeights,
           bar: RelevanceBar, records: dict[str, dict] | None = None) -> Answer:
    """The extractive answer from the retrieved `hits`. `records` (catalog rows by paper id) are
    needed for a superlative, which compares the relevant papers' metadata."""
    relevant = bar.relevant(hits, intent.subject, weights, intent.is_list or intent.superlative is not None)
    if not relevant:
        scope = intent.filters.describe()
        reason = (f"none of the papers {scope} is relevant enough to this question" if scope
                  else "no paper is relevant enough to this question")
        return Answer(text=abstention(summary, reason), citations=[], mode="extractive", abstained=True, retrieved=hits)
    if intent.superlative is not None and records is not None:
        return _superlative(intent, relevant, hits, summary, weights, records)
    if intent.is_list:
        citations = [cite(h, intent.subject, weights, i, s) for i, (s, h) in enumerate(relevant, start=1)]
        if intent.keywords:  # a search-box query may want a fact: the best match quotes what covers all of it
            citations[0] = _lead(intent, relevant[0], weights)
        head = f"{_plural(len(citations), 'paper')} in the collection"
        scope = intent.filters.describe()
        head += f" ({scope})" if scope else ""
        text = f"{head} {_agree(len(citations), 'match')}:\n" + "\n".join(_line(c) for c in citations)
        return Answer(text=text, citations=citations, mode="extractive", retrieved=hits)
    if asked := [squash(n) for n in names(intent.query)]:
        # the paper that mentions the names the question asks about leads ("how many … does OmegaPRM …")
        relevant.sort(key=lambda sh: -sum(n in squash(f"{sh[1].title} {sh[1].abstract}") for n in asked))
    lead, rest = _lead(intent, relevant[0], weights), relevant[1: 1 + MAX_SUPPORTING]
    supporting = [cite(h, intent.subject, weights, i, s) for i, (s, h) in enumerate(rest, start=2)]
    text = " ".join(f"{p} [1]" for p in lead.passages) + f" (from **{lead.title}**)"
    if supporting:
        text += "\n\nAlso relevant:\n" + "\n".join(_line(c) for c in supporting)
    return Answer(text=text, citations=[lead, *supporting], mode="extractive", retrieved=hits)


def _superlative(intent: Intent, relevant: list[tuple[float, Hit]], hits: list[Hit], summary: CollectionSummary,
                 weights: TermWeights, records: dict[str, dict]) -> Answer:
    """The relevant papers at the extreme of the asked-for field, ties included."""
    assert intent.superlative is not None
    key, highest = intent.superlative
    known = [(s, h) for s, h in relevant if records.get(h.id, {}).get(key) is not None]
    if not known:
        return Answer(text=abstention(summary, f"no relevant paper has its {_KEYS.get(key, key)} recorded"),
                      citations=[], mode="extractive", abstained=True, retrieved=hits)
    extreme = (max if highest else min)(records[h.id][key] for _, h in known)
    top = [(s, h) for s, h in known if records[h.id][key] == extreme]
    citations = [cite(h, intent.subject, weights, i, s) for i, (s, h) in enumerate(top, start=1)]
    field = _KEYS.get(key, key)
    if key == "published_ord":
        value = str(records[top[0][1].id].get("published"))
        extreme_is = f"the {'most recent' if highest else 'earliest'} publication date ({value})"
    else:
        extreme_is = f"the {'most' if highest else 'fewest'} {field} ({int(extreme)})"
    lines = [f"- **{c.title}** ({_meta(c, records[c.id])}) [{c.marker}]: “{c.evidence}”" for c in citations]
    text = (f"Of the {_plural(len(known), 'relevant paper')} whose {field} the collection records, "
            f"{'this one has' if len(citations) == 1 else 'these have'} {extreme_is}:\n" + "\n".join(lines))
    return Answer(text=text, citations=citations, mode="extractive", retrieved=hits)


def metadata_answer(intent: Intent, count: int, matching: list[dict], summary: CollectionSummary,
                    weights: TermWeights) -> Answer:
    """Exact answers from metadata: the `count` papers matching the filters, or those at the
    extreme of a superlative ("the most authors"), ties included; `matching` holds the first of
    them by date (`Catalog.select`), the ones listed."""
    what = "matches"
    if intent.superlative and matching:
        key, highest = intent.superlative
        field = _KEYS.get(key, key)
        extreme_is = (f"the {'most recent' if highest else 'earliest'} publication date" if key == "published_ord"
                      else f"the {'most' if highest else 'fewest'} {field}")
        what = f"{'has' if count == 1 else 'have'} {extreme_is} ({_show(key, matching[0])})"
    if not matching:
        scope = intent.filters.describe()
        reason = f"no paper's metadata matches ({scope})" if scope else "no paper's metadata matches"
        return Answer(text=abstention(summary, reason), citations=[], mode="extractive", abstained=True)
    hits = [Hit(id=r["paper_id"], title=r["title"], published=r.get("published"), score=1.0,
                text=r.get("abstract", ""), abstract=r.get("abstract", ""), authors=r.get("authors"))
            for r in matching]
    citations = [cite(h, intent.query, weights, i) for i, h in enumerate(hits, start=1)]
    for c, r in zip(citations, matching, strict=False):
        c.authors = r.get("authors")
    scope = intent.filters.describe()
    head = f"{_plural(count, 'paper')} in the collection " + (what if intent.superlative else _agree(count, "match"))
    head += f" ({scope})" if scope and not intent.superlative else ""
    shown = "" if count <= len(matching) else f" (the first {len(matching)} by date are listed)"
    lines = [f"- **{c.title}** ({_meta(c, matching[i - 1])}) [{c.marker}]" for i, c in enumerate(citations, start=1)]
    return Answer(text=f"{head}{shown}:\n" + "\n".join(lines), citations=citations, mode="extractive", retrieved=hits)


def _agree(count: int, verb: str) -> str:
    """The verb agreeing with `count` papers: "1 paper matches", "3 papers match"."""
    return verb + ("es" if verb.endswith(("ch", "sh", "s", "x")) else "s") if count == 1 else verb


def _show(key: str, record: dict) -> str:
    return str(record.get("published") if key == "published_ord" else record.get(key))


def _meta(c: Citation, record: dict) -> str:
    parts = [c.published or "date unknown"]
    if c.authors is not None:
        parts.append(_plural(c.authors, "author"))
    if record.get("organization"):
        parts.append(str(record["organization"]))
    if record.get("upvotes") is not None:
        parts.append(_plural(int(record["upvotes"]), "upvote"))
    return ", ".join(parts)
