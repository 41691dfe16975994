"""Hugging Face Daily Papers API responses (GET /api/daily_papers?date=YYYY-MM-DD), saved as JSON:
a list of items `{"paper": {"id", "title", "summary", "authors": [{"name", …}], "publishedAt",
"upvotes", "organization"?, …}, "title", "summary", "publishedAt", "numComments", …}`, or JSON
lines of such items. `paper.id` is the arXiv id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date, json_list_prefix, read_whole
from ingest.papers import Paper


def read(ctx: Context) -> Iterator[Paper]:
    text = read_whole(ctx.path)
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        document = _cut_list(ctx, text) if text.lstrip().startswith("[") else _json_lines(ctx, text, exc)
    if isinstance(document, dict) and isinstance(document.get("paper"), dict):
        document = [document]
    if not isinstance(document, list):
        raise SourceError(str(ctx.path), "expected a Daily Papers response: a JSON list of {\"paper\": {…}} items")
    for position, item in enumerate(document, start=1):
        paper = _paper(ctx, item, position)
        if paper is not None:
            yield paper
    if ctx.progress:
        ctx.progress(ctx.path.stat().st_size)


def _cut_list(ctx: Context, text: str) -> list[Any]:
    """The items before the break of a list that is cut off; the break is reported."""
    items, broken = json_list_prefix(text)
    ctx.skip(f"item {len(items) + 1}", f"the file is cut off (invalid JSON at character {broken}); the items after "
             f"the first {len(items)} are lost")
    return items


def _json_lines(ctx: Context, text: str, error: json.JSONDecodeError) -> list[Any]:
    """Items one a line; a document that is not JSON lines either (cut off, say) is a SourceError."""
    items: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError:
            if number == 1:
                raise SourceError(str(ctx.path), f"not valid JSON at line {error.lineno} ({error.msg}); is the file "
                                  "cut off?") from error
            ctx.skip(f"line {number}", "not JSON (a truncated line?)")
    return items


def _paper(ctx: Context, item: Any, position: int) -> Paper | None:
    inner = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(inner, dict):
        ctx.skip(f"item {position}", "no 'paper' object")
        return None
    arxiv = str(inner.get("id") or "").strip()
    authors = [a.get("name") for a in inner.get("authors") or [] if isinstance(a, dict) and a.get("name")]
    organization = inner.get("organization") or item.get("organization")
    upvotes = inner.get("upvotes")
    return ctx.paper(
        arxiv or f"item {position}", inner.get("title") or item.get("title"),
        inner.get("summary") or item.get("summary"),
        arxiv_id=arxiv or None, published=iso_date(inner.get("publishedAt") or item.get("publishedAt")),
        author_names=authors, upvotes=int(upvotes) if isinstance(upvotes, int | float) else None,
        organization=(organization.get("fullname") or organization.get("name")) if isinstance(organization, dict)
        else None, url=f"https://huggingface.co/papers/{arxiv}" if arxiv else None,
    )
