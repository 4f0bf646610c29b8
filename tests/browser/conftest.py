"""Browser tests: a real uvicorn server on loopback serving a seeded SQLite index, driven by real headless
Chromium through Playwright (``/usr/bin/chromium``; nothing is downloaded)."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from configs import load_settings
from tests.helpers import HOSTILE_PAGE as HOSTILE, NOW, calm_days_and_a_login_spike, indexed_doc

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def _doc(tokenizer, n, text, **kw) -> dict:
    """A document of the web page tests (ids b<n>, every one a review)."""
    return indexed_doc(tokenizer, n, text, id_prefix="b", kind="review", **kw)


def seed(tokenizer) -> list[dict]:
    """3 calm days (11-21..23, Shanghai) and a negative login spike on 11-24 09:00–09:30 (Shanghai); ids b<n>,
    every one a review."""
    return calm_days_and_a_login_spike(tokenizer, ui_text="界面很好看，云同步也快", spike_text="更新后验证码登录失败，登录不上 第{i}次",
                                       hostile=HOSTILE, hostile_url="javascript:window.__pwned=4", id_prefix="b", kind="review")


class LiveServer:
    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def site(tmp_path: Path):
    """site(env=None) → (url, settings, index): the API + page on a real loopback uvicorn server."""
    from app.api import create_app
    from classifier import make_tokenizer
    from index import open_index

    opened = []

    def make(env: dict[str, str] | None = None, *, web: dict | None = None):
        settings = load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules",
                                                         **(env or {})})
        if web:  # web: settings overrides, e.g. {"facet_sample": 3}
            settings = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(settings.web, **web)))
        tokenizer = make_tokenizer(settings)
        index = open_index(settings.index, home=settings.home, tokenizer=tokenizer, secrets=settings.secrets)
        index.upsert(seed(tokenizer))
        server = LiveServer(create_app(settings, index=index, clock=lambda: NOW)).__enter__()
        opened.append((server, index))
        return server.url, settings, index

    yield make
    for server, index in opened:
        server.__exit__()
        index.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.console_messages = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.console_messages.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.console_messages.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(d):
        pg.dialogs.append(d.message)  # type: ignore[attr-defined]
        d.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()
