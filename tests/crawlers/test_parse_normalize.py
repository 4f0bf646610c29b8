"""Normalization tables (counts, times, HTML) and block detection."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawlers.parsers.blocks import cookie_env, detect_block
from crawlers.parsers.normalize import (
    decode_body, html_to_text, load_json, parse_count, parse_epoch, parse_rating, parse_time,
)
from tests.helpers import PARSER_NOW as NOW, utc  # NOW: 2026-11-24 11:05 in Shanghai


@pytest.mark.parametrize(("value", "expected"), [
    (74, 74), ("74", 74), (" 74 ", 74), ("1.2万", 12000), ("11万", 110000), ("100万+", 1000000),
    ("3亿", 300000000), ("1.5亿", 150000000), ("1,234", 1234), ("0", 0), (3.0, 3), ("2w", 20000),
    ("", None), (None, None), ("abc", None), ("转发", None), (True, None), ([1], None),
])
def test_parse_count(value, expected):
    assert parse_count(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (4, 4), ("4", 4), (" 5 ", 5), ("5.0", 5), (1.0, 1), ("3.9", 4), ("0", None), (6, None), ("-1", None),
    ("", None), (None, None), ("五星", None), ("nan", None), ("inf", None), (True, None), ([4], None),
])
def test_parse_rating(value, expected):
    assert parse_rating(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("刚刚", utc(2026, 11, 24, 3, 5)),
    ("5分钟前", utc(2026, 11, 24, 3, 0)),
    ("5 分钟前", utc(2026, 11, 24, 3, 0)),
    ("30秒前", utc(2026, 11, 24, 3, 4, 30)),
    ("半小时前", utc(2026, 11, 24, 2, 35)),
    ("3小时前", utc(2026, 11, 24, 0, 5)),
    ("2&nbsp;小时前", utc(2026, 11, 24, 1, 5)),
    ("今天 12:30", utc(2026, 11, 24, 4, 30)),
    ("今天 08:00", utc(2026, 11, 24, 0, 0)),
    ("昨天 12:30", utc(2026, 11, 23, 4, 30)),
    ("昨天&nbsp;00:10", utc(2026, 11, 22, 16, 10)),
    ("前天 12:30", utc(2026, 11, 22, 4, 30)),
    ("3天前", utc(2026, 11, 21, 3, 5)),
    ("06-14", utc(2026, 6, 13, 16, 0)),
    ("12-30", utc(2025, 12, 29, 16, 0)),  # a later month-day than today belongs to last year
    ("2024-8-6 22:11", utc(2024, 8, 6, 14, 11)),
    ("2024-08-06", utc(2024, 8, 5, 16, 0)),
    ("2026/11/20 09:15", utc(2026, 11, 20, 1, 15)),
    ("2015-12-17 11:31:03", utc(2015, 12, 17, 3, 31, 3)),
    ("发表于 2026-11-23 21:05", utc(2026, 11, 23, 13, 5)),
    ("2026-03", utc(2026, 2, 28, 16, 0)),
    ("10:40", utc(2026, 11, 24, 2, 40)),
    ("Sat Nov 23 10:00:00 +0800 2026", utc(2026, 11, 23, 2, 0)),
    ("2021-07-26T18:26:24-07:00", utc(2021, 7, 27, 1, 26, 24)),
    ("2020-11-12T08:00:00Z", utc(2020, 11, 12, 8, 0)),
    (1795482765, utc(2026, 11, 24, 1, 12, 45)),
    ("1795482765", utc(2026, 11, 24, 1, 12, 45)),
    (1795482765123, utc(2026, 11, 24, 1, 12, 45, 123000)),
    ("1795482765123", utc(2026, 11, 24, 1, 12, 45, 123000)),
    ("", None), (None, None), ("明天", None), ("2026-13-40 99:99", None), ({"a": 1}, None),
    ("2020-11-12T25:00:00Z", None), ("2020-11-12T08:00:00", utc(2020, 11, 12, 0, 0)),  # zone-less ISO: Shanghai
    ("Sat Nov 31 10:00:00 +0800 2026", None), ("Yesterday 10:00", None),
])
def test_parse_time(value, expected):
    got = parse_time(value, now=NOW)
    assert got == expected
    if got is not None:
        assert got.tzinfo == timezone.utc


def test_parse_time_uses_crawl_time_not_clock():
    later = datetime(2030, 1, 2, 0, 0, tzinfo=timezone.utc)
    assert parse_time("昨天 12:30", now=later) == utc(2030, 1, 1, 4, 30)
    assert parse_epoch("abc") is None and parse_epoch(-5) is None


@pytest.mark.parametrize(("html", "text"), [
    ('太卡了<img alt="[怒]" src="x.png">', "太卡了[怒]"),
    ("<span class=\"url-icon\"><img alt=[doge] src='d.png' style='width:1em' /></span>好吧", "[doge]好吧"),
    ("第一行<br>第二行<br />第三行", "第一行\n第二行\n第三行"),
    ("<p data-pid=\"a\">段一</p><p>段二</p>", "段一\n段二"),
    ("回复<a href='/n/小明'>@小明</a>:同问", "回复@小明:同问"),
    ("A &amp; B &lt;tag&gt; &quot;q&quot; &#x4e2d;&nbsp;C", 'A & B <tag> "q" 中 C'),
    ("<em class=\"highlight\">闪退</em>问题", "闪退问题"),
    ("<script>var a=1;</script><style>p{}</style>正文<!-- 注释 -->", "正文"),
    ("  多余   空格\n\n\n<br><br><br>结尾  ", "多余 空格\n\n结尾"),
    ("", ""), (None, ""),
])
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_decode_body_charsets():
    gbk_html = '<meta http-equiv="Content-Type" content="text/html; charset=gbk" /><p>登录闪退</p>'.encode("gb18030")
    assert "登录闪退" in decode_body(gbk_html)
    inline = "<script>var charset = 'gbk', x=1;</script>账单".encode("gbk")
    assert decode_body(inline).endswith("账单")
    assert decode_body("已是文本") == "已是文本"
    assert decode_body(b"\xef\xbb\xbf{}") == "{}"
    assert decode_body("无标记的GBK".encode("gbk")) == "无标记的GBK"  # not UTF-8 → gb18030
    assert decode_body(b"abc\xff", "utf-8") == "abc\ufffd"
    assert decode_body("x".encode(), "no-such-codec") == "x"


def test_load_json_replaces_unpaired_surrogate_escapes():
    assert load_json(b'{"t": "a\\ud800b", "\\udc00k": ["\\uDBFF"]}') == ({"t": "a\ufffdb", "\ufffdk": ["\ufffd"]}, None)
    assert load_json(b'{"t": "\\ud83d\\ude00"}') == ({"t": "\U0001f600"}, None)  # a pair is one character
    assert load_json('{"t": "\\\\ud800"}') == ({"t": "\\ud800"}, None)  # an escaped backslash: plain text


def test_load_json_reasons():
    assert load_json(b'{"a": 1}') == ({"a": 1}, None)
    assert load_json(b'{"a": ') == (None, "bad_json")
    assert load_json(b"<!DOCTYPE html><html>") == (None, "not_json")
    assert load_json(b"") == (None, "not_json")
    assert load_json(b" " * (21 * 1024 * 1024)) == (None, "too_large")


def test_cookie_env_names():
    assert cookie_env("weibo") == "VOC_WEIBO_COOKIE"
    assert cookie_env("forum:bbs-demo") == "VOC_FORUM_BBS_DEMO_COOKIE"


@pytest.mark.parametrize(("source", "status", "headers", "body", "kind", "in_reason"), [
    ("weibo", 432, {}, b"<html>forbidden</html>", "forbidden", "HTTP 432"),
    ("weibo", 403, {}, '{"ok": 0, "errno": "100005", "msg": "请求过于频繁,歇歇吧"}'.encode(), "rate_limit", "100005"),
    ("weibo", 200, {}, b'{"ok": 0, "url": "https://security.weibo.com/captcha/geetest?from=x"}', "captcha", "captcha"),
    ("weibo", 302, {"Location": "https://passport.weibo.cn/signin/login?entry=mweibo"}, b"", "login", "login"),
    ("tieba", 302, {b"Location": [b"https://wappass.baidu.com/static/captcha/tuxing.html?ak=1&backurl=x"]}, b"",
     "captcha", "wappass"),
    ("tieba", 200, {}, "<html><title>百度安全验证</title></html>".encode(), "captcha", "百度安全验证"),
    ("tieba", 200, {}, b"blocked", "forbidden", "blocked"),
    ("zhihu", 403, {}, '{"error": {"message": "您当前请求存在异常，暂时限制本次访问。", "code": 40362}}'.encode(),
     "rate_limit", "40362"),
    ("zhihu", 403, {}, b'{"error": {"need_login": true, "redirect": "https://www.zhihu.com/account/unhuman?type=S6E3V1",'
     b' "code": 40352, "message": "x"}}', "captcha", "40352"),
    ("zhihu", 403, {}, '{"error": {"message": "请求参数异常，请升级客户端后重试。", "code": 10003}}'.encode(), "forbidden",
     "10003"),
    ("zhihu", 302, {"location": "https://www.zhihu.com/account/unhuman?type=unhuman"}, b"", "captcha", "unhuman"),
    ("heimao", 200, {}, "<!DOCTYPE html><html><title>新浪通行证 登录</title></html>".encode(), "login", "login"),
    ("heimao", 200, {}, b'{"result": {"status": {"code": 10006, "msg": "signature error"}}}', "error", "10006"),
    ("v2ex", 429, {"Retry-After": "60"}, b"", "rate_limit", "Retry-After 60"),
    ("v2ex", 403, {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1795485600"}, b"{}", "rate_limit", "quota"),
    ("appstore", 418, {}, b"", "forbidden", "418"),
    ("forum:bbs", 200, {}, "<div>您尚未登录，没有权限访问该版块</div>".encode("gbk"), "login", "您尚未登录"),
    ("forum:bbs", 521, {}, b"<script>document.cookie='a=1';location.reload()</script>", "captcha", "WAF"),
])
def test_detect_block(source, status, headers, body, kind, in_reason):
    block = detect_block(source, status, headers, body)
    assert block is not None and block.kind == kind and in_reason in block.reason
    assert block.fix and str(block).startswith(block.reason)


def test_weibo_432_message_names_the_cookie_env():
    assert str(detect_block("weibo", 432, {}, b"")) == "HTTP 432 — set VOC_WEIBO_COOKIE"


@pytest.mark.parametrize(("source", "status", "body"), [
    ("weibo", 200, b'{"ok": 1, "data": {"cards": []}}'),
    ("zhihu", 200, b'{"data": [], "paging": {"is_end": true}}'),
    ("heimao", 200, b'{"result": {"status": {"code": 0}, "data": {"lists": []}}}'),
    ("forum:bbs", 200, "<html><body>正常页面</body></html>".encode()),
    ("appstore", 500, b"Internal Server Error"),
    ("tieba", 302, b""),
])
def test_content_is_not_a_block(source, status, body):
    assert detect_block(source, status, {"Location": "/p/123"} if status == 302 else None, body) is None
