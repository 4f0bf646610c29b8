"""Jobs on the web page, in real headless Chromium against a real uvicorn server: an admin starts a retag
from the 数据源 view, watches its progress (count, percent, rate, time left) and cancels it; the next retag
continues where the cancelled one stopped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.conftest import NOW, _doc

pytestmark = pytest.mark.browser

#: Enough documents that a retag (rules classifier, about 10,000 documents a second on an idle machine)
#: is still running when the test cancels it.
MANY = 60_000


def add_documents(index, settings, n: int) -> None:
    from classifier import make_tokenizer

    tokenizer = make_tokenizer(settings)
    texts = ("更新后验证码登录失败，登录不上", "界面很好看，云同步也快", "请问怎么导出PDF", "闪退了好几次", "客服态度很差")
    batch = []
    for i in range(n):
        batch.append(_doc(tokenizer, 1000 + i, f"{texts[i % 5]} {i}", created=NOW - timedelta(minutes=i),
                          sentiment="neutral", topics=()))
        if len(batch) == 2000:
            index.upsert(batch)
            batch = []
    if batch:
        index.upsert(batch)


def job_row(page):
    return page.locator("#jobs-table tbody tr[data-kind=retag]").first


def test_admin_starts_a_retag_sees_its_progress_and_cancels_it(site, page):
    url, settings, index = site()
    add_documents(index, settings, MANY)
    total = index.count()
    page.goto(url + "/#sources")
    page.wait_for_function("() => document.body.dataset.ready === 'sources'", timeout=15000)
    page.click("#jobs-panel button.job-start[data-kind=retag]")

    # progress shows: a count of the total, a percentage, a rate and the time left
    page.wait_for_function(
        """total => { const row = document.querySelector('#jobs-table tbody tr[data-kind=retag]');
                      if (!row || row.dataset.state !== 'running') return false;
                      const m = row.textContent.match(/retag：(\\d+) \\/ (\\d+) docs/);
                      return m && Number(m[1]) > 0 && Number(m[1]) < total && Number(m[2]) === total; }""",
        arg=total, timeout=30000)
    text = job_row(page).text_content()
    assert re.search(r"\d+(\.\d+)?%", text) and "docs/秒" in text and "剩余" in text, text
    assert page.locator("#jobs-table tbody tr[data-kind=retag] progress").count() == 1

    job_row(page).locator("button.job-cancel").click()
    page.wait_for_function("() => { const r = document.querySelector('#jobs-table tbody tr[data-kind=retag]');"
                           " return r && r.dataset.state === 'cancelled'; }", timeout=30000)
    row = job_row(page).text_content()
    assert "已取消" in row and "continues" in row
    done = int(re.search(r"retag：(\d+) / \d+ docs", row).group(1))
    assert 0 < done < total
    retagged = sum(1 for d in index.scan() if d.get("model_version") == "rules-1")
    assert done <= retagged < total  # what was done is kept, the rest was not touched
    assert not [m for m in page.console_messages if m.startswith(("error", "pageerror"))]

    # started again, the retag continues after the last batch the cancelled one finished
    page.click("#jobs-panel button.job-start[data-kind=retag]")
    page.wait_for_function("() => { const r = document.querySelector('#jobs-table tbody tr[data-kind=retag]');"
                           " return r && r.dataset.state === 'done'; }", timeout=120000)
    message = job_row(page).locator(".job-message").text_content()
    assert re.search(rf"tagged {total} documents with rules-1 \(\d+ by an earlier, cancelled retag\)", message), message
    assert all(d.get("model_version") == "rules-1" for d in index.scan())


def test_a_read_only_session_cannot_start_or_cancel_jobs(site, page):
    url, _s, _i = site({"VOC_ADMIN_TOKENS": "adm-tok", "VOC_READ_TOKENS": "read-tok"})
    page.goto(url + "/login")
    page.fill("input[name=token]", "read-tok")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")  # the login's own navigation first: a goto racing it is aborted
    page.goto(url + "/#sources")
    page.wait_for_function("() => document.body.dataset.ready === 'sources'", timeout=15000)
    page.wait_for_selector("#jobs-table tbody tr")
    assert page.locator("#jobs-panel button.job-start[disabled]").count() == 3
    status = page.evaluate("""async () => (await fetch('/api/jobs', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({kind: 'retag'})})).status""")
    assert status == 403
