"""How the routes read their parameters: whole numbers as ASCII digits in a bounded range, short strings,
and every validation failure as one JSON 400 that names the field.

FastAPI/pydantic on their own accept ``' 1_000 '`` or ``'12.0'`` as an integer and any size
(``offset=99999999999999999999`` reached SQLite and overflowed); :data:`Digits` admits ``[0-9]{1,9}`` only,
and each route declares the range with ``Query(ge=…, le=…)``. :func:`validation_error` turns FastAPI's
``RequestValidationError`` (which would be a 422 with pydantic's own shape) into the API's error shape.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator

from index import QueryError

__all__ = ["Digits", "validation_error", "check_id", "MAX_RESULT_WINDOW"]

#: offset + limit of a search stays within this (as Elasticsearch's default index.max_result_window): deeper
#: pages cost the index more than any person reads.
MAX_RESULT_WINDOW = 10_000
_DIGITS = re.compile(r"[0-9]{1,9}")
#: Document ids and alert fingerprints: printable ASCII without spaces, quotes or slashes.
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _ascii_digits(value: Any) -> Any:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("expected a whole number written with the digits 0-9 (at most 9 of them)")
    return value


#: A query parameter that is a whole number: ASCII digits only; the range is the route's ``Query(ge, le)``.
Digits = Annotated[int, BeforeValidator(_ascii_digits)]


def check_id(field: str, value: str) -> str:
    """A path id (document id, alert fingerprint) → itself, or a 400 :class:`QueryError` naming ``field``."""
    if not _ID.fullmatch(value):
        raise QueryError(field, "expected 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def _message(error: dict) -> str:
    msg = str(error.get("msg") or "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg[:300]


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """The first failing parameter or body field as ``{"error": "bad_query", "message", "field"}`` (400)."""
    errors = list(exc.errors()) or [{"loc": ("request",), "msg": "invalid request"}]
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body", "header", "cookie")]
    field = ".".join(loc) or "request"
    return JSONResponse({"error": "bad_query", "message": f"{field}: {_message(first)}", "field": field},
                        status_code=400)
