"""The overview (landing page), its drill path and click-through, per-page state, watchlists and export, in
real headless Chromium against a real uvicorn server and SQLite index (tests/browser/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from index import Filters, SearchQuery

pytestmark = pytest.mark.browser

from tests.helpers import NOW  # noqa: E402


def wait_ready(page, view: str) -> None:
    page.wait_for_function("v => document.body.dataset.ready === v", arg=view, timeout=15000)


def renders(page) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.renders || 0)"))


def click_and_wait(page, selector: str, view: str) -> None:
    n = renders(page)
    page.click(selector)
    page.wait_for_function("([n, v]) => Number(document.body.dataset.renders || 0) > n && document.body.dataset.ready === v",
                           arg=[n, view], timeout=15000)


def figure(page, key: str) -> dict:
    return page.eval_on_selector(f"#ov-figures [data-figure={key}]",
                                 "e => ({value: e.dataset.value, previous: e.dataset.previous,"
                                 " shown: e.querySelector('.fig-value').textContent,"
                                 " delta: e.querySelector('.fig-delta').textContent})")


def counts(index, since, until, **flt):
    res = index.search(SearchQuery(filters=Filters(product=("qingji",), since=since, until=until, **flt), limit=0,
                                   facets=("sentiment", "rating")))
    sentiment, rating = dict(res.facets["sentiment"]), dict(res.facets["rating"])
    n_rated = sum(rating.values())
    mean = round(sum(int(k) * v for k, v in rating.items()) / n_rated, 2) if n_rated else None
    return res.total, sentiment.get("negative", 0), mean


def test_overview_is_the_landing_page_and_its_figures_match_the_index(site, page):
    from tests.browser.test_web import _open_alert

    url, settings, index = site()
    _open_alert(settings)  # opened at NOW
    page.goto(url + "/")
    wait_ready(page, "overview")
    assert page.text_content("#tz") == "时区 Asia/Shanghai"
    for period, span in (("7d", timedelta(days=7)), ("24h", timedelta(hours=24))):
        if period != "7d":
            n = renders(page)
            page.select_option("#ov-period", period)
            page.wait_for_function("n => Number(document.body.dataset.renders) > n && document.body.dataset.ready === 'overview'", arg=n)
        total, neg, mean = counts(index, NOW - span, NOW)
        p_total, p_neg, p_mean = counts(index, NOW - 2 * span, NOW - span)
        vol = figure(page, "volume")
        assert (int(vol["value"]), int(vol["previous"])) == (total, p_total), period
        assert vol["shown"] == str(total)
        change = total - p_total
        assert vol["delta"].startswith(f"较上期 {'+' if change > 0 else '−' if change < 0 else '±'}{abs(change)}")
        share = figure(page, "negative_share")
        assert float(share["value"]) == round(neg / total, 4)
        assert share["shown"] == f"{neg / total * 100:.1f}%"
        if p_total:
            points = (neg / total - p_neg / p_total) * 100
            assert f"{abs(points):.1f} 个百分点" in share["delta"]
        rating = figure(page, "mean_rating")
        assert float(rating["value"]) == mean and rating["shown"] == f"{mean:.2f} 星"
        if p_mean is None:
            assert rating["previous"] == "null" and rating["delta"] == "上期无数据"
        else:
            assert float(rating["previous"]) == p_mean
            assert rating["delta"].endswith(f"{abs(mean - p_mean):.2f}")
        alerts = figure(page, "open_alerts")
        assert (alerts["value"], alerts["previous"], alerts["delta"]) == ("1", "0", "本期新增 1（上期 0）")
    assert page.locator("#ov-alerts li .title").all_text_contents() == ["轻记 · 登录/账号 负面反馈激增"]
    # the seed: 24 h ago to now holds 11-23's calm posts and the whole login spike
    assert (total, neg) == (10, 7)
    # every figure clicks through to its posts: a search whose total is the figure
    click_and_wait(page, "#ov-figures [data-figure=negative_share] .fig-value", "search")
    assert page.text_content("#summary").startswith(f"共 {neg} 条")
    assert "sentiment:negative" in page.input_value("#q") and "product:qingji" in page.input_value("#q")
    assert page.text_content("#range-chip") == "时间段：近 24 小时×"
    page.go_back()
    wait_ready(page, "overview")
    click_and_wait(page, "#ov-topics tr[data-topic=login] .count", "search")
    assert page.text_content("#summary").startswith("共 6 条")
    page.go_back()
    wait_ready(page, "overview")
    click_and_wait(page, "#ov-source li[data-value=weibo] .count", "search")
    assert page.text_content("#summary").startswith("共 1 条")


def test_drill_path_is_removable_breadcrumb_chips_down_to_the_posts(site, page, tmp_path_factory):
    from tests.browser.test_overview_layout import screens_dir

    url, _settings, _index = site()
    page.goto(url + "/#overview?period=7d")
    wait_ready(page, "overview")
    assert figure(page, "volume")["value"] == "16"
    click_and_wait(page, "#ov-figures .drill-neg", "overview")  # figure → negative
    assert figure(page, "volume")["value"] == "7"
    click_and_wait(page, "#ov-topics tr[data-topic=login] .topic-drill", "overview")  # → topic
    click_and_wait(page, "#ov-platform li[data-value=android] .name", "overview")  # → platform
    chips = page.locator("#ov-crumbs .chip").all_text_contents()
    assert chips == ["情感：负面×", "话题：登录/账号×", "平台：android×"]
    assert figure(page, "volume")["value"] == "4"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screens_dir(tmp_path_factory) / "overview-drill-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    # removing one chip drops just that condition
    click_and_wait(page, "#ov-crumbs .chip[data-field=topic] button", "overview")
    assert page.locator("#ov-crumbs .chip").all_text_contents() == ["情感：负面×", "平台：android×"]
    assert figure(page, "volume")["value"] == "4"
    click_and_wait(page, "#ov-crumbs .chip[data-field=platform] button", "overview")
    assert figure(page, "volume")["value"] == "7"
    click_and_wait(page, "#ov-topics tr[data-topic=login] .topic-drill", "overview")
    click_and_wait(page, "#ov-posts", "search")  # → posts, with the same conditions as chips
    assert page.text_content("#summary").startswith("共 6 条")
    fields = [c.get_attribute("data-field") for c in page.locator("#chips .chip").all()]
    assert fields == ["product", "sentiment", "topic", None]  # None: the time window chip (#range-chip)
    click_and_wait(page, "#chips .chip[data-field=topic] button", "search")
    assert page.text_content("#summary").startswith("共 7 条")


def test_no_page_silently_inherits_another_pages_filters(site, page):
    url, _settings, _index = site()
    page.goto(url + "/#search?q=登录")
    wait_ready(page, "search")
    assert page.text_content("#summary").startswith("共 6 条")
    click_and_wait(page, "#nav a[data-view=trends]", "trends")
    assert page.input_value("#q") == ""  # the trends page has its own (empty) query
    page.fill("#q", "闪退")
    n = renders(page)
    page.press("#q", "Enter")
    page.wait_for_function("n => Number(document.body.dataset.renders) > n && document.body.dataset.ready === 'trends'", arg=n)
    click_and_wait(page, "#nav a[data-view=search]", "search")
    assert page.input_value("#q") == "登录"  # the search page's own last query, not the trends one
    assert page.text_content("#summary").startswith("共 6 条")
    click_and_wait(page, "#nav a[data-view=overview]", "overview")
    click_and_wait(page, "#ov-figures [data-figure=volume] .fig-value", "search")
    assert "登录" not in page.input_value("#q")  # exactly the figure's query
    assert page.text_content("#summary").startswith("共 16 条")
    click_and_wait(page, "#nav a[data-view=trends]", "trends")
    assert page.input_value("#q") == "闪退"


def test_hourly_axis_says_the_hour_once(site, page):
    url, _settings, _index = site()
    page.goto(url + "/#trends?q=since:24h&interval=hour")
    wait_ready(page, "trends")
    labels = page.evaluate("() => window.vocCharts['chart-sentiment'].getOption().xAxis[0].data")
    assert labels and all(x.endswith("时") and "时时" not in x for x in labels), labels
    assert "11/24 09时" in labels


def test_watchlist_saved_from_search_shows_on_the_overview_and_export_downloads(site, page):
    url, _settings, _index = site()
    page.goto(url + "/#search?q=登录")
    wait_ready(page, "search")
    page.evaluate("() => { window.prompt = () => '登录问题'; }")
    with page.expect_response(lambda r: r.url.endswith("/api/watchlists") and r.request.method == "POST") as saved:
        page.click("#save-watch")
    assert saved.value.status == 200
    page.click("#save-watch")  # the same name again: a clear message in Chinese, nothing saved
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error").startswith("无法保存关注：名称不能为空")
    with page.expect_download() as dl:
        page.click("#export-csv")
    data = open(dl.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbfid,") and len(data.decode("utf-8-sig").strip().splitlines()) == 7
    with page.expect_download() as dl:
        page.click("#export-xlsx")
    assert dl.value.suggested_filename.endswith(".xlsx")
    click_and_wait(page, "#nav a[data-view=overview]", "overview")
    item = page.locator("#ov-watchlists li").first
    assert item.locator(".name").text_content() == "登录问题"
    assert item.locator(".n").text_content() == "6（上期 0）"
    click_and_wait(page, "#ov-watchlists li .name", "search")
    assert page.input_value("#q") == "登录" and page.text_content("#summary").startswith("共 6 条")


def test_crawled_values_on_the_overview_show_as_text(site, page):
    from tests.helpers import HOSTILE_PAGE as HOSTILE, indexed_doc

    url, _settings, index = site()
    evil = '<img src=x onerror="window.__pwned=5">'
    index.upsert([indexed_doc(lambda t: list(t), 900, HOSTILE, created=NOW - timedelta(hours=1), app_version=evil,
                             id_prefix="b", kind="review", platform='<svg onload="window.__pwned=6">', topics=("crash",))])
    page.goto(url + "/#overview?period=24h")
    wait_ready(page, "overview")
    versions = page.locator("#ov-app_version li .name").all_text_contents()
    assert evil in versions
    assert page.locator("#view-overview img, #view-overview script").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    # a value the query language cannot express (spaces, quotes) is shown but offers no wrong click-through
    row = page.locator("#ov-app_version li").filter(has_text="onerror")
    assert row.locator("button").count() == 0 and row.locator(".count").text_content() == "1"


def test_alert_links_with_a_query_open_the_search_page(site, page):
    url, _settings, _index = site()
    page.goto(url + "/?q=topic:login%20product:qingji")  # what alert messages link to (alerts.message.search_url)
    wait_ready(page, "search")
    assert page.input_value("#q") == "topic:login product:qingji"
    assert page.text_content("#summary").startswith("共 6 条")


def test_times_show_in_the_configured_zone_whatever_the_browsers(site, browser):
    url, _settings, _index = site()
    context = browser.new_context(locale="zh-CN", timezone_id="America/New_York")
    try:
        pg = context.new_page()
        pg.goto(url + "/#search?q=登录&sort=time")
        wait_ready(pg, "search")
        assert pg.text_content("#tz") == "时区 Asia/Shanghai"
        # the newest login post: 2026-11-24T01:25Z, 09:25 in Shanghai (20:25 the day before in New York)
        assert "2026/11/24 09:25" in pg.locator("#hits .hit .meta").first.text_content()
    finally:
        context.close()
