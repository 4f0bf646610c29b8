"""The commands on a real redis-server: `voc demo --no-serve --frontier` leaves the same documents as without;
`voc crawl --frontier` with `voc worker` processes; bad URLs are usage errors, never tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from app.context import AppContext
from index import Filters

REPO = Path(__file__).resolve().parents[2]


def dup_groups(docs: dict[str, tuple]) -> set[frozenset[str]]:
    """Reposts linked together (``dup_of``): which copy is the first depends on crawl order, the groups do not."""
    groups: dict[str, set[str]] = {}
    for i, d in docs.items():
        groups.setdefault(d[-1] or i, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def documents(home: Path) -> dict[str, tuple]:
    from configs import load_settings

    settings = load_settings(REPO / "configs", env={**os.environ, "VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules"})
    ctx = AppContext(settings)
    try:
        return {d["id"]: (d["source"], d["text"], d["sentiment"], tuple(d["topics"]), d["dup_of"])
                for d in ctx.index.scan(Filters())}
    finally:
        ctx.close()


def voc(home: Path, *args: str):
    env = {"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules", "VOC_CONFIG_DIR": str(REPO / "configs")}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_demo_on_the_frontier_leaves_the_same_documents(redis_server, tmp_path):
    plain = voc(tmp_path / "plain", "demo", "--no-serve")
    assert plain.exit_code == 0, plain.output
    shared = voc(tmp_path / "shared", "demo", "--no-serve", "--frontier", redis_server.url)
    assert shared.exit_code == 0, shared.output
    want, got = documents(tmp_path / "plain"), documents(tmp_path / "shared")
    assert len(want) > 20
    assert {i: d[:-1] for i, d in got.items()} == {i: d[:-1] for i, d in want.items()}
    # Reposts: every link of the single-process run is there (which copy is first depends on crawl order). The
    # frontier links across sources within the run too; the single-process crawl does only once the other source's
    # spider closed (its texts reach the crawl state at close), so some of its copies stay unlinked.
    shared_groups = dup_groups(got)
    for group in dup_groups(want):
        assert any(group <= g for g in shared_groups), group
    for d in got.values():
        assert d[-1] is None or got[d[-1]][1] == d[1]
    assert len(shared_groups) < len(got)
    assert "Redis frontier redis://127.0.0.1" in shared.output


def test_bad_redis_urls_are_usage_errors(tmp_path):
    for args in (["crawl", "--frontier", "http://x"], ["worker", "tag", "--redis", "mysql://u:secret@h/db"],
                 ["demo", "--no-serve", "--frontier", "nope"]):
        result = voc(tmp_path, *args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "secret" not in result.output
