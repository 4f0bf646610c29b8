"""The leave-one-corpus-out protocol's data handling (bench/loco.py) and the adaptation helpers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from classifier.adapt import em_priors, reweight
from classifier.protocol import Corpus, DataMissing, fold_rows, key_of, load_corpora

REPO = Path(__file__).resolve().parents[2]


def _corpus(name: str, rows: list[tuple[str, str]]) -> Corpus:
    return Corpus(name, rows, frozenset(lab for _, lab in rows))


def test_a_fold_never_trains_on_the_held_out_corpus_or_its_duplicates_elsewhere() -> None:
    held = _corpus("weibo", [("今天天气真好，心情不错！", "positive"), ("这部电影从头到尾都很无聊，浪费了我两个小时", "negative")])
    other = _corpus("covid", [("今天天气真好心情不错", "positive"),           # same key as a held-out text
                              ("这部电影从头到尾都很无聊，浪费了我两个小时的时间！", "negative"),  # same 20-char prefix
                              ("外卖送得很快，味道也好", "positive")])
    third = _corpus("waimai", [("外卖送得很快，味道也好！", "positive"), ("太难吃了", "negative")])  # repeats "covid"
    train, test = fold_rows([held, other, third], "weibo", max_train_per_corpus=100, max_test=100)
    assert sorted(t for t, _ in test) == sorted(t for t, _ in held.rows)
    assert sorted((t, c) for t, _, c in train) == [("外卖送得很快，味道也好", "covid"), ("太难吃了", "waimai")]
    assert key_of("今天天气真好，心情不错！") == key_of("今天 天气真好心情不错")


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="--data"):
        load_corpora(tmp_path / "nowhere")
    with pytest.raises(DataMissing, match="waimai_10k: .*waimai_10k.csv is missing"):
        load_corpora(tmp_path, ("waimai_10k",))
    for bench in ("loco.py", "label_shift.py"):
        res = subprocess.run([sys.executable, str(REPO / "bench" / bench), "--data", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
        assert res.returncode == 2 and "no data directory" in res.stderr and "Traceback" not in res.stderr


def test_prior_re_estimation_recovers_a_shifted_class_mix() -> None:
    # a calibrated two-class posterior under a 50/50 training prior; the target has 80% positives
    rows = [[0.2, 0.0, 0.8]] * 80 + [[0.8, 0.0, 0.2]] * 20
    prior = em_priors(rows, [0.5, 0.0, 0.5])
    assert prior[1] == 0.0 and prior[2] > 0.75
    shifted = reweight([[0.5, 0.0, 0.5]], [0.5, 0.0, 0.5], prior)[0]
    assert shifted[2] > 0.75 and abs(sum(shifted) - 1) < 1e-9
