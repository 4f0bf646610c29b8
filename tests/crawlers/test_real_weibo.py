"""Weibo parsers on real captured responses (tests/fixtures/pages/weibo/real/, provenance in PROVENANCE.md).

``weiboapi_old_response.js`` holds m.weibo.cn answers of June 2019 as JavaScript variables (``let cards1 = {…}``):
:func:`js_object` takes one out, unchanged, and serialises it as the body the API sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from crawlers.parsers import weibo

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "weibo" / "real"
BASE = "http://127.0.0.1:8765"
JUNE_2019 = datetime(2019, 6, 16, 5, 7, tzinfo=UTC)  # the commit that saved cards1 (13:07 in Shanghai)
AUG_2025 = datetime(2025, 8, 1, tzinfo=UTC)


def js_object(name: str) -> bytes:
    text = (REAL / "weiboapi_old_response.js").read_text(encoding="utf-8")
    start = text.index(f"let {name} = ") + len(f"let {name} = ")
    value, _ = json.JSONDecoder().raw_decode(text, start)
    return json.dumps(value, ensure_ascii=False).encode()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_profile_cards_2019_exact_times_from_mid_and_retweet_originals():
    url = f"{BASE}/api/container/getIndex?type=uid&value=1669879400&containerid=1076031669879400&page=1"
    page = weibo.parse_search(js_object("cards1"), url, product="demo", target="t", now=JUNE_2019)
    assert len(page.items) == 11 and page.dropped == [] and page.next == url.replace("page=1", "page=2")
    first = page.items[0]
    assert (first.source_id, first.kind, first.author_id, first.author_name) == ("4383183661430868", "post", "1669879400",
                                                                                "Dear-迪丽热巴")
    # "06-14" alone would be midnight; the mid encodes 20:38:03 Shanghai time.
    assert first.created_at == utc(2019, 6, 14, 12, 38, 3)
    assert first.text == "搬完这块砖，就可以吃好吃的了[偷笑][偷笑][偷笑]"
    assert (first.likes, first.replies, first.reposts) == (348872, 95535, 240492)
    assert first.extra["bid"] == "HyTZc60ew"
    # A retweet: the original is stored as a post of its own and the retweet links it (both ways).
    rt, original = page.items[1], page.items[2]
    assert (rt.source_id, rt.extra["retweet_of"]) == ("4383180406740606", "4383031864995274")
    assert (original.source_id, original.author_name, original.extra["retweeted_by"]) == ("4383031864995274",
                                                                                         "代斯daisy", rt.source_id)
    assert original.text.startswith("写在《秦明·生死语者》上映这一天……") and original.created_at == utc(2019, 6, 14, 2, 34, 52)
    assert original.replies == 1190
    # ...and followed: its comments are fetched like any post's.
    assert weibo.hotflow_url(BASE, original.source_id) in [f.url for f in page.follow]


def test_retweet_status_show_stores_the_original():
    page = weibo.parse_extend(js_object("retweet01"), f"{BASE}/statuses/show?id=HyZVegYAP", product="demo", target="t",
                              now=JUNE_2019)
    assert [(i.source_id, i.text[:4]) for i in page.items] == [("4383411844046171", "转发微博"), ("4383404751066167", "#️*️")]
    rt, original = page.items
    assert rt.extra["retweet_of"] == original.source_id and original.extra["retweeted_by"] == rt.source_id
    assert (original.author_id, original.author_name, original.reposts) == ("5349576923", "upupming", 1)
    assert rt.created_at == utc(2019, 6, 15, 3, 44, 46)


def test_extend_long_text_2019():
    page = weibo.parse_extend(js_object("statuses1"), weibo.extend_url(BASE, "4383487819465288"), product="demo",
                              target="t", now=JUNE_2019)
    assert page.items == [] and page.meta["long_text"].startswith("😄😆😊") and "<br />Nature <br />" in page.meta["long_text"]


def test_legacy_comments_read_hot_data():
    page = weibo.parse_comments(js_object("comments1"), weibo.comments_show_url(BASE, "4383183661430868"),
                                product="demo", target="t", now=JUNE_2019)
    assert len(page.items) == 12  # 2 in data.data ("刚刚") + 10 in data.hot_data
    assert page.next == weibo.comments_show_url(BASE, "4383183661430868", page=2)
    newest = page.items[0]
    assert (newest.source_id, newest.kind, newest.parent_id, newest.author_name) == (
        "4383932071637949", "comment", "4383183661430868", "迪热热的毛裤诶")
    assert newest.text == "吃的完吗？要不我帮你解决一点儿[太开心]" and newest.created_at == utc(2019, 6, 16, 14, 11, 58)
    hot = {i.source_id: i for i in page.items[2:]}
    assert hot["4383184256927204"].text == "[doge]我想吃你" and hot["4383184256927204"].likes == 5389
    assert hot["4383184256927204"].created_at == utc(2019, 6, 14, 12, 40, 25)  # "06-14" + the id's second


def test_hotflow_2019():
    page = weibo.parse_comments(js_object("comments2"), weibo.hotflow_url(BASE, "4383183661430868"), product="demo",
                                target="t", now=JUNE_2019)
    assert len(page.items) == 21 and page.meta == {"total_number": 133519}
    assert page.next == weibo.hotflow_url(BASE, "4383183661430868", max_id="314345666829623", max_id_type=0)
    top, reply = page.items[:2]
    assert (top.source_id, top.kind, top.likes, top.replies) == ("4383183984547669", "comment", 6183, 143)
    assert (reply.source_id, reply.kind, reply.parent_id, reply.text) == ("4383191449773449", "reply", top.source_id,
                                                                          "回复@热爱CP:那阿丝们一起搬叭[doge]")


def test_app_api_profile_cards_without_the_data_wrapper():
    page = weibo.parse_search((REAL / "weiback-rs_tests_data_profile_statuses.json").read_bytes(),
                              f"{BASE}/api/container/getIndex?containerid=x&page=1", product="demo", target="t", now=AUG_2025)
    posts = [i for i in page.items if "retweeted_by" not in i.extra]
    assert len(posts) == 20 and len(page.items) == 23 and page.dropped == []
    first = page.items[0]
    assert (first.source_id, first.text, first.author_id, first.author_name) == ("5124557977684716", "转发微博", "1786055427",
                                                                                "Shapooooofficial")
    assert first.created_at == utc(2025, 1, 19, 7, 54, 54) and first.extra["region"] == "湖北"
    assert first.extra["retweet_of"] == "5118411677896648"


def test_pc_ajax_status_list():
    page = weibo.parse_search((REAL / "weiback-rs_res_full.json").read_bytes(), f"{BASE}/ajax/favorites/all_fav?page=1",
                              product="demo", target="t", now=AUG_2025)
    assert len(page.items) == 21 and page.dropped == []
    first = page.items[0]
    assert (first.source_id, first.author_name, first.created_at) == ("4907530030158189", "tombkeeper",
                                                                      utc(2023, 5, 31, 10, 43, 19))
    assert (first.likes, first.replies, first.reposts, first.extra["region"]) == (45, 19, 36, "北京")


def test_app_api_statuses_show_long_post():
    page = weibo.parse_extend((REAL / "weiback-rs_tests_data_statuses_show.json").read_bytes(), f"{BASE}/statuses/show?id=1",
                              product="demo", target="t", now=AUG_2025)
    assert len(page.items) == 1 and page.dropped == []
    post = page.items[0]
    assert (post.source_id, post.author_name, post.created_at) == ("5186600964721699", "tombkeeper", utc(2025, 7, 9, 12, 51, 35))
    assert post.text.startswith("#国家卫健委叫停阿尔茨海默病手术#") and len(post.text) > 200  # the long text, not the 152-char cut


def test_unknown_shape_is_named():
    page = weibo.parse_search(b'{"ok": 1, "data": {"statuses": []}}', f"{BASE}/api/container/getIndex?page=1",
                              product="demo", target="t", now=AUG_2025)
    assert page.items == [] and page.dropped[0][0] == "unknown_shape"
