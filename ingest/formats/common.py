"""What every format reader shares: decoding a file, the per-file reading context (where skipped
entries are reported), and turning one entry's fields into a `Paper`. It parses no format itself."""

from __future__ import annotations

import codecs
import email.utils
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import SourceError
from ingest.latex import clean
from ingest.listings import parse_date
from ingest.papers import Paper, paper_id

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                         "nov", "dec"), start=1)}
_ISO = re.compile(r"^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?")


@dataclass
class Skipped:
    """One entry of a file that was not ingested, and why."""

    path: str
    entry: str  # the entry's key, id or line, as the file names it
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "entry": self.entry, "reason": self.reason}


@dataclass
class Context:
    """One file being read: where skipped entries go, the category filter, and read progress."""

    path: Path
    skipped: list[Skipped] = field(default_factory=list)
    categories: frozenset[str] = frozenset()  # arXiv categories to keep (empty: all)
    progress: Callable[[int], None] | None = None  # bytes of this file read so far

    def skip(self, entry: str, reason: str) -> None:
        self.skipped.append(Skipped(str(self.path), entry, reason))

    def wanted(self, categories: list[str]) -> bool:
        """Whether a paper in `categories` passes the filter (a category or its archive: cs.LG, cs)."""
        if not self.categories:
            return True
        return any(c in self.categories or c.split(".")[0] in self.categories for c in categories)

    def paper(self, entry: str, title: Any, abstract: Any, **meta: Any) -> Paper | None:
        """A paper from one entry's fields, LaTeX made plain; None (and the entry reported as skipped)
        when it has no title or no abstract."""
        name = _squash(clean(str(title or "")))
        text = _squash(clean(str(abstract or "")))
        if not name:
            self.skip(entry, "no title")
            return None
        if not text:
            self.skip(entry, f"no abstract ({name[:60]!r})")
            return None
        if meta.get("author_names"):
            meta["author_names"] = [n for n in (_squash(clean(str(a))) for a in meta["author_names"]) if n]
        paper = Paper(id="", title=name, abstract=text, sources=[self.path.name], **meta)
        paper.id = paper_id(name, paper.arxiv_id)
        if paper.authors is None and paper.author_names:
            paper.authors = len(paper.author_names)
        return paper


def _squash(text: str) -> str:
    """Line breaks and runs of spaces inside a field (wrapped titles and abstracts) become one space."""
    return " ".join(text.split())


def decode(path: Path, data: bytes) -> str:
    """The text of a whole file: UTF-8, or UTF-16 when a byte-order mark says so; anything else is a
    SourceError that says how to fix it."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SourceError(str(path), f"not valid {encoding.upper()} text (bad byte at offset {exc.start})") \
                    from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(str(path), f"not UTF-8 text (bad byte at offset {exc.start}); re-export or re-save the "
                          "file as UTF-8") from exc


def read_whole(path: Path) -> str:
    """The decoded text of a file that is parsed whole (BibTeX, RIS, CSV, a JSON document)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot be read ({exc.strerror})") from exc
    text = decode(path, data)
    if not text.strip():
        raise SourceError(str(path), "the file is empty")
    return text


def lines(path: Path, ctx: Context, every: int = 4096) -> Iterator[tuple[int, str]]:
    """(line number, text) of a file read line by line, never whole; a line that is not UTF-8 is
    skipped and reported. Reports progress in bytes every `every` lines."""
    done = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if ctx.progress and number % every == 0:
                ctx.progress(done)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                ctx.skip(f"line {number}", f"not UTF-8 (bad byte at column {exc.start + 1})")
                continue
            if text.strip():
                yield number, text
    if ctx.progress:
        ctx.progress(done)


def iso_date(value: Any) -> str | None:
    """'2024-03-05T10:00:00Z', '2024/3/5', '2024', 'Mon, 2 Apr 2007 19:18:42 GMT', 'Nov 28, 2023' ->
    ISO date (as precise as the value: '2024', '2024-03', '2024-03-05'); None when it is no date."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    match = _ISO.match(text)
    if match:
        year, month, day = match.groups()
        if month and not 1 <= int(month) <= 12:
            return year
        parts = [year] + [f"{int(p):02d}" for p in (month, day) if p]
        return "-".join(parts)
    listing = parse_date(text)
    if listing:
        return listing[0]
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError):
        return None


def with_month(year: Any, month: Any) -> str | None:
    """A BibTeX/RIS year and month ('2024', 'jan' / 'January' / '1') as '2024-01' (or '2024')."""
    date = iso_date(year)
    if not date or len(date) != 4 or month in (None, ""):
        return date
    text = str(month).strip().lower()
    number = int(text) if text.isdigit() else _MONTHS.get(text[:3])
    return f"{date}-{number:02d}" if number and 1 <= number <= 12 else date


def json_list_prefix(text: str) -> tuple[list[Any], int]:
    """The whole items at the start of a JSON list that is cut off, and the offset where it breaks."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at = text.index("[") + 1
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or text[at] == "]":
            return items, at
        try:
            item, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return items, at
        items.append(item)
