"""Xiaomi GetApps and Tencent MyApp (应用宝) end to end: the real Scrapy engine against the replay server,
through the whole pipeline into the index; incremental re-runs stop at the cursor without duplicates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from crawlers.runner import run_crawl
from crawlers.state import CrawlState

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages"
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
APP = "100000001"
PKG = "com.qingji.notes"
LOCAL = {"enabled": True, "obey_robots_txt": False, "download_delay": 0.0}


def product(**targets):
    return [{"id": "demo", "name": "演示银行", **targets}]


def test_xiaomi_pages_from_0_until_has_more_is_false_then_stops_at_the_cursor(crawl_settings, replay, stored_docs):
    path = f"/apm/comment/list/{APP}"
    replay.add(path, query={"page": "0"}, body=PAGES / "xiaomi" / "comments_page0.json", content_type=JSON)
    replay.add(path, query={"page": "1"}, body=PAGES / "xiaomi" / "comments_page1_last.json", content_type=JSON)
    settings = crawl_settings(sources={"xiaomi": {**LOCAL, "base_url": replay.url}},
                              products=product(xiaomi={"app_ids": [APP], "packages": {APP: PKG}, "max_pages": 5}))
    run = run_crawl(settings, sources=["xiaomi"]).source("xiaomi")
    assert (run.status, run.pages, run.new, run.updated, run.errors) == ("ok", 2, 4, 0, 0), run
    assert [r.query["page"] for r in replay.requests] == ["0", "1"]  # hasMore false: no page 2
    sent = replay.requests[0].query
    assert (sent["co"], sent["la"], sent["sdk"], sent["os"]) == ("CN", "zh", "22", "1")
    assert re.fullmatch(r"[0-9a-f]{32}", sent["clientId"])  # a stable derived device id
    docs = {d["source_id"]: d for d in stored_docs(settings).values()}
    assert set(docs) == {"68130045521", "68129871102", "68127700345", "68120011873"}
    doc = docs["68130045521"]
    assert (doc["source"], doc["product"], doc["kind"], doc["platform"]) == ("xiaomi", "demo", "review", "android")
    assert (doc["rating"], doc["app_version"], doc["created_at"]) == (1, "5.2.0", "2026-11-24T00:41:00Z")
    assert doc["url"] == f"https://app.mi.com/details?id={PKG}" and doc["text"].endswith("重装也没用")
    assert docs["68129871102"]["text"] == "同步功能挺好用👍 就是<script>alert('x')</script>这种代码贴进笔记会被吞掉"
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("xiaomi", APP) == datetime(2026, 11, 24, 0, 41, tzinfo=UTC)

    before = len(replay.requests)
    again = run_crawl(settings, sources=["xiaomi"]).source("xiaomi")
    # page 0 holds items at or before the cursor: no page 1; its 3 items are updated, none duplicated
    assert (again.status, again.pages, again.new, again.updated) == ("ok", 1, 0, 3), again
    assert [r.query["page"] for r in replay.requests[before:]] == ["0"]
    assert len(stored_docs(settings)) == 4


def test_xiaomi_empty_list_ends_and_a_waf_page_blocks_only_that_source(crawl_settings, replay):
    xiaomi_pages = PAGES / "xiaomi"
    replay.add("/apm/comment/list/1", query={"page": "0"}, body=xiaomi_pages / "comments_empty.json", content_type=JSON)
    replay.add("/apm/comment/list/2", query={"page": "0"}, body=xiaomi_pages / "waf_challenge.html", content_type=HTML)
    replay.add(f"/appdetail/{PKG}/review", body=PAGES / "yyb" / "review_page.html", content_type=HTML)
    local = {**LOCAL, "base_url": replay.url}
    settings = crawl_settings(sources={"xiaomi": local, "yyb": local},
                              products=product(xiaomi={"app_ids": ["1", "2"]}, yyb={"packages": [PKG]}))
    report = run_crawl(settings, sources=["xiaomi", "yyb"])
    xiaomi, yyb = report.source("xiaomi"), report.source("yyb")
    assert xiaomi.status == "blocked" and "WAF challenge" in xiaomi.blocked_reason, report.format()
    assert "VOC_XIAOMI_COOKIE" in xiaomi.blocked_fix
    assert (yyb.status, yyb.new) == ("ok", 3), report.format()


def test_yyb_review_page_then_recrawl_updates_without_duplicates(crawl_settings, replay, stored_docs):
    replay.add(f"/appdetail/{PKG}/review", body=PAGES / "yyb" / "review_page.html", content_type=HTML)
    settings = crawl_settings(sources={"yyb": {**LOCAL, "base_url": replay.url}},
                              products=product(yyb={"packages": [PKG]}))
    run = run_crawl(settings, sources=["yyb"]).source("yyb")
    assert (run.status, run.pages, run.new, run.errors) == ("ok", 1, 3, 0), run
    assert [r.path for r in replay.requests] == [f"/appdetail/{PKG}/review"]  # only page 1 exists
    assert replay.requests[0].headers["referer"] == "https://sj.qq.com/"
    docs = {d["source_id"]: d for d in stored_docs(settings).values()}
    assert set(docs) == {"cmt_8f2a61d0", "cmt_8f2a5e11", "cmt_8f2a4c07"}
    doc = docs["cmt_8f2a5e11"]
    assert (doc["source"], doc["product"], doc["platform"], doc["rating"], doc["app_version"]) == (
        "yyb", "demo", "android", 4, "5.2.0")
    assert (doc["likes"], doc["replies"], doc["created_at"]) == (12000, 0, "2026-11-23T14:05:30Z")
    assert doc["raw_text"] == "笔记同步很快，赞👍 但粘贴<script>alert(1)</script>这段代码会变空白"
    assert "<script>alert(1)</script>" in doc["text"]  # normalized (full-width → half-width), still text
    assert doc["url"] == f"https://sj.qq.com/appdetail/{PKG}/review"
    assert (docs["cmt_8f2a61d0"]["likes"], docs["cmt_8f2a61d0"]["replies"]) == (23, 2)
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("yyb", PKG) == datetime(2026, 11, 24, 0, 41, tzinfo=UTC)
    again = run_crawl(settings, sources=["yyb"]).source("yyb")
    assert (again.status, again.new, again.updated) == ("ok", 0, 3), again
    assert len(stored_docs(settings)) == 3


def test_yyb_legacy_api_pages_by_context_and_reports_its_error_message(crawl_settings, replay, stored_docs):
    path = "/myapp/app/comment.htm"
    replay.add(path, query={"apkName": PKG, "p": "1"}, body=PAGES / "yyb" / "legacy_page1.json", content_type=JSON)
    replay.add(path, query={"apkName": PKG, "p": "2", "contextData": "eyJjdXJzb3IiOjJ9"},
               body=PAGES / "yyb" / "legacy_page2_last.json", content_type=JSON)
    replay.add(path, query={"apkName": "com.broken.app"}, body=PAGES / "yyb" / "legacy_error.json", content_type=JSON)
    settings = crawl_settings(sources={"yyb": {**LOCAL, "base_url": replay.url}},
                              products=product(yyb={"packages": [PKG, "com.broken.app"], "legacy_api": True}))
    run = run_crawl(settings, sources=["yyb"]).source("yyb")
    assert (run.pages, run.new, run.errors) == (3, 3, 1), run
    assert any("CommentManager.takeCommentList.error" in m for m in run.error_messages), run.error_messages
    assert run.dropped.get("error") == 1
    docs = {d["source_id"]: d for d in stored_docs(settings).values()}
    assert set(docs) == {"8812345-1795005000", "7712399-1794272523", "6612000-1794200000"}
    assert docs["8812345-1795005000"]["created_at"] == "2026-11-18T12:30:00Z"
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("yyb", PKG) == datetime(2026, 11, 18, 12, 30, tzinfo=UTC)
        assert state.cursor("yyb", "com.broken.app") is None


def test_voc_crawl_and_scrapy_crawl_commands(crawl_settings, replay, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from click.testing import CliRunner

    from app.cli import cli

    replay.add(f"/apm/comment/list/{APP}", query={"page": "0"}, body=PAGES / "xiaomi" / "comments_page1_last.json",
               content_type=JSON)
    replay.add(f"/appdetail/{PKG}/review", body=PAGES / "yyb" / "review_page.html", content_type=HTML)
    local = {**LOCAL, "base_url": replay.url}
    settings = crawl_settings(sources={"xiaomi": local, "yyb": local},
                              products=product(xiaomi={"app_ids": [APP]}, yyb={"packages": [PKG]}))
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    args = ["--config", str(settings.config_dir), "crawl", "xiaomi", "yyb", "--product", "demo"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "xiaomi    ok       pages 1, new 1, updated 0" in result.output
    assert "yyb       ok       pages 1, new 3, updated 0" in result.output

    out = tmp_path / "items.jsonl"
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "yyb", "-a", "product=demo", "-a", "since=3650d",
                           "-O", str(out)], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "VOC_CONFIG_DIR": str(settings.config_dir), **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["source_id"] for r in rows) == ["cmt_8f2a4c07", "cmt_8f2a5e11", "cmt_8f2a61d0"]
    assert {(r["source"], r["product"], r["platform"]) for r in rows} == {("yyb", "demo", "android")}


def test_targets_are_validated_at_load_with_file_and_key(tmp_path):
    import pytest

    from configs import load_settings
    from configs._validate import ConfigError

    cases = {
        "xiaomi:\n      app_ids: ['com.qingji.notes']\n": "products[0].xiaomi: xiaomi app_ids must be numeric",
        "xiaomi:\n      app_ids: ['1']\n      packages: {'2': com.x.y}\n": "packages name app ids not in app_ids: 2",
        "yyb:\n      packages: ['轻记']\n": "products[0].yyb: yyb packages must be Android package names",
        "yyb:\n      packages: [com.x.y]\n      max_pages: 0\n": "products[0].yyb: max_pages must be at least 1",
        # every paged source's targets share the check (configs.sources.PagedTarget)
        "weibo:\n      keywords: [闪退]\n      max_pages: 0\n": "products[0].weibo: max_pages must be at least 1",
        "forum:\n      - {name: bbs, base_url: 'http://x', max_pages: -1}\n":
            "products[0].forum[0]: max_pages must be at least 1",
    }
    repo_configs = Path(__file__).resolve().parents[2] / "configs"
    for n, (target, message) in enumerate(cases.items()):
        cdir = tmp_path / str(n)
        cdir.mkdir()
        for name in ("voc.yaml", "alerts.yaml", "topics.yaml"):
            (cdir / name).write_bytes((repo_configs / name).read_bytes())
        (cdir / "sources.yaml").write_text(f"products:\n  - id: qingji\n    name: 轻记\n    {target}", encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_settings(cdir, env={"VOC_HOME": str(tmp_path / "home")})
