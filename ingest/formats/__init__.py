"""Readers for the bibliographic files researchers keep, one module per format: BibTeX, RIS, Zotero's
CSV export, the arXiv metadata snapshot (JSON lines), arXiv API (Atom) responses, OpenAlex works and
Hugging Face Daily Papers API responses. `detect` names a file's format from its content, then its
extension; `read` parses it, reporting each entry it cannot use in the context's `skipped`. The
plain JSONL/CSV/listing sources are read by `ingest.sources`, not here."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.formats import arxiv_atom, arxiv_json, bibtex, daily_papers, openalex, ris, zotero_csv
from ingest.formats.common import Context, Skipped
from ingest.papers import Paper

__all__ = ["SUFFIXES", "Context", "Skipped", "detect", "read"]

READERS: dict[str, Callable[[Context], Iterator[Paper]]] = {
    "bibtex": bibtex.read,
    "ris": ris.read,
    "zotero-csv": zotero_csv.read,
    "arxiv": arxiv_json.read,
    "arxiv-atom": arxiv_atom.read,
    "openalex": openalex.read,
    "daily-papers": daily_papers.read,
}
SUFFIXES = {".bib", ".bibtex", ".ris", ".json", ".xml"}  # besides .txt, .jsonl and .csv, which `sources` knows
_BY_SUFFIX = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris"}
_HEAD_BYTES = 65536
_BIBTEX = re.compile(r"^\s*@(?:article|inproceedings|conference|misc|book|inbook|incollection|phdthesis|"
                     r"mastersthesis|thesis|techreport|report|unpublished|online|electronic|proceedings|manual|"
                     r"software|dataset|string|preamble|comment)\s*[{(]", re.IGNORECASE | re.MULTILINE)
_RIS = re.compile(r"^TY  - ", re.MULTILINE)


def detect(path: Path) -> str | None:
    """The format of the file at `path` (a key of `READERS`), or None when it is none of these (a
    listing, a plain JSONL/CSV, an unreadable or missing file: `sources` deals with those)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
                          (codecs.BOM_UTF8, "utf-8-sig")):
        if data.startswith(bom):
            head = data.decode(encoding, errors="replace")
            break
    else:
        head = data.decode("utf-8", errors="replace")
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        return _json_kind(head)
    if head.startswith("<"):
        return "arxiv-atom" if arxiv_atom.ATOM in head[:4096] and "arxiv" in head[:4096].lower() else None
    first_line = head.split("\n", 1)[0]
    if "Abstract Note" in first_line and "Item Type" in first_line:
        return "zotero-csv"
    if _RIS.search(head[:4096]):
        return "ris"
    if _BIBTEX.search(head):
        return "bibtex"
    return _BY_SUFFIX.get(path.suffix.lower())


def _json_kind(head: str) -> str | None:
    """arXiv snapshot, OpenAlex or Daily Papers, told apart by the fields of the first record."""
    first_line = head.split("\n", 1)[0]
    try:
        record = json.loads(first_line)
    except json.JSONDecodeError:
        record = None  # a JSON document spread over lines: judge by the text
    if isinstance(record, dict):  # JSON lines
        if "abstract_inverted_index" in record or str(record.get("id", "")).startswith("https://openalex.org/"):
            return "openalex"
        if isinstance(record.get("paper"), dict):
            return "daily-papers"
        if "abstract" in record and "id" in record and ({"authors_parsed", "versions", "categories"} & set(record)):
            return "arxiv"
        if isinstance(record.get("results"), list) and "abstract_inverted_index" in first_line:
            return "openalex"
        return None
    if '"abstract_inverted_index"' in head or '"https://openalex.org/W' in head:
        return "openalex"
    if head.startswith("[") and '"paper"' in head and '"summary"' in head:
        return "daily-papers"
    return None


def read(kind: str, ctx: Context) -> list[Paper]:
    """Every usable paper of the file, in file order; raises SourceError when the file as a whole
    cannot be read."""
    return list(READERS[kind](ctx))
