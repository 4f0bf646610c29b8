"""Each API spider end to end against its saved responses, through the real Scrapy engine."""

from __future__ import annotations

from pathlib import Path

from crawlers.parsers import heimao
from crawlers.runner import run_crawl

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages"
JSON = "application/json; charset=utf-8"


def product(**targets):
    return [{"id": "demo", "name": "演示银行", **targets}]


def test_huawei_pages_until_the_empty_list(crawl_settings, replay, stored_docs):
    for number, name in ((1, "comments_page1"), (2, "comments_page3_last"), (3, "comments_empty")):
        replay.add("/edge/uowap/index", query={"reqPageNum": str(number), "appid": "C100000001"},
                   body=PAGES / "huawei" / f"{name}.json", content_type=JSON)
    settings = crawl_settings(products=product(huawei={"app_ids": ["C100000001"], "max_pages": 5}))
    run = run_crawl(settings, sources=["huawei"]).source("huawei")
    assert (run.status, run.new, run.errors) == ("ok", 3, 0), run
    assert {r.query["reqPageNum"] for r in replay.requests} == {"1", "2", "3"}
    sent = replay.requests[0].headers
    assert sent["referer"] == "https://appgallery.huawei.com/" and "Mozilla" in sent["user-agent"]
    docs = list(stored_docs(settings).values())
    assert {d["source"] for d in docs} == {"huawei"} and all(d["platform"] == "android" or d["platform"] for d in docs)


def test_weibo_search_long_text_and_comments(crawl_settings, replay, stored_docs):
    replay.add("/api/container/getIndex", query={"page": "1"}, body=PAGES / "weibo" / "search_page1.json", content_type=JSON)
    replay.add("/api/container/getIndex", query={"page": "2"}, body=PAGES / "weibo" / "search_page3_last.json", content_type=JSON)
    replay.add("/statuses/extend", query={"id": "5102950"}, body=PAGES / "weibo" / "extend_5102950.json", content_type=JSON)
    replay.add("/comments/hotflow", query={"id": "5103001"}, body=PAGES / "weibo" / "hotflow_page1.json", content_type=JSON)
    replay.add("/comments/hotflow", query={"id": "5103001", "max_id": "138275412345678"},
               body=PAGES / "weibo" / "hotflow_last.json", content_type=JSON)
    settings = crawl_settings(products=product(weibo={"keywords": ["演示银行"], "max_pages": 3, "max_comment_pages": 3}))
    report = run_crawl(settings, sources=["weibo"], env={"VOC_WEIBO_COOKIE": "SUB=abc; _T_WM=1"})
    run = report.source("weibo")
    assert run.status == "ok" and run.errors == 0, report.format()
    docs = list(stored_docs(settings).values())
    posts = {d["source_id"]: d for d in docs if d["kind"] == "post"}
    assert set(posts) == {"5103001", "5102950", "5102888", "5100001"}  # page 1 and the last page
    assert posts["5102950"]["text"].endswith("我要去黑猫投诉,大家有同样遭遇的可以一起。")  # full text from extend
    assert sum(1 for d in docs if d["kind"] in ("comment", "reply")) >= 3
    assert all(r.headers.get("cookie") == "SUB=abc; _T_WM=1" for r in replay.requests)
    assert any(r.path == "/comments/hotflow" and r.headers.get("referer", "").endswith("/detail/5103001") for r in replay.requests)


def test_weibo_api_error_mid_walk_is_a_run_error_and_keeps_the_cursor(crawl_settings, replay, stored_docs):
    """An ``ok: 0`` answer with an ``errno`` (not a block) on page 2: what follows page 1 is unknown, so the
    run reports the error with Weibo's message and the keyword's cursor does not move."""
    from crawlers.state import CrawlState

    replay.add("/api/container/getIndex", query={"page": "1"}, body=PAGES / "weibo" / "search_page1.json", content_type=JSON)
    replay.add("/api/container/getIndex", query={"page": "2"}, content_type=JSON,
               body='{"ok": 0, "errno": "20003", "msg": "系统繁忙，请稍后再试"}')
    replay.add("/statuses/extend", query={"id": "5102950"}, body=PAGES / "weibo" / "extend_5102950.json", content_type=JSON)
    settings = crawl_settings(products=product(weibo={"keywords": ["演示银行"], "max_pages": 3, "comments": False}))
    run = run_crawl(settings, sources=["weibo"], env={"VOC_WEIBO_COOKIE": "SUB=abc"}).source("weibo")
    assert run.errors == 1 and run.dropped.get("error") == 1, run
    assert any("errno 20003 系统繁忙" in m for m in run.error_messages), run.error_messages
    assert run.new > 0  # page 1's posts are kept …
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursors() == {}  # … but the walk did not complete: no cursor


def test_weibo_432_blocks_weibo_while_huawei_goes_on(crawl_settings, replay):
    replay.add("/api/container/getIndex", body=PAGES / "weibo" / "blocked_432.html", status=432)
    replay.add("/edge/uowap/index", query={"reqPageNum": "1"}, body=PAGES / "huawei" / "comments_page3_last.json", content_type=JSON)
    replay.add("/edge/uowap/index", query={"reqPageNum": "2"}, body=PAGES / "huawei" / "comments_empty.json", content_type=JSON)
    settings = crawl_settings(products=product(weibo={"keywords": ["演示银行", "演示 闪退"]}, huawei={"app_ids": ["C1"]}))
    report = run_crawl(settings, sources=["weibo", "huawei"])
    weibo = report.source("weibo")
    assert weibo.status == "blocked" and (weibo.blocked_reason, weibo.blocked_fix) == ("HTTP 432", "set VOC_WEIBO_COOKIE")
    assert "weibo blocked: HTTP 432 — set VOC_WEIBO_COOKIE" in report.format()
    assert report.source("huawei").status == "ok" and report.source("huawei").new == 1
    assert not report.ok


def test_heimao_signed_search(crawl_settings, replay, stored_docs):
    replay.add("/api/index/s", query={"page": "1"}, body=PAGES / "heimao" / "search_page1.json", content_type=JSON)
    replay.add("/api/index/s", query={"page": "2"}, body=PAGES / "heimao" / "search_page2_last.json", content_type=JSON)
    settings = crawl_settings(products=product(heimao={"keywords": ["演示银行"], "max_pages": 5}))
    run = run_crawl(settings, sources=["heimao"]).source("heimao")
    assert (run.status, run.new) == ("ok", 3), run
    for req in replay.requests:
        q = req.query
        assert len(q["rs"]) == 16 and len(q["ts"]) == 13
        assert q["signature"] == heimao.sign(q["ts"], q["rs"], q["keywords"], q["page_size"], q["page"])
    assert all(d["kind"] == "complaint" for d in stored_docs(settings).values())


def test_heimao_rate_limit_is_a_block(crawl_settings, replay):
    replay.add("/api/index/s", body=PAGES / "heimao" / "rate_limited.json", content_type=JSON)
    settings = crawl_settings(products=product(heimao={"keywords": ["演示银行"]}))
    run = run_crawl(settings, sources=["heimao"]).source("heimao")
    assert run.status == "blocked" and run.blocked_reason and run.blocked_fix


def test_v2ex_node_topics_and_replies(crawl_settings, replay, stored_docs):
    replay.add("/api/topics/show.json", query={"node_name": "apple"}, body=PAGES / "v2ex" / "topics_latest.json", content_type=JSON)
    replay.add("/api/replies/show.json", query={"topic_id": "1088123"}, body=PAGES / "v2ex" / "replies_v1.json", content_type=JSON)
    settings = crawl_settings(products=product(v2ex={"nodes": ["apple"]}))
    run = run_crawl(settings, sources=["v2ex"]).source("v2ex")
    assert run.status == "ok", run
    docs = list(stored_docs(settings).values())
    assert {d["source_id"] for d in docs if d["kind"] == "post"} == {"t1088123", "t1088100"}
    replies = [d for d in docs if d["kind"] == "reply"]
    assert replies and all(d["parent_id"] == "t1088123" for d in replies)
    assert not any(r.query.get("topic_id") == "1088100" for r in replay.requests)  # no replies: not asked


def test_tieba_bar_threads_lzl_and_search(crawl_settings, replay, stored_docs):
    tieba = PAGES / "tieba"
    html = "text/html; charset=utf-8"
    replay.add("/f", query={"kw": "演示银行", "pn": "0"}, body=tieba / "forum_page1.html", content_type=html)
    replay.add("/f", query={"kw": "演示银行", "pn": "50"}, body=tieba / "forum_last.html", content_type=html)
    for tid in ("9012345001", "9012345600", "9011111111", "8800000001"):
        replay.add(f"/p/{tid}", body=tieba / "thread_last.html", content_type=html)
    replay.add("/p/9012345678", body=tieba / "thread_page1.html", content_type=html)
    replay.add("/p/9012345678", query={"pn": "2"}, body=tieba / "thread_last.html", content_type=html)
    replay.add("/p/comment", body=tieba / "lzl_page1.html", content_type=html)
    replay.add("/f/search/res", query={"qw": "闪退", "pn": "1"}, body=tieba / "search_page1.html", content_type=html)
    replay.add("/f/search/res", query={"qw": "闪退", "pn": "2"}, body=tieba / "search_last.html", content_type=html)
    settings = crawl_settings(products=product(tieba={"bars": ["演示银行"], "keywords": ["闪退"], "max_pages": 2}))
    report = run_crawl(settings, sources=["tieba"])
    run = report.source("tieba")
    assert run.status == "ok" and run.errors == 0, report.format()
    docs = list(stored_docs(settings).values())
    assert {d["source"] for d in docs} == {"tieba"}
    assert {"post", "reply"} <= {d["kind"] for d in docs}
    paths = {r.path for r in replay.requests}
    assert {"/p/comment", "/f/search/res", "/p/9012345678"} <= paths
    assert any(r.path == "/f" and r.query.get("pn") == "50" for r in replay.requests)  # the page inside the comment


def test_tieba_security_check_blocks(crawl_settings, replay):
    replay.add("/f", body=PAGES / "tieba" / "security_check.html", content_type="text/html; charset=utf-8")
    settings = crawl_settings(products=product(tieba={"bars": ["演示银行"]}))
    run = run_crawl(settings, sources=["tieba"]).source("tieba")
    assert run.status == "blocked" and "百度安全验证" in run.blocked_reason and "VOC_TIEBA_COOKIE" in run.blocked_fix


def test_redirect_to_captcha_is_a_block_not_followed(crawl_settings, replay):
    replay.add("/f", status=302, body="", headers={"Location": "https://wappass.baidu.com/static/captcha/tuxing.html?ak=1&backurl=x"})
    settings = crawl_settings(products=product(tieba={"bars": ["演示银行", "演示 闪退"]}))
    run = run_crawl(settings, sources=["tieba"]).source("tieba")
    assert run.status == "blocked" and "captcha" in run.blocked_reason and "wappass" in run.blocked_reason
    # The redirect is not followed (no captcha host asked); only the two bars' first pages, already in flight.
    assert [r.path for r in replay.requests] == ["/f"] * len(replay.requests) and len(replay.requests) <= 2


def test_voc_crawl_command_prints_the_report_and_exit_code(crawl_settings, replay):
    from click.testing import CliRunner

    from app.cli import cli

    replay.add("/api/container/getIndex", body=PAGES / "weibo" / "blocked_432.html", status=432)
    replay.add("/edge/uowap/index", query={"reqPageNum": "1"}, body=PAGES / "huawei" / "comments_page3_last.json", content_type=JSON)
    replay.add("/edge/uowap/index", query={"reqPageNum": "2"}, body=PAGES / "huawei" / "comments_empty.json", content_type=JSON)
    settings = crawl_settings(products=product(weibo={"keywords": ["演示银行"]}, huawei={"app_ids": ["C1"]}))
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(settings.config_dir), "crawl", "huawei", "weibo", "--product", "demo"], env=env)
    assert result.exit_code == 1, result.output
    assert "huawei    ok       pages 2, new 1, updated 0" in result.output
    assert "weibo blocked: HTTP 432 — set VOC_WEIBO_COOKIE" in result.output
    again = runner.invoke(cli, ["--config", str(settings.config_dir), "crawl", "huawei", "--since", "3650d"], env=env)
    assert again.exit_code == 0 and "huawei    ok       pages 2, new 0, updated 1" in again.output, again.output
    bad = runner.invoke(cli, ["--config", str(settings.config_dir), "crawl", "--since", "later"], env=env)
    assert bad.exit_code == 2 and "--since must look like 7d" in bad.output
