"""Parser for Hugging Face "Daily Papers" listings saved as text.

Handles the variants the bundled listings use: title and abstract as blocks separated by blank
lines, or on consecutive lines with no blank lines at all (the first title glued to the page's
"Subscribe" button); metadata after an abstract (author count, organisation, date, upvotes);
page chrome, which is never a paper. It does not read JSONL, CSV or BEIR files (`sources` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.errors import SourceError
from ingest.latex import clean
from ingest.papers import Paper, paper_id

_CHROME = {
    "new",
    "subscribe",
    "daily papers",
    "by ak and the research community",
    "byak and the research community",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(rf"^({'|'.join(_MONTHS)}) (\d{{1,2}})(?:, (\d{{4}}))?(?: (\d+))?$")
_AUTHORS = re.compile(r"^•\s*(\d+) authors?$")
_SEPARATOR = "·"
_GLUED_PREFIX = "Subscribe"
_MAX_TITLE_CHARS = 300
_MIN_ABSTRACT_WORDS = 12
_SENTENCE_END = (".", "!", "?", ")", "/", '"', "'")


@dataclass
class _Line:
    number: int  # 1-based line number in the file, for error messages
    text: str


def parse_date(text: str) -> tuple[str, int | None] | None:
    """'Nov 28, 2023' -> ('2023-11-28', None); 'Jan 10 2' -> ('--01-10', 2); else None.

    A date without a year stays partial (ISO 8601 '--MM-DD'): the year is never guessed."""
    match = _DATE.match(text)
    if not match:
        return None
    month = _MONTHS.index(match.group(1)) + 1
    day = int(match.group(2))
    if not 1 <= day <= 31:
        return None
    year = match.group(3)
    iso = f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"
    upvotes = int(match.group(4)) if match.group(4) else None
    return iso, upvotes


def _organization(text: str) -> str:
    """'ByteDance-Seed ByteDance Seed' -> 'ByteDance Seed'; 'Alibaba-NLP Alibaba-NLP' -> 'Alibaba-NLP'.

    Listings show an organisation as its handle followed by its display name; keep the name."""
    handle, _, name = text.partition(" ")
    if name and (name == handle or name.replace(" ", "-").lower() == handle.lower()):
        return name
    return text


def _content_lines(text: str) -> list[_Line]:
    """Non-blank, stripped lines with page chrome removed and a glued first title freed."""
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.lower() in _CHROME:
            continue
        if line.startswith(_GLUED_PREFIX) and len(line) > len(_GLUED_PREFIX) and line[len(_GLUED_PREFIX)].isupper():
            line = line[len(_GLUED_PREFIX):]
        lines.append(_Line(number, line))
    return lines


def parse_listing(text: str, source: str) -> list[Paper]:
    """Papers of one listing, in listing order. Raises `SourceError` when the text is not a
    complete listing (cut off mid-entry, titles and abstracts out of step, no papers)."""
    lines = _content_lines(text)
    papers: list[Paper] = []
    title: _Line | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1].text if i + 1 < len(lines) else None
        authors = _AUTHORS.match(line.text)
        if authors or line.text == _SEPARATOR or nxt == _SEPARATOR:
            if title is not None or not papers:
                raise SourceError(source, f"line {line.number}: metadata {line.text!r} does not follow an abstract")
            paper = papers[-1]
            if authors:
                paper.authors = int(authors.group(1))
            elif line.text != _SEPARATOR:
                paper.organization = _organization(line.text)
            if line.text == _SEPARATOR:
                date = parse_date(nxt or "")
                if date is None:
                    raise SourceError(
                        source, f"line {line.number}: the listing is cut off mid-entry (metadata without its date)"
                    )
                paper.published, paper.upvotes = date
                i += 1
            i += 1
            continue
        if title is None:
            if not papers and parse_date(line.text):  # the page's header date, e.g. "Mar 17"
                i += 1
                continue
            if len(line.text) > _MAX_TITLE_CHARS:
                raise SourceError(
                    source,
                    f"line {line.number}: expected a paper title but found {len(line.text)} characters of text; "
                    "is a title or an abstract missing just before it?",
                )
            title = line
        else:
            name = clean(title.text)
            papers.append(Paper(id=paper_id(name), title=name, abstract=clean(line.text), sources=[source]))
            title = None
        i += 1

    if title is not None:
        raise SourceError(source, f"line {title.number}: the listing is cut off mid-entry ({title.text!r} has no abstract)")
    if not papers:
        raise SourceError(source, "no papers found; a listing needs title and abstract lines")
    last = papers[-1]
    if last.published is None and (
        len(last.abstract.split()) < _MIN_ABSTRACT_WORDS or not last.abstract.endswith(_SENTENCE_END)
    ):
        raise SourceError(source, f"the listing is cut off mid-entry (the abstract of {last.title!r} ends mid-sentence)")
    return papers
