"""Classifier fixtures: a tiny model trained once per session (templates + taxonomy only, seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs import load_settings

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from classifier.train import TrainingConfig, train

    home = tmp_path_factory.mktemp("tiny-home")
    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules"})
    out = home / "tiny-model"
    cfg = TrainingConfig(data_dir=None, output_dir=out, hidden_size=32, num_layers=1, num_heads=2,
                         intermediate_size=64, max_length=48, epochs=2, template_rows=300, threads=1,
                         min_char_count=1, model_name="tiny")
    train(cfg, settings, log=lambda _m: None)
    return out
