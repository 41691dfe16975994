"""OpenAlex works as its API returns them: one work, a page (`{"meta": …, "results": [works]}`), a
JSON list of works, or JSON lines of works (streamed). The abstract is rebuilt from
`abstract_inverted_index`; date from publication_date, authors from authorships, organisation from
the first author's institution, arXiv id from the locations or ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date, lines, read_whole
from ingest.papers import Paper, normalise_arxiv


def read(ctx: Context) -> Iterator[Paper]:
    if _is_json_lines(ctx):
        for number, line in lines(ctx.path, ctx):
            try:
                work = json.loads(line)
            except json.JSONDecodeError as exc:
                ctx.skip(f"line {number}", f"not JSON ({exc.msg})")
                continue
            yield from _works(ctx, [work] if isinstance(work, dict) and "results" not in work else _results(ctx, work))
        return
    try:
        document = json.loads(read_whole(ctx.path))
    except json.JSONDecodeError as exc:
        raise SourceError(str(ctx.path), f"not valid JSON at line {exc.lineno} ({exc.msg}); is the file cut off?") \
            from exc
    yield from _works(ctx, _results(ctx, document))
    if ctx.progress:
        ctx.progress(ctx.path.stat().st_size)


def _is_json_lines(ctx: Context) -> bool:
    """Whether the file's first line is a whole JSON object (JSON lines), not the start of a document."""
    with ctx.path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace")
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _results(ctx: Context, document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        return document["results"] if isinstance(document.get("results"), list) else [document]
    raise SourceError(str(ctx.path), "expected an OpenAlex work, a list of works or a page with 'results'")


def _works(ctx: Context, works: list[Any]) -> Iterator[Paper]:
    for position, work in enumerate(works, start=1):
        if not isinstance(work, dict):
            ctx.skip(f"result {position}", "not a JSON object")
            continue
        paper = _paper(ctx, work, position)
        if paper is not None:
            yield paper


def abstract_text(index: Any) -> str:
    """The abstract from OpenAlex's inverted index ({"word": [positions]}), words in position order."""
    if not isinstance(index, dict):
        return ""
    placed = sorted((pos, word) for word, positions in index.items() if isinstance(positions, list)
                    for pos in positions if isinstance(pos, int))
    return " ".join(word for _, word in placed)


def _paper(ctx: Context, work: dict[str, Any], position: int) -> Paper | None:
    ident = str(work.get("id") or "").rsplit("/", 1)[-1] or f"result {position}"
    authorships = [a for a in work.get("authorships") or [] if isinstance(a, dict)]
    names = [str((a.get("author") or {}).get("display_name") or a.get("raw_author_name") or "") for a in authorships]
    institutions = [i.get("display_name") for a in authorships for i in a.get("institutions") or []
                    if isinstance(i, dict) and i.get("display_name")]
    locations = [loc for loc in work.get("locations") or [] if isinstance(loc, dict)]
    urls = [str(loc.get(k) or "") for loc in locations for k in ("landing_page_url", "pdf_url")]
    arxiv = next((a for a in (normalise_arxiv(u) for u in [str(work.get("doi") or ""), *urls]) if a), None)
    primary = work.get("primary_location") or {}
    source = primary.get("source") if isinstance(primary, dict) else None
    return ctx.paper(
        ident, work.get("title") or work.get("display_name"), abstract_text(work.get("abstract_inverted_index")),
        published=iso_date(work.get("publication_date")) or iso_date(work.get("publication_year")),
        author_names=names, organization=institutions[0] if institutions else None, doi=work.get("doi"),
        arxiv_id=arxiv, venue=source.get("display_name") if isinstance(source, dict) else None,
        url=(primary.get("landing_page_url") if isinstance(primary, dict) else None) or work.get("id"),
    )
