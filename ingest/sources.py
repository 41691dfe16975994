"""Read paper sources from disk: Daily Papers listings (.txt), JSONL or CSV with `title` and
`abstract` (plus optional metadata), the BEIR layout (`corpus.jsonl` with `_id`, `title`, `text`),
and, through `ingest.formats`, BibTeX, RIS, Zotero CSV, arXiv, OpenAlex and Daily Papers JSON.
Each file yields papers or one `SourceError`; nothing here touches the index."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.errors import SourceError
from ingest import formats
from ingest.latex import clean
from ingest.listings import parse_date, parse_listing
from ingest.papers import Paper, paper_id

LISTING_SUFFIXES = {".txt"}
RECORD_SUFFIXES = {".jsonl", ".csv"}


def bundled_collection() -> list[Path]:
    """The Daily Papers listings shipped inside the package."""
    folder = resources.files("ingest") / "collection"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".txt"))


def expand(paths: list[Path]) -> list[Path]:
    """Files named directly, plus every readable source file below a named folder. A BEIR folder
    contributes only its corpus.jsonl."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            corpus = path / "corpus.jsonl"
            if corpus.exists():
                files.append(corpus)
                continue
            suffixes = LISTING_SUFFIXES | RECORD_SUFFIXES | formats.SUFFIXES
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes)
        else:
            files.append(path)
    return files


def read_text(path: Path) -> str:
    """The file's text, or a SourceError that says what is wrong with it."""
    label = str(path)
    if not path.exists():
        raise SourceError(label, "no such file; check the path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(label, f"cannot be read ({exc.strerror})") from exc
    if not data.strip():
        raise SourceError(label, "the file is empty")
    if b"\x00" in data[:8192]:
        raise SourceError(label, "binary content, not text; give a .txt listing, .jsonl or .csv file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(label, f"not UTF-8 text (bad byte at offset {exc.start}); re-save the file as UTF-8") from exc


def load_file(path: Path, ctx: formats.Context | None = None) -> list[Paper]:
    """Papers from one file, by its kind; raises SourceError for anything unreadable or malformed.
    Entries skipped in the bibliographic formats are reported in `ctx.skipped`."""
    kind = formats.detect(path)
    if kind:
        return formats.read(kind, ctx or formats.Context(path))
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl" or (suffix == ".json" and text.lstrip().startswith("{")):
        return list(_from_records(_jsonl_rows(text, path), path))
    if suffix == ".csv":
        return list(_from_records(_csv_rows(text, path), path))
    if suffix in LISTING_SUFFIXES or not suffix:
        return parse_listing(text, path.name)
    raise SourceError(str(path), f"unknown file type {suffix!r}; use a .txt listing, .jsonl, .csv, .bib, .ris, or "
                      "arXiv / OpenAlex / Daily Papers .json")


def _jsonl_rows(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(str(path), f"line {number} is not JSON ({exc.msg}); each line must be one JSON object") from exc
        if not isinstance(row, dict):
            raise SourceError(str(path), f"line {number} is not a JSON object")
        yield number, row


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if "title" not in fields or not ({"abstract", "text"} & fields):
        raise SourceError(str(path), f"the CSV header needs 'title' and 'abstract' columns (found {sorted(fields)})")
    for number, row in enumerate(reader, start=2):
        yield number, {k.strip().lower(): v for k, v in row.items() if k is not None}


def _published(value: Any) -> str | None:
    """ISO dates pass through; listing-style dates ('Nov 28, 2023') are converted; a year stays a year."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    parsed = parse_date(text)
    if parsed:
        return parsed[0]
    if len(text) >= 4 and text[:4].isdigit():
        return text[:10]
    return None


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, list):
        return len(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _from_records(rows: Iterator[tuple[int, dict[str, Any]]], path: Path) -> Iterator[Paper]:
    source = path.name
    for number, row in rows:
        title = clean(str(row.get("title") or "").strip())
        abstract = clean(str(row.get("abstract") or row.get("text") or "").strip())
        if not title and not abstract:
            raise SourceError(str(path), f"line {number} has neither 'title' nor 'abstract'")
        if not abstract:
            raise SourceError(str(path), f"line {number} ({title[:60]!r}) has no 'abstract' (or 'text')")
        given_id = row.get("_id") or row.get("id")
        arxiv = row.get("arxiv_id") or row.get("arxiv")
        if given_id not in (None, ""):
            pid = str(given_id).strip()
        else:
            pid = paper_id(title or abstract[:80], str(arxiv) if arxiv else None)
        yield Paper(
            id=pid,
            title=title or abstract[:80],
            abstract=abstract,
            published=_published(row.get("published") or row.get("date")),
            authors=_int(row.get("authors")),
            organization=(str(row["organization"]).strip() or None) if row.get("organization") else None,
            upvotes=_int(row.get("upvotes")),
            sources=[source],
            arxiv_id=str(arxiv) if arxiv else None,
            doi=str(row["doi"]) if row.get("doi") else None,
        )


def load_sources(paths: list[Path]) -> tuple[dict[str, Paper], list[SourceError]]:
    """Every paper from every file, merged (a paper in several files is one paper), and the files
    that failed. One bad file never stops the others. `ingest.reading.read_sources` also reports
    skipped entries."""
    from ingest.reading import read_sources  # it builds on this module

    found = read_sources(paths)
    return found.papers, found.failed
