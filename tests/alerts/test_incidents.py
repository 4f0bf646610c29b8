"""alerts.incidents: which signals join, which incident a group continues, and what an incident says.
Pure functions fed hand-made members; the comments say why each expected value holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from alerts.detect import Figures
from alerts.incidents import Member, collapse_samples, continues, evidence_lines, group, summarize, title_for

T = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def _m(kind, key, posts, *, product="p", current=None, severity="warning", **detail):
    f = Figures(current=current if current is not None else len(posts), expected=2, low=0, high=6, ratio=5.0,
                window_start=T - timedelta(hours=6), window_end=T)
    return Member(fingerprint=f"{kind}:{key}:{product}", rule=kind.replace("_", "-"), kind=kind, product=product,
                  key=key, severity=severity, title="", figures=f, posts=frozenset(posts), detail=detail)


LOGIN = {f"l{i}" for i in range(40)}
ADS = {f"a{i}" for i in range(30)}


def test_signals_sharing_posts_join_and_the_topic_spike_leads():
    members = [
        _m("volume_spike", "", LOGIN | ADS),  # the product's spike: both problems' posts
        _m("rating_drop", "3.2.0", set(list(LOGIN)[:25]) | {"old1", "old2"}),
        _m("volume_spike", "login", LOGIN),
        _m("volume_spike", "crash", set(list(LOGIN)[:6])),  # mis-tagged login posts
        _m("volume_spike", "ads", ADS),
        _m("high_risk", "l3", {"l3"}, severity="critical"),  # one of the login posts
        _m("high_risk", "x9", {"x9"}, severity="critical"),  # a post of no open problem
        _m("volume_spike", "login", LOGIN, product="other"),  # another product never joins
    ]
    groups = group(members)
    keys = sorted([(g[0].product, [m.key for m in g]) for g in groups])
    # the product-level spike joins the group it overlaps most (login: 40 of its 70 posts), never bridging
    assert keys == [("other", ["login"]), ("p", ["ads"]), ("p", ["login", "crash", "3.2.0", "", "l3"]), ("p", ["x9"])]


def test_a_group_continues_the_open_incident_holding_its_signal_or_its_posts():
    members = group([_m("volume_spike", "login", LOGIN)])[0]
    held = SimpleNamespace(fingerprint="inc1", product="p", detail={"members": [{"fingerprint": members[0].fingerprint}],
                                                                    "post_ids": []})
    overlapping = SimpleNamespace(fingerprint="inc2", product="p", detail={"members": [], "post_ids": sorted(LOGIN)[:20]})
    other = SimpleNamespace(fingerprint="inc3", product="q", detail={"members": [], "post_ids": sorted(LOGIN)})
    assert continues(members, [overlapping, held, other]).fingerprint == "inc1"
    assert continues(members, [overlapping, other]).fingerprint == "inc2"  # 20 of the smaller set's 20
    assert continues(members, [overlapping], taken={"inc2"}) is None  # already continued by another group
    assert continues(members, [other]) is None  # another product


def test_what_the_incident_says():
    members = [
        _m("volume_spike", "login", LOGIN, current=80, sentiment="negative", topic_names=["登录/账号"],
           versions=[["3.2.0", 62], ["3.1.2", 3]], sources=[["appstore", 62], ["forum:bbs", 16]],
           query="product:p topic:login"),
        _m("emerging_terms", "收不到验证码", set(list(LOGIN)[:18]),
           terms=["不行", "收不到验证码", "登录失败", "提示", "登录不上"],
           term_figures=[["收不到验证码", 18, 0.0, 18.0], ["登录失败", 24, 0.04, 24.0]]),
        _m("rating_drop", "3.2.0", LOGIN, severity="critical", low_reviews=76, reviews=86, mean=1.8,
           earlier_mean=3.58),
        _m("high_risk", "l3", {"l3"}, severity="critical", risk=["regulator_threat"],
           samples=[{"id": "l3", "text": "再不退款就去12315投诉"}]),
    ]
    d = summarize(members, product_name="轻记", topic_names={"login": "登录/账号"})
    # generic words (不行、提示) are dropped; the strongest term naming the topic leads the title
    assert d["terms"] == ["收不到验证码", "登录失败", "登录不上"]
    assert d["title"] == "3.2.0 登录失败激增：收不到验证码、登录不上"
    # 3.2.0 holds 62 of the lead's 65 versioned posts, and the rating drop names it
    assert d["versions"] == ["3.2.0"] and d["topics"] == ["login"] and d["risk"] == ["regulator_threat"]
    assert d["count"] == 80 and d["baseline"] == 2 and d["query"] == "product:p topic:login"
    assert d["risk_posts"][0]["id"] == "l3" and d["posts"] == 40
    texts = [e["text"] for e in d["evidence"]]
    assert texts[0] == "近 6 小时 80 条登录/账号负面反馈，此前同期通常 2 条（正常 0–6 条），是平时的 5.0 倍"
    assert texts[2].startswith("3.2.0 版本 76 条 1–2 星评价，占 ")
    assert texts[3] == "1 条帖子扬言投诉监管（互动 0）"


def test_titles_without_a_topic_or_a_spike():
    assert title_for(product_name="轻记", version="3.2.0", topic_names=[], terms=[], kinds=["rating_drop"], risk=[],
                     share=(0.88, 0.25)) == "3.2.0 版本评分下降：1–2 星评价占 88%（此前 25%）"
    assert title_for(product_name="轻记", version="", topic_names=[], terms=[], kinds=["high_risk"],
                     risk=["media_threat", "regulator_threat"]) == "轻记 高风险反馈：扬言曝光媒体、扬言投诉监管"
    assert title_for(product_name="轻记", version="", topic_names=[], terms=["一直", "魔法抠图", "wifi"],
                     kinds=["emerging_terms"], risk=[]) == "轻记 负面反馈出现新说法：魔法抠图"


def test_near_duplicates_collapse_with_their_count():
    docs = [{"id": i, "text": f"登录不上去，一直提示验证码错误 #{i}", "likes": i % 7, "created_at": f"2026-11-24T0{i % 9}:00:00Z"}
            for i in range(40)]
    docs += [{"id": 100, "text": "广告太多了，关不掉", "likes": 50, "created_at": "2026-11-24T01:00:00Z"}]
    out = collapse_samples(docs)
    assert [(s["similar"], s["text"][:6]) for s in out] == [(40, "登录不上去，"), (1, "广告太多了，")]
    assert out[0]["id"] in {6, 13, 20, 27, 34}  # the most engaged (likes 6) stands for the group


def test_evidence_is_said_once_for_the_same_posts():
    same = [_m("volume_spike", "login", LOGIN, current=40, sentiment="negative", topic_names=["登录"]),
            _m("volume_spike", "", LOGIN, current=40, sentiment="negative")]
    assert len(evidence_lines(same)) == 1
