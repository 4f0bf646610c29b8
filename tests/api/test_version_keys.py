"""Finding 3 of issue 23, API side: one crawled app version ``3.²`` made ``/api/trends/ratings`` answer 500
(``'²'.isdigit()`` is True and ``int('²')`` raises). Versions now sort through ``configs.versions.version_key``,
the same function the rating-drop detector uses."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("version", ["3.²", "٣.٢", "3." + "9" * 5000, "3.1\n<b>x</b>"])
async def test_ratings_chart_survives_hostile_versions(client_for, seeded, version):
    _settings, index, docs = seeded
    hostile = {**docs[0], "id": "hostile-version-doc", "source_id": "hostile", "app_version": version, "rating": 1}
    index.upsert([hostile])
    r = await client_for().get("/api/trends/ratings")
    assert r.status_code == 200, r.text
    rows = [row["app_version"] for row in r.json()["versions"]]
    assert version in rows and rows.index("3.1.0") < rows.index("3.2.0")
