"""Approximate facet counts are visible in the API answers (``facets_sampled``)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_facets_say_whether_they_count_every_match_or_the_newest_n(client_for, seeded):
    settings, _index, _docs = seeded
    assert settings.web.facet_sample == 2000  # the shipped default: 17 matches are counted exactly
    exact = (await client_for().get("/api/facets", params={"q": "since:30d", "fields": "sentiment"})).json()
    assert exact["total"] == 17 and exact["facets_sampled"] is None
    assert sum(n for _v, n in exact["facets"]["sentiment"]) == 17
    c = client_for(web={"facet_sample": 5})
    sampled = (await c.get("/api/facets", params={"q": "since:30d", "fields": "sentiment,intent"})).json()
    assert sampled["total"] == 17 and sampled["facets_sampled"] == 5
    assert sum(n for _v, n in sampled["facets"]["sentiment"]) == 5
    hits = (await c.get("/api/search", params={"q": "since:30d", "facets": "sentiment"})).json()
    assert hits["facets_sampled"] == 5 and hits["total"] == 17
