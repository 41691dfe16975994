"""RIS (.ris), as Zotero, Mendeley and EndNote export it: records from `TY  - ` to `ER  - `, one
`TAG  - value` per line, long values continued on the next lines. Title from TI/T1, abstract from
AB/N2, authors from AU/A1, date from DA or PY/Y1, DOI from DO, arXiv id from a DOI, URL or note.
A record cut off before its `ER` line is reported, never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date, read_whole
from ingest.papers import Paper, normalise_arxiv

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_TITLE, _ABSTRACT, _AUTHORS = ("TI", "T1", "CT"), ("AB", "N2"), ("AU", "A1")
_VENUE = ("JO", "JF", "T2", "BT", "JA", "J2")


def read(ctx: Context) -> Iterator[Paper]:
    records = 0
    record: dict[str, list[str]] | None = None
    start = 0
    last = ""
    for number, line in enumerate(read_whole(ctx.path).splitlines(), start=1):
        match = _TAG.match(line.rstrip())
        if not match:
            if record is not None and line.strip() and last:  # a value continued on the next line
                record[last][-1] += " " + line.strip()
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if record is not None:
                ctx.skip(_label(record, start), f"the record starting at line {start} has no 'ER  -' end line")
            record, start, last = {"TY": [value]}, number, "TY"
        elif record is None:
            continue  # text between records
        elif tag == "ER":
            records += 1
            paper = _paper(ctx, record, start)
            if paper is not None:
                yield paper
            record, last = None, ""
        else:
            record.setdefault(tag, []).append(value)
            last = tag
    if record is not None:
        ctx.skip(_label(record, start), f"the file ends inside the record starting at line {start} (no 'ER  -' line)")
    elif records == 0:
        raise SourceError(str(ctx.path), "no RIS records found (a record starts with 'TY  - ' and ends with 'ER  - ')")
    if ctx.progress:
        ctx.progress(ctx.path.stat().st_size)


def _first(record: dict[str, list[str]], tags: tuple[str, ...]) -> str | None:
    return next((record[t][0] for t in tags if record.get(t) and record[t][0]), None)


def _label(record: dict[str, list[str]], start: int) -> str:
    title = _first(record, _TITLE)
    ident = _first(record, ("ID",))
    return ident or (title[:60] if title else f"line {start}")


def _paper(ctx: Context, record: dict[str, list[str]], start: int) -> Paper | None:
    authors = [name for tag in _AUTHORS for name in record.get(tag, []) if name]
    names = [" ".join(reversed([p.strip() for p in a.split(",", 1)])) if "," in a else a for a in authors]
    notes = " ".join(record.get("N1", []) + record.get("M1", []))
    doi, url = _first(record, ("DO",)), _first(record, ("UR", "L1", "L2"))
    arxiv = normalise_arxiv(doi) or normalise_arxiv(url) or normalise_arxiv(notes)
    return ctx.paper(
        _label(record, start), _first(record, _TITLE), " ".join(record.get("AB") or record.get("N2") or []),
        published=iso_date((_first(record, ("DA", "PY", "Y1")) or "").strip("/")),
        author_names=names, doi=doi, url=url, arxiv_id=arxiv, venue=_first(record, _VENUE),
    )
