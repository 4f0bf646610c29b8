"""The web page's admin action "标记已修复" (issue 19): it marks the incident fixed through the API, the card
shows the new state and the fix; a reader's button is disabled. Real Chromium against the real server."""

from __future__ import annotations

from tests.browser.test_web import _open_alert, no_csp_or_js_errors, wait_ready


def test_mark_an_incident_fixed_from_the_page(site, page):
    url, settings, _i = site()
    fp = _open_alert(settings)
    page.goto(url + "/#alerts")
    wait_ready(page, "alerts")
    item = page.locator(f"#alerts .alert[data-id='{fp}']")
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
