"""web.facet_concurrency and web.query_concurrency: 0 (auto) gives one slot per CPU core; a set value is taken as is."""

from __future__ import annotations

import os

import pytest

from configs.web import WebSettings


def test_auto_facet_slots_are_one_per_core_and_a_set_value_wins():
    assert WebSettings().facet_slots == max(1, os.cpu_count() or 1)
    assert WebSettings(facet_concurrency=3).facet_slots == 3
    with pytest.raises(ValueError, match="facet_concurrency"):
        WebSettings(facet_concurrency=-1)


def test_auto_query_slots_are_one_per_core_and_a_set_value_wins():
    assert WebSettings().query_slots == max(1, os.cpu_count() or 1)
    assert WebSettings(query_concurrency=5).query_slots == 5
    with pytest.raises(ValueError, match="query_concurrency"):
        WebSettings(query_concurrency=-1)
