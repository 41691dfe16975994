"""Zotero's CSV export ("Key","Item Type","Publication Year","Author","Title",…,"Abstract Note",…),
recognised by its header. Authors are "Last, First; Last, First"; the arXiv id comes from the DOI
(10.48550/arXiv.…), the URL or the Extra field ("arXiv: 2401.01234"). Rows without a title or an
abstract are reported by their Zotero key."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date, read_whole
from ingest.papers import Paper, normalise_arxiv

_REQUIRED = ("Title", "Abstract Note")


def read(ctx: Context) -> Iterator[Paper]:
    reader = csv.DictReader(io.StringIO(read_whole(ctx.path), newline=""))
    columns = list(reader.fieldnames or [])
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        raise SourceError(str(ctx.path), f"a Zotero CSV export needs the columns {missing} (found {columns})")
    seen: set[str] = set()
    try:
        for row in reader:
            number = reader.line_num
            if None in row:  # more cells than the header has columns
                ctx.skip(_label(row, number), f"row ending at line {number} has more cells than the header")
                continue
            key = _label(row, number)
            if row.get("Key") and row["Key"] in seen:
                ctx.skip(key, f"duplicate Zotero key (line {number}); the first row with this key is used")
                continue
            seen.add(row.get("Key") or "")
            if row.get(columns[-1]) is None:  # fewer cells than columns: the file ends mid-row
                ctx.skip(key, f"row ending at line {number} is cut off (it has fewer cells than the header)")
                continue
            paper = _paper(ctx, key, row)
            if paper is not None:
                yield paper
    except csv.Error as exc:
        ctx.skip(f"line {reader.line_num}", f"unreadable CSV ({exc})")
    if ctx.progress:
        ctx.progress(ctx.path.stat().st_size)


def _label(row: dict[str, str | None], number: int) -> str:
    return row.get("Key") or f"line {number}"


def _paper(ctx: Context, key: str, row: dict[str, str | None]) -> Paper | None:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    names = [" ".join(reversed([p.strip() for p in a.split(",", 1)])) if "," in a else a.strip()
             for a in cell("Author").split(";") if a.strip()]
    arxiv = normalise_arxiv(cell("DOI")) or normalise_arxiv(cell("Url")) or normalise_arxiv(cell("Extra")) \
        or normalise_arxiv(cell("Archive Location"))
    return ctx.paper(
        key, cell("Title"), cell("Abstract Note"),
        published=iso_date(cell("Date")) or iso_date(cell("Publication Year")),
        author_names=names, doi=cell("DOI") or None, url=cell("Url") or None, arxiv_id=arxiv,
        venue=cell("Publication Title") or cell("Conference Name") or cell("Proceedings Title") or None,
    )
