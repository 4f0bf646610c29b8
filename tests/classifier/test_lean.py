"""classifier.lean: VOC models load and tag without transformers, exactly as transformers' VocModel does."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from classifier import ModelLoadError
from classifier.loading import check_complete, load_model_classifier
from classifier.model import load_hf_classifier

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"
TEXTS = ["更新后一打开就闪退", "希望能增加夜间模式", "客服一直不回复，我要去12315投诉", "非常好用，推荐", "请问怎么修改密码",
         "軟體閃退了//@某人:同问", "", "长" * 300 + "结尾很差", "👍", "物流很快，包装也很好，质量不错，下次还来"]


@pytest.mark.parametrize("quantize", [False, True])
@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_lean_model_gives_the_transformers_models_outputs(which: str, quantize: bool, tiny_model_dir: Path,
                                                         settings) -> None:
    path = tiny_model_dir if which == "tiny" else SHIPPED
    topics = settings.topics.topics
    lean = load_model_classifier(path, topics=topics, threads=1, quantize=quantize)
    hf = load_hf_classifier(path, check_complete(path), topics=topics, threads=1, quantize=quantize)
    assert "Lean" in type(lean.model).__name__ and "Lean" not in type(hf.model).__name__
    texts = TEXTS * 7  # several batches of different widths (padding inside a batch)
    assert lean.predict(texts) == hf.predict(texts)
    ours, theirs = lean.predict_proba(texts), hf.predict_proba(texts)
    for head in ("sentiment", "intent", "topics"):
        assert torch.allclose(ours[head], theirs[head], atol=1e-5), head
    for part in ("encoder", "ngram"):  # the parts the model card measures one by one
        lean.model.sentiment_from = hf.model.sentiment_from = part
        assert torch.allclose(lean.predict_proba(TEXTS)["sentiment"], hf.predict_proba(TEXTS)["sentiment"], atol=1e-5)


def test_loading_the_shipped_model_does_not_import_transformers() -> None:
    code = ("import sys\nfrom classifier.loading import load_model_classifier\n"
            f"clf = load_model_classifier({str(SHIPPED)!r}, threads=1, quantize=True)\n"
            "print(clf.predict(['更新后闪退'])[0].sentiment)\n"
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["negative", "False"]


def test_loading_runs_no_garbage_collection_and_leaves_it_on() -> None:
    """Importing torch and building the model makes ~170,000 lasting objects: full collections walking them
    cost a fresh process 0.12-0.17 s, so loading pauses collection and keeps those objects out of later ones."""
    code = ("import gc, sys\nfrom classifier.loading import load_model_classifier\n"
            "before = gc.get_stats()[2]['collections']\n"
            f"clf = load_model_classifier({str(SHIPPED)!r}, threads=1, quantize=True)\n"
            "after = gc.get_stats()[2]['collections']\n"
            "print(after == before, gc.isenabled(), gc.get_freeze_count() > 50000)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_a_voc_model_the_lean_loader_does_not_reproduce_loads_through_transformers(tiny_model_dir: Path,
                                                                                    tmp_path: Path) -> None:
    other = tmp_path / "relu"
    shutil.copytree(tiny_model_dir, other)
    cfg = json.loads((other / "config.json").read_text(encoding="utf-8"))
    cfg["hidden_act"] = "relu"
    (other / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    clf = load_model_classifier(other, threads=1)
    assert type(clf.model).__name__ == "VocModel"
    assert len(clf.predict(TEXTS)) == len(TEXTS)


def test_unexpected_tensors_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    extra = tmp_path / "extra"
    shutil.copytree(tiny_model_dir, extra)
    weights = load_file(str(extra / "model.safetensors"))
    weights["pooler.dense.weight"] = torch.zeros(2, 2)
    save_file(weights, str(extra / "model.safetensors"))
    with pytest.raises(ModelLoadError, match="pooler.dense.weight"):
        load_model_classifier(extra, threads=1)
    assert gc.isenabled()  # collection, paused while loading, is back on after the error


_ONEDNN_PROBE = """
import sys
from classifier.loading import load_model_classifier
clf = load_model_classifier(sys.argv[1], threads=1)
clf.predict(sys.argv[2:])
clf.predict(sys.argv[2:])  # the same shapes again
"""


@pytest.mark.parametrize("capacity", [None, "64"])
def test_inference_keeps_no_compiled_onednn_kernels_unless_the_environment_says(capacity: str | None) -> None:
    """oneDNN compiles a kernel per input shape and by default caches them (a classifying process grew by
    hundreds of MiB); loading a model turns the cache off, unless the environment sets its capacity."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    env["ONEDNN_VERBOSE"] = "2"  # reports every kernel created: cache_miss, or cache_hit when reused
    if capacity:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = capacity
    out = subprocess.run([sys.executable, "-c", _ONEDNN_PROBE, str(SHIPPED), *TEXTS * 3], cwd=REPO, check=True,
                         capture_output=True, text=True, env=env).stdout
    assert "create:cache_miss" in out  # oneDNN runs, and says so
    assert ("create:cache_hit" in out) == bool(capacity)
