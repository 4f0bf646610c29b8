"""Training checkpoints: everything a stopped ``train()`` needs to go on exactly where it stopped.

One file, ``<output>.checkpoint/training.pt``, written atomically (a temporary file, then a rename): model,
optimizer and scheduler state, both random generators, the position (epoch, batch, step), the current epoch's
batch order and the training time spent. It is read with ``torch.load(weights_only=True)``, which restores
tensors and plain containers only and runs no pickled code. A fingerprint of the configuration and the
encoded training data guards against resuming with something else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from array import array
from pathlib import Path
from typing import Any

import torch

from classifier._base import TrainingDataError

__all__ = ["Checkpoint", "fingerprint", "plain", "rnd_state"]

#: Settings that may differ between the stopped run and the resumed one: they do not change the model.
_FREE = {"output_dir", "data_dir", "max_minutes", "threads", "checkpoint_minutes", "corrections"}


def fingerprint(config: Any, sizes: dict[str, int], vocab: list[str], ids: list[list[int]] | None = None) -> str:
    h = hashlib.sha256()
    cfg = {k: v for k, v in dataclasses.asdict(config).items() if k not in _FREE}
    h.update(json.dumps([cfg, sizes, vocab], sort_keys=True, default=str, ensure_ascii=False).encode())
    for seq in ids or ():
        h.update(array("i", seq).tobytes())
        h.update(b"|")
    return h.hexdigest()


def plain(value: Any) -> Any:
    """Tuples → lists, recursively (``random.getstate()`` as a weights-only loadable value)."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def rnd_state(value: Any) -> Any:
    """The inverse of :func:`plain` for ``random.setstate``: ``[3, [ints], None]`` → ``(3, (ints), None)``."""
    version, internal, gauss = value
    return (version, tuple(internal), gauss)


class Checkpoint:
    def __init__(self, output_dir: Path, fingerprint: str) -> None:
        self.dir = Path(output_dir).with_name(Path(output_dir).name + ".checkpoint")
        self.path = self.dir / "training.pt"
        self.fingerprint = fingerprint

    def save(self, state: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({**state, "fingerprint": self.fingerprint}, tmp)
        os.replace(tmp, self.path)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no checkpoint; refuses one made with other data/settings."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, weights_only=True)
        except Exception as exc:  # a torn or foreign file: say which, never resume from it
            raise TrainingDataError(self.path, f"cannot read the checkpoint ({exc}); delete {self.dir} and train "
                                    "without --resume") from exc
        if state.get("fingerprint") != self.fingerprint:
            raise TrainingDataError(self.path, "this checkpoint was made with other training data or settings; "
                                    f"train without --resume (it is replaced) or delete {self.dir}")
        return state

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
