"""configs.times is the one home for UTC text and durations: the query language, the crawler's --since and the
configuration read the same duration grammar, and every writer of UTC text writes the same ``…Z`` form."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from configs._validate import ConfigError, build
from configs.times import format_duration, format_utc, parse_duration, parse_utc
from crawlers.config import parse_since
from index import parse_query
from index.base import format_time, parse_time

NOW = datetime(2026, 11, 24, 3, 5, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class _Window:
    window: timedelta


@pytest.mark.parametrize("text, seconds", [("45s", 45), ("30m", 1800), ("6h", 21600), ("14d", 14 * 86400),
                                           ("2w", 14 * 86400)])
def test_one_duration_grammar_for_config_queries_and_crawls(text, seconds):
    delta = timedelta(seconds=seconds)
    assert parse_duration(text) == delta
    assert build(_Window, {"window": text}, file="voc.yaml").window == delta
    assert parse_query(f"since:{text}", now=NOW).filters.since == NOW - delta
    assert parse_since(text, now=NOW) == NOW - delta
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize("text", ["0m", "30x", "30", "m", "３０m", "1y", "-5m", "1234567890s"])
def test_a_bad_duration_is_refused_everywhere_with_the_units_named(text):
    with pytest.raises(ValueError, match="units s, m, h, d, w"):
        parse_duration(text)
    with pytest.raises(ConfigError, match="window"):
        build(_Window, {"window": text}, file="voc.yaml")
    with pytest.raises(ValueError):
        parse_query(f"since:{text}", now=NOW)


def test_utc_text_is_written_and_read_in_one_form():
    assert format_utc(NOW) == "2026-11-24T03:05:00Z"
    beijing = datetime(2026, 11, 24, 11, 5, 0, 999_999, tzinfo=timezone(timedelta(hours=8)))
    assert format_utc(beijing) == "2026-11-24T03:05:00Z"  # converted to UTC, sub-seconds dropped
    assert format_utc(datetime(2026, 11, 24, 3, 5)) == "2026-11-24T03:05:00Z"  # naive is taken as UTC
    assert format_utc(None) is None
    assert parse_utc("2026-11-24T03:05:00Z") == NOW
    assert parse_utc("2026-11-24T11:05:00+08:00") == NOW
    assert parse_utc("2026-11-24T11:05:00+08:00").utcoffset() == timedelta(0)
    assert parse_utc("2026-11-24T03:05:00") == NOW
    with pytest.raises(ValueError, match="out of range"):
        parse_utc("9999-12-31T23:59:59-23:59")
    # the index's names are the same functions' behaviour
    assert format_time is format_utc
    assert parse_time("") is None and parse_time("2026-11-24T03:05:00Z") == NOW
