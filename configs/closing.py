"""One context-manager habit every store shares (alert stores, crawl state, label corrections, the index).

A store opens its connection when made and releases it in ``close()``; :class:`Closeable` gives it
``with open_store(settings) as store:`` so that the connection is released on the way out, error or not."""

from __future__ import annotations

from typing import Self

__all__ = ["Closeable"]


class Closeable:
    """Base of a class whose ``close()`` releases what it holds; ``with`` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define close()")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
