"""The character n-gram sentiment model and its average with the encoder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from classifier.loading import load_model_classifier
from classifier.model import save_model
from classifier.ngram import NgramSentiment, fit_ngram, ngram_ids, pad_batch

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"
TEXTS = ["更新后一打开就闪退，垃圾", "希望能增加夜间模式", "非常好用，推荐", "请问怎么修改密码", "客服态度太差了" * 12]


def test_ngram_features_ignore_padding() -> None:
    short, long = [2, 7, 9, 3], [2, 5, 6, 7, 8, 9, 3]
    x, m = pad_batch([short, long], [0, 1])
    ids, mask = ngram_ids(x, m, 101)
    alone, alone_mask = ngram_ids(torch.tensor([short]), torch.ones(1, 4, dtype=torch.long), 101)
    assert sorted(ids[0][mask[0] > 0].tolist()) == sorted(alone[0][alone_mask[0] > 0].tolist())
    assert int(mask[0].sum()) == 4 + 3 + 2  # unigrams, bigrams, trigrams of 4 tokens
    model = NgramSentiment(101, 3)
    torch.nn.init.normal_(model.weight)
    assert torch.allclose(model(x, m)[0], model(torch.tensor([short]), torch.ones(1, 4, dtype=torch.long))[0])


def test_fit_ngram_learns_from_bigrams_it_has_seen() -> None:
    # label 0 when token 5 is followed by 6, label 2 when followed by 7; the unigrams alone cannot tell
    ids, labels = [], []
    for filler in range(10, 60):
        ids += [[2, filler, 5, 6, 3], [2, 5, 7, filler, 3]]
        labels += [0, 2]
    model = fit_ngram(ids, labels, num_labels=3, buckets=997, epochs=20, batch_size=16, learning_rate=0.1)
    x, m = pad_batch([[2, 80, 5, 6, 3], [2, 5, 7, 81, 3]], [0, 1])
    assert model(x, m).argmax(-1).tolist() == [0, 2]


def test_sentiment_is_the_average_of_encoder_and_ngram(tiny_model_dir: Path) -> None:
    clf = load_model_classifier(tiny_model_dir, threads=1)
    assert clf.model.ngram is not None
    both = clf.predict_proba(TEXTS)["sentiment"]
    clf.model.sentiment_from = "encoder"
    encoder = clf.predict_proba(TEXTS)["sentiment"]
    clf.model.sentiment_from = "ngram"
    ngram = clf.predict_proba(TEXTS)["sentiment"]
    clf.model.sentiment_from = "ensemble"
    assert torch.allclose(both, (encoder + ngram) / 2, atol=1e-5)
    assert not torch.allclose(both, encoder, atol=1e-3)  # the n-gram part is really used
    assert torch.allclose(both.sum(-1), torch.ones(len(TEXTS)), atol=1e-5)


def test_model_saved_without_ngram_part_loads_as_encoder_alone(tiny_model_dir: Path, tmp_path: Path) -> None:
    from classifier.loading import check_complete
    from classifier.model import load_hf_classifier

    clf = load_hf_classifier(tiny_model_dir, check_complete(tiny_model_dir), threads=1)  # a VocModel, to save
    clf.model.sentiment_from = "encoder"
    encoder = clf.predict_proba(TEXTS)["sentiment"]
    clf.model.ngram = None
    clf.model.config.voc_ngram_buckets = 0
    older = save_model(clf.model, clf.tokenizer, tmp_path / "older", card=(tiny_model_dir / "README.md").read_text())
    again = load_model_classifier(older, threads=1)
    assert again.model.ngram is None
    assert torch.allclose(again.predict_proba(TEXTS)["sentiment"], encoder, atol=1e-6)


def test_ngram_weights_missing_from_the_file_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from classifier import ModelLoadError

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    tensors = load_file(broken / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith("ngram.")}, broken / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="ngram"):
        load_model_classifier(broken)


def test_training_config_rejects_bad_ngram_settings(tmp_path: Path) -> None:
    from classifier.train import TrainingConfig

    with pytest.raises(ValueError, match="ngram"):
        TrainingConfig(data_dir=None, output_dir=tmp_path, ngram_buckets=-1)


def test_shipped_model_averages_an_ngram_model_and_stays_small() -> None:
    cfg = json.loads((SHIPPED / "config.json").read_text())
    assert cfg["voc_ngram_buckets"] > 0
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 8_000_000
    card = (SHIPPED / "README.md").read_text()
    assert "n-gram" in card and "--threads" in card
