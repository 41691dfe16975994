"""Read what a question asks for, without an LLM: is it a "which papers…" list, does it carry
date or author-count constraints ("published in 2025", "exactly two authors"), does it ask for an
extreme ("the most authors"), and what topic is left once those are taken out. Follow-ups that
point back ("which of those…") are recognised here too."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.filters import Filters

_NUMBERS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_NUM = r"(\d+|" + "|".join(_NUMBERS) + r")"

_LIST = re.compile(
    r"^\s*(which|what|list|name|find|show|give me|are there)\b.*\b(papers|works|studies|articles|ones|methods|approaches)\b"
    r"|^\s*(list|find|show)\b|^\s*papers\b",
    re.IGNORECASE,
)
_BACKREF = re.compile(r"\b(of (those|these|them)|among (those|these|them)|those|these|they|them|the above)\b",
                      re.IGNORECASE)

_YEAR_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bbetween (\d{4}) and (\d{4})\b", re.I), "between"),
    (re.compile(r"\b(?:published |released |from |appeared )?(?:before|prior to|earlier than) (\d{4})\b", re.I),
     "before"),
    (re.compile(r"\b(?:published |released |from |appeared )?(?:after|later than) (\d{4})\b", re.I), "after"),
    (re.compile(r"\b(?:published |released |from |appeared )?since (\d{4})\b", re.I), "since"),
    (re.compile(r"\b(?:published |released |appeared )?(?:in|from|during) (\d{4})\b", re.I), "in"),
]
_AUTHOR_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b(?:with |by |having |that have |have )?(?:more than|over) {_NUM} authors\b", re.I), "gt"),
    (re.compile(rf"\b(?:with |by |having |that have |have )?(?:fewer|less) than {_NUM} authors\b", re.I), "lt"),
    (re.compile(rf"\b(?:with |by |having |that have |have )?at least {_NUM} authors\b", re.I), "ge"),
    (re.compile(rf"\b(?:with |by |having |that have |have )?at most {_NUM} authors\b", re.I), "le"),
    (re.compile(r"\b(?:written )?by a single author\b|\bsingle-authored\b|\bsolo[- ]authored\b", re.I), "solo"),
    # last: "at most three authors" must not read as "three authors"
    (re.compile(rf"\b(?:with |by |having |that have |have )?(?:exactly |only )?{_NUM}[ -]authors?\b", re.I), "eq"),
]
_SUPERLATIVES: list[tuple[re.Pattern[str], tuple[str, bool]]] = [
    (re.compile(r"\b(?:the )?(?:most|largest number of|highest number of) authors\b", re.I), ("authors", True)),
    (re.compile(r"\b(?:the )?(?:fewest|least|smallest number of) authors\b", re.I), ("authors", False)),
    (re.compile(r"\b(?:the )?most upvote[sd]\b|\bmost popular\b", re.I), ("upvotes", True)),
    (re.compile(r"\b(?:the )?(?:most recent(?:ly)?(?: published)?|newest|latest)\b", re.I), ("published_ord", True)),
    (re.compile(r"\b(?:the )?(?:oldest|earliest(?: published)?)\b", re.I), ("published_ord", False)),
]
_SCAFFOLD = re.compile(
    r"\b(which|what|list|name|find|show|give me|are there|all|the|papers?|works?|studies|articles|ones|"
    r"in the collection|of (those|these|them)|among (those|these|them)|those|these|them|they|"
    r"were|was|are|is|has|have|had|does|do|did|published|released|appeared|written|paper|"
    r"with|by|that|any|about|on)\b|[?.!,]",
    re.IGNORECASE,
)


@dataclass
class Intent:
    question: str
    query: str  # the question with its metadata phrases removed: what retrieval searches for
    topic: str  # the content words of `query` ("" when the question is only about metadata)
    is_list: bool
    filters: Filters = field(default_factory=Filters)
    superlative: tuple[str, bool] | None = None  # (metadata key, highest first)
    follow_up: bool = False  # refers back to the previous answer's papers

    @property
    def subject(self) -> str:
        """What relevance and evidence are judged against: the topic, without the question's
        scaffolding ("which papers are about…"), whose words no abstract needs to contain."""
        return self.topic or self.query

    @property
    def metadata_only(self) -> bool:
        return not self.topic and (bool(self.filters) or self.superlative is not None)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def parse(question: str, filters: Filters | None = None, has_history: bool = False) -> Intent:
    """The intent of `question`; explicit `filters` win over those read from the text."""
    text = question
    found: dict[str, object] = {}
    for pattern, kind in _YEAR_RULES:
        match = pattern.search(text)
        if not match:
            continue
        if kind == "between":
            found.update(since=match.group(1), until=match.group(2))
        elif kind == "before":
            found["until"] = str(int(match.group(1)) - 1)
        elif kind == "after":
            found["since"] = str(int(match.group(1)) + 1)
        elif kind == "since":
            found["since"] = match.group(1)
        else:
            found.update(since=match.group(1), until=match.group(1))
        text = text[: match.start()] + " " + text[match.end():]
        break
    for pattern, kind in _AUTHOR_RULES:
        match = pattern.search(text)
        if not match:
            continue
        n = 1 if kind == "solo" else _number(match.group(1))
        found.update({"eq": {"authors": n}, "solo": {"authors": 1}, "gt": {"min_authors": n + 1},
                      "lt": {"max_authors": n - 1}, "ge": {"min_authors": n}, "le": {"max_authors": n}}[kind])
        text = text[: match.start()] + " " + text[match.end():]
        break
    superlative = None
    for pattern, key in _SUPERLATIVES:
        match = pattern.search(text)
        if match:
            superlative = key
            text = text[: match.start()] + " " + text[match.end():]
            break
    follow_up = has_history and bool(_BACKREF.search(question))
    read = Filters(**found)  # type: ignore[arg-type]
    explicit = filters or Filters()
    merged = replace(read, **{k: v for k, v in explicit.__dict__.items() if v is not None})
    topic = " ".join(_SCAFFOLD.sub(" ", text).split())
    is_list = bool(_LIST.search(question)) or (follow_up and question.lower().lstrip().startswith(("which", "what")))
    return Intent(question=question, query=" ".join(text.split()), topic=topic if len(topic) > 2 else "",
                  is_list=is_list, filters=merged,
                  superlative=superlative, follow_up=follow_up)
