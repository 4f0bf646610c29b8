"""App version strings (crawled, so hostile) → sort keys. The one home for ordering versions: the
rating-drop detector (``alerts.detect``) and the API's ratings-by-version chart both use it.

``version_key("10.2.1") > version_key("9.12") > version_key("9.9")``: parts separated by ``.``, ``-``,
``_`` or whitespace; a part of ASCII digits (at most :data:`MAX_DIGITS`) compares as a number, anything
else as text after every number (``3.1 < 3.1-beta``'s ``beta`` part, ``3.x`` > ``3.9``). ``str.isdigit``
is not used: it is true for ``'²'`` or ``'٣'``, which ``int()`` then refuses. Input is bounded (the first
:data:`MAX_LENGTH` characters, :data:`MAX_PARTS` parts), so no value can make a key expensive or raise.
"""

from __future__ import annotations

import re

__all__ = ["version_key", "VersionKey", "MAX_LENGTH", "MAX_PARTS", "MAX_DIGITS"]

MAX_LENGTH = 64
MAX_PARTS = 8
#: Longer digit runs compare as text (``int()`` of thousands of digits is slow, and refused past 4,300).
MAX_DIGITS = 18

_SEPARATORS = re.compile(r"[.\-_\s]+")
_ASCII_NUMBER = re.compile(r"[0-9]+")

#: ``(0, number, "")`` for a numeric part, ``(1, 0, text)`` otherwise: numbers first, never int vs str.
VersionKey = tuple[tuple[int, int, str], ...]


def version_key(version: object) -> VersionKey:
    """A total, cheap sort key for any value (``None`` and non-strings included); never raises."""
    text = str(version if version is not None else "")[:MAX_LENGTH]
    parts = [p for p in _SEPARATORS.split(text) if p][:MAX_PARTS]
    return tuple((0, int(p), "") if len(p) <= MAX_DIGITS and _ASCII_NUMBER.fullmatch(p) else (1, 0, p)
                 for p in parts)
