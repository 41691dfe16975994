"""The local catalog: every paper's record (title, abstract, metadata, hashes) and a BM25 keyword
index over title and abstract, in one SQLite file (WAL) under the data folder.

It is a cache of the papers collection in Chroma, which is the source of truth: `index` keeps it
in step through the change numbers (`seq`) each record carries. Metadata filters and keyword
search are indexed SQL queries, so nothing here reads every record unless asked to (`records`).
Keyword search is SQLite FTS5's bm25() over the terms bm25s reads: words of two characters or
more, lower-cased, English stopwords dropped, Snowball-stemmed (BENCHMARKS.md compares it with
bm25s). The FTS table stores only its index (contentless): a paper's terms are recomputed from its
title and abstract to remove it. It does not talk to Chroma (`index` does)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from assistant.filters import Filters
from assistant.intent import squash
from ingest.papers import normalise_arxiv, normalise_doi, normalise_title

SCHEMA_VERSION = "2"
_COLUMNS = ("paper_id", "title", "abstract", "published_ord", "authors", "organization", "upvotes")
_KEYS = ("title_key", "arxiv_key", "doi_key")  # normalised identity keys (`ingest.identity`)
_FILTERED = {"published_ord", "authors", "upvotes"}
_WORD = re.compile(r"(?u)\b\w\w+\b")  # words of two characters or more, as bm25s and the old index read them
_BATCH = 500  # ids per `IN (…)` query
_MENTION_ROWS = 200  # papers `mentions` compares for one spelling before it scans them all
_STOPWORDS = frozenset(STOPWORDS_EN)
_stemmer = Stemmer.Stemmer("english")


def keyword_terms(text: str) -> list[str]:
    """The keyword index's terms of `text`, as bm25s tokenizes: lower-cased words of two
    characters or more, stopwords dropped, then stemmed."""
    return list(_stemmer.stemWords([w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]))


def _indexed(title: str, abstract: str) -> str:
    return " ".join(keyword_terms(f"{title}\n{abstract}"))


class Catalog:
    """Paper records by id, metadata filters and keyword search over one collection's papers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=60, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._create()
        self._records: tuple[str, list[dict[str, Any]]] | None = None
        self.fingerprint = ""  # the generation of the collection it was last brought in line with

    def _create(self) -> None:
        with self.transaction():
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            have = self.meta("schema")
            if have not in (None, SCHEMA_VERSION):
                self._db.execute("DROP TABLE IF EXISTS papers_fts")
                self._db.execute("DROP TABLE IF EXISTS papers")
                self._db.execute("DELETE FROM meta")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS papers (rowid INTEGER PRIMARY KEY, paper_id TEXT UNIQUE NOT NULL, "
                "title TEXT NOT NULL, abstract TEXT NOT NULL, published_ord INTEGER, authors INTEGER, "
                "organization TEXT COLLATE NOCASE, upvotes INTEGER, title_key TEXT, arxiv_key TEXT, doi_key TEXT, "
                "rest TEXT NOT NULL)")
            for column in ("published_ord", "authors", "organization", "upvotes", *_KEYS):
                self._db.execute(f"CREATE INDEX IF NOT EXISTS papers_{column} ON papers ({column})")
            self._db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(terms, content='', "
                "tokenize='unicode61 remove_diacritics 0')")
            self.set_meta("schema", SCHEMA_VERSION)

    # -- bookkeeping ------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        """`with catalog.transaction():` — all or nothing, even if the process is killed."""
        return _Transaction(self)

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        """Forget every paper (the store it mirrored is gone or another one)."""
        with self.transaction():
            self._db.execute("DELETE FROM papers")
            self._db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('delete-all')")
            self._db.execute("DELETE FROM meta WHERE key != 'schema'")

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and shrink it (after a large write)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._db.close()

    # -- writing ----------------------------------------------------------------------------
    def put(self, records: Iterable[dict[str, Any]]) -> None:
        """Insert or replace papers by `paper_id` (call inside `transaction`)."""
        for record in records:
            self._forget(record["paper_id"])
            row = _row(record)
            cursor = self._db.execute(
                f"INSERT INTO papers ({', '.join(_COLUMNS + _KEYS)}, rest) VALUES ({', '.join('?' * (len(_COLUMNS) + 4))})",
                row)
            self._db.execute("INSERT INTO papers_fts(rowid, terms) VALUES (?, ?)",
                             (cursor.lastrowid, _indexed(record["title"], record.get("abstract", ""))))
        self._records = None

    def remove(self, paper_ids: Iterable[str]) -> None:
        for pid in paper_ids:
            self._forget(pid)
        self._records = None

    def _forget(self, pid: str) -> None:
        old = self._db.execute("SELECT rowid, title, abstract FROM papers WHERE paper_id = ?", (pid,)).fetchone()
        if old is not None:
            self._db.execute("INSERT INTO papers_fts(papers_fts, rowid, terms) VALUES ('delete', ?, ?)",
                             (old["rowid"], _indexed(old["title"], old["abstract"])))
            self._db.execute("DELETE FROM papers WHERE rowid = ?", (old["rowid"],))

    # -- reading ----------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0])

    def get(self, paper_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The records of those of `paper_ids` the catalog holds."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), _BATCH):
            batch = ids[start:start + _BATCH]
            rows = self._db.execute(f"SELECT * FROM papers WHERE paper_id IN ({', '.join('?' * len(batch))})", batch)
            found.update((r["paper_id"], _record(r)) for r in rows)
        return found

    def matching(self, *, ids: Iterable[str] = (), arxiv_ids: Iterable[str] = (), dois: Iterable[str] = (),
                 titles: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Records that any of the given ids, arXiv ids, DOIs or titles name (compared normalised)."""
        found: dict[str, dict[str, Any]] = {}
        wanted = (("paper_id", list(ids)), ("arxiv_key", [normalise_arxiv(v) for v in arxiv_ids]),
                  ("doi_key", [normalise_doi(v) for v in dois]), ("title_key", [normalise_title(t) for t in titles]))
        for column, values in wanted:
            keys = [v for v in dict.fromkeys(values) if v]
            for start in range(0, len(keys), _BATCH):
                batch = keys[start:start + _BATCH]
                rows = self._db.execute(f"SELECT * FROM papers WHERE {column} IN ({', '.join('?' * len(batch))})",
                                        batch)
                found.update((r["paper_id"], _record(r)) for r in rows)
        return list(found.values())

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT paper_id FROM papers")]

    def ids_matching(self, filters: Filters, present: str | None = None) -> set[str]:
        """Ids of the papers that `filters` allow (and that record the field `present`)."""
        where, params = filters.to_sql()
        if present in _FILTERED or present == "organization":
            where.append(f"{present} IS NOT NULL")
        sql = "SELECT paper_id FROM papers" + (f" WHERE {' AND '.join(where)}" if where else "")
        return {r[0] for r in self._db.execute(sql, params)}

    def select(self, filters: Filters, extreme: tuple[str, bool] | None = None,
               limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        """The papers `filters` allow (with `extreme` = (field, highest), only those at that field's
        highest or lowest value among them, ties included): how many, and the first `limit` by date
        and title. Indexed queries, whatever the collection's size."""
        where, params = filters.to_sql()
        if extreme is not None:
            key, highest = extreme
            if key not in _FILTERED:
                raise ValueError(f"no extreme of {key!r}: only of {sorted(_FILTERED)}")
            where.append(f"{key} IS NOT NULL")
            condition = " AND ".join(where)
            value = self._db.execute(f"SELECT {'MAX' if highest else 'MIN'}({key}) FROM papers WHERE {condition}",
                                     params).fetchone()[0]
            if value is None:
                return 0, []
            where.append(f"{key} = ?")
            params.append(value)
        condition = " AND ".join(where) or "1"
        count = int(self._db.execute(f"SELECT COUNT(*) FROM papers WHERE {condition}", params).fetchone()[0])
        rows = self._db.execute(f"SELECT * FROM papers WHERE {condition} ORDER BY COALESCE(published_ord, 0), title "
                                "LIMIT ?", [*params, limit])
        return count, [_record(r) for r in rows]

    def mentions(self, name: str) -> bool:
        """Whether any paper's title or abstract holds `name` in some spelling of hyphens, spaces
        and case ("CIFAR-10" for "cifar10", "MTBench" for "MT-Bench"): the keyword index finds
        the papers holding the name's words in a row, split as written, at case and digit changes,
        or run together, and those are compared with every separator taken out. A name with a piece the
        index does not hold (a single character, a stopword), or whose words are in too many papers
        to look at, is looked for in every paper."""
        target = squash(name)
        pieces = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
        spellings = [w for w in (keyword_terms(name), keyword_terms(" ".join(pieces)), keyword_terms(target)) if w]
        # the words in a row; then with the last one as a prefix ("CNN" for "CNNs", whose stem stays "cnns")
        complete = all(keyword_terms(piece) for piece in pieces)
        for match in [f'"{" ".join(w)}"' for w in spellings] + [f'"{" ".join(w)}" *' for w in spellings]:
            rows = self._db.execute("SELECT p.title, p.abstract FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid "
                                    f"WHERE papers_fts MATCH ? LIMIT {_MENTION_ROWS}", (match,)).fetchall()
            if any(target in squash(f"{title} {abstract}") for title, abstract in rows):
                return True
            complete = complete and len(rows) < _MENTION_ROWS
        if complete:
            return False
        # a piece the keyword index does not hold ("1-For-1": a digit, a stopword), or words so common
        # that the papers looked at were not all of them: every paper is scanned, in SQLite
        text = "LOWER(title || ' ' || abstract)"
        for separator in ("-", " ", ".", "_", "/", ",", "\n"):
            text = f"REPLACE({text}, '{separator}', '')"
        return self._db.execute(f"SELECT 1 FROM papers WHERE {text} LIKE ? LIMIT 1", (f"%{target}%",)).fetchone() is not None

    def organizations(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT DISTINCT organization FROM papers WHERE organization IS NOT NULL")}

    def dates(self) -> tuple[str | None, str | None]:
        """The earliest and latest full publication dates."""
        rows = [self._db.execute(f"SELECT rest FROM papers WHERE published_ord IS NOT NULL ORDER BY published_ord {o} "
                                 "LIMIT 1").fetchone() for o in ("ASC", "DESC")]
        first, last = (json.loads(r[0]).get("published") if r else None for r in rows)
        return first, last

    def iter_records(self) -> Iterator[dict[str, Any]]:
        for row in self._db.execute("SELECT * FROM papers ORDER BY rowid"):
            yield _record(row)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record, read once per `fingerprint`: for whole-collection statistics and metadata
        answers, never for search."""
        if self._records is None or self._records[0] != self.fingerprint:
            self._records = (self.fingerprint, list(self.iter_records()))
        return self._records[1]

    def search(self, query: str, k: int, filters: Filters | None = None,
               restrict: set[str] | None = None) -> list[tuple[str, float]]:
        """Top-k papers for `query` by BM25, best first, as (paper_id, score > 0); only those that
        `filters` allow and (with `restrict`) whose id is in it."""
        words = keyword_terms(query)  # a repeated word counts again, as in bm25s
        if not words or k <= 0 or restrict is not None and not restrict:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        where, params = filters.to_sql("p.") if filters else ([], [])
        if restrict is not None:
            if len(restrict) > 50_000:
                raise ValueError("restrict to at most 50,000 papers; use filters for larger sets")
            where.append(f"p.paper_id IN ({', '.join('?' * len(restrict))})")
            params.extend(sorted(restrict))
        if where:  # each match is joined to its paper's columns before the ranking
            sql = ("SELECT p.paper_id, -bm25(papers_fts) AS score FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid "
                   f"WHERE papers_fts MATCH ? {''.join(' AND ' + w for w in where)} ORDER BY bm25(papers_fts) LIMIT ?")
        else:  # rank first, then look up only the top k's ids (a third faster on large collections)
            sql = ("SELECT p.paper_id, top.score FROM (SELECT rowid, -bm25(papers_fts) AS score FROM papers_fts "
                   "WHERE papers_fts MATCH ? ORDER BY bm25(papers_fts) LIMIT ?) AS top JOIN papers p ON p.rowid = top.rowid "
                   "ORDER BY top.score DESC")
        rows = self._db.execute(sql, [match, *params, k]).fetchall()
        return [(r[0], float(r[1])) for r in rows if r[1] > 0]


class _Transaction:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __enter__(self) -> Catalog:
        self.catalog._lock.acquire()
        self.catalog._db.execute("BEGIN IMMEDIATE")
        return self.catalog

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self.catalog._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.catalog._lock.release()


def _row(record: dict[str, Any]) -> list[Any]:
    rest = {k: v for k, v in record.items() if k not in _COLUMNS and v is not None and v != ""}
    return [
        record["paper_id"], record["title"], record.get("abstract", ""), record.get("published_ord"),
        record.get("authors"), record.get("organization") or None, record.get("upvotes"),
        normalise_title(record["title"]) or None, normalise_arxiv(record.get("arxiv_id")),
        normalise_doi(record.get("doi")), json.dumps(rest, ensure_ascii=False),
    ]


def _record(row: sqlite3.Row) -> dict[str, Any]:
    record: dict[str, Any] = {"paper_id": row["paper_id"], "title": row["title"], "abstract": row["abstract"]}
    for key in ("published_ord", "authors", "organization", "upvotes"):
        if row[key] is not None:
            record[key] = row[key]
    record.update(json.loads(row["rest"]))
    return record
