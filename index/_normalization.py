"""The text normalization an index's tokens were built with: recorded by every backend, checked on open.

A tokenizer that carries a ``config`` mapping (the classifier's segmenter: normalization ``version``,
``opencc_profile``, user-dictionary ``dict_hash``) has it stored with the index. Another normalization
version or OpenCC profile fails loudly: stored tokens and new queries would no longer match. A changed
user dictionary (a product or feature added to the config) only warns, since it affects the segmentation
of those new words alone; `voc reindex` rebuilds the tokens.
"""

from __future__ import annotations

import logging
from typing import Any

from index._errors import SchemaMismatchError

__all__ = ["tokenizer_normalization", "check_normalization"]

_log = logging.getLogger("voc.index")


def tokenizer_normalization(tokenizer: Any) -> dict[str, Any] | None:
    config = getattr(tokenizer, "config", None)
    return dict(config) if isinstance(config, dict) else None


def check_normalization(saved: dict[str, Any] | None, current: dict[str, Any], backend: str) -> bool:
    """Raise :class:`SchemaMismatchError` when ``saved`` and ``current`` normalizations are incompatible;
    True when the index should record ``current`` (nothing recorded yet, or a changed dictionary)."""
    if saved is None:
        return True
    for key in ("version", "opencc_profile"):
        if saved.get(key) != current.get(key):
            raise SchemaMismatchError(
                f"index tokens were built with normalization {key}={saved.get(key)!r} but this code uses "
                f"{current.get(key)!r}; rebuild the tokens with `voc reindex --to <new index URL>`", backend=backend)
    if saved.get("dict_hash") != current.get("dict_hash"):
        _log.warning("the segmentation dictionary changed since this index was built (products, features or "
                     "topic keywords edited); documents indexed before keep their old tokens for the new "
                     "words — run `voc reindex` to rebuild them")
        return True
    return saved != current
