"""The one query language shared by the CLI, the HTTP API and the web page (design.md).

``闪退 登录 product:demo source:weibo,appstore sentiment:negative topic:login intent:bug since:7d``

* free words must all match (each is segmented with the index's tokenizer, so ``登录失败`` needs both
  ``登录`` and ``失败``); ``"quoted phrases"`` must match as adjacent tokens;
* ``field:value[,value]`` filters (any of the values): product, source, sentiment, topic, intent, risk,
  platform, version (app_version), rating (1–5);
* ``since:`` / ``until:`` take ``30m``, ``24h``, ``7d``, ``2w`` (before ``now``), a date ``2026-11-01``
  (a local day in ``tz``; ``until:`` a date includes that whole day) or an ISO date-time.

Unknown fields and bad values raise :class:`QueryError` naming the field. A word is read as a field
only when the part before the first ``:`` is ASCII letters/underscores; quote anything else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from index._errors import QueryError
from index.base import Filters, SearchQuery

__all__ = ["parse_query", "split_terms", "query_terms", "FIELDS", "SENTIMENTS", "INTENTS", "RISKS", "SOURCES"]

SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = ("bug", "feature_request", "question", "service_complaint", "praise", "other")
RISKS = ("media_threat", "regulator_threat", "legal_threat", "viral")
SOURCES = ("appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex")

#: query field → Filters attribute
FIELDS = {
    "product": "product", "source": "source", "sentiment": "sentiment", "topic": "topic", "intent": "intent",
    "risk": "risk", "platform": "platform", "version": "app_version", "app_version": "app_version",
    "rating": "rating", "since": "since", "until": "until",
}

_WORD = re.compile(r'"([^"]*)"?|(\S+)')
_FIELD = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def split_terms(text: str) -> list[tuple[str, bool]]:
    """Free text → ``[(word, is_phrase), …]``: quoted parts are phrases, the rest split on whitespace."""
    out: list[tuple[str, bool]] = []
    for m in _WORD.finditer(text):
        if m.group(1) is not None:
            if m.group(1).strip():
                out.append((m.group(1).strip(), True))
        elif m.group(2):
            out.append((m.group(2), False))
    return out


def _is_word_token(tok: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in tok)


def query_terms(text: str, tokenizer: Callable[[str], Sequence[str]]) -> list[tuple[list[str], bool]]:
    """Segment free text with the index tokenizer: ``[(tokens, is_phrase), …]``.

    A free word becomes its tokens (all must match); a phrase its tokens in order. Tokens without a
    letter or digit (punctuation, spaces) are dropped, as the FTS tokenizer would drop them.
    """
    out: list[tuple[list[str], bool]] = []
    for word, phrase in split_terms(text):
        toks = [t.strip().lower() for t in tokenizer(word)]
        toks = [t for t in toks if t and _is_word_token(t)]
        if toks:
            out.append((toks, phrase))
    return out


def _parse_time(field: str, value: str, now: datetime, tz: ZoneInfo) -> datetime:
    m = _RELATIVE.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            d = date.fromisoformat("-".join(p.zfill(2) for p in value.split("-")))
            if field == "until":
                d = d + timedelta(days=1)
            return datetime.combine(d, time(0), tzinfo=tz).astimezone(timezone.utc)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(field, f"bad time {value!r}: use 30m, 24h, 7d, 2w, a date like 2026-11-01 "
                                "or an ISO date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(timezone.utc)


def _check(field: str, values: list[str], allowed: Sequence[str]) -> None:
    for v in values:
        if v not in allowed:
            raise QueryError(field, f"unknown value {v!r} (one of: {', '.join(allowed)})")


def parse_query(text: str, *, now: datetime, tz: str = "Asia/Shanghai", limit: int = 20, offset: int = 0,
                sort: str = "relevance", facets: Sequence[str] = ()) -> SearchQuery:
    """Parse the query language into a :class:`SearchQuery`; raise :class:`QueryError` on bad input."""
    if now.tzinfo is None:
        raise ValueError("parse_query needs a timezone-aware now")
    zone = ZoneInfo(tz)
    free: list[str] = []
    values: dict[str, list[str | int]] = {}
    times: dict[str, datetime] = {}
    for m in _WORD.finditer(text):
        if m.group(1) is not None:
            if m.group(1).strip():
                free.append('"' + m.group(1).strip() + '"')
            continue
        word = m.group(2)
        fm = _FIELD.match(word)
        if not fm:
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
        if attr == "sentiment":
            _check(name, vals, SENTIMENTS)
        elif attr == "intent":
            _check(name, vals, INTENTS)
        elif attr == "risk":
            _check(name, vals, RISKS)
        elif attr == "source":
            for v in vals:
                if v not in SOURCES and not (v.startswith("forum:") and len(v) > len("forum:")):
                    raise QueryError(name, f"unknown value {v!r} (one of: {', '.join(SOURCES)}, forum:<name>)")
        elif attr == "rating":
            for v in vals:
                if not v.isdigit() or not 1 <= int(v) <= 5:
                    raise QueryError(name, f"bad value {v!r}: ratings are whole numbers 1–5")
        bucket = values.setdefault(attr, [])
        bucket.extend(x for x in (int(v) if attr == "rating" else v for v in vals) if x not in bucket)
    if "since" in times and "until" in times and times["since"] >= times["until"]:
        raise QueryError("since", "since must be before until")
    kwargs: dict[str, Any] = {k: tuple(v) for k, v in values.items()}
    kwargs.update(times)
    filters = Filters(**kwargs)
    return SearchQuery(text=" ".join(free), filters=filters, limit=limit, offset=offset,
                       sort=sort, facets=tuple(facets))  # type: ignore[arg-type]
