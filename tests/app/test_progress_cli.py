"""Every long command shows its progress on a terminal (driven here on a real pseudo-terminal): a tqdm bar
with the count, and percentage, rate and time left where the total is known. Piped, progress is plain lines
on stderr (only for work longer than VOC_PROGRESS_INTERVAL), stdout is what it was, and --quiet shows none."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.progress_helpers import (REPO, TINY_TRAINING, VOC, run_on_pty, seed_index, voc_env, write_texts,
                                    write_training_corpus)

pytestmark = pytest.mark.slow

#: a tqdm bar with a known total: "classify:  68%|█████▉   | 2048/3000 [00:00<00:00, 9164.60 rows/s]"
def bar(label: str, unit: str) -> re.Pattern[str]:
    return re.compile(rf"{label}: +\d+%\|[^|]*\| *\d+/\d+ \[\d\d:\d\d<\d\d:\d\d, +[\d.?]+ {unit}/s")


def final_bar(label: str, unit: str, total: int) -> re.Pattern[str]:
    return re.compile(rf"{label}: 100%\|[^|]*\| {total}/{total} \[")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    seed_index(tmp_path, 3000)
    return tmp_path


def test_classify_on_a_terminal(tmp_path: Path) -> None:
    write_texts(tmp_path / "in.jsonl", 2000)
    rc, out = run_on_pty(["classify", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")],
                         voc_env(tmp_path))
    assert rc == 0, out
    assert bar("classify", "rows").search(out) and final_bar("classify", "rows", 2001).search(out), out
    assert "tagged 2000 of 2001 rows" in out
    rc, out = run_on_pty(["classify", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "q.jsonl"),
                          "--quiet"], voc_env(tmp_path))
    assert rc == 0 and "classify:" not in out and "tagged 2000 of 2001 rows" in out, out


def test_train_and_eval_on_a_terminal(tmp_path: Path) -> None:
    data = write_training_corpus(tmp_path / "data")
    rc, out = run_on_pty(["train", "--data", str(data), "--output", str(tmp_path / "model"), "--epochs", "2",
                          *TINY_TRAINING], voc_env(tmp_path))
    assert rc == 0, out
    assert bar("train", "steps").search(out), out
    assert final_bar("train", "steps", int(re.search(r"\| \d+/(\d+) \[", out).group(1))).search(out), out
    labelled = tmp_path / "gold.jsonl"
    labelled.write_text("".join(json.dumps({"text": t, "sentiment": s}, ensure_ascii=False) + "\n"
                                for t, s in [("太难吃了", "negative"), ("好吃，送餐很快", "positive")] * 300),
                        encoding="utf-8")
    rc, out = run_on_pty(["eval", "--input", str(labelled), "--label-col", "sentiment"],
                         voc_env(tmp_path, VOC_CLASSIFIER_MODEL=str(tmp_path / "model")))
    assert rc == 0, out
    assert final_bar("eval", "rows", 600).search(out) and "sentiment: n=600, accuracy=" in out, out


@pytest.mark.parametrize("args, label", [
    (["retag"], "retag"),
    (["reindex", "--to", "sqlite:///data/copy.db", "--batch", "500"], "reindex"),
    (["export", "--format", "jsonl", "-o", "out.jsonl"], "export"),
    (["prune", "--older-than", "HOURS"], "prune"),
])
def test_index_commands_on_a_terminal(home: Path, args: list[str], label: str) -> None:
    from datetime import datetime, timedelta, timezone

    from tests.progress_helpers import NOW

    # prune: the documents older than NOW - 10 days (the older half of the 20 days seeded), in hours from today
    hours = int((datetime.now(timezone.utc) - (NOW - timedelta(days=10))).total_seconds() // 3600) + 1
    args = [a.replace("out.jsonl", str(home / "out.jsonl")).replace("HOURS", f"{hours}h") for a in args]
    rc, out = run_on_pty(args, voc_env(home))
    assert rc == 0, out
    assert bar(label, "docs").search(out), out
    total = int(re.search(rf"{label}: 100%\|[^|]*\| (\d+)/\1 \[", out).group(1))
    assert total == 3000 if label != "prune" else 1400 < total < 1500, out


def test_backtest_on_a_terminal(home: Path) -> None:
    rc, out = run_on_pty(["alerts", "backtest", "negative-volume-spike", "--from", "2026-11-10", "--to", "2026-11-20"],
                         voc_env(home))
    assert rc == 0, out
    assert bar("backtest", "steps").search(out) and final_bar("backtest", "steps", 10 * 24 + 1).search(out), out


def test_crawl_shows_each_source(tmp_path: Path, replay) -> None:
    from crawlers.replay_data import serve_appstore_reviews
    from tests.crawlers.conftest import write_config

    serve_appstore_reviews(replay, "1600000001", 300, delay=lambda page: 0.3)
    cdir = write_config(tmp_path, replay.url)
    rc, out = run_on_pty(["crawl", "appstore"], voc_env(tmp_path / "home", VOC_CONFIG_DIR=str(cdir)))
    assert rc == 0, out
    # no total is known for a crawl: count, rate and the source's pages and blocks
    assert re.search(r"appstore: \d+ items \[\d\d:\d\d, +[\d.?]+ items/s, pages=\d+, blocked=0\]", out), out
    assert re.search(r"appstore: 300 items \[[^\]]*pages=7, blocked=0\]", out), out
    assert "appstore  ok       pages 7, new 300" in out


def test_piped_progress_is_plain_lines_on_stderr_and_json_stdout_is_unchanged(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    home = tmp_path
    seed_index(home, 3000, spike_at=datetime(2026, 11, 20, 2, tzinfo=timezone.utc), spike=120)
    args = [*VOC, "alerts", "backtest", "negative-volume-spike", "--from", "2026-11-01", "--to", "2026-11-24", "--json",
            "--all"]
    piped = subprocess.run(args, env=voc_env(home, VOC_PROGRESS_INTERVAL="0"), cwd=REPO, capture_output=True,
                           text=True, timeout=240)
    quiet = subprocess.run([*args, "--quiet"], env=voc_env(home, VOC_PROGRESS_INTERVAL="0"), cwd=REPO,
                           capture_output=True, text=True, timeout=240)
    assert piped.returncode == quiet.returncode == 0, piped.stderr
    assert piped.stdout == quiet.stdout
    assert len(piped.stdout.splitlines()) >= 1, "the spike should fire"
    assert all(json.loads(line)["rule"] == "negative-volume-spike" for line in piped.stdout.splitlines())
    lines = piped.stderr.splitlines()
    assert lines[0] == "backtest: 0 steps"  # before the total is known
    assert len(lines) > 500 and all(
        re.fullmatch(r"backtest: \d+/553 steps \(\d+%\)(, [\d.]+ steps/s)?(, \S+ (left|elapsed))?", line)
        for line in lines[1:]), lines
    assert lines[-1].startswith("backtest: 553/553 steps (100%)") and "\r" not in piped.stderr
    assert quiet.stderr == ""


def test_quick_work_prints_no_progress_when_piped(tmp_path: Path) -> None:
    write_texts(tmp_path / "in.jsonl", 50)
    run = subprocess.run([*VOC, "classify", "--input", str(tmp_path / "in.jsonl"),
                          "--output", str(tmp_path / "o.jsonl")], env=voc_env(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0
    assert run.stdout.startswith("tagged 50 of 51 rows") and "classify:" not in run.stderr
