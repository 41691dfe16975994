"""The keyword side of the index: BM25 over one document per paper (title + abstract), built with
`bm25s` and saved beside Chroma together with each paper's record (its metadata and abstract).
It carries the fingerprint of the Chroma contents it was built from, so a reader can tell when it
is stale. It does not decide when to rebuild (`index` does)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

log = logging.getLogger(__name__)

_META = "paperscope.json"


class KeywordIndex:
    """BM25 over papers, English stemming and stopwords; `search` returns (paper_id, score) pairs."""

    def __init__(self, records: list[dict], retriever: bm25s.BM25 | None, fingerprint: str) -> None:
        self.records = records
        self.ids = [r["paper_id"] for r in records]
        self.fingerprint = fingerprint
        self._retriever = retriever
        self._stemmer = Stemmer.Stemmer("english")

    @classmethod
    def build(cls, records: list[dict], fingerprint: str, k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
        """`records` are the papers' metadata dicts with `paper_id`, `title` and `abstract`."""
        if not records:
            return cls([], None, fingerprint)
        texts = [f"{r['title']}\n{r.get('abstract', '')}" for r in records]
        stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(tokens, show_progress=False)
        return cls(records, retriever, fingerprint)

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Top-k papers for `query`, best first; with `allowed`, only those papers."""
        if self._retriever is None or k <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        scores = self._retriever.get_scores(_query_terms(tokens))
        if allowed is not None:
            mask = np.fromiter((i in allowed for i in self.ids), dtype=bool, count=len(self.ids))
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores)[:k]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old index or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".keyword-", dir=path.parent))
        if self._retriever is not None:
            self._retriever.save(str(tmp))
        (tmp / _META).write_text(json.dumps({"records": self.records, "fingerprint": self.fingerprint}))
        old = path.with_name(path.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> KeywordIndex | None:
        """The saved index, or None when there is none (or it is unreadable: the caller rebuilds)."""
        meta_file = path / _META
        if not meta_file.exists():
            return None
        try:
            meta = json.loads(meta_file.read_text())
            retriever = bm25s.BM25.load(str(path)) if meta["records"] else None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("keyword index at %s is unreadable (%s); it will be rebuilt", path, exc)
            return None
        return cls(meta["records"], retriever, meta["fingerprint"])


def _query_terms(tokens: bm25s.tokenization.Tokenized) -> list[str]:
    inverse = {index: word for word, index in tokens.vocab.items()}
    return [inverse[i] for i in tokens.ids[0]]
