"""`alerts.yaml` — detection rules, subscribers and their channels.

Each requirement is declared once, here: the keys each rule kind uses in :data:`RULE_KEYS`, the options
a rule kind needs by ``Rule.__post_init__``, the options a channel kind needs in ``_CHANNEL_NEEDS``.
Durations (``window``, ``history``, ``backoff`` …) are ``timedelta`` once loaded: ``configs._validate``
converts ``30m``, ``6h``, ``14d`` or ``2w`` once, at load, and nothing re-parses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from configs import vocab
from configs._validate import format_duration, parse_duration

__all__ = ["Rule", "Channel", "Subscriber", "OutboxSettings", "FixSettings", "EscalationSettings", "Tracker", "ReplySettings", "AlertsFile", "parse_duration", "format_duration",
           "SEVERITIES", "RULE_KEYS"]

SEVERITIES = ("info", "warning", "critical")

#: Keys every rule kind uses: identity, scope and lifecycle.
_COMMON_KEYS = frozenset({"name", "kind", "enabled", "window", "products", "resolve_after", "realert", "realert_max",
                          "update_growth"})
#: The keys each rule kind reads besides the common ones; any other key on a rule is a config error
#: naming the key and the kind (a key that silently does nothing is a misconfiguration).
RULE_KEYS: Mapping[str, frozenset[str]] = {
    "volume_spike": _COMMON_KEYS | {"sentiment", "min_count", "ratio", "interval", "history", "warmup", "threshold",
                                    "per_topic", "topics", "method", "direction", "sigma", "warmup_samples",
                                    "refractory_samples", "baseline_samples"},
    "emerging_terms": _COMMON_KEYS | {"sentiment", "min_count", "ratio", "history", "max_ngram", "max_terms"},
    "rating_drop": _COMMON_KEYS | {"min_reviews", "low_share_increase", "mean_drop"},
    "high_risk": _COMMON_KEYS | {"risk", "severity"},
}
#: volume_spike keys read by one method only (a key of the other method is a config error).
_METHOD_KEYS: Mapping[str, frozenset[str]] = {
    "ratio": frozenset({"ratio", "warmup", "threshold"}),
    "novelty": frozenset({"direction", "sigma", "warmup_samples", "refractory_samples", "baseline_samples"}),
}
_DURATION_KEYS = ("window", "history", "warmup", "resolve_after", "realert", "realert_max")


@dataclass(frozen=True, kw_only=True)
class Rule:
    name: str
    kind: Literal["volume_spike", "emerging_terms", "rating_drop", "high_risk"]
    enabled: bool = True
    #: Current window, e.g. ``6h`` (volume_spike, emerging_terms, high_risk look-back; rating_drop: reviews read).
    window: timedelta = timedelta(hours=6)
    #: Sentiment of the feedback the rule counts; null counts everything.
    sentiment: str | None = "negative"
    #: Never fire below this many items in the current window (0 → 1 is not a spike).
    min_count: int = 10
    #: Minimum ratio of the current window to its expected baseline.
    ratio: float = 3.0
    #: Products the rule watches; empty = every product present in the index.
    products: tuple[str, ...] = ()
    # --- volume_spike ---------------------------------------------------------------------------------
    #: Bucket size of the counts the detector reads.
    interval: Literal["hour", "day"] = "hour"
    #: How far back the baseline looks (same hour of day / of week in each earlier day / week).
    history: timedelta = timedelta(days=14)
    #: No alert before this much history exists for a series (warm-up).
    warmup: timedelta = timedelta(days=3)
    #: Robust z-score (current − median) / (1.4826·MAD, floored by Poisson noise) needed to fire.
    threshold: float = 4.0
    #: Also watch each product × topic series (besides the per-product series).
    per_topic: bool = True
    #: Topics to watch; empty = every topic in topics.yaml.
    topics: tuple[str, ...] = ()
    #: ``ratio`` (detect.SpikeDetector: ×``ratio`` over a seasonal median, ``threshold``, ``warmup``; made for
    #: counts), ``novelty`` (alerts/novelty.py: the series' own records and spread, per sample, scale-free;
    #: knobs below) or ``auto``: ratio while every value is a count (a non-negative integer: feedback per
    #: hour always is), novelty from the first value that is not (CPU %, latencies, prices in a ``--series``).
    method: Literal["auto", "ratio", "novelty"] = "auto"
    #: novelty: ``up`` fires on rises only; ``both`` also on drops and falling level shifts.
    direction: Literal["up", "both"] = "both"
    #: novelty: the mean of the window's samples must lie this many standard deviations from the baseline.
    sigma: float = 6.0
    #: novelty: samples (buckets of ``interval``; a series' rows) before anything may fire.
    warmup_samples: int = 200
    #: novelty: after a firing, nothing new fires for this many samples.
    refractory_samples: int = 40
    #: novelty: samples before the window that the Gaussian's mean and spread come from (at most).
    baseline_samples: int = 500
    # --- emerging_terms -------------------------------------------------------------------------------
    #: Longest jieba n-gram considered (1 = single words, 2 = also pairs of adjacent words).
    max_ngram: int = 2
    #: At most this many terms grouped in one alert.
    max_terms: int = 8
    # --- rating_drop ----------------------------------------------------------------------------------
    #: Reviews a version needs before it is compared.
    min_reviews: int = 20
    #: Fire when the share of 1–2 star reviews grows by at least this much (absolute, 0.15 = 15 points) …
    low_share_increase: float = 0.15
    #: … or the mean rating falls by at least this much.
    mean_drop: float = 0.7
    # --- high_risk ------------------------------------------------------------------------------------
    #: Risk flags (configs/vocab.py, read when the rule is built); default: every flag.
    risk: tuple[str, ...] = field(default_factory=lambda: vocab.RISKS)
    # --- lifecycle ------------------------------------------------------------------------------------
    #: Resolve an alert after its signal has stayed at baseline this long.
    resolve_after: timedelta = timedelta(hours=6)
    #: Re-alert silencing: the first update is sent at once, the next after this, then doubling …
    realert: timedelta = timedelta(hours=1)
    #: … up to this.
    realert_max: timedelta = timedelta(hours=24)
    #: An open alert is "updated" (and re-notified) when its count grows by this factor.
    update_growth: float = 1.5
    #: Severity given to high_risk alerts (others derive severity from ratio and size).
    severity: Literal["info", "warning", "critical"] = "critical"

    def __post_init__(self) -> None:
        if not self.name or not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"rule name must be letters, digits, '-', '_' or '.', got {self.name!r}")
        for key in _DURATION_KEYS:
            value = getattr(self, key)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ValueError(f"rule {self.name!r}: {key} must be a positive duration, got {value!r}")
        if self.sentiment is not None and self.sentiment not in vocab.SENTIMENTS:
            raise ValueError(f"rule {self.name!r}: sentiment must be {', '.join(vocab.SENTIMENTS)} or null, "
                             f"got {self.sentiment!r}")
        if self.min_count < 1:
            raise ValueError(f"rule {self.name!r}: min_count must be at least 1, got {self.min_count}")
        if self.kind in ("volume_spike", "emerging_terms") and self.ratio <= 1.0:
            raise ValueError(f"rule {self.name!r}: ratio must be above 1.0, got {self.ratio}")
        if self.kind == "volume_spike":
            if self.history <= self.window:
                raise ValueError(f"rule {self.name!r}: history ({format_duration(self.history)}) must be longer than "
                                 f"window ({format_duration(self.window)})")
            step = timedelta(hours=1) if self.interval == "hour" else timedelta(days=1)
            if self.window % step:
                raise ValueError(f"rule {self.name!r}: window {format_duration(self.window)} must be a whole number "
                                 f"of {self.interval}s")
            if self.threshold <= 0:
                raise ValueError(f"rule {self.name!r}: threshold must be positive, got {self.threshold}")
            if self.sigma <= 0:
                raise ValueError(f"rule {self.name!r}: sigma must be positive, got {self.sigma}")
            k = self.window_samples
            if k < 2 or self.warmup_samples < k or self.refractory_samples < 1 or self.baseline_samples < 2 * k:
                raise ValueError(f"rule {self.name!r}: novelty needs a window of 2 {self.interval}s or more, "
                                 f"warmup_samples ≥ the window ({k}), refractory_samples ≥ 1 and baseline_samples "
                                 f"≥ twice the window; got window {k}, warmup_samples {self.warmup_samples}, "
                                 f"refractory_samples {self.refractory_samples}, baseline_samples {self.baseline_samples}")
        if self.kind == "emerging_terms" and not 1 <= self.max_ngram <= 3:
            raise ValueError(f"rule {self.name!r}: max_ngram must be 1, 2 or 3, got {self.max_ngram}")
        if self.kind == "rating_drop" and self.min_reviews < 1:
            raise ValueError(f"rule {self.name!r}: min_reviews must be at least 1, got {self.min_reviews}")
        if self.kind == "high_risk":
            bad = [r for r in self.risk if r not in vocab.RISKS]
            if bad or not self.risk:
                raise ValueError(f"rule {self.name!r}: risk must list some of {', '.join(vocab.RISKS)}, "
                                 f"got {list(self.risk)}")
        if self.update_growth <= 1.0:
            raise ValueError(f"rule {self.name!r}: update_growth must be above 1.0, got {self.update_growth}")

    @property
    def window_samples(self) -> int:
        """The window in samples (buckets of ``interval``): the novelty detector's ``k``."""
        return int(self.window // (timedelta(hours=1) if self.interval == "hour" else timedelta(days=1)))

    @classmethod
    def config_key_error(cls, data: Mapping[str, Any]) -> tuple[str, str] | None:
        """The first key of a YAML rule that its kind does not use (``configs._validate.build`` calls this)."""
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in RULE_KEYS:
            return None  # the kind itself is reported (an enum error naming the kinds)
        for key in data:
            if key not in RULE_KEYS[kind]:
                used = ", ".join(sorted(RULE_KEYS[kind] - _COMMON_KEYS))
                return str(key), (f"{key!r} is not used by {kind} rules; remove it ({kind} rules use {used}, "
                                  f"besides {', '.join(sorted(_COMMON_KEYS - {'name', 'kind'}))})")
        if kind == "volume_spike":
            method = data.get("method", "auto")
            for other, keys in _METHOD_KEYS.items():  # auto reads both methods' keys
                if other != method and method in _METHOD_KEYS:
                    for key in data:
                        if key in keys:
                            return str(key), (f"{key!r} is read by the {other} method only; this rule uses method "
                                              f"{method}: remove it or set method: {other}")
        return None


#: Options each channel kind requires (one of the tuple's entries per inner tuple).
_CHANNEL_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "webhook": (("url", "url_env"),),
    "dingtalk": (("url", "url_env"),),
    "wecom": (("url", "url_env"),),
    "feishu": (("url", "url_env"),),
    "slack": (("url", "url_env"),),
    "email": (("host",), ("sender",), ("recipients",)),
    "log": (("path",),),
}


@dataclass(frozen=True, kw_only=True)
class Channel:
    name: str
    kind: Literal["webhook", "dingtalk", "wecom", "feishu", "slack", "email", "log"]
    #: Environment variable holding the URL (webhook URLs are secrets on most platforms).
    url_env: str | None = None
    url: str | None = None
    #: Environment variable holding the signing secret (webhook HMAC, DingTalk/Feishu sign).
    secret_env: str | None = None
    #: File the ``log`` channel appends JSON lines to (relative to the project home).
    path: str | None = None
    #: Seconds to wait for the receiver (HTTP: each of connect, send and the answer; SMTP: each command).
    #: A receiver slower than this is retried: delivery is at least once (see alerts/README.md).
    timeout: float = 10.0
    # --- email ---
    host: str | None = None
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    #: DingTalk: ``markdown`` or ``actionCard``.
    style: Literal["markdown", "actionCard"] = "markdown"

    def __post_init__(self) -> None:
        for options in _CHANNEL_NEEDS[self.kind]:
            if not any(getattr(self, o) for o in options):
                raise ValueError(f"channel {self.name!r} ({self.kind}) needs {' or '.join(options)}")
        if not 0 < self.timeout <= 300:
            raise ValueError(f"channel {self.name!r}: timeout must be between 0 and 300 seconds, got {self.timeout}")

    @property
    def needs_url(self) -> bool:
        """Whether this kind sends to a URL (``url`` or the variable ``url_env`` names), per ``_CHANNEL_NEEDS``."""
        return ("url", "url_env") in _CHANNEL_NEEDS[self.kind]

    def __repr__(self) -> str:  # URLs of robots embed their access token: never show them
        return f"Channel(name={self.name!r}, kind={self.kind!r})"


@dataclass(frozen=True, kw_only=True)
class Subscriber:
    name: str
    channels: tuple[str, ...]
    products: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    min_severity: Literal["info", "warning", "critical"] = "info"
    #: Receive ``voc digest`` reports.
    digest: bool = True
    #: ``each``: a message per incident change (open, material growth or severity change, resolve);
    #: ``digest``: none of those, only the digests (``digest`` must stay on).
    mode: Literal["each", "digest"] = "each"
    #: ``HH:MM-HH:MM`` in ``timezone`` (may wrap midnight, e.g. ``22:00-08:00``): messages that fall in it
    #: are held and sent as one message when it ends. Empty: no quiet hours.
    quiet_hours: str = ""
    timezone: str = "Asia/Shanghai"
    #: Escalation level: 0 (default) is told from the start; level 1 only once an incident nobody
    #: acknowledged within ``escalation.ack_within`` of its severity escalates to it (and after that).
    level: int = 0
    #: ``quiet_hours`` parsed at load: (start, end) minutes after local midnight, or None.
    quiet: tuple[int, int] | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"subscriber {self.name!r}: unknown timezone {self.timezone!r} (e.g. Asia/Shanghai)") from None
        if not 0 <= self.level <= 1:
            raise ValueError(f"subscriber {self.name!r}: level must be 0 (told at once) or 1 (escalations), "
                             f"got {self.level}")
        if self.mode == "digest" and not self.digest:
            raise ValueError(f"subscriber {self.name!r}: mode digest needs digest: true (it would receive nothing)")
        if not self.quiet_hours.strip():
            return
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", self.quiet_hours)
        bounds = [int(x) for x in m.groups()] if m else []
        if not m or bounds[0] > 23 or bounds[2] > 24 or bounds[1] > 59 or bounds[3] > 59:
            raise ValueError(f"subscriber {self.name!r}: quiet_hours must be HH:MM-HH:MM (e.g. 22:00-08:00), "
                             f"got {self.quiet_hours!r}")
        start, end = bounds[0] * 60 + bounds[1], bounds[2] * 60 + bounds[3]
        if start == end:
            raise ValueError(f"subscriber {self.name!r}: quiet_hours {self.quiet_hours!r} is empty (start = end)")
        object.__setattr__(self, "quiet", (start, end))

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the quiet hours holding ``now`` end (aware UTC), or None when ``now`` is outside them."""
        if self.quiet is None:
            return None
        from zoneinfo import ZoneInfo

        local = now.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        start, end = self.quiet
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if not inside:
            return None
        day = local.date() + (timedelta(days=1) if start > end and minute >= start else timedelta(0))
        stop = datetime.combine(day, datetime.min.time(), tzinfo=local.tzinfo) + timedelta(minutes=end)
        return stop.astimezone(timezone.utc)


@dataclass(frozen=True, kw_only=True)
class OutboxSettings:
    #: Give up on a delivery after this many attempts (it stays listed as failed). A receiver that always
    #: answers after the channel's timeout gets the alert state this many times (same delivery id).
    max_attempts: int = 8
    #: First retry after this long, doubling each attempt, capped by ``backoff_max``.
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    #: A claimed delivery not confirmed within this long is retried by another worker.
    lease: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        for key in ("backoff", "backoff_max", "lease"):
            value = getattr(self, key)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ValueError(f"{key} must be a positive duration, got {value!r}")
        if self.backoff_max < self.backoff:
            raise ValueError(f"backoff_max ({format_duration(self.backoff_max)}) must not be shorter than backoff "
                             f"({format_duration(self.backoff)})")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")


@dataclass(frozen=True, kw_only=True)
class FixSettings:
    """``fixes:`` — how a fix marked with ``voc alerts fix ID --version V`` is verified in the data."""

    #: How long after the fix (its date, or when it was marked) the incident's signal is watched, against
    #: the same length of time before it; the verdict comes when it is over.
    observe: timedelta = timedelta(days=1)
    #: Verified when the rate after the fix is at most this share of the rate before it.
    max_ratio: float = 0.3
    #: Posts of any kind the fixed version (a fix by date: the product) must have after the fix before a verdict:
    #: with fewer, few users may run the fix yet, and "no complaints" would prove nothing — the verdict waits
    #: another ``observe``.
    min_posts: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.observe, timedelta) or self.observe < timedelta(hours=1):
            raise ValueError(f"observe must be a duration of at least 1h, got {self.observe!r}")
        if not 0 <= self.max_ratio < 1:
            raise ValueError(f"max_ratio must be at least 0 and below 1, got {self.max_ratio}")
        if isinstance(self.min_posts, bool) or not isinstance(self.min_posts, int) or self.min_posts < 0:
            raise ValueError(f"min_posts must be a whole number >= 0, got {self.min_posts!r}")


@dataclass(frozen=True, kw_only=True)
class Tracker:
    """``trackers:`` — where ``voc alerts ticket ID --to NAME`` files an incident. Credentials come from
    the environment variables named here, never from the file."""

    name: str
    kind: Literal["jira", "github", "webhook"]
    #: Jira: the site (``https://example.atlassian.net``); GitHub: the API (default ``https://api.github.com``);
    #: webhook: the receiver. ``url_env`` names a variable holding it instead.
    url: str | None = None
    url_env: str | None = None
    #: Jira: project key and issue type.
    project: str = ""
    issue_type: str = "Bug"
    #: GitHub: ``owner/repo``.
    repo: str = ""
    #: Jira: the account e-mail (basic auth e-mail:API token); without it the token is sent as a bearer token
    #: (Jira Data Center personal access token). GitHub: the token (``Authorization: Bearer``).
    email_env: str | None = None
    token_env: str | None = None
    #: webhook: HMAC secret (``X-VOC-Signature`` as the webhook channel signs).
    secret_env: str | None = None
    labels: tuple[str, ...] = ("voc",)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.kind == "jira" and not self.project:
            raise ValueError(f"tracker {self.name!r} (jira) needs project (the project key, e.g. APP)")
        if self.kind == "github" and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", self.repo):
            raise ValueError(f"tracker {self.name!r} (github) needs repo: owner/name, got {self.repo!r}")
        if self.kind in ("jira", "webhook") and not (self.url or self.url_env):
            raise ValueError(f"tracker {self.name!r} ({self.kind}) needs url or url_env")
        if self.kind in ("jira", "github") and not self.token_env:
            raise ValueError(f"tracker {self.name!r} ({self.kind}) needs token_env (the variable holding its token)")
        if not 0 < self.timeout <= 300:
            raise ValueError(f"tracker {self.name!r}: timeout must be between 0 and 300 seconds, got {self.timeout}")


_REPLY_FIELDS = frozenset({"version", "product", "problem"})
#: App Store Connect's limit on ``responseBody``.
REPLY_MAX_CHARS = 5970


@dataclass(frozen=True, kw_only=True)
class ReplySettings:
    """``replies:`` — drafts of replies to the App Store reviews of a fix-verified incident, sent (after
    approval) through the App Store Connect API with the key id, issuer id and .p8 private key named here."""

    #: Per product id: the Chinese template; ``{version}`` (the fix version), ``{product}``, ``{problem}``.
    templates: Mapping[str, str] = field(default_factory=dict)
    default_template: str = ("您好，感谢您的反馈！您遇到的{problem}问题已在 {version} 版本中修复，"
                             "更新到 {version} 或更高版本即可恢复正常。如仍有问题，欢迎随时联系我们。")
    api_url: str = "https://api.appstoreconnect.apple.com"
    key_id_env: str = "VOC_ASC_KEY_ID"
    issuer_id_env: str = "VOC_ASC_ISSUER_ID"
    #: The variable holding the .p8 key's PEM text (or the path of the .p8 file).
    private_key_env: str = "VOC_ASC_PRIVATE_KEY"
    timeout: float = 10.0

    def __post_init__(self) -> None:
        import string

        for name, text in [("default_template", self.default_template),
                           *((f"templates.{k}", v) for k, v in self.templates.items())]:
            try:
                used = {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise ValueError(f"replies.{name}: {exc} (write literal braces as {{{{ and }}}})") from None
            unknown = sorted(used - _REPLY_FIELDS)
            if unknown:
                raise ValueError(f"replies.{name}: unknown field(s) {', '.join('{' + u + '}' for u in unknown)} "
                                 f"(use {{version}}, {{product}}, {{problem}})")
            if not text.strip() or len(text) > REPLY_MAX_CHARS - 200:
                raise ValueError(f"replies.{name}: must be 1 to {REPLY_MAX_CHARS - 200} characters")
        if not 0 < self.timeout <= 300:
            raise ValueError(f"replies.timeout must be between 0 and 300 seconds, got {self.timeout}")

    def template(self, product: str) -> str:
        return self.templates.get(product, self.default_template)


@dataclass(frozen=True, kw_only=True)
class EscalationSettings:
    """``escalation:`` — per severity, how long an open incident may stay unacknowledged before it
    escalates (once) to the subscribers of ``level: 1``. A severity not listed never escalates."""

    ack_within: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sev, limit in self.ack_within.items():
            if sev not in SEVERITIES:
                raise ValueError(f"ack_within: unknown severity {sev!r} (use {', '.join(SEVERITIES)})")
            if not isinstance(limit, timedelta) or limit <= timedelta(0):
                raise ValueError(f"ack_within.{sev} must be a positive duration, got {limit!r}")


@dataclass(frozen=True, kw_only=True)
class AlertsFile:
    rules: tuple[Rule, ...] = ()
    channels: tuple[Channel, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    fixes: FixSettings = field(default_factory=FixSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    trackers: tuple[Tracker, ...] = ()
    replies: ReplySettings = field(default_factory=ReplySettings)

    def __post_init__(self) -> None:
        names = {c.name for c in self.channels}
        for s in self.subscribers:
            missing = [c for c in s.channels if c not in names]
            if missing:
                raise ValueError(f"subscriber {s.name!r} names unknown channel(s): {', '.join(missing)}")
        for ch in self.channels:  # a send that outlives its claim would be sent again by another worker meanwhile
            if ch.timeout >= self.outbox.lease.total_seconds():
                raise ValueError(f"channel {ch.name!r}: timeout ({ch.timeout:g}s) must be shorter than outbox.lease "
                                 f"({format_duration(self.outbox.lease)})")
        for what, items in (("rule", self.rules), ("channel", self.channels), ("subscriber", self.subscribers),
                            ("tracker", self.trackers)):
            seen = [i.name for i in items]
            dupes = sorted({n for n in seen if seen.count(n) > 1})
            if dupes:
                raise ValueError(f"{what} names must be unique, repeated: {', '.join(dupes)}")

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def tracker(self, name: str) -> Tracker | None:
        return next((t for t in self.trackers if t.name == name), None)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)
