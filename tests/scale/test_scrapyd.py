"""A spider deployed as an egg to a real Scrapyd on loopback, scheduled through its HTTP API, runs and indexes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from crawlers.replay_data import serve_appstore_reviews
from tests.scale.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy" / "scrapyd"))
import build_egg  # noqa: E402


def call(base: str, path: str, data: dict | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(urllib.request.Request(base + path, data=body), timeout=30) as resp:
        return json.loads(resp.read())


def test_spider_scheduled_through_scrapyd_indexes_its_items(crawl_settings, replay, stored_docs, tmp_path):
    ids = serve_appstore_reviews(replay, "1600000001", 120)
    settings = crawl_settings(root=tmp_path / "site")
    folder = tmp_path / "scrapyd"
    folder.mkdir()
    port = free_port()
    conf = (REPO / "deploy" / "scrapyd" / "scrapyd.conf").read_text(encoding="utf-8")
    (folder / "scrapyd.conf").write_text(re.sub(r"(?m)^http_port\s*=.*$", f"http_port = {port}", conf), encoding="utf-8")
    env = {**os.environ, "VOC_CONFIG_DIR": str(settings.config_dir), "VOC_HOME": str(settings.home),
           "VOC_CLASSIFIER_MODEL": "rules", "PYTHONPATH": str(REPO)}
    scrapyd = shutil.which("scrapyd", path=str(Path(sys.executable).parent)) or "scrapyd"
    proc = subprocess.Popen([scrapyd], cwd=folder, env=env, stdout=open(folder / "scrapyd.out", "wb"),
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert call(base, "/daemonstatus.json")["status"] == "ok"
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (folder / "scrapyd.out").read_text()[-3000:]
                time.sleep(0.2)
        egg = build_egg.build(tmp_path / "dist", "7")
        added = json.loads(build_egg.upload(egg, base, version="7"))
        assert added["status"] == "ok" and "appstore" in call(base, "/listspiders.json?project=voc")["spiders"], added
        job = call(base, "/schedule.json", {"project": "voc", "spider": "appstore", "product": "qingji"})
        assert job["status"] == "ok", job
        deadline = time.monotonic() + 120
        while not any(j["id"] == job["jobid"] for j in call(base, "/listjobs.json?project=voc")["finished"]):
            assert time.monotonic() < deadline, (folder / "scrapyd.out").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
    docs = stored_docs(settings)
    log = next((folder / "logs").rglob("*.log")).read_text(encoding="utf-8", errors="replace")
    assert sorted(d["source_id"] for d in docs.values()) == sorted(ids), log[-3000:]
    assert all(d["sentiment"] for d in docs.values())  # tagged, through the job's own pipelines
