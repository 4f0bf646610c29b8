"""The web page in real headless Chromium against a real uvicorn server: search, filter, drill-down,
alerts, login — and hostile crawled text that must show as text and run nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def wait_ready(page, view: str) -> None:
    page.wait_for_function("v => document.body.dataset.ready === v", arg=view, timeout=15000)


def renders(page) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.renders || 0)"))


def after_render(page, before: int, view: str) -> None:
    """Wait until the page finished a render that started after ``before`` renders."""
    page.wait_for_function("([n, v]) => Number(document.body.dataset.renders || 0) > n && document.body.dataset.ready === v",
                           arg=[before, view], timeout=15000)


def open_search(page, url: str, query: str) -> None:
    """Open the search page (already signed in or anonymous loopback) and run ``query`` from the search box."""
    page.goto(url + "/#search")
    wait_ready(page, "search")
    page.fill("#q", query)
    n = renders(page)
    page.press("#q", "Enter")
    after_render(page, n, "search")


def no_csp_or_js_errors(page) -> None:
    bad = [m for m in page.console_messages if m.startswith(("error", "pageerror"))]
    assert not bad, bad


def test_search_then_filter_by_a_facet(site, page):
    url, _s, _i = site()
    open_search(page, url, "登录")
    assert page.text_content("#summary").startswith("共 6 条")
    marks = page.locator("#hits mark").all_text_contents()
    assert marks and all("登录" in m for m in marks)
    # facet: 平台 → android narrows to the 4 android posts and puts platform:android into the query box
    n = renders(page)
    page.click("#facets [data-field=platform] button[data-value=android]")
    after_render(page, n, "search")
    assert page.text_content("#summary").startswith("共 4 条")
    assert page.locator("#hits .hit").count() == 4
    assert page.input_value("#q") == "登录 platform:android"
    # a bad query shows the field it is about
    page.fill("#q", "登录 colour:red")
    page.press("#q", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "colour" in page.text_content("#error")


def test_sampled_facet_counts_show_as_estimates_of_the_whole_match_set(site, page):
    url, _s, _i = site(web={"facet_sample": 3})  # facets of more than 3 matches count the newest 3
    open_search(page, url, "登录")
    page.wait_for_selector("#facets-sampled")
    assert page.text_content("#facets-sampled") == "计数按最新 3 条匹配估算（共 6 条）"
    # newest 3 of the 6 login posts: 2 android, 1 ios → scaled by 6/3
    shown = dict(zip(page.locator("#facets [data-field=platform] button").evaluate_all("bs => bs.map(b => b.dataset.value)"),
                     page.locator("#facets [data-field=platform] .n").all_text_contents()))
    assert shown == {"android": "≈4", "ios": "≈2"}
    # a query with no more matches than the window shows exact counts and no note
    page.fill("#q", "登录 platform:ios")
    n = renders(page)
    page.press("#q", "Enter")
    after_render(page, n, "search")
    assert page.locator("#facets-sampled").count() == 0
    assert page.locator("#facets [data-field=platform] .n").all_text_contents() == ["2"]
    no_csp_or_js_errors(page)


def test_hostile_crawled_text_shows_as_text_and_runs_nothing(site, page):
    url, _s, _i = site()
    page.goto(url + "/#search?q=" + "source:weibo")
    wait_ready(page, "search")
    hit = page.locator("#hits .hit")
    assert hit.count() == 1
    text = hit.locator(".text").text_content()
    assert "<script>window.__pwned=1</script>" in text and '<img src=x onerror="window.__pwned=2">' in text
    assert hit.locator("script, img, svg").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    # the javascript: URL of the post is not turned into a link
    assert hit.locator("a").count() == 0
    page.wait_for_timeout(300)  # give a would-be onerror/onload a chance to fire
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    no_csp_or_js_errors(page)


def _click_chart(page, chart_id: str, series_index: int, data_index: int, value: float) -> None:
    """Click the real canvas at the pixel ECharts draws (series, data index, value) at, once drawn."""
    page.wait_for_selector(f"#{chart_id}[data-finished='1']")
    x, y = page.evaluate(
        "([id, s, i, v]) => window.vocCharts[id].convertToPixel({seriesIndex: s}, [i, v])",
        [chart_id, series_index, data_index, value])
    box = page.locator(f"#{chart_id} canvas").first.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_drill_from_a_sentiment_spike_to_category_platform_and_posts(site, page):
    url, _s, _i = site()
    page.goto(url + "/#trends?q=since:2026-11-21")
    wait_ready(page, "trends")
    # the day buckets 11-21..11-24; on 11-24 only negative posts (6 login + 1 weibo): click the negative bar
    labels = page.evaluate("() => window.vocCharts['chart-sentiment'].getOption().xAxis[0].data")
    assert labels[-1].endswith("24")
    _click_chart(page, "chart-sentiment", 0, len(labels) - 1, 2)
    page.wait_for_selector("#drill:not([hidden]) [data-drill=topics]")
    topics = page.locator("#drill-list [data-drill=topics]").all_text_contents()
    assert any(t.startswith("登录/账号") and t.endswith("6") for t in topics), topics
    page.click("#drill-list [data-drill=topics][data-value=login]")
    page.wait_for_selector("#drill-list [data-drill=platform]")
    platforms = dict(
        (b.get_attribute("data-value"), b.locator(".n").text_content())
        for b in page.locator("#drill-list [data-drill=platform]").all())
    assert platforms == {"android": "4", "ios": "2"}
    n = renders(page)
    page.click("#drill-list [data-drill=platform][data-value=android]")
    after_render(page, n, "search")
    assert page.text_content("#summary").startswith("共 4 条")
    q = page.input_value("#q")
    assert "sentiment:negative" in q and "topic:login" in q and "platform:android" in q
    assert page.locator("#range-chip").is_visible()
    no_csp_or_js_errors(page)


def test_click_a_spike_in_the_topic_trend_to_see_its_posts(site, page):
    url, _s, _i = site()
    page.goto(url + "/#trends?q=since:24h")
    page.select_option("#interval", "hour")
    page.wait_for_function(
        "() => window.vocCharts['chart-topics'] && window.vocCharts['chart-topics'].getOption().series.length"
        " && window.vocCharts['chart-topics'].getOption().xAxis[0].data[0].endsWith('时')")
    option = page.evaluate("() => { const o = window.vocCharts['chart-topics'].getOption();"
                           " return o.series.map(s => ({name: s.name, data: s.data})); }")
    series_index = next(i for i, s in enumerate(option) if s["name"] == "登录/账号")
    data = option[series_index]["data"]
    spike = data.index(max(data))
    assert max(data) == 6
    n = renders(page)
    _click_chart(page, "chart-topics", series_index, spike, 6)
    after_render(page, n, "search")
    assert page.text_content("#summary").startswith("共 6 条")
    assert "topic:login" in page.input_value("#q")
    assert "09时" in page.text_content("#range-chip") and "时时" not in page.text_content("#range-chip")
    # clearing the time range widens the search again
    n = renders(page)
    page.click("#range-chip button")
    after_render(page, n, "search")
    assert page.locator("#range-chip").count() == 0
    no_csp_or_js_errors(page)


def _open_alert(settings) -> str:
    from alerts import Figures, open_store
    from alerts._evaluate import deliveries_for
    from alerts.lifecycle import AlertRecord, Transition, fingerprint

    fp = fingerprint("negative-volume-spike", "qingji", "login")
    rec = AlertRecord(fingerprint=fp, rule="negative-volume-spike", kind="volume_spike", product="qingji", key="login",
                      state="open", severity="critical", version=1, title="轻记 · 登录/账号 负面反馈激增",
                      figures=Figures(current=6, expected=0.5, low=0, high=2, ratio=12.0,
                                      window_start=NOW - timedelta(hours=6), window_end=NOW),
                      opened_at=NOW, updated_at=NOW, last_match_at=NOW, peak=6, notify_count=1, last_notified_at=NOW,
                      detail={"query": "topic:login product:qingji sentiment:negative"})
    with open_store(settings) as store:
        store.apply(fp, lambda _r: Transition(rec, "opened", True), lambda t: deliveries_for(settings, t), now=NOW)
    return fp


def alert_card(site, page):
    """The page's alerts view showing one open alert (:func:`_open_alert`): (settings, fingerprint, its card)."""
    url, settings, _i = site()
    fp = _open_alert(settings)
    page.goto(url + "/#alerts")
    wait_ready(page, "alerts")
    return settings, fp, page.locator(f"#alerts .alert[data-id='{fp}']")


def test_acknowledge_an_alert_then_follow_it_to_its_posts(site, page):
    settings, fp, item = alert_card(site, page)
    assert "登录/账号 负面反馈激增" in item.locator(".title").text_content()
    assert "倍数 12.0×" in item.locator(".figs").text_content()
    assert item.locator(".state").text_content() == "进行中"
    item.locator("button.ack").click()
    page.wait_for_function(f"() => document.querySelector(\"#alerts .alert[data-id='{fp}'] .state\").textContent === '已确认'")
    assert item.locator("button.ack").is_disabled()
    from alerts import open_store

    with open_store(settings) as store:
        assert store.get(fp).acked_at is not None
    n = renders(page)
    item.locator("button.link").click()  # 查看相关帖子
    after_render(page, n, "search")
    assert page.text_content("#summary").startswith("共 6 条")
    no_csp_or_js_errors(page)


def _rating_drop_incident(settings, index) -> str:
    """A real rating-drop incident, evaluated by the shipped rating-drop rule: with the seeded site's own
    reviews, 3.1.0 has 5 of 29 at 1–2 stars (17%, mean 4.1) and 3.2.0 has 28 of 31 (90%, mean 1.39)."""
    import dataclasses

    import alerts
    from classifier import make_tokenizer

    tok = make_tokenizer(settings)
    docs = []
    for i in range(45):
        old = i < 20
        rating = (1 if i % 4 == 0 else 5) if old else (2 if i % 8 == 0 else 1) if i < 42 else 4
        text = "挺好用的笔记软件" if rating >= 4 else ("偶尔卡一下" if old else f"3.2.0 登录后闪退，数据丢了 {i}")
        created = NOW - (timedelta(days=10, hours=i) if old else timedelta(hours=i))
        docs.append({"id": f"rd{i}", "source": "appstore", "source_id": f"rd{i}", "url": f"https://example.com/r/{i}",
                     "parent_id": None, "product": "qingji", "kind": "review", "title": "", "text": text,
                     "raw_text": text, "tokens": " ".join(tok(text)), "author_id": f"r{i}", "author_name": f"r{i}",
                     "created_at": (created).strftime("%Y-%m-%dT%H:%M:%SZ"), "crawled_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "rating": rating, "app_version": "3.1.0" if old else "3.2.0", "platform": "ios", "likes": 0,
                     "replies": 0, "reposts": 0, "sentiment": "negative" if rating <= 2 else "positive",
                     "sentiment_score": 0.9, "intent": "bug", "topics": [], "risk": [], "dup_of": None,
                     "model_version": "rules-test"})
    index.upsert(docs)
    rules = tuple(r for r in settings.alerts.rules if r.kind == "rating_drop")
    s = settings.replace(alerts=dataclasses.replace(settings.alerts, rules=rules))
    [rec] = alerts.evaluate(s, index, now=NOW).raised
    return rec.fingerprint


def test_an_alert_incident_says_its_figures_in_words_and_its_link_opens_exactly_its_posts(site, page):
    url, settings, index = site()
    fp = _rating_drop_incident(settings, index)
    page.goto(url + "/#alerts")
    wait_ready(page, "alerts")
    item = page.locator(f"#alerts .alert[data-id='{fp}']")
    assert item.locator(".title").text_content() == "3.2.0 版本评分下降：1–2 星评价占 90%（此前 17%）"
    words = item.locator(".evidence .words").all_text_contents()
    # shares as percentages (not "当前 0.9 · 基线 0.3"); counts as counts
    assert words == ["3.2.0 版本 28 条 1–2 星评价，占 90%，此前 17%（均分 1.39，此前 4.1）"]
    assert "正常范围" not in item.text_content() and "倍数" not in item.text_content()
    assert item.locator("svg.sparkline polyline").count() == 1  # the trend
    samples = item.locator(".samples li").all_text_contents()
    assert samples and "相似" in samples[0]  # near-identical complaints collapse into one, with a count
    n = renders(page)
    item.locator(".evidence button.posts").click()
    after_render(page, n, "search")
    # exactly the 28 low-star 3.2.0 reviews: the version and the rating are part of the link's query
    assert page.text_content("#summary").startswith("共 28 条")
    q = page.input_value("#q")
    assert "version:3.2.0" in q and "rating:1,2" in q
    no_csp_or_js_errors(page)


def test_login_form_and_read_only_role(site, page):
    url, settings, _i = site({"VOC_ADMIN_TOKENS": "adm-tok", "VOC_READ_TOKENS": "ro-tok"})
    _open_alert(settings)
    page.goto(url + "/")
    page.wait_for_url("**/login")
    page.fill("#token", "wrong")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    page.fill("#token", "ro-tok")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    wait_ready(page, "overview")  # the landing page
    assert page.text_content("#role") == "只读"
    n = renders(page)
    page.click("#nav a[data-view=alerts]")
    after_render(page, n, "alerts")
    assert page.locator("#alerts button.ack").is_disabled()
    # even a forced request from the page is refused: read-only role (and it would need the CSRF header)
    status = page.evaluate("async () => (await fetch('/api/alerts/x/ack', {method: 'POST'})).status")
    assert status == 403
    page.click("#logout-form button")
    page.wait_for_url("**/login")
    # the session ended on the server too: the page sends nothing the server still accepts
    status = page.evaluate("async () => (await fetch('/api/session')).status")
    assert status == 401


def test_login_guesses_are_throttled_with_a_countdown(site, page):
    url, _settings, _i = site({"VOC_ADMIN_TOKENS": "adm-tok"}, web={"login_max_failures": 2})
    page.goto(url + "/login")
    def submit(token: str) -> int:
        page.fill("#token", token)
        with page.expect_response(lambda r: r.url == url + "/login" and r.request.method == "POST") as answer:
            page.click("button[type=submit]")
        return answer.value.status

    for _ in range(2):
        assert submit("wrong") == 303
        page.wait_for_selector("#login-error:not([hidden])")
        assert "令牌无效" in page.text_content("#login-error")
    assert submit("adm-tok") == 429  # even the right token waits: the server does not look at it now
    page.wait_for_function("document.querySelector('#login-error').textContent.includes('失败次数过多')")
    assert page.locator("button[type=submit]").is_disabled()
    assert page.url == url + "/login"
    # Chromium logs each refused answer (401/429 are expected here); nothing else may go wrong
    bad = [m for m in page.console_messages if m.startswith("pageerror") or "Content Security Policy" in m]
    assert not bad, bad


def test_admin_corrects_a_posts_labels_from_the_search_page(site, page):
    url, settings, index = site()
    open_search(page, url, "登录")
    hit = page.locator("#hits .hit").first
    doc_id = hit.get_attribute("data-id")
    before = index.get(doc_id)
    assert before["sentiment"] == "negative" and before["risk"] == []
    hit.locator("button.fix-labels").click()
    form = hit.locator(".label-form")
    form.locator("select[name=sentiment]").select_option("neutral")
    form.locator("[data-name=risk] input[value=media_threat]").check()
    with page.expect_response(lambda r: "/api/feedback/" in r.url and r.request.method == "POST") as answer:
        form.locator("button.save").click()
    assert answer.value.status == 200
    page.wait_for_function("id => [...document.querySelectorAll('#hits .hit')].some(h => h.dataset.id === id"
                           " && h.querySelector('.tag.risk'))", arg=doc_id, timeout=15000)
    after = index.get(doc_id)
    assert (after["sentiment"], after["risk"], after["topics"]) == ("neutral", ["media_threat"], before["topics"])
    from classifier.corrections import open_store

    with open_store(settings) as store:  # stored for the next `voc train`: only what the person changed
        assert [c.labels() for c in store.list(doc_id=doc_id)] == [{"sentiment": "neutral", "risk": ["media_threat"]}]
    no_csp_or_js_errors(page)


def test_read_only_users_get_no_label_correction(site, page):
    url, _settings, _i = site({"VOC_ADMIN_TOKENS": "adm-tok", "VOC_READ_TOKENS": "ro-tok"})
    page.goto(url + "/")
    page.wait_for_url("**/login")
    page.fill("#token", "ro-tok")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    open_search(page, url, "登录")
    assert page.locator("#hits .hit").count() > 0
    assert page.locator("#hits button.fix-labels").count() == 0
