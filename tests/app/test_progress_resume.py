"""Ctrl-C (SIGINT) stops classify, reindex, retag and train at a safe point; run again with --resume, each ends
with exactly what an uninterrupted run makes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.progress_helpers import (REPO, TINY_TRAINING, VOC, index_docs, interrupt_when, midway, seed_index,
                                    voc_env, write_texts, write_training_corpus)

pytestmark = pytest.mark.slow


def voc(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([*VOC, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run


def fast_lines(home: Path) -> dict[str, str]:
    return voc_env(home, VOC_PROGRESS_INTERVAL="0.05")


def test_classify_interrupted_then_resumed_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_texts(source, 60_000)
    whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
    voc(["classify", "--input", str(source), "--output", str(whole)], voc_env(tmp_path))

    args = ["classify", "--input", str(source), "--output", str(part)]
    rc, out, err = interrupt_when(args, fast_lines(tmp_path), midway("classify"))
    assert rc == 130, err
    assert "--resume" in err and out == ""
    kept = part.read_bytes()
    assert kept.endswith(b"\n") and 0 < kept.count(b"\n") < 60_000  # complete rows only, and not all of them
    assert whole.read_bytes().startswith(kept)

    # a torn last line (a harder kill) is cut off, not kept
    with part.open("ab") as fh:
        fh.write(b'{"id": 99999, "text": "half a ro')
    resumed = voc([*args, "--resume"], voc_env(tmp_path))
    assert part.read_bytes() == whole.read_bytes()
    assert resumed.stdout.startswith("tagged 60000 of 60001 rows") and "by the interrupted run" in resumed.stdout
    assert "skipped line 9: invalid JSON" in resumed.stderr


def test_reindex_interrupted_then_resumed_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    seed_index(tmp_path, 30_000)
    voc(["reindex", "--to", "sqlite:///data/whole.db", "--batch", "500"], voc_env(tmp_path))
    expected = index_docs(tmp_path, "sqlite:///data/whole.db")
    assert len(expected) == 30_000

    args = ["reindex", "--to", "sqlite:///data/part.db", "--batch", "500"]
    rc, _out, err = interrupt_when(args, fast_lines(tmp_path), midway("reindex"))
    assert rc == 130 and "--resume" in err, err
    assert 0 < len(index_docs(tmp_path, "sqlite:///data/part.db")) < 30_000
    resumed = voc([*args, "--resume"], voc_env(tmp_path))
    assert index_docs(tmp_path, "sqlite:///data/part.db") == expected
    copied = int(resumed.stdout.split()[1])
    assert 0 < copied < 30_000 and "more were copied by the interrupted run" in resumed.stdout


def test_retag_interrupted_then_resumed_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    seed_index(whole, 30_000)
    seed_index(part, 30_000)
    voc(["retag"], voc_env(whole))
    expected = index_docs(whole)
    assert {d["model_version"] for d in expected.values()} == {"rules-1"}

    rc, _out, err = interrupt_when(["retag"], fast_lines(part), midway("retag"))
    assert rc == 130 and "voc retag --resume" in err, err
    versions = [d["model_version"] for d in index_docs(part).values()]
    assert 0 < versions.count("rules-1") < 30_000
    voc(["retag", "--resume"], voc_env(part))
    assert index_docs(part) == expected


def test_train_interrupted_then_resumed_makes_the_same_model(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = write_training_corpus(tmp_path / "data")
    common = ["train", "--data", str(data), "--epochs", "12", *TINY_TRAINING]
    voc([*common, "--output", str(tmp_path / "whole")], voc_env(tmp_path))

    args = [*common, "--output", str(tmp_path / "part")]
    rc, _out, err = interrupt_when(args, fast_lines(tmp_path), midway("train"))
    assert rc == 130 and "checkpoint saved at step" in err and "--resume" in err, err
    assert (tmp_path / "part.checkpoint" / "training.pt").is_file() and not (tmp_path / "part").exists()
    resumed = voc([*args, "--resume"], voc_env(tmp_path))
    assert "resuming from step" in resumed.stderr
    assert not (tmp_path / "part.checkpoint").exists()  # the finished model replaced it
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(tmp_path / "part" / "model.safetensors")
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path: Path) -> None:
    data = write_training_corpus(tmp_path / "data")
    args = ["train", "--data", str(data), "--epochs", "12", "--output", str(tmp_path / "m"), *TINY_TRAINING]
    rc, _out, err = interrupt_when(args, fast_lines(tmp_path), midway("train"))
    assert rc == 130, err
    other = subprocess.run([*VOC, *args, "--set", "hidden_size=16", "--resume"], env=voc_env(tmp_path), cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 1
    assert "this checkpoint was made with other training data or settings" in other.stderr


def test_an_interrupted_crawl_says_what_it_finished_and_keeps_its_cursors(tmp_path: Path, replay) -> None:
    from configs import load_settings
    from crawlers.replay_data import serve_appstore_reviews
    from crawlers.state import CrawlState
    from tests.crawlers.conftest import write_config

    app_id = "1600000001"
    serve_appstore_reviews(replay, app_id, 300, delay=lambda page: 1.0 if page >= 2 else 0.0)
    cdir = write_config(tmp_path, replay.url)
    env = voc_env(tmp_path / "home", VOC_CONFIG_DIR=str(cdir), VOC_PROGRESS_INTERVAL="0.05")
    rc, out, err = interrupt_when(["crawl", "appstore"], env, midway("appstore"))
    assert rc == 130, err
    assert "crawl ended early: shutdown" in out and "appstore  failed" in out
    assert "Interrupted: finished: none; stopped early: appstore — their cursors stay where they were" in err
    settings = load_settings(cdir, env={"VOC_HOME": str(tmp_path / "home"), "VOC_CLASSIFIER_MODEL": "rules"})
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", app_id) is None and not state.is_locked("appstore")
        assert 0 < state.last_runs(1)[0].new < 300


def test_retag_keeps_the_labels_people_corrected(tmp_path: Path) -> None:
    seed_index(tmp_path, 60)
    doc_id = next(i for i, d in index_docs(tmp_path).items() if d["text"].startswith("闪退了好几次"))
    voc(["label", doc_id, "sentiment=positive", "topics=ui"], voc_env(tmp_path))
    run = voc(["retag"], voc_env(tmp_path))
    assert run.stdout.strip() == "tagged 60 documents with rules-1; kept the corrected labels of 1"
    docs = index_docs(tmp_path)
    assert (docs[doc_id]["sentiment"], docs[doc_id]["topics"]) == ("positive", ["ui"])
    others = [d for i, d in docs.items() if i != doc_id and d["text"].startswith("闪退了好几次")]
    assert others and all(d["sentiment"] == "negative" and "crash" in d["topics"] for d in others)


@contextmanager
def reindex_pair(tmp_path: Path, n: int, target_url: str) -> Iterator[tuple[Any, Any, Any]]:
    """(settings, source, target): a seeded index of ``n`` documents and an empty one at ``target_url``, closed after."""
    from classifier import make_tokenizer
    from configs import load_settings
    from index import open_index

    seed_index(tmp_path, n)
    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules"})
    tok = make_tokenizer(settings)
    source = open_index(settings.index, home=settings.home, tokenizer=tok)
    target = open_index(settings.index, url=target_url, home=settings.home, tokenizer=tok)
    try:
        yield settings, source, target
    finally:
        source.close()
        target.close()


def test_a_resume_point_the_target_does_not_match_starts_over(tmp_path: Path) -> None:
    """The target was emptied (or replaced) after the interruption: skipping would lose documents."""
    from app.resume import reindex, resume_point

    with reindex_pair(tmp_path, 500, "sqlite:///data/fresh.db") as (settings, source, target):
        point = resume_point(settings, "reindex", "a", "b")
        point.save(after=next(iter(source.scan()))["id"], done=1)  # "the first document was copied"
        said: list[str] = []
        report, before = reindex(source, target, point, resume=True, batch=100, say=said.append)
        assert (report.copied, before) == (500, 0) and target.count() == 500
        assert said == [f"the target does not hold the last document copied ({next(iter(source.scan()))['id']}): "
                        "starting over"]
        assert point.load() is None  # cleared once everything is copied


def test_classify_resume_refuses_an_output_of_another_input(tmp_path: Path) -> None:
    write_texts(tmp_path / "a.jsonl", 300)
    (tmp_path / "b.jsonl").write_text('{"id": 0, "text": "完全不同的一条"}\n{"id": 1, "text": "另一条"}\n', encoding="utf-8")
    voc(["classify", "--input", str(tmp_path / "b.jsonl"), "--output", str(tmp_path / "out.jsonl")], voc_env(tmp_path))
    before = (tmp_path / "out.jsonl").read_bytes()
    run = subprocess.run([*VOC, "classify", "--input", str(tmp_path / "a.jsonl"),
                          "--output", str(tmp_path / "out.jsonl"), "--resume"], env=voc_env(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "do not continue" in run.stderr and "run without --resume" in run.stderr
    assert (tmp_path / "out.jsonl").read_bytes() == before  # nothing written


def test_a_source_without_a_stable_scan_order_is_copied_again_in_full(tmp_path: Path) -> None:
    from app.resume import reindex, resume_point

    with reindex_pair(tmp_path, 300, "sqlite:///data/copy.db") as (settings, source, target):
        first = next(iter(source.scan()))
        target.upsert([first])
        point = resume_point(settings, "reindex", "es", "b")
        point.save(after=first["id"], done=1)
        source.backend = "https://es.example:9200"  # as an Elasticsearch source names itself
        said: list[str] = []
        report, before = reindex(source, target, point, resume=True, batch=100, say=said.append)
        assert (report.copied, before) == (300, 0) and target.count() == 300
        assert said and "no stable scan order" in said[0]
