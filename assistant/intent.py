"""Read what a question asks for, without an LLM: its shape (a list of papers, one paper, a fact,
a count), its metadata constraints (publication date, author count, organisation, upvotes), an
extreme it asks for ("the most authors"), and the topic left once those and the question's
scaffolding are taken out. Follow-ups that point back ("which of those…") are recognised here too.

It reads structure, not topics: which papers are relevant is decided later, from retrieval's scores."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from assistant.evidence import terms
from assistant.filters import Filters

Shape = Literal["list", "one", "fact", "count"]

_NUMBERS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a dozen": 12}
_NUM = r"(\d+|" + "|".join(_NUMBERS) + r")"
_PEOPLE = r"(?:co-?)?authors?|contributors|people|persons|researchers|writers"
_DOCS = r"papers|works|studies|articles|publications|preprints|entries|ones|methods|approaches|techniques"

_COUNT = re.compile(rf"\bhow many\b(?:\s+\w+){{0,4}}?\s+(?:{_DOCS})\b|\b(?:the )?number of (?:{_DOCS})\b|\bcount (?:the )?",
                    re.IGNORECASE)
_LIST = re.compile(
    rf"\b(?:{_DOCS})\b|\b(?:list|enumerate|name (?:all|every))\b|\b(?:any|anything|something|everything)\b(?! else)"
    r"|\ball (?:the )?(?:work|research)\b|(?<!which )\b(?:work|research|literature) (?:on|about|into|regarding)\b",
    re.IGNORECASE,
)
_ONE = re.compile(r"\b(?:which|what|the|a|one|that|this) (?:\w+ )?(?:paper|work|study|article|publication|preprint)\b"
                  r"|\b(?:paper|work|study|article) (?:that|which|where|in which)\b", re.IGNORECASE)
_QUESTION_WORD = re.compile(r"^\s*(?:\w+[,:]\s*)?(which|what|who|how|when|where|why|does|do|did|is|are|was|were|can|could|"
                            r"has|have|name|list|find|show|give|tell|i|i'm|im|we|hey|hi|please)\b", re.IGNORECASE)
_FACT = re.compile(r"\b(?:what|how|who|whom|whose|when|where|why)\b|\?\s*$", re.IGNORECASE)
_BACKREF = re.compile(r"\b(of (those|these|them)|among (those|these|them)|those|these|they|them|the above)\b",
                      re.IGNORECASE)

_YEAR_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:between|from) (?:the (?:start|beginning|end) of )?(\d{4}) (?:and|to|through|until) "
                r"(?:the (?:start|beginning|end) of )?(\d{4})\b", re.I), "between"),
    (re.compile(r"\b(?:from |in |during )?(\d{4}) ?[-–] ?(\d{4})\b", re.I), "between"),
    (re.compile(r"\b(?:in |from )?(\d{4}) or (?:later|after|newer)\b|\b(?:in or after|no earlier than) (\d{4})\b|"
                r"\b(\d{4}) (?:and|or) (?:later|after|onwards?|beyond)\b|\b(\d{4}) onwards?\b", re.I), "since"),
    (re.compile(r"\b(?:in |from )?(\d{4}) or (?:earlier|before|older)\b|\b(?:in or before|no later than) (\d{4})\b|"
                r"\b(\d{4}) (?:and|or) (?:earlier|before)\b|\bup to (\d{4})\b", re.I), "until"),
    (re.compile(r"\b(?:published |released |from |appeared |dated )?(?:before|prior to|earlier than|older than|pre-) ?(\d{4})\b",
                re.I), "before"),
    (re.compile(r"\b(?:published |released |from |appeared |dated )?(?:after|later than|newer than|post-) ?(\d{4})\b",
                re.I),
     "after"),
    (re.compile(r"\b(?:published |released |appeared |dated )?since (\d{4})\b", re.I), "since"),
    (re.compile(r"\b(?:published |released |appeared |dated )?(?:in|from|during|of) (\d{4})\b", re.I), "in"),
    (re.compile(rf"\b(?:published|released|appeared|dated) (\d{{4}})\b|\b(\d{{4}})[- ](?:paper|{_DOCS})\b|"
                r"\b(\d{4}) (?:publication|publishing|release) (?:date|year)\b", re.I), "in"),
]
_COUNT_RULES: list[tuple[str, re.Pattern[str], str]] = [
    (key, re.compile(pattern.format(num=_NUM, noun=f"(?:{noun})"), re.I), kind)
    for key, noun in (("authors", _PEOPLE), ("upvotes", r"up-?votes?|likes"))
    for pattern, kind in (
        (r"\b(?:more than|over|above|greater than) {num} {noun}\b", "gt"),
        (r"\b(?:fewer than|less than|under|below) {num} {noun}\b", "lt"),
        (r"\b(?:at least|no fewer than|no less than|a minimum of) {num} {noun}\b|\b{num} or more {noun}\b", "ge"),
        (r"\b(?:at most|no more than|up to|a maximum of) {num} {noun}\b|\b{num} or (?:fewer|less) {noun}\b", "le"),
        # last: "at most three authors" must not read as "three authors"
        (r"\b(?:exactly |only |just )?{num}[ -]{noun}\b|\b{noun}(?: count)?(?: of| is| equal to|:)? (?:exactly )?{num}\b",
         "eq"),
    )
]
_SOLO = re.compile(r"\b(?:written |authored )?by (?:a |one )?(?:single|sole|lone) (?:author|researcher|person|writer)\b|"
                   r"\b(?:single|sole|solo)[- ]author(?:ed)?\b|"
                   r"\bone author\b", re.I)
_UPVOTED = re.compile(r"\b(?:with|having|that have|that got|that received) (?:any )?up-?votes\b|\bupvoted\b(?! by)", re.I)
_SUPERLATIVES: list[tuple[re.Pattern[str], tuple[str, bool]]] = [
    (re.compile(rf"\b(?:the )?(?:most|largest number of|highest number of|greatest number of|biggest number of) "
                rf"(?:{_PEOPLE})\b|\b(?:the )?(?:largest|biggest|longest) (?:author (?:list|count)|team|number of authors)\b",
                re.I), ("authors", True)),
    (re.compile(rf"\b(?:the )?(?:fewest|least|smallest number of|lowest number of) (?:{_PEOPLE})\b|"
                rf"\b(?:the )?(?:smallest|shortest) (?:author (?:list|count)|team|number of authors)\b", re.I),
     ("authors", False)),
    (re.compile(r"\b(?:the )?(?:most|highest number of) up-?votes?\b|\bmost[- ]up-?voted\b|\bmost (?:popular|liked)\b|"
                r"\bhighest[- ]up-?voted\b", re.I), ("upvotes", True)),
    (re.compile(r"\b(?:the )?(?:fewest|least) up-?votes?\b|\bleast[- ](?:up-?voted|popular)\b", re.I), ("upvotes", False)),
    (re.compile(r"\b(?:the )?(?:most recent(?:ly)?(?: published)?|newest|latest|last published)\b", re.I),
     ("published_ord", True)),
    (re.compile(r"\b(?:the )?(?:oldest|earliest(?: published)?|first published)\b", re.I), ("published_ord", False)),
]
# what a question says around its topic: question words, talk about papers, conversational framing
_SCAFFOLD = re.compile(
    r"(?<![\w-])(hey|hi|hello|please|thanks|(?:i'm|i am) after|(?:work|research|literature) (?:on|about|into|regarding)|"
    r"i'm|i am|i'd|i|we|you|me|us|our|my|can|could|would|do|does|did|looking for|"
    r"trying to|want|know|remember|recall|find|tell|show|give|list|name|enumerate|is there|are there|"
    r"which|what|all|the|any|anything|something|papers?|works?|studies|study|articles?|publications?|preprints?|ones?|among|"
    r"in (the|this|your|our) (collection|set|list|corpus)|collection|of (those|these|them)|among (those|these|them)|"
    r"those|these|them|they|were|was|are|is|has|have|had|got|gotten|get|received|earned|published|released|appeared|"
    r"written|authored|came out|come out|pull up|bring up|dig up|look up|"
    r"lists?|listed|with|by|that|about|on|and|or|also|how many|number of|count)(?![\w-])|[?.!,;:]",
    re.IGNORECASE,
)

# words about the catalog's fields, left over when a question restates its constraints ("two-person
# author teams", "an earlier year"): no topic in a question that has metadata constraints
_FIELD_WORDS = re.compile(
    r"(?<![\w-])(?:two|three|four|five|six|seven|eight|nine|ten|\d+)-(?:person|author|people)(?![\w-])|"
    r"(?<![\w-])(co-?authors?|authors?|authorship|names?|list|teams?|people|persons?|person|dates?|years?|\d{4}|"
    r"affiliated|longer|shorter|than|anywhere|january|february|march|april|may|june|july|august|september|october|"
    r"november|december|" + "|".join(_NUMBERS) + r"|\d+|"
    r"publication|earlier|later|older|newer|upvotes?|likes|organi[sz]ations?|affiliations?|institutions?|labs?|"
    r"count|number|total|single|longest|shortest|largest|smallest|fewer|less|more|most|least|exactly|whose)(?![\w-])",
    re.IGNORECASE,
)


@dataclass
class Intent:
    question: str
    query: str  # the question with its metadata phrases removed: what retrieval searches for
    topic: str  # the content words of `query` ("" when the question is only about metadata)
    shape: Shape = "one"
    filters: Filters = field(default_factory=Filters)
    superlative: tuple[str, bool] | None = None  # (metadata key, highest first)
    follow_up: bool = False  # refers back to the previous answer's papers
    keywords: bool = False  # typed as search-box keywords: no question word, no question mark

    @property
    def is_list(self) -> bool:
        """Every relevant paper is wanted (a list or a count), not the one best paper."""
        return self.shape in ("list", "count")

    @property
    def subject(self) -> str:
        """What relevance and evidence are judged against: the topic, without the question's
        scaffolding ("which papers are about…"), whose words no abstract needs to contain."""
        return self.topic or self.query

    @property
    def constrained(self) -> bool:
        """The question limits papers by metadata or asks for a metadata extreme."""
        return bool(self.filters) or self.superlative is not None

    @property
    def metadata_only(self) -> bool:
        return not terms(self.topic) and self.constrained


_WORDS = re.compile(r"[A-Za-z0-9][\w.+]*(?:-[\w.+]+)*")


def _name_like(word: str) -> bool:
    letters = sum(c.isalpha() for c in word)
    digits = sum(c.isdigit() for c in word)
    return letters > 0 and len(squash(word)) >= 3 and (sum(c.isupper() for c in word) >= 2 or digits > 0)


def names(text: str) -> list[str]:
    """The words of `text` written as names: two capitals or more ("MT-Bench", "OmegaPRM") or
    letters with digits ("CIFAR10", "GPT-4o"). A hyphenated word with a lower-case part
    ("IV-style") gives only its name-like parts; a plural is given singular ("PRMs" -> "PRM")."""
    found: list[str] = []
    for word in (w.rstrip(".") for w in _WORDS.findall(text)):
        if word.endswith("s") and sum(c.isupper() for c in word) >= 2:  # "PRMs": a plural of the name "PRM"
            word = word[:-1]
        parts = [p for p in word.split("-") if p]
        if all(p[0].isupper() or p[0].isdigit() for p in parts) and _name_like(word):
            found.append(word)
        else:
            found += [p for p in parts if _name_like(p)]
    return list(dict.fromkeys(found))


def squash(text: str) -> str:
    """`text` lower-cased with everything but letters and digits removed, so that "CIFAR-10",
    "cifar10" and "CIFAR 10" are one spelling."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def _cut(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end():]


def _years(text: str) -> tuple[dict[str, str], str]:
    for pattern, kind in _YEAR_RULES:
        match = pattern.search(text)
        if not match:
            continue
        years = [g for g in match.groups() if g]
        if not all(1900 <= int(y) <= 2100 for y in years):
            continue
        found = {"between": {"since": years[0], "until": years[-1]},
                 "before": {"until": str(int(years[0]) - 1)}, "after": {"since": str(int(years[0]) + 1)},
                 "since": {"since": years[0]}, "until": {"until": years[0]},
                 "in": {"since": years[0], "until": years[0]}}[kind]
        return found, _cut(text, match)
    return {}, text


def _counts(text: str) -> tuple[dict[str, int], str]:
    found: dict[str, int] = {}
    if match := _SOLO.search(text):
        found["authors"] = 1
        text = _cut(text, match)
    for key, pattern, kind in _COUNT_RULES:
        if any(k.endswith(key) or k == key for k in found):
            continue
        match = pattern.search(text)
        if not match:
            continue
        n = _number(next(g for g in match.groups() if g))
        found.update({"eq": {key: n}, "gt": {f"min_{key}": n + 1}, "lt": {f"max_{key}": n - 1},
                      "ge": {f"min_{key}": n}, "le": {f"max_{key}": n}}[kind])
        text = _cut(text, match)
    if "upvotes" not in " ".join(found) and (match := _UPVOTED.search(text)):
        found["min_upvotes"] = 1
        text = _cut(text, match)
    return found, text


def _organization(text: str, organizations: Iterable[str]) -> tuple[str | None, str]:
    """The collection's organisation the question names (its full name, or its first word when
    that word is distinctive), and the text without it."""
    for name in sorted(organizations, key=len, reverse=True):
        head = re.split(r"[\s\-_]+", name)[0]
        for form in (name, head if len(head) >= 4 else None):
            if not form:
                continue
            pattern = re.compile(rf"\b(?:from |by |at |of )?(?:the )?{re.escape(form)}\b[\w\-]*(?: (?:team|lab|group))?",
                                 re.IGNORECASE)
            if pattern.search(text):
                return name, pattern.sub(" ", text)
    return None, text


def _shape(question: str) -> Shape:
    if _COUNT.search(question):
        return "count"
    singular = _ONE.search(question)
    plural = _LIST.search(question)
    if plural and (not singular or plural.start() < singular.start()):
        return "list"
    if singular:
        return "one"
    if _FACT.search(question):
        return "fact"
    # keywords typed into a search box: every matching paper is wanted
    return "one" if _QUESTION_WORD.search(question) else "list"


def parse(question: str, filters: Filters | None = None, has_history: bool = False,
          organizations: Iterable[str] = ()) -> Intent:
    """The intent of `question`; explicit `filters` win over those read from the text.
    `organizations` are the collection's organisation names, the only ones a question can name."""
    read: dict[str, object] = {}
    years, text = _years(question)
    read.update(years)
    superlative = None
    for pattern, key in _SUPERLATIVES:
        match = pattern.search(text)
        if match:
            superlative = key
            text = _cut(text, match)
            break
    counts, text = _counts(text)
    read.update(counts)
    organization, text = _organization(text, organizations)
    if organization:
        read["organization"] = organization
    follow_up = has_history and bool(_BACKREF.search(question))
    explicit = filters or Filters()
    merged = replace(Filters(**read), **{k: v for k, v in explicit.__dict__.items() if v is not None})  # type: ignore[arg-type]
    topic = _SCAFFOLD.sub(" ", text)
    if merged or superlative is not None:
        topic = _FIELD_WORDS.sub(" ", topic)
    topic = " ".join(re.sub(r"\(\s*\)", " ", topic).split())
    shape = _shape(question)
    if follow_up and question.lower().lstrip().startswith(("which", "what")) and shape != "count":
        shape = "list"
    if superlative is not None and shape == "list" and not re.search(rf"\b(?:{_DOCS})\b", question, re.I):
        shape = "one"
    keywords = not _FACT.search(question) and not _QUESTION_WORD.search(question)
    return Intent(question=question, query=" ".join(text.split()), topic=topic if terms(topic) else "",
                  shape=shape, filters=merged, superlative=superlative, follow_up=follow_up, keywords=keywords)


_EXTREME_WORD = re.compile(r"\b(?:most|least|fewest|largest|smallest|highest|lowest|biggest|longest|shortest|"
                           r"newest|oldest|latest|earliest|first|last|top)\b", re.IGNORECASE)
_EXTREMES = {"authors": "authors", "upvotes": "upvotes", "published": "published_ord"}
_BOUNDS = {"published_from": "since", "published_to": "until", "authors_min": "min_authors",
           "authors_max": "max_authors", "upvotes_min": "min_upvotes", "upvotes_max": "max_upvotes"}


def adopt(proposal: dict[str, object], rules: Intent, organizations: Iterable[str] = ()) -> Intent:
    """`rules` (the reading from the question's words) completed by an LLM's `proposal` (the keys
    of prompts/read_question.txt), keeping only what checks out against the question and the
    catalog: years and counts the question writes, an organisation the collection records and the
    question names, an extreme the question asks for on a field the catalog has, and (when it adds
    such a constraint) a topic made of the question's own words. What the rules read wins, and the
    answer's shape is always theirs."""
    found: dict[str, Any] = {}
    # a bound must come from a number the question writes ("before 2024" bounds at 2023, "more than 5" at 6)
    stated = {int(n) for n in re.findall(r"\d+", rules.question)} | {
        v for k, v in _NUMBERS.items() if re.search(rf"\b{k}\b", rules.question, re.IGNORECASE)}
    for key, name in _BOUNDS.items():
        value = proposal.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            continue
        number = int(value)
        if not stated & {number - 1, number, number + 1}:
            continue
        if name in ("since", "until"):
            if 1900 <= number <= 2100:
                found[name] = str(number)
        elif 0 <= number <= 10_000:
            found[name] = number
    named = {o.lower(): o for o in organizations}
    organization = proposal.get("organization")
    if (isinstance(organization, str) and organization.lower() in named
            and re.split(r"[\s\-_]+", organization)[0].lower() in rules.question.lower()):
        found["organization"] = named[organization.lower()]
    given = {k for k, v in rules.filters.__dict__.items() if v is not None}
    if given & {"authors", "min_authors", "max_authors"}:
        given |= {"authors", "min_authors", "max_authors"}
    filters = replace(rules.filters, **{k: v for k, v in found.items() if k not in given})
    superlative = rules.superlative
    extreme = proposal.get("extreme")
    if superlative is None and isinstance(extreme, str) and extreme in _EXTREMES and _EXTREME_WORD.search(rules.question):
        superlative = (_EXTREMES[extreme], proposal.get("highest") is not False)
    topic = rules.topic
    proposed = proposal.get("topic")
    # the proposed topic matters only once a constraint the rules missed is taken out of it; the
    # rules' shape stands (measured: a small model's shape and topic cost more answers than they fix)
    if isinstance(proposed, str) and (filters != rules.filters or superlative != rules.superlative):
        words, asked = terms(proposed), set(terms(rules.question))
        if not words and not rules.topic:
            topic = ""
        elif words and set(words) <= asked:  # the question's own words, nothing invented
            topic = " ".join(proposed.split())
    return replace(rules, topic=topic, filters=filters, superlative=superlative)

