"""Every page at a desktop (1440 px) and a phone (390 px) width: nothing overflows horizontally, the search
facets sit in a drawer on the phone, tables scroll inside their card. Screenshots of each page and width
are saved as test artifacts (``$VOC_TEST_ARTIFACTS`` or ``<pytest basetemp>/artifacts/screens``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PAGES = {"overview": "#overview?period=7d", "search": "#search?q=登录", "trends": "#trends?q=since:2026-11-21",
         "alerts": "#alerts", "sources": "#sources"}
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}


def screens_dir(tmp_path_factory) -> Path:
    """Where screenshots go: ``$VOC_TEST_ARTIFACTS/screens`` or ``<pytest basetemp>/artifacts/screens``."""
    root = Path(os.environ["VOC_TEST_ARTIFACTS"]) if os.environ.get("VOC_TEST_ARTIFACTS") else \
        tmp_path_factory.getbasetemp() / "artifacts"
    out = root / "screens"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return screens_dir(tmp_path_factory)


def overflow(page) -> dict:
    """How far the document and any element stick out to the right of the viewport (0: none)."""
    return page.evaluate("""() => {
        const w = document.documentElement.clientWidth;
        const doc = document.documentElement.scrollWidth - w;
        let worst = null, by = 0;
        for (const e of document.querySelectorAll('body *')) {
            const r = e.getBoundingClientRect();
            if (!r.width || getComputedStyle(e).visibility === 'hidden') continue;
            let p = e.parentElement, clipped = false;   // inside a scrolling/clipping box: fine
            while (p && p !== document.body) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                p = p.parentElement;
            }
            if (clipped || getComputedStyle(e).position === 'fixed') continue;
            if (r.right - w > by) { by = r.right - w; worst = e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className; }
        }
        return {doc, by: Math.round(by), worst};
    }""")


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_no_page_overflows_horizontally(site, browser, artifacts, width):
    from tests.browser.test_web import _open_alert

    url, settings, _index = site()
    _open_alert(settings)
    w, h = WIDTHS[width]
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": w, "height": h},
                                  device_scale_factor=1, is_mobile=width == "phone", has_touch=width == "phone")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for name, hash_ in PAGES.items():
            page.goto(url + "/" + hash_)
            page.wait_for_function("v => document.body.dataset.ready === v", arg=name, timeout=15000)
            if name == "trends":
                page.wait_for_selector("#chart-ratings[data-finished='1']")
            page.wait_for_timeout(150)
            page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
            o = overflow(page)
            assert o["doc"] <= 0 and o["by"] <= 1, (name, width, o)
        if width == "phone":
            page.goto(url + "/#search?q=登录")
            page.wait_for_function("() => document.body.dataset.ready === 'search'")
            assert not page.locator("#facets").is_visible()  # a drawer, closed: posts get the whole width
            assert page.locator("#hits .hit").first.bounding_box()["width"] > 330
            page.click("#facets-btn")
            page.wait_for_function("() => getComputedStyle(document.getElementById('facets')).transform === 'none'")
            page.wait_for_timeout(250)
            assert page.locator("#facets").is_visible()
            page.screenshot(path=str(artifacts / "search-phone-facets.png"))
            page.click("#facets [data-field=platform] button[data-value=android]")
            page.wait_for_function("() => document.body.dataset.ready === 'search' && location.hash.includes('android')")
            assert not page.locator("#facets-backdrop").is_visible()
            # the sources table scrolls inside its card instead of widening the page
            page.goto(url + "/#sources")
            page.wait_for_function("() => document.body.dataset.ready === 'sources'")
            wrap = page.locator("#sources-table").locator("xpath=..")
            assert wrap.evaluate("e => e.scrollWidth > e.clientWidth && getComputedStyle(e).overflowX === 'auto'")
        # the login form (a server with tokens) fits too
        login_url, _s, _i = site({"VOC_ADMIN_TOKENS": "adm-tok"})
        page.goto(login_url + "/login")
        page.wait_for_selector("#token")
        page.screenshot(path=str(artifacts / f"login-{width}.png"), full_page=True)
        o = overflow(page)
        assert o["doc"] <= 0 and o["by"] <= 1, ("login", width, o)
    finally:
        context.close()
    assert not errors, errors
