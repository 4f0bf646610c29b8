"""The one query language shared by the CLI, the HTTP API and the web page (design.md).

``闪退 登录 -广告 product:demo source:weibo,appstore sentiment:negative topic:login intent:bug since:7d``

* free words must all match. A word matches a document whose tokens hold all of the word's tokens (it is
  segmented with the index's tokenizer, so ``登录失败`` needs both ``登录`` and ``失败``) or whose text holds
  the word itself, even inside a longer word (``续费`` finds ``自动续费``; sub-word recall, see
  :mod:`index._grams`). ``"quoted phrases"`` must match as adjacent tokens (or as that exact text);
* ``-word`` / ``-"a phrase"`` excludes the documents the word or phrase would match; a query of
  excluded words alone matches everything else;
* ``field:value[,value]`` filters (any of the values): product, source, sentiment, topic, intent, risk,
  platform, version (app_version), rating (1–5). Sentiment, intent and risk values and, when the caller
  passes the taxonomy, topics also accept their Chinese names (``sentiment:负面``, ``topic:登录``);
* ``since:`` / ``until:`` take ``30m``, ``24h``, ``7d``, ``2w`` (before ``now``, at most 100 years), a date
  ``2026-11-01`` (a local day in ``tz``; ``until:`` a date includes that whole day) or an ISO date-time,
  between 1970 and 2100.

Unknown fields and bad values raise :class:`QueryError` naming the field, and unknown values list the
known ones. A word is read as a field only when the part before the first ``:`` is ASCII letters/
underscores; quote anything else. Numbers are ASCII digits only (``rating:¹`` is an error).

Cost bound: a query is at most :data:`MAX_QUERY_CHARS` characters and :data:`MAX_TERMS` distinct tokens
(repeated words count once); longer ones are a :class:`QueryError`. Backends also stop a query that runs
longer than their time limit (:class:`index.QueryTimeoutError`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from configs import vocab
from configs.times import DURATION_UNITS, parse_duration
from index._errors import QueryError
from index.base import Filters, SearchQuery

__all__ = ["parse_query", "split_terms", "split_words", "query_terms", "excluded_terms", "has_free_text",
           "Word", "Term", "FIELDS", "MAX_QUERY_CHARS", "MAX_TERMS", "EARLIEST", "LATEST"]

#: query field → Filters attribute
FIELDS = {
    "product": "product", "source": "source", "sentiment": "sentiment", "topic": "topic", "intent": "intent",
    "risk": "risk", "platform": "platform", "version": "app_version", "app_version": "app_version",
    "rating": "rating", "since": "since", "until": "until",
}
#: Longest query (characters) the parser and the backends accept: a pasted paragraph fits, a 100 KB
#: repetition does not (FTS5's cost grows with the words of a query).
MAX_QUERY_CHARS = 500
#: Most distinct tokens (free words' tokens and excluded words' tokens together) one query may need.
MAX_TERMS = 64
#: Time bounds outside [EARLIEST, LATEST] are errors (a bounded range, never an overflow).
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_MAX_LOOKBACK = timedelta(days=36525)

_WORD = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_FIELD = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)
_RELATIVE = re.compile(r"^([0-9]+)\s*([smhdw])$")  # a duration (configs.times grammar): since:30m
_DATE = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$")


class Word(NamedTuple):
    """One free word or phrase of a query's text."""

    text: str
    phrase: bool
    negated: bool


#: ``(tokens, is_phrase)``: one free word's (or phrase's) tokens, in order.
Term = tuple[list[str], bool]


def split_words(text: str) -> list[Word]:
    """Free text → words: ``"quoted"`` parts are phrases, the rest split on whitespace; a leading ``-``
    (before a word or a quote) excludes it."""
    out: list[Word] = []
    for m in _WORD.finditer(text):
        if m.group(2) is not None:
            if m.group(2).strip():
                out.append(Word(m.group(2).strip(), True, bool(m.group(1))))
        elif m.group(3):
            word = m.group(3)
            if word.startswith("-") and len(word) > 1:
                out.append(Word(word[1:], False, True))
            else:
                out.append(Word(word, False, False))
    return out


def split_terms(text: str) -> list[tuple[str, bool]]:
    """The words a document must match, ``[(word, is_phrase), …]`` (excluded words left out)."""
    return [(w.text, w.phrase) for w in split_words(text) if not w.negated]


def _is_word_token(tok: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in tok)


def _check_cost(text: str) -> None:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError("", f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,} are "
                             "searched — use fewer, more specific words")


def _terms(text: str, tokenizer: Callable[[str], Sequence[str]], negated: bool) -> list[Term]:
    _check_cost(text)
    out: list[Term] = []
    seen: set[tuple[tuple[str, ...], bool]] = set()
    distinct: set[str] = set()
    for word in split_words(text):
        toks = [t.strip().lower() for t in tokenizer(word.text)]
        toks = [t for t in toks if t and _is_word_token(t)]
        distinct.update(toks)
        key = (tuple(toks), word.phrase)
        if toks and word.negated == negated and key not in seen:
            seen.add(key)
            out.append((toks, word.phrase))
    if len(distinct) > MAX_TERMS:
        raise QueryError("", f"the query has {len(distinct):,} different words; at most {MAX_TERMS} are searched "
                             "— use fewer, more specific words")
    return out


def query_terms(text: str, tokenizer: Callable[[str], Sequence[str]]) -> list[Term]:
    """Segment the free words a document must match with the index tokenizer: ``[(tokens, is_phrase), …]``.

    A free word becomes its tokens (all must match); a phrase its tokens in order. Tokens without a
    letter or digit (punctuation, spaces) are dropped, as the FTS tokenizer would drop them. Repeated
    words count once; :class:`QueryError` when the text passes :data:`MAX_QUERY_CHARS` or its words
    :data:`MAX_TERMS` distinct tokens. Excluded (``-word``) words are left out: see :func:`excluded_terms`.
    """
    return _terms(text, tokenizer, negated=False)


def excluded_terms(text: str, tokenizer: Callable[[str], Sequence[str]]) -> list[Term]:
    """The ``-word`` / ``-"phrase"`` terms of ``text``, in the shape of :func:`query_terms`: a document
    that the same word without ``-`` would match is excluded."""
    return _terms(text, tokenizer, negated=True)


def has_free_text(text: str) -> bool:
    """Whether ``text`` holds any free word or phrase (to match or to exclude)."""
    return bool(split_words(text))


def _parse_time(field: str, value: str, now: datetime, tz: ZoneInfo) -> datetime:
    hint = "use 30m, 24h, 7d, 2w, a date like 2026-11-01 or an ISO date-time"
    if not value.isascii():
        raise QueryError(field, f"bad time {value!r}: only ASCII digits and letters; {hint}")
    m = _RELATIVE.match(value)
    dt: datetime | None
    if m:
        if len(m.group(1)) > 9 or int(m.group(1)) * DURATION_UNITS[m.group(2)] > _MAX_LOOKBACK.total_seconds():
            raise QueryError(field, f"bad time {value!r}: at most 100 years back ({_MAX_LOOKBACK.days}d)")
        try:
            dt = now - parse_duration(value)
        except ValueError:
            raise QueryError(field, f"bad time {value!r}: {hint}") from None
    else:
        try:
            if _DATE.match(value):
                d = date.fromisoformat("-".join(p.zfill(2) for p in value.split("-")))
                if field == "until":
                    d = d + timedelta(days=1)
                dt = datetime.combine(d, time(0), tzinfo=tz).astimezone(timezone.utc)
            else:
                dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if dt.tzinfo is None:
                    dt = dt.replace(tzinfo=tz)
                dt = dt.astimezone(timezone.utc)
        except OverflowError:  # a valid date-time whose offset takes it past year 9999 or before year 1
            dt = None
        except ValueError:
            raise QueryError(field, f"bad time {value!r}: {hint}") from None
    if dt is None or not EARLIEST <= dt <= LATEST:
        raise QueryError(field, f"bad time {value!r}: times lie between {EARLIEST.year} and {LATEST.year}")
    return dt


def _aliases(names: Mapping[str, str], ids: Sequence[str]) -> dict[str, list[str]]:
    """Accepted spelling → the ids it stands for: each id, its Chinese name and, for a name like
    ``登录/账号``, each part of it (a part two names share stands for both)."""
    out: dict[str, list[str]] = {i: [i] for i in ids}
    for i in ids:
        name = names.get(i)
        if not name:
            continue
        for alias in dict.fromkeys([name, *(p.strip() for p in name.split("/"))]):
            if alias and i not in out.setdefault(alias, []):
                out[alias].append(i)
    return out


def _resolve(field: str, values: list[str], ids: Sequence[str], names: Mapping[str, str]) -> list[str]:
    aliases = _aliases(names, ids)
    out: list[str] = []
    for v in values:
        found = aliases.get(v) or aliases.get(v.lower())
        if not found:
            known = ", ".join(f"{i} ({names[i]})" if names.get(i) else i for i in ids)
            raise QueryError(field, f"unknown value {v!r} (one of: {known})")
        out.extend(x for x in found if x not in out)
    return out


def parse_query(text: str, *, now: datetime, tz: str = "Asia/Shanghai", limit: int = 20, offset: int = 0,
                sort: str = "relevance", facets: Sequence[str] = (),
                topics: Mapping[str, str] | None = None) -> SearchQuery:
    """Parse the query language into a :class:`SearchQuery`; raise :class:`QueryError` on bad input.

    ``topics``: the taxonomy (topic id → Chinese name, from ``configs/topics.yaml``); with it, ``topic:``
    accepts ids and names and rejects anything else; without it, any topic id is taken as it is."""
    if now.tzinfo is None:
        raise ValueError("parse_query needs a timezone-aware now")
    _check_cost(text)
    zone = ZoneInfo(tz)
    free: list[str] = []
    values: dict[str, list[str | int]] = {}
    times: dict[str, datetime] = {}
    for m in _WORD.finditer(text):
        if m.group(2) is not None:
            if m.group(2).strip():
                free.append(m.group(1) + '"' + m.group(2).strip() + '"')
            continue
        word = m.group(3)
        fm = _FIELD.match(word[1:] if word.startswith("-") else word)
        if fm and word.startswith("-") and fm.group(1).lower() in FIELDS:
            raise QueryError(fm.group(1).lower(), f"{word!r}: a filter cannot be excluded; list the values to "
                                                  'keep instead, or quote the word to exclude it as text')
        if not fm or word.startswith("-"):
            free.append(word)
            continue
        name, raw = fm.group(1).lower(), fm.group(2)
        if name not in FIELDS:
            raise QueryError(name, f"unknown field {name!r} (known: {', '.join(sorted(set(FIELDS)))}); "
                                   'quote the word to search for it literally')
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1]
        if not raw.strip():
            raise QueryError(name, "empty value")
        attr = FIELDS[name]
        if attr in ("since", "until"):
            times[attr] = _parse_time(attr, raw.strip(), now, zone)
            continue
        vals = [v.strip() for v in raw.split(",") if v.strip()]
        if not vals:
            raise QueryError(name, "empty value")
        parsed: list[str | int] = list(vals)
        if attr == "sentiment":
            parsed = list(_resolve(name, vals, vocab.SENTIMENTS, vocab.SENTIMENT_NAMES))
        elif attr == "intent":
            parsed = list(_resolve(name, vals, vocab.INTENTS, vocab.INTENT_NAMES))
        elif attr == "risk":
            parsed = list(_resolve(name, vals, vocab.RISKS, vocab.RISK_NAMES))
        elif attr == "topic" and topics is not None:
            parsed = list(_resolve(name, vals, tuple(topics), topics))
        elif attr == "source":
            for v in vals:
                if not vocab.is_source(v):
                    raise QueryError(name, f"unknown value {v!r} (one of: {', '.join(vocab.SOURCES)}, "
                                           f"{vocab.FORUM_PREFIX}<name>)")
        elif attr == "rating":
            for v in vals:
                if not re.fullmatch(r"[1-5]", v):
                    raise QueryError(name, f"bad value {v!r}: ratings are whole numbers 1–5 (ASCII digits)")
            parsed = [int(v) for v in vals]
        bucket = values.setdefault(attr, [])
        bucket.extend(x for x in parsed if x not in bucket)
    if "since" in times and "until" in times and times["since"] >= times["until"]:
        raise QueryError("since", "since must be before until")
    kwargs: dict[str, Any] = {k: tuple(v) for k, v in values.items()}
    kwargs.update(times)
    filters = Filters(**kwargs)
    return SearchQuery(text=" ".join(free), filters=filters, limit=limit, offset=offset,
                       sort=sort, facets=tuple(facets))  # type: ignore[arg-type]
