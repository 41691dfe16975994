"""The arXiv metadata snapshot (arxiv-metadata-oai-snapshot.json: one JSON object a line with id,
title, abstract, authors, authors_parsed, categories, doi, journal-ref, versions, update_date),
streamed line by line so a file of several GB never sits in memory. The category filter applies
while reading. A line that is not JSON (a truncated last line) is reported and skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ingest.formats.common import Context, iso_date, lines
from ingest.papers import Paper


def read(ctx: Context) -> Iterator[Paper]:
    for number, line in lines(ctx.path, ctx):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            ctx.skip(f"line {number}", f"not JSON ({exc.msg}){' — the file is cut off' if _last(line) else ''}")
            continue
        if not isinstance(record, dict):
            ctx.skip(f"line {number}", "not a JSON object")
            continue
        categories = str(record.get("categories") or "").split()
        if not ctx.wanted(categories):
            continue
        paper = _paper(ctx, record, number, categories)
        if paper is not None:
            yield paper


def _last(line: str) -> bool:
    return not line.endswith("\n")  # only the last line of a file can lack its newline


def _paper(ctx: Context, record: dict[str, Any], number: int, categories: list[str]) -> Paper | None:
    arxiv = str(record.get("id") or "").strip()
    return ctx.paper(
        arxiv or f"line {number}", record.get("title"), record.get("abstract"),
        arxiv_id=arxiv or None, doi=record.get("doi"), published=_first_version(record),
        author_names=_names(record), categories=categories, venue=record.get("journal-ref") or None,
        url=f"https://arxiv.org/abs/{arxiv}" if arxiv else None,
    )


def _first_version(record: dict[str, Any]) -> str | None:
    """The date of v1 ('Mon, 2 Apr 2007 19:18:42 GMT'): when the paper appeared; else update_date."""
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        date = iso_date(versions[0].get("created"))
        if date:
            return date
    return iso_date(record.get("update_date"))


def _names(record: dict[str, Any]) -> list[str]:
    """From authors_parsed ([last, first, suffix] triples), else the `authors` string split on
    commas and 'and'."""
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if isinstance(parts, list) and parts:
                last, first = str(parts[0]), str(parts[1]) if len(parts) > 1 else ""
                suffix = str(parts[2]) if len(parts) > 2 else ""
                names.append(" ".join(p for p in (first, last, suffix) if p))
        return names
    text = str(record.get("authors") or "").replace(" and ", ", ")
    return [n.strip() for n in text.split(",") if n.strip()]
