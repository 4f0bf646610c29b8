"""Zhihu end to end through real headless Chromium (scrapy-playwright) against the replay server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crawlers.runner import run_crawl

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages" / "zhihu"
JSON = "application/json; charset=utf-8"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                 reason="needs Debian's chromium (apt-get install -y chromium)")]


def test_zhihu_search_feeds_comments_through_chromium(crawl_settings, replay, stored_docs):
    replay.add("/api/v4/search_v3", query={"offset": "0"}, body=PAGES / "search_page1.json", content_type=JSON)
    replay.add("/api/v4/search_v3", query={"offset": "20"}, body=PAGES / "search_last.json", content_type=JSON)
    for qid in ("612345678", "600000001"):
        replay.add(f"/api/v4/questions/{qid}/feeds", body=PAGES / "feeds_last.json", content_type=JSON)
    replay.add("/api/v4/questions/612345678/feeds", query={"offset": "0"}, body=PAGES / "feeds_page1.json", content_type=JSON)
    replay.add("/api/v4/comment_v5/answers/3300112233/root_comment", body=PAGES / "root_comments_page1.json", content_type=JSON)
    replay.add("/api/v4/comment_v5/answers/3300112233/root_comment", query={"offset": "593830129_10990005_0"},
               body=PAGES / "root_comments_last.json", content_type=JSON)
    replay.add("/api/v4/comment_v5/comment/10990001/child_comment", body=PAGES / "child_comments.json", content_type=JSON)
    replay.add("/question/612345678", body=PAGES / "answer_page.html", content_type="text/html; charset=utf-8")
    products = [{"id": "demo", "name": "演示银行",
                 "zhihu": {"keywords": ["演示银行"], "question_ids": ["612345678"], "max_pages": 2}}]
    settings = crawl_settings(products=products)
    report = run_crawl(settings, sources=["zhihu"], env={"VOC_ZHIHU_COOKIE": "z_c0=token1; d_c0=abc"})
    run = report.source("zhihu")
    assert run.status == "ok", report.format() + "\n" + report.log_path.read_text()[-3000:]
    docs = list(stored_docs(settings).values())
    kinds = {d["kind"] for d in docs}
    assert {"answer", "comment"} <= kinds, kinds
    assert any(d["source_id"] == "answer:3300112233" or d["source_id"].endswith("3300112233") for d in docs)
    # Requests came from Chromium (it sends Sec-Fetch-* headers; Scrapy's own downloader does not),
    # carrying the account cookie.
    api = [r for r in replay.requests if r.path.startswith("/api/")]
    assert api and all("sec-fetch-mode" in r.headers for r in api)
    assert all("z_c0=token1" in r.headers.get("cookie", "") for r in api), [(r.path, r.headers.get("cookie")) for r in api]
