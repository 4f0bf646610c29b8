"""Jobs through the HTTP API of a real uvicorn server on loopback: who may start and cancel them (admin, with
the CSRF header for cookie sessions), their progress figures, one job of a kind at a time, and a crawl
cancelled cleanly — its child process stops through Scrapy's shutdown and the source keeps its cursor."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from configs import load_settings
from tests.browser.conftest import LiveServer
from tests.progress_helpers import seed_index

pytestmark = pytest.mark.slow

ADMIN, READ = "admin-token-1", "read-token-1"


@pytest.fixture
def server(tmp_path: Path):
    """server(config_dir=None, docs=2000) → (base URL, settings): the API with admin and read tokens."""
    from app.api import create_app

    opened = []

    def make(config_dir: Path | None = None, docs: int = 2000):
        home = tmp_path / "home"
        seed_index(home, docs)
        settings = load_settings(config_dir or (Path(__file__).resolve().parents[2] / "configs"),
                                 env={"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules",
                                      "VOC_ADMIN_TOKENS": ADMIN, "VOC_READ_TOKENS": READ,
                                      "VOC_SESSION_SECRET": "s" * 32})
        live = LiveServer(create_app(settings)).__enter__()
        opened.append(live)
        return live.url, settings

    yield make
    for live in opened:
        live.__exit__()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(url: str, job_id: str, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{url}/api/jobs", headers=bearer(READ)).json()["jobs"]
        job = next(j for j in jobs if j["id"] == job_id)
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def test_a_retag_job_reports_progress_and_finishes(server) -> None:
    url, _settings = server()
    r = httpx.post(f"{url}/api/jobs", json={"kind": "retag"}, headers=bearer(ADMIN))
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    assert job["kind"] == "retag" and job["state"] == "running" and job["by"] == "web:token"
    done = wait_for(url, job["id"], ("done", "failed"))
    assert done["state"] == "done", done
    assert done["message"] == "tagged 2000 documents with rules-1"
    (task,) = done["progress"]
    assert (task["label"], task["done"], task["total"], task["unit"]) == ("retag", 2000, 2000, "docs")
    assert task["percent"] == 100.0
    assert task["rate"] > 0 and task["closed"]


def test_who_may_start_and_cancel_jobs(server) -> None:
    url, _settings = server()
    assert httpx.get(f"{url}/api/jobs").status_code == 401
    assert httpx.post(f"{url}/api/jobs", json={"kind": "retag"}, headers=bearer(READ)).status_code == 403
    r = httpx.post(f"{url}/api/jobs", json={"kind": "rm -rf"}, headers=bearer(ADMIN))
    assert r.status_code == 400 and r.json()["error"] == "bad_job"
    r = httpx.post(f"{url}/api/jobs", json={"kind": "crawl", "sources": ["nope"]}, headers=bearer(ADMIN))
    assert r.status_code == 400 and "unknown source 'nope'" in r.json()["message"]
    assert httpx.post(f"{url}/api/jobs/abc/cancel", headers=bearer(ADMIN)).status_code == 404
    # a login session (a cookie) must send the CSRF token with every state-changing request
    with httpx.Client(base_url=url) as browser:
        assert browser.post("/login", data={"token": ADMIN}).status_code == 303
        r = browser.post("/api/jobs", json={"kind": "retag"})
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["message"]
        csrf = browser.get("/api/session").json()["csrf_token"]
        r = browser.post("/api/jobs", json={"kind": "retag"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 202
        job = r.json()["job"]
        again = browser.post("/api/jobs", json={"kind": "retag"}, headers={"X-CSRF-Token": csrf})
        assert again.status_code in (202, 409)  # 409 while the first still runs
        if again.status_code == 409:
            assert again.json()["error"] == "job_running"
        wait_for(url, job["id"], ("done", "failed", "cancelled"))


def test_a_training_job_without_data_fails_with_the_reason(server) -> None:
    url, _settings = server()
    job = httpx.post(f"{url}/api/jobs", json={"kind": "train"}, headers=bearer(ADMIN)).json()["job"]
    failed = wait_for(url, job["id"], ("done", "failed"))
    assert failed["state"] == "failed" and "training data folder" in failed["message"], failed


def test_a_cancelled_crawl_stops_cleanly_and_keeps_its_cursor(server, replay, tmp_path: Path) -> None:
    from crawlers.replay_data import serve_appstore_reviews
    from crawlers.state import CrawlState
    from tests.crawlers.conftest import write_config

    app_id = "1600000001"
    serve_appstore_reviews(replay, app_id, 300, delay=lambda page: 1.0 if page >= 2 else 0.0)
    url, settings = server(write_config(tmp_path, replay.url))
    job = httpx.post(f"{url}/api/jobs", json={"kind": "crawl", "sources": ["appstore"]},
                     headers=bearer(ADMIN)).json()["job"]
    deadline = time.monotonic() + 60
    while True:  # the source's progress shows: items and pages so far
        jobs = httpx.get(f"{url}/api/jobs", headers=bearer(READ)).json()["jobs"]
        listed = next(j for j in jobs if j["id"] == job["id"])
        if listed["progress"] and listed["progress"][0]["done"] > 0:
            break
        assert time.monotonic() < deadline and listed["state"] == "running", listed
        time.sleep(0.1)
    (task,) = listed["progress"]
    assert task["label"] == "appstore" and task["unit"] == "items" and task["notes"]["pages"] >= 1
    assert task["notes"]["blocked"] == 0 and task["total"] is None

    r = httpx.post(f"{url}/api/jobs/{job['id']}/cancel", headers=bearer(ADMIN))
    assert r.status_code == 200 and r.json()["job"]["state"] == "cancelling"
    cancelled = wait_for(url, job["id"], ("cancelled", "done", "failed"), timeout=60)
    assert cancelled["state"] == "cancelled", cancelled
    assert cancelled["message"].startswith("cancelled — finished: none; stopped early: appstore")
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        (run,) = state.last_runs(1)
        assert run.source == "appstore" and run.status == "failed" and 0 < run.new < 300
        assert "crawl ended early: shutdown" in run.error_messages
        assert state.cursor("appstore", app_id) is None  # not advanced by an unfinished crawl
        assert not state.is_locked("appstore")
