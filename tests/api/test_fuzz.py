"""Property-based fuzzing of the HTTP API (hypothesis): every ``/api`` route enumerated from the FastAPI app,
every one of its query and path parameters, the query language in ``q``, the login form, and the headers a
browser or attacker controls (Host, Cookie, X-CSRF-Token, Origin).

Properties: no 5xx; every answer within a time bound; every 4xx is well-formed JSON
``{"error": str, "message": str[, "field": str]}``. Examples are bounded and derandomized, so the run is the
same in CI every time and takes seconds.

An exception the server raises fails the test naming the input (the TestClient re-raises it, with its
traceback), as does any 5xx.
"""

from __future__ import annotations

import time
import urllib.parse
from datetime import timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import NOW

#: Seconds one in-process request may take on a loaded 2-core VM (a normal one takes milliseconds).
TIME_BOUND = 5.0
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- strategies --------------------------------------------------------------------------------------------
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # any Unicode but lone surrogates
_numbers = st.one_of(st.integers(-10**25, 10**25).map(str), st.from_regex(r"[0-9]{1,30}", fullmatch=True))
_odd = st.sampled_from(["", " ", "0", "-1", "1_000", "12.0", "1e9", "NaN", "\x00", "\u0661\u0662", "\u00b2",
                        "\uff11\uff12", "9" * 40, "%00", "../../etc/passwd", "'\"<>", "\u202e", "\ud7ff"])
_times = st.one_of(
    st.datetimes(timezones=st.sampled_from([timezone.utc, None])).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-11-24", "2026-11-24T03:05:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
                     "2026-02-30", "2026-11-24T25:00"]),
)
#: Values known to each parameter, so the fuzz also reaches the code behind the validation.
KNOWN: dict[str, list[str]] = {
    "sort": ["relevance", "time"], "interval": ["minute", "hour", "day"],
    "tz": ["Asia/Shanghai", "UTC", "America/St_Johns", "Etc/GMT+12"],
    "group_by": ["sentiment", "topics", "source", "app_version", "rating", "risk"],
    "facets": ["sentiment,topics", "platform", "rating,app_version"], "fields": ["sentiment", "topics,source"],
    "state": ["open", "resolved"], "limit": ["0", "1", "20", "200"], "offset": ["0", "5", "9800"],
}
_RELATIVE = st.builds(lambda n, unit: f"{n}{unit}", st.integers(0, 10**12), st.sampled_from("mhdw"))


def _query_language() -> st.SearchStrategy[str]:
    from index.query import FIELDS

    values = st.one_of(st.sampled_from(["negative", "positive", "bug", "praise", "media_threat", "weibo", "appstore",
                                        "forum:x", "ios", "1", "5", "3.2.0", "login", "登录"]),
                       _RELATIVE, _times, _numbers, _text, _odd)
    field_value = st.builds(lambda f, vs: f"{f}:{','.join(vs)}",
                            st.one_of(st.sampled_from(sorted(FIELDS)), st.sampled_from(["since", "until", "rating"]),
                                      st.from_regex(r"[A-Za-z_]{1,12}", fullmatch=True)),
                            st.lists(values, min_size=0, max_size=3))
    word = st.one_of(st.sampled_from(["登录", "闪退", "验证码", "同步", "AND", "OR", "NOT", "NEAR", "*", "^", "(", ")"]),
                     _text.filter(lambda t: t.strip()))
    term = st.one_of(word, word.map(lambda w: f'"{w}"'), word.map(lambda w: f"-{w}"), field_value,
                     st.sampled_from(['"', '""', "-", ":", "a:", ":b", "\\"]))
    return st.lists(term, max_size=8).map(" ".join)


def _value(name: str) -> st.SearchStrategy[str]:
    if name == "q":
        return _query_language()
    choices = [_text, _numbers, _odd]
    if name in ("since", "until"):
        choices.append(_times)
    if name in KNOWN:
        choices.append(st.sampled_from(KNOWN[name]))
    return st.one_of(*choices)


def _routes(app: Any) -> list[tuple[str, str, list[str], list[str], bool]]:
    """(method, path, query parameter names, path parameter names, has a JSON body) of every /api route."""
    from fastapi.routing import APIRoute

    def params(dependant: Any, kind: str) -> set[str]:
        names = {p.name for p in getattr(dependant, kind)}
        for sub in dependant.dependencies:
            names |= params(sub, kind)
        return names

    out = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api"):
            continue
        for method in sorted(route.methods):
            out.append((method, route.path, sorted(params(route.dependant, "query_params")),
                        sorted(params(route.dependant, "path_params")), route.body_field is not None))
    return out


# -- checks ------------------------------------------------------------------------------------------------
def _check(response: Any, elapsed: float, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    assert elapsed < TIME_BOUND, (what, f"{elapsed:.2f} s")
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), (what, response.text[:200])
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str), \
            (what, body)
        if "field" in body:
            assert body["field"] is None or isinstance(body["field"], str), (what, body)
        if response.status_code == 400 and body["error"] == "bad_query":
            assert body.get("field") is not None, (what, body)  # a bad parameter says which one


class Fuzzer:
    """The app (no tokens: anonymous loopback admin, so admin routes are reached too) behind a TestClient that
    raises the server's exceptions, so a failure shows its traceback."""

    def __init__(self, seeded: Any) -> None:
        from fastapi.testclient import TestClient

        from app.api import create_app

        settings_, index, _docs = seeded
        self.app = create_app(settings_, index=index, clock=lambda: NOW)
        self.client = TestClient(self.app, base_url="http://127.0.0.1:8080", raise_server_exceptions=True,
                                 client=("127.0.0.1", 50000))
        self.client.__enter__()
        self.csrf = self.client.get("/api/session").json()["csrf_token"]
        self.statuses: dict[int, int] = {}

    def request(self, method: str, path: str, what: Any, **kwargs: Any) -> None:
        started = time.monotonic()
        try:
            response = self.client.request(method, path, **kwargs)
        except Exception as exc:  # the server raised: a 500 for this input
            raise AssertionError(f"{what!r} raised {exc!r}") from exc
        _check(response, time.monotonic() - started, what)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.app.state.ops.close()
        self.app.state.auth.close()


@pytest.fixture
def fuzzer(seeded):
    f = Fuzzer(seeded)
    yield f
    f.close()


def _end(fuzzer: Fuzzer) -> None:
    print("statuses:", dict(sorted(fuzzer.statuses.items())))


# -- the properties ----------------------------------------------------------------------------------------
def test_the_fuzz_covers_every_api_route(fuzzer):
    routes = {(m, p) for m, p, *_ in _routes(fuzzer.app)}
    assert {("GET", "/api/search"), ("GET", "/api/facets"), ("GET", "/api/trends"), ("GET", "/api/trends/ratings"),
            ("GET", "/api/alerts"), ("POST", "/api/alerts/{alert_id}/ack"), ("GET", "/api/feedback/{doc_id}"),
            ("POST", "/api/feedback/{doc_id}"), ("GET", "/api/sources"), ("GET", "/api/session")} <= routes


def test_every_api_parameter(fuzzer):
    routes = _routes(fuzzer.app)

    @st.composite
    def calls(draw: Any) -> tuple[str, str, dict[str, str], Any]:
        method, path, query, path_params, has_body = draw(st.sampled_from(routes))
        params = {name: draw(_value(name)) for name in query if draw(st.booleans())}
        for name in path_params:
            value = draw(st.one_of(_text.filter(bool), st.from_regex(r"[0-9a-f]{1,40}", fullmatch=True)))
            path = path.replace("{%s}" % name, urllib.parse.quote(value, safe=""))
        body = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["sentiment", "intent", "topics", "risk", "x"]),
                                                         st.one_of(_text, st.lists(_text, max_size=3), st.integers(),
                                                                   st.none()), max_size=3))) if has_body else None
        return method, path, params, body

    @FUZZ
    @given(calls())
    def run(call: tuple[str, str, dict[str, str], Any]) -> None:
        method, path, params, body = call
        fuzzer.request(method, path, call, params=params, json=body, headers={"X-CSRF-Token": fuzzer.csrf})

    run()
    _end(fuzzer)


def test_the_query_language(fuzzer):
    @FUZZ
    @given(_query_language(), st.sampled_from(["/api/search", "/api/facets", "/api/trends", "/api/trends/ratings"]))
    def run(q: str, path: str) -> None:
        fuzzer.request("GET", path, (path, q), params={"q": q})

    run()
    _end(fuzzer)


_header_text = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60), _odd.filter(
    lambda v: v.isprintable() and all(ord(c) < 256 for c in v)))


def test_headers_and_the_login_form(fuzzer):
    @FUZZ
    @given(host=st.one_of(st.sampled_from(["127.0.0.1:8080", "localhost", "[::1]:8080"]), _header_text),
           cookie=st.one_of(st.none(), _header_text), csrf=st.one_of(st.none(), _header_text),
           origin=st.one_of(st.none(), st.sampled_from(["http://127.0.0.1:8080", "null"]), _header_text),
           form=st.one_of(_header_text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))),
           target=st.sampled_from([("GET", "/api/session"), ("POST", "/login"), ("POST", "/logout"),
                                   ("POST", "/api/alerts/0123abcd/ack"), ("GET", "/")]))
    def run(host: str, cookie: str | None, csrf: str | None, origin: str | None, form: str,
            target: tuple[str, str]) -> None:
        headers = {"Host": host.encode("latin-1")}
        for name, value in (("Cookie", None if cookie is None else f"voc_session={cookie}"), ("X-CSRF-Token", csrf),
                            ("Origin", origin)):
            if value is not None:
                headers[name] = value.encode("latin-1")
        method, path = target
        content = f"token={form}".encode("latin-1") if method == "POST" else None
        fuzzer.request(method, path, (target, host, cookie, csrf, origin, form), headers=headers, content=content,
                       follow_redirects=False)

    run()
    _end(fuzzer)
