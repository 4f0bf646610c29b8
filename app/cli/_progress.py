"""The CLI side of :mod:`app.progress`: ``--quiet`` on every long command, safe Ctrl-C, and the message an
interrupted command ends with."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from app.progress import Reporter, reporter_for, safe_interrupts

__all__ = ["with_progress", "Interrupted"]


class Interrupted(click.ClickException):
    """Ctrl-C stopped the command at a safe point; the message says what was kept and how to go on."""

    exit_code = 130

    def show(self, file: Any = None) -> None:
        click.echo(f"Interrupted: {self.format_message()}", err=True)


def with_progress(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--quiet`` and pass ``progress`` (a :class:`Reporter`: bars on a terminal, plain lines on stderr
    otherwise, nothing with --quiet). While the command runs, the first Ctrl-C stops its work at the next
    safe point (a KeyboardInterrupt the command turns into :class:`Interrupted`); a second quits at once."""

    @functools.wraps(f)
    def wrapper(*args: Any, quiet: bool, **kwargs: Any) -> Any:
        with safe_interrupts() as interrupts:
            progress: Reporter = reporter_for(quiet=quiet, stop=interrupts)
            return f(*args, progress=progress, **kwargs)

    return click.option("--quiet", "-q", is_flag=True, help="Show no progress (it goes to stderr otherwise).")(wrapper)


class Counted:
    """An index whose reads (``scan``, ``search`` hits) or deletes advance ``task``; everything else passes
    through. How ``voc export`` and ``voc prune`` show progress over ``index.service``'s loops."""

    def __init__(self, index: Any, task: Any, *, count: str = "reads") -> None:
        self._index, self._task, self._count = index, task, count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def scan(self, *args: Any, **kwargs: Any) -> Any:
        for doc in self._index.scan(*args, **kwargs):
            if self._count == "reads":
                self._task.advance()
            yield doc

    def search(self, *args: Any, **kwargs: Any) -> Any:
        result = self._index.search(*args, **kwargs)
        if self._count == "reads":
            self._task.advance(len(result.hits))
        return result

    def delete(self, ids: Any) -> int:
        n = self._index.delete(ids)
        if self._count == "deletes":
            self._task.advance(len(ids))
        return n
