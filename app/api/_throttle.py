"""Failed token checks per client: :class:`FailureThrottle` (a sliding window, in memory).

A client address (an IPv6 client by its /64, which one machine usually holds whole) may fail
``max_failures`` token checks — the login form or an unknown bearer token — per ``window`` seconds. After
that every token check from it is refused with 429 and ``Retry-After`` until its oldest counted failure
leaves the window, *without* looking at the token (otherwise the answer would still tell a right guess
from a wrong one). A success does not clear the count: a holder of a read token could otherwise interleave
logins with guesses at an admin token. At most ``max_clients`` addresses are tracked; the least recently
failing ones are forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["FailureThrottle", "client_key"]


def client_key(address: str | None) -> str:
    """What failures are counted under: the IPv4 address, the /64 of an IPv6 address, or ``unknown``."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureThrottle:
    def __init__(self, *, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, address: str | None) -> int:
        """0 when ``address`` may try a token now, else the whole seconds until it may."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if times is None or len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window - now))

    def fail(self, address: str | None) -> bool:
        """Count a failure; True when it is the one that makes ``address`` wait."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now) or deque()
            full_before = len(times) >= self.max_failures
            times.append(now)
            while len(times) > self.max_failures:
                times.popleft()
            full_now = len(times) >= self.max_failures
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
            return full_now and not full_before
