"""BibTeX (.bib) with bibtexparser v2: @string macros and `#` concatenation resolved, crossref
fields inherited from the referenced entry, LaTeX made plain. Entries without a title or an abstract,
duplicate keys and entries the parser cannot read are reported one by one; the rest ingest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import bibtexparser
from bibtexparser.middlewares.names import split_multiple_persons_names
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry, ParsingFailedBlock

from assistant.errors import SourceError
from ingest.formats.common import Context, iso_date, read_whole, with_month
from ingest.latex import clean
from ingest.papers import Paper

# BibTeX predefines the month macros (jan … dec)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TIE = re.compile(r"(?<!\\)~")  # an unbreakable space, not the accent command \~
_INHERITED = ("booktitle", "journal", "year", "month", "date", "publisher", "series", "editor")


def read(ctx: Context) -> Iterator[Paper]:
    library = bibtexparser.parse_string(read_whole(ctx.path))
    macros = {s.key.lower(): str(s.value) for s in library.strings}
    entries: dict[str, dict[str, str]] = {}
    order: list[tuple[Entry, dict[str, str]]] = []
    for entry in library.entries:
        fields = _fields(entry, macros)
        entries.setdefault(entry.key.lower(), fields)
        order.append((entry, fields))
    for block in library.failed_blocks:
        if isinstance(block, DuplicateFieldKeyBlock) and isinstance(block.ignore_error_block, Entry):
            entry = block.ignore_error_block  # BibTeX keeps the first value of a repeated field
            fields = _fields(entry, macros, first_wins=True)
            entries.setdefault(entry.key.lower(), fields)
            order.append((entry, fields))
        elif isinstance(block, DuplicateBlockKeyBlock):
            ctx.skip(str(block.key), f"duplicate key (line {_line(block)}); the first entry with this key is used")
        elif isinstance(block, ParsingFailedBlock):
            ctx.skip(_raw_key(block.raw), f"unreadable BibTeX at line {_line(block)}: {_first_line(block.error)}")
    if not order and not library.failed_blocks:
        raise SourceError(str(ctx.path), "no BibTeX entries found (an entry starts with @article{key, …)")
    order.sort(key=lambda pair: pair[0].start_line or 0)
    if ctx.progress:
        ctx.progress(ctx.path.stat().st_size)
    parents = {f.get("crossref", "").lower() for _, f in order} - {""}
    for entry, fields in order:
        if entry.key.lower() in parents and not fields.get("abstract"):
            ctx.skip(entry.key, f"a crossref target ({entry.entry_type}), not a paper: it has no abstract")
            continue
        paper = _paper(ctx, entry.key, fields, entries)
        if paper is not None:
            yield paper


def _paper(ctx: Context, key: str, fields: dict[str, str], entries: dict[str, dict[str, str]]) -> Paper | None:
    parent_key = fields.get("crossref", "").lower()
    if parent_key:
        parent = entries.get(parent_key)
        if parent is None:
            if not fields.get("title") or not fields.get("abstract"):
                ctx.skip(key, f"crossref {parent_key!r} names no entry in this file, and the entry lacks a title "
                              "or abstract of its own")
                return None
        else:
            for name in _INHERITED:
                if parent.get(name) and not fields.get(name):
                    fields[name] = parent[name]
            if not fields.get("booktitle") and parent.get("title"):  # a @proceedings title names the venue
                fields["booktitle"] = parent["title"]
    names = [_name(n) for n in split_multiple_persons_names(fields["author"])] if fields.get("author") else []
    et_al = bool(names) and names[-1].lower() == "others"  # `and others`: the count is unknown
    archive = fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv"
    arxiv = fields.get("eprint") if archive.lower() == "arxiv" else None
    paper = ctx.paper(
        key, fields.get("title"), fields.get("abstract"),
        published=iso_date(fields.get("date")) or with_month(fields.get("year"), fields.get("month")),
        author_names=[n for n in names[: -1 if et_al else None] if n], arxiv_id=arxiv or fields.get("arxivid"),
        doi=fields.get("doi"), url=fields.get("url") or None,
        venue=clean(fields.get("journal") or fields.get("journaltitle") or fields.get("booktitle") or "") or None,
    )
    if paper is not None and et_al:
        paper.authors = None
    return paper


def _fields(entry: Entry, macros: dict[str, str], first_wins: bool = False) -> dict[str, str]:
    """The entry's fields, keys lowercased, values with macros and concatenations resolved."""
    out: dict[str, str] = {}
    for item in entry.fields:
        key = item.key.lower()
        if first_wins and key in out:
            continue
        value = str(item.value)
        # a bare value the parser did not resolve (`a # "b"`, `jan`); the entry of a block the parser
        # rejected (a repeated field) has not been through its middleware at all: enclosings still on
        if item.enclosing == "no-enclosing" or first_wins:
            value = _concatenate(value, macros)
        out[key] = value.strip() if key in ("url", "doi") else " ".join(_TIE.sub(" ", value).split())
    return out


def _concatenate(value: str, macros: dict[str, str]) -> str:
    """`neurips # " 2024"` -> 'Advances in … 2024': each part a {braced} or "quoted" literal, a
    number, or a macro (a month name when undefined)."""
    parts: list[str] = []
    depth, start, quoted = 0, 0, False
    for i, char in enumerate(value + "#"):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif char == "#" and depth == 0 and not quoted:
            parts.append(value[start:i].strip())
            start = i + 1
    out = []
    for part in parts:
        if len(part) >= 2 and part[0] + part[-1] in ("{}", '""'):
            out.append(part[1:-1])
        elif part.lower() in macros:
            out.append(macros[part.lower()])
        elif part.lower() in _MONTHS:
            out.append(part.lower())
        else:
            out.append(part)
    return "".join(out)


def _name(raw: str) -> str:
    """'M{\\"u}ller, J{\\"o}rg' -> 'Jörg Müller'; '{Google DeepMind}' stays one name."""
    text = clean(raw)
    if "," in text and not raw.strip().startswith("{"):
        last, _, first = text.partition(",")
        first = first.split(",")[-1]  # 'von Last, Jr, First'
        text = f"{first.strip()} {last.strip()}"
    return " ".join(text.split())


def _line(block: Any) -> int:
    return (block.start_line or 0) + 1  # bibtexparser counts lines from 0


def _raw_key(raw: str | None) -> str:
    """'@article{smith2024,' -> 'smith2024'."""
    head = (raw or "").split(",", 1)[0]
    return head.partition("{")[2].strip() or head.strip()[:40] or "?"


def _first_line(error: Exception | None) -> str:
    """The parser's reason, in one line: 'Unexpectedly reached end of file.'"""
    text = str(getattr(error, "abort_reason", "") or error or "").strip()
    return text.splitlines()[-1].strip() if text else "syntax error"
