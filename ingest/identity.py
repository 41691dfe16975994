"""Which papers are the same paper: by arXiv id, then DOI, then normalised title.

The same preprint reaches PaperScope from a .bib file, an arXiv snapshot, an OpenAlex page and a
Daily Papers listing, each with its own id or none; `Identities` maps every one of them to one id,
and a paper already in the index keeps the id it has. It does not read files or touch the index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingest.papers import Paper, normalise_arxiv, normalise_doi, normalise_title, paper_id


def derived_id(paper: Paper) -> bool:
    """True when the paper's id comes from its title or arXiv id, not from its file (a BEIR `_id`, a
    JSONL `id`): only such papers are matched by title."""
    return paper.id in (paper_id(paper.title), paper_id(paper.title, paper.arxiv_id))


class Identities:
    """Known papers by arXiv id, DOI and normalised title; `resolve` finds the id a paper already has."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._by_arxiv: dict[str, str] = {}
        self._by_doi: dict[str, str] = {}
        self._by_title: dict[str, str] = {}
        self._arxiv: dict[str, str | None] = {}  # pid -> its arXiv id

    @classmethod
    def of_records(cls, records: Iterable[dict[str, Any]]) -> Identities:
        """From the index's paper records (`PaperIndex.paper_records`)."""
        known = cls()
        for record in records:
            known.add(str(record["paper_id"]), str(record.get("title", "")),
                      normalise_arxiv(record.get("arxiv_id")), normalise_doi(record.get("doi")))
        return known

    def add(self, pid: str, title: str, arxiv_id: str | None = None, doi: str | None = None) -> None:
        """Remember `pid` under each key it has; a key already taken keeps its first paper."""
        self._ids.add(pid)
        self._arxiv[pid] = self._arxiv.get(pid) or arxiv_id
        if arxiv_id:
            self._by_arxiv.setdefault(arxiv_id, pid)
        if doi:
            self._by_doi.setdefault(doi, pid)
        key = normalise_title(title)
        if key:
            self._by_title.setdefault(key, pid)

    def add_paper(self, paper: Paper) -> None:
        self.add(paper.id, paper.title, paper.arxiv_id, paper.doi)

    def resolve(self, paper: Paper) -> str | None:
        """The id of the known paper that `paper` is, or None: its own id when known, else by arXiv id,
        DOI, then (for a paper whose id is not its file's) title. Papers with different arXiv ids are
        never one paper."""
        if paper.id in self._ids:
            return paper.id
        if paper.arxiv_id and paper.arxiv_id in self._by_arxiv:
            return self._by_arxiv[paper.arxiv_id]
        if paper.doi and paper.doi in self._by_doi:
            return self._by_doi[paper.doi]
        pid = self._by_title.get(normalise_title(paper.title)) if derived_id(paper) else None
        if pid is None:
            return None
        arxiv_id = self._arxiv.get(pid)
        if paper.arxiv_id and arxiv_id and paper.arxiv_id != arxiv_id:
            return None  # the same title, but another preprint (DOIs may differ: preprint and journal)
        return pid


def rekey(papers: dict[str, Paper], known: Identities) -> dict[str, Paper]:
    """`papers` with each one that `known` already has under its known id (merged when two of them
    turn out to be one paper); the others keep their ids."""
    out: dict[str, Paper] = {}
    for paper in papers.values():
        pid = known.resolve(paper) or paper.id
        paper.id = pid
        if pid in out:
            out[pid].merge(paper)
        else:
            out[pid] = paper
    return out
