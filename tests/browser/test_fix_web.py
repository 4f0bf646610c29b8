"""The web page's admin action "标记已修复" (issue 19): it marks the incident fixed through the API, the card
shows the new state and the fix; a reader's button is disabled. Real Chromium against the real server."""

from __future__ import annotations

from tests.browser.test_web import _open_alert, alert_card, no_csp_or_js_errors, wait_ready


def test_mark_an_incident_fixed_from_the_page(site, page):
    settings, fp, item = alert_card(site, page)
    item.locator("input.fix-in-version").fill("3.2.1")
    item.locator("input.fix-in-date").fill("2026-11-24")
    item.locator("button.fix").click()
    page.wait_for_function("() => document.querySelector('#alert-state').value === 'open' && "
                           "!document.querySelector(\"#alerts .alert[data-id='" + fp + "']\")")
    page.select_option("#alert-state", "fixed")
    page.wait_for_selector(f"#alerts .alert[data-id='{fp}'] .fix-version")
    card = page.locator(f"#alerts .alert[data-id='{fp}']")
    assert card.locator(".state").text_content() == "已修复·观察中"
    assert "修复版本 3.2.1" in card.locator(".fix-version").text_content()
    from alerts import open_store

    with open_store(settings) as store:
        rec = store.get(fp)
    assert rec.state == "fixed" and rec.detail["fix"]["version"] == "3.2.1"
    no_csp_or_js_errors(page)


def test_reply_drafts_of_a_verified_incident_are_listed_and_approved_from_the_page(site, page):
    """The drafts here are constructed rows (one review, its reply) in the real store: what `alerts.replies`
    writes when an incident's fix is verified (that path is tested in tests/alerts/test_fix_replies.py)."""
    import dataclasses

    from alerts import open_store
    from alerts.lifecycle import Transition

    url, settings, _i = site()
    fp = _open_alert(settings)
    with open_store(settings) as st:
        rec = st.get(fp)
        fix = {"version": "3.2.1", "date": "2026-11-24T00:00:00Z", "verdict": "verified", "before_rate": 41.0,
               "after_rate": 2.0, "text": "登录/账号相关负面反馈：3.2.1 上 2 条/天，3.2.0 上 41 条/天"}
        done = dataclasses.replace(rec, state="fix_verified", version=rec.version + 1,
                                   detail={**dict(rec.detail), "fix": fix})
        st.apply(fp, lambda _r: Transition(done, "fix_verified", False), lambda t: [], now=rec.updated_at)
        with st._tx() as db:
            db.execute("INSERT INTO review_replies (review, incident, product, source, source_id, app_version,"
                       " review_text, body, created_at) VALUES ('r1', ?, 'qingji', 'appstore', '88001', '3.2.0',"
                       " '<b>登录不上</b>', '您好！已在 3.2.1 修复', '2026-11-25T00:00:00Z')", (fp,))
    page.goto(url + "/#alerts")
    wait_ready(page, "alerts")
    page.select_option("#alert-state", "fix_verified")
    card = page.locator(f"#alerts .alert[data-id='{fp}']")
    card.locator(".fix-text").wait_for()
    assert "3.2.1 上 2 条/天" in card.locator(".fix-text").text_content()
    card.locator("button.replies-open").click()
    card.locator(".replies li").wait_for()
    assert card.locator(".replies li .review").text_content() == "<b>登录不上</b>"  # crawled text stays text
    assert card.locator(".reply-status").text_content() == "草稿"
    card.locator("button.approve-all").click()
    page.wait_for_function(f"() => document.querySelector(\"#alerts .alert[data-id='{fp}'] .reply-status\").textContent === '已批准'")
    from alerts.replies import list_replies

    with open_store(settings) as st:
        assert [r["status"] for r in list_replies(st)] == ["approved"]
    no_csp_or_js_errors(page)
