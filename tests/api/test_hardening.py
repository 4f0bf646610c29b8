"""The attack-and-fault review of issue 23, kept as probes (the HTTP API's part): DNS rebinding through the
Host header (finding 1), sessions that outlived their token (6), 500s from malformed input (7), login
without an Origin check or throttling (9). Each probe failed on the code before this file existed."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.anyio

TOKENS = {"VOC_ADMIN_TOKENS": "adm-secret-1", "VOC_READ_TOKENS": "read-secret-1",
          "VOC_SESSION_SECRET": "test-session-key"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def login(c: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    return await c.post("/login", content=f"token={token}", headers={**FORM, **headers})


# -- finding 1: DNS rebinding -----------------------------------------------------------------------------
REBOUND_HOSTS = ["127.attacker.example:8080", "127.0.0.1.nip.io", "localhost.attacker.example", "attacker.example",
                 "127.0.0.1:99999", "127.0.0.1:8080/x", "user@127.0.0.1", "\u0131ocalhost", "[::1"]


@pytest.mark.parametrize("host", REBOUND_HOSTS)
@pytest.mark.parametrize("env", [None, TOKENS], ids=["no-tokens", "tokens"])
async def test_a_foreign_host_is_refused_before_any_credential(client_for, host, env):
    c = client_for(env)
    for method, path in (("GET", "/api/session"), ("GET", "/"), ("GET", "/login"), ("GET", "/static/app.js"),
                         ("POST", "/api/alerts/0123abcd/ack"), ("POST", "/login")):
        r = await c.request(method, path, headers={"Host": host.encode("utf-8")})
        assert r.status_code == 400, (method, path, r.text)
        assert r.json()["error"] == "bad_host" and r.json()["field"] == "host", r.text
        assert "web.allowed_hosts" in r.json()["message"]
        assert r.headers["content-security-policy"]  # refusals carry the security headers too


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.1.2.3"])
async def test_loopback_names_are_answered_and_anonymous_there(client_for, host):
    r = await client_for().get("/api/session", headers={"Host": host})
    assert r.status_code == 200 and r.json()["via"] == "anonymous", r.text


async def test_configured_public_hosts_and_base_url_are_answered_but_never_anonymous(client_for):
    c = client_for(web={"allowed_hosts": (".voc.example.com",), "base_url": "https://feedback.example.org/"})
    for host in ("voc.example.com", "a.voc.example.com:443", "feedback.example.org"):
        r = await c.get("/api/session", headers={"Host": host})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", (host, r.text)
    assert (await c.get("/api/session", headers={"Host": "evilvoc.example.com"})).status_code == 400


async def test_proxied_requests_are_never_anonymous_loopback(client_for):
    c = client_for()  # no tokens; a proxy on the same machine connects from 127.0.0.1 with a loopback Host
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        r = await c.get("/api/session", headers={header: "203.0.113.9"})
        assert r.status_code == 401, header
    proxy = client_for(web={"trusted_proxies": ("127.0.0.1",)})  # a configured proxy: nobody is anonymous
    assert (await proxy.get("/api/session")).status_code == 401


async def test_forwarded_headers_are_believed_from_trusted_proxies_only(client_for):
    web = {"trusted_proxies": ("10.0.0.0/8",), "allowed_hosts": ("voc.example.com",), "login_max_failures": 2}
    proxy = client_for(TOKENS, client=("10.1.1.1", 5000), web=web)
    # X-Forwarded-Host from the proxy is what is checked (the proxy may rewrite Host to the upstream's)
    bad = await proxy.get("/api/session", headers={"X-Forwarded-Host": "127.attacker.example", **TOKEN_READ})
    assert bad.status_code == 400 and bad.json()["field"] == "host"
    good = await proxy.get("/api/session", headers={"Host": "10.1.1.2:8080", "X-Forwarded-Host": "voc.example.com",
                                                    **TOKEN_READ})
    assert good.status_code == 200, good.text
    # the client address for throttling is the proxy's X-Forwarded-For, right-most untrusted entry
    for _ in range(2):
        await proxy.get("/api/session", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.5", **WRONG})
    assert (await proxy.get("/api/session", headers={"X-Forwarded-For": "203.0.113.5", **WRONG})).status_code == 429
    other = await proxy.get("/api/session", headers={"X-Forwarded-For": "203.0.113.6", **TOKEN_READ})
    assert other.status_code == 200
    # from an untrusted peer, X-Forwarded-For is ignored: it cannot pick its own throttling key
    direct = client_for(TOKENS, client=("198.51.100.7", 5000), web=web)
    for spoof in ("1.1.1.1", "1.1.1.2"):
        await direct.get("/api/session", headers={"X-Forwarded-For": spoof, **WRONG})
    assert (await direct.get("/api/session", headers={"X-Forwarded-For": "1.1.1.3", **WRONG})).status_code == 429
    assert (await direct.get("/api/session", headers={"Host": "127.attacker.example",
                                                      "X-Forwarded-Host": "voc.example.com"})).status_code == 400


TOKEN_READ = {"Authorization": "Bearer read-secret-1"}
WRONG = {"Authorization": "Bearer wrong-guess"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_voc_serve_refuses_a_rebound_host_over_real_http(tmp_path):
    """The curl of the report, against `voc serve` on a loopback port with no tokens set."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOC_")}
    env.update(VOC_HOME=str(tmp_path), VOC_CLASSIFIER_MODEL="rules", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port),
                             "--log-level", "warning"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                ok = httpx.get(base + "/api/session", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stderr.read().decode() if proc.stderr else "voc serve did not start") \
                        from None
                time.sleep(0.2)
        assert ok.status_code == 200 and ok.json()["role"] == "admin"
        r = httpx.get(base + "/api/session", headers={"Host": "127.attacker.example:8080"}, timeout=5)
        assert r.status_code == 400 and r.json()["error"] == "bad_host"
        assert "csrf_token" not in r.text
        # uvicorn's own proxy-header handling is off: X-Forwarded-For from 127.0.0.1 is not the client address,
        # and the request is seen as proxied (never anonymous)
        assert httpx.get(base + "/api/session", headers={"X-Forwarded-For": "127.0.0.1"}, timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- finding 6: sessions end with their token ---------------------------------------------------------------
async def test_logout_revokes_the_session_even_after_a_restart(client_for):
    c = client_for(TOKENS)
    assert (await login(c, "read-secret-1")).status_code == 303
    cookie = c.cookies["voc_session"]
    assert (await c.get("/api/session")).status_code == 200
    assert (await c.post("/logout")).status_code == 303
    replay = client_for(TOKENS)
    replay.cookies.set("voc_session", cookie)
    r = await replay.get("/api/session")
    assert r.status_code == 401 and "session has ended" in r.json()["message"]
    restarted = client_for(TOKENS)  # a new app (same home, same session secret): the revocation is on disk
    restarted.cookies.set("voc_session", cookie)
    assert (await restarted.get("/api/session")).status_code == 401


async def test_a_session_takes_the_current_role_of_its_token(client_for):
    c = client_for(TOKENS)
    await login(c, "adm-secret-1")
    cookie = c.cookies["voc_session"]
    assert (await c.get("/api/session")).json()["role"] == "admin"
    demoted = client_for({**TOKENS, "VOC_ADMIN_TOKENS": "adm-new", "VOC_READ_TOKENS": "adm-secret-1"})
    demoted.cookies.set("voc_session", cookie)
    assert (await demoted.get("/api/session")).json()["role"] == "read"


def _forge(cookie: str, **changes) -> str:
    body, sig = cookie.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode() + "." + sig


# -- finding 7: malformed input is 4xx, never 500 -----------------------------------------------------------
MALFORMED_COOKIES = ["abc", "a.b.c", "a.\u00e9\u00e9", "\u00e9.x", "!!!.@@@", "e30." + "A" * 43, "x" * 8000,
                     "eyJzaWQiOjF9.", "." + "A" * 43, "e30.\u00ff" * 3]


@pytest.mark.parametrize("cookie", MALFORMED_COOKIES)
async def test_a_malformed_session_cookie_is_no_session(client_for, cookie):
    raw = {"Cookie": ("voc_session=" + cookie).encode("utf-8")}
    r = await client_for(TOKENS).get("/api/session", headers=raw)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    r = await client_for().get("/api/session", headers=raw)  # no tokens: anonymous loopback still applies
    assert r.status_code == 200 and r.json()["via"] == "anonymous"


async def test_a_signed_cookie_with_wrong_types_inside_is_no_session(client_for):
    c = client_for(TOKENS)
    await login(c, "read-secret-1")
    good = c.cookies["voc_session"]
    c.cookies.clear()
    for changes in ({"exp": "never"}, {"sid": ["x"]}, {"tfp": None}, {"role": "admin"}):
        c.cookies.set("voc_session", _forge(good, **changes))  # the signature no longer matches either way
        assert (await c.get("/api/session")).status_code == 401


@pytest.mark.parametrize("value", ["\u00e9", "\u00e9" * 43, "\u4e2d".encode().decode("latin-1"), " ", "x" * 5000])
async def test_a_non_ascii_or_wrong_csrf_header_is_403(client_for, value):
    c = client_for()
    r = await c.post("/api/alerts/0123abcd/ack", headers={"X-CSRF-Token": value.encode("latin-1")})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/search", {"offset": "99999999999999999999"}, "offset"),
    ("/api/search", {"offset": "9999"}, "offset"),  # offset + limit beyond the 10,000 result window
    ("/api/search", {"limit": "99999999999999999999"}, "limit"),
    ("/api/search", {"limit": "\uff11\uff12"}, "limit"),  # full-width digits
    ("/api/search", {"offset": "\u0661\u0662"}, "offset"),  # Arabic-Indic digits
    ("/api/search", {"offset": "1_000"}, "offset"),
    ("/api/search", {"offset": "12.0"}, "offset"),
    ("/api/search", {"offset": "-1"}, "offset"),
    ("/api/search", {"limit": " 5"}, "limit"),
    ("/api/search", {"limit": "\u00b2"}, "limit"),
    ("/api/alerts", {"limit": "0"}, "limit"),
    ("/api/alerts", {"limit": "1" * 30}, "limit"),
    ("/api/alerts", {"state": "acknowledged'--"}, "state"),
    ("/api/search", {"since": "9999-12-31T23:59:59-23:59"}, "since"),
    ("/api/search", {"until": "0001-01-01T00:00:00+01:00"}, "until"),
    ("/api/search", {"since": "\uff12\uff10\uff12\uff16-01-01"}, "since"),
    ("/api/search", {"since": "0001-01-01"}, "since"),
    ("/api/trends", {"until": "0001-01-02"}, "until"),
    ("/api/trends/ratings", {"since": "x" * 100}, "since"),
    ("/api/facets", {"fields": "a," * 200}, "fields"),
    ("/api/trends", {"tz": "../../../../etc/passwd"}, "tz"),
    ("/api/trends", {"tz": "Asia/Shanghai\x00"}, "tz"),
    ("/api/trends", {"tz": "A" * 60}, "tz"),
    ("/api/trends", {"tz": "/etc/localtime"}, "tz"),
    ("/api/search", {"sort": "time" * 10}, "sort"),
])
async def test_bad_parameters_are_400_naming_the_field(client_for, path, params, field):
    r = await client_for().get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "bad_query" and body["field"] == field and body["message"], body


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/feedback/a%20b"), ("GET", "/api/feedback/" + "a" * 300),
                                              ("GET", "/api/feedback/%E4%B8%AD"), ("POST", "/api/alerts/%00/ack"),
                                              ("POST", "/api/alerts/%25/resolve")])
async def test_malformed_ids_are_400(client_for, method, path):
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    r = await c.request(method, path, headers={"X-CSRF-Token": csrf}, json={"sentiment": "negative"})
    assert r.status_code == 400 and r.json()["field"] in ("doc_id", "alert_id"), r.text


async def test_a_label_correction_of_the_wrong_shape_is_400(client_for, seeded):
    _s, _index, docs = seeded
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    for body in ({"topics": "login"}, {"sentiment": 5}, [1, 2], {"risk": [{"a": 1}]}):
        r = await c.post(f"/api/feedback/{docs[0]['id']}", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 400 and r.json()["error"] == "bad_query" and r.json()["field"], r.text
    r = await c.post(f"/api/feedback/{docs[0]['id']}", content=b"{not json", headers={"X-CSRF-Token": csrf,
                                                                                      "Content-Type": "application/json"})
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(("q", "field"), [
    ("since:999999d", "since"),
    ("since:9999-12-31T23:59:59-23:59", "since"),
    ("rating:\u00b9", "rating"),
    ("since:0001-01-02", "since"),
])
@pytest.mark.parametrize("path", ["/api/search", "/api/trends", "/api/trends/ratings", "/api/facets"])
async def test_out_of_range_query_values_are_400(client_for, path, q, field):
    r = await client_for().get(path, params={"q": q})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_query" and r.json()["field"] == field


# -- finding 9: login Origin check and throttling ------------------------------------------------------------
@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:9999"}, {"Origin": "http://127.0.0.1:8080/path"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}])
async def test_login_and_state_changes_from_another_origin_are_403(client_for, headers):
    c = client_for(TOKENS, base_url="http://127.0.0.1:8080")
    r = await login(c, "adm-secret-1", **headers)
    assert r.status_code == 403 and r.json()["field"] == "origin" and "set-cookie" not in r.headers
    assert (await c.post("/logout", headers=headers)).status_code == 403
    r = await c.post("/api/alerts/0123abcd/ack", headers={**headers, "Authorization": "Bearer adm-secret-1"})
    assert r.status_code == 403 and r.json()["field"] == "origin"


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://127.0.0.1:8080"}, {"Origin": "HTTP://127.0.0.1:8080"},
                                     {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}])
async def test_login_from_the_same_origin_or_a_non_browser_works(client_for, headers):
    c = client_for(TOKENS, base_url="http://127.0.0.1:8080")
    r = await login(c, "adm-secret-1", **headers)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text


async def test_login_guesses_are_throttled_per_client(client_for, caplog):
    c = client_for(TOKENS)  # web.login_max_failures: 10 per web.login_window_seconds: 300
    started = time.monotonic()
    statuses = [(await login(c, f"guess-{i}")) for i in range(300)]
    elapsed = time.monotonic() - started
    tried = [r for r in statuses if r.status_code == 303]
    refused = [r for r in statuses if r.status_code == 429]
    assert len(tried) == 10 and len(refused) == 290, (len(tried), len(refused))
    assert all(r.headers["location"] == "/login?error=1" for r in tried)
    wait = int(refused[-1].headers["retry-after"])
    assert 0 < wait <= 300 and refused[-1].json()["error"] == "too_many_attempts"
    assert f"{wait} s" in refused[-1].json()["message"]
    # while throttled even the right token is refused, so the answer tells nothing about a guess
    assert (await login(c, "adm-secret-1")).status_code == 429
    assert (await c.get("/api/session", headers={"Authorization": "Bearer adm-secret-1"})).status_code == 429
    other = client_for(client=("127.0.0.2", 5000), same_app_as=c)
    assert (await login(other, "adm-secret-1")).status_code == 303
    assert elapsed < 60  # the 300 requests themselves stay cheap
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.api._auth"]
    assert warnings == ["127.0.0.1 failed 10 token checks within 300 s: refusing its token checks (429) for a while"]
    assert not any("guess-" in r.getMessage() or "adm-secret" in r.getMessage() for r in caplog.records)


async def test_bearer_token_guesses_are_throttled_too(client_for):
    c = client_for(TOKENS, client=("2001:db8::1", 5000), web={"login_max_failures": 3})
    codes = [(await c.get("/api/search", headers={"Authorization": f"Bearer guess-{i}"})).status_code
             for i in range(20)]
    assert codes == [401] * 3 + [429] * 17
    neighbour = client_for(client=("2001:db8::2", 5000), same_app_as=c)  # same /64: one machine, as a rule
    assert (await neighbour.get("/api/search", headers=TOKEN_READ)).status_code == 429
    elsewhere = client_for(client=("2001:db8:1::1", 5000), same_app_as=c)
    assert (await elsewhere.get("/api/search", headers=TOKEN_READ)).status_code == 200


def test_the_throttle_window_slides():
    from app.api._throttle import FailureThrottle

    now = [1000.0]
    throttle = FailureThrottle(max_failures=2, window=60, clock=lambda: now[0])
    assert throttle.fail("192.0.2.1") is False
    now[0] += 30
    assert throttle.fail("192.0.2.1") is True  # this failure starts the wait (what the server logs once)
    assert throttle.retry_after("192.0.2.1") == 30 and throttle.retry_after("192.0.2.2") == 0
    now[0] += 30  # the first failure leaves the window
    assert throttle.retry_after("192.0.2.1") == 0
    throttle.fail("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 30


@pytest.mark.parametrize(("key", "value", "says"), [
    ("allowed_hosts", ("http://voc.example.com",), "not a host name"),
    ("allowed_hosts", ("*",), "not a host name"),
    ("allowed_hosts", ("Voc.Example.com:8080",), "not a host name"),
    ("trusted_proxies", ("nginx",), "not an IP address or network"),
    ("login_max_failures", 0, "at least 1"),
])
def test_web_access_settings_are_checked_at_load(key, value, says):
    from configs.web import WebSettings

    with pytest.raises(ValueError, match=says):
        WebSettings(**{key: value})
    WebSettings(allowed_hosts=("voc.example.com", ".example.org", "10.0.0.5", "[::1]"),
                trusted_proxies=("10.0.0.0/8", "::1"))


async def test_a_login_form_that_is_no_login_form_is_4xx(client_for):
    c = client_for(TOKENS)
    r = await c.post("/login", content="token=a&" * 20, headers=FORM)
    assert r.status_code == 400 and r.json()["field"] == "token"
    r = await c.post("/login", content="token=" + "a" * 10_000, headers=FORM)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    r = await c.post("/login", content=b"token=\xff\xfe%ZZ", headers=FORM)
    assert r.status_code == 303 and r.headers["location"] == "/login?error=1"
