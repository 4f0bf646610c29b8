"""Load a saved model directory: the one ``classifier.model`` setting takes two kinds.

* a VOC model (``config.json`` has ``voc_labels``): a BERT-style encoder with sentiment, intent and topic
  heads, saved by ``voc train`` — the shipped ``classifier/models/voc-small`` or one fine-tuned from any
  local checkpoint. Loaded by :mod:`classifier.lean` without importing transformers when it can
  (:func:`classifier.lean.supports`), else by :mod:`classifier.model`;
* any local Hugging Face sequence-classification checkpoint whose labels name sentiments
  (negative/positive[/neutral], 负面/正面, …): it supplies sentiment; intent comes from rules.

Either way taxonomy keyword topics and risk rules are applied on top, so a topic added to topics.yaml is
tagged at once. Loading is local only and refuses an incomplete directory.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from classifier._base import ModelLoadError
from classifier.normalize import check_normalization

__all__ = ["load_model_classifier", "check_complete", "REQUIRED_FILES"]

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json or vocab.txt", "README.md (VOC models)")


def check_complete(path: Path) -> dict[str, Any]:
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(path, "config.json is missing — not a Hugging Face model directory (expected "
                                   + ", ".join(REQUIRED_FILES) + "); rebuild it with `voc train`")
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(path, f"config.json is unreadable ({exc}); rebuild it with `voc train`") from exc
    missing = []
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        missing.append("model.safetensors")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer.json or vocab.txt")
    if "voc_labels" in cfg and not (path / "README.md").is_file():
        missing.append("README.md (model card)")
    if missing:
        raise ModelLoadError(path, "incomplete model directory, missing " + ", ".join(missing)
                             + " — refusing to build random weights; rebuild it with `voc train`"
                             + " (only safetensors weights are loaded)")
    return cfg


def load_model_classifier(path: str | Path, *, topics: Iterable[Any] = (), threads: int = 2, batch_size: int = 64,
                          quantize: bool = False) -> Any:
    """Load a model directory (see the module docstring); raise :class:`ModelLoadError` if it can't be."""
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(path, "no such model directory — run `voc train`, or set classifier.model: rules")
    cfg = check_complete(path)
    if "voc_labels" in cfg:
        check_normalization(cfg.get("voc_normalization"), path=str(path))
    with _collection_paused():
        from classifier import lean
        from classifier.inference import set_threads, uncached_onednn

        set_threads(threads)
        uncached_onednn()
        if lean.supports(path, cfg) is None:
            return lean.load_lean_classifier(path, cfg, topics=topics, threads=threads, batch_size=batch_size,
                                             quantize=quantize)
        from classifier.model import load_hf_classifier

        return load_hf_classifier(path, cfg, topics=topics, threads=threads, batch_size=batch_size, quantize=quantize)


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No garbage collection while torch is imported and the model built, and what that created kept out
    of later collections (``gc.freeze``): ~170,000 objects — modules, the model — that live as long as the
    process uses the model. Otherwise the collections they set off walk them all again and again: 0.12–0.17
    s of a fresh process's 1.0 s start-up, and 0.07 s more in its first predictions (measured). Collection
    resumes as it was, also on an error (then nothing is frozen)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
