"""Metadata filters on a search or question: publication date range, author count, upvotes and
organisation.

One definition serves every side: `to_chroma_where` for the Chroma chunks, `to_sql` for the
catalog's indexed columns, `matches` for a record in hand. The organisation is a name compared
without case (chunks carry it lowercased as `org`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.errors import PaperScopeError

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_bound(text: str, *, end: bool) -> int:
    """'2024' -> 20240101 (or 20241231 as an end); '2024-03' -> 20240301 / 20240331; '2024-03-05' -> 20240305."""
    match = _DATE.match(text.strip())
    if not match:
        raise PaperScopeError(f"Not a date: {text!r}. Use YYYY, YYYY-MM or YYYY-MM-DD, e.g. --since 2024-01.")
    year, month, day = match.group(1), match.group(2), match.group(3)
    if day:
        return int(f"{year}{month}{day}")
    if month:
        return int(f"{year}{month}{'31' if end else '01'}")
    return int(f"{year}{'1231' if end else '0101'}")


@dataclass(frozen=True)
class Filters:
    """Which papers a query may return. Dates are inclusive; a paper whose date lacks a year
    never matches a date bound (its year is unknown)."""

    since: str | None = None
    until: str | None = None
    authors: int | None = None
    min_authors: int | None = None
    max_authors: int | None = None
    upvotes: int | None = None
    min_upvotes: int | None = None
    max_upvotes: int | None = None
    organization: str | None = None

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Filters:
        unknown = set(kwargs) - set(cls.__dataclass_fields__)
        if unknown:
            raise PaperScopeError(
                f"Unknown filter(s) {sorted(unknown)}; use {', '.join(cls.__dataclass_fields__)}."
            )
        filters = cls(**{k: v for k, v in kwargs.items() if v is not None})
        filters.bounds()  # validate dates now, with a clear message
        return filters

    def __bool__(self) -> bool:
        return any(v is not None for v in self.__dict__.values())

    def describe(self) -> str:
        """The filters in words: 'published 2023 to 2024, with at least 5 authors'."""
        parts = []
        if self.since and self.until:
            parts.append(f"published {self.since}" if self.since == self.until else
                         f"published {self.since} to {self.until}")
        elif self.since:
            parts.append(f"published {self.since} or later")
        elif self.until:
            parts.append(f"published {self.until} or earlier")
        for noun, eq, low, high in (("author", self.authors, self.min_authors, self.max_authors),
                                    ("upvote", self.upvotes, self.min_upvotes, self.max_upvotes)):
            if eq is not None:
                parts.append(f"with exactly {eq} {noun}{'s' if eq != 1 else ''}")
            if low is not None:
                parts.append(f"with at least {low} {noun}s")
            if high is not None:
                parts.append(f"with at most {high} {noun}s")
        if self.organization:
            parts.append(f"from {self.organization}")
        return ", ".join(parts)

    def bounds(self) -> tuple[int | None, int | None]:
        low = date_bound(self.since, end=False) if self.since else None
        high = date_bound(self.until, end=True) if self.until else None
        return low, high

    def _conditions(self) -> list[tuple[str, str, int]]:
        """(metadata key, Chroma operator, value) triples, all of which must hold."""
        low, high = self.bounds()
        candidates = [
            ("published_ord", "$gte", low),
            ("published_ord", "$lte", high),
            ("authors", "$eq", self.authors),
            ("authors", "$gte", self.min_authors),
            ("authors", "$lte", self.max_authors),
            ("upvotes", "$eq", self.upvotes),
            ("upvotes", "$gte", self.min_upvotes),
            ("upvotes", "$lte", self.max_upvotes),
        ]
        return [(key, op, value) for key, op, value in candidates if value is not None]

    def to_chroma_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = [{key: {op: value}} for key, op, value in self._conditions()]
        if self.organization is not None:
            clauses.append({"org": {"$eq": self.organization.lower()}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def to_sql(self, prefix: str = "") -> tuple[list[str], list[Any]]:
        """SQL conditions (all must hold) on the catalog's columns, and their parameters."""
        where = [f"{prefix}{key} {_SQL[op]} ?" for key, op, _ in self._conditions()]
        params: list[Any] = [value for _, _, value in self._conditions()]
        if self.organization is not None:
            where.append(f"{prefix}organization = ? COLLATE NOCASE")
            params.append(self.organization)
        return where, params

    def matches(self, record: dict[str, Any]) -> bool:
        if self.organization is not None and self.organization.lower() != str(record.get("organization") or "").lower():
            return False
        for key, op, value in self._conditions():
            have = record.get(key)
            if have is None or not _COMPARE[op](have, value):
                return False
        return True


_SQL = {"$gte": ">=", "$lte": "<=", "$eq": "="}
_COMPARE = {"$gte": lambda a, b: a >= b, "$lte": lambda a, b: a <= b, "$eq": lambda a, b: a == b}
