"""The unhandled roll-up: events no rule handles, counted per (hostname, message fingerprint).

The fingerprint masks what varies between repeats of one problem (numbers, IP and MAC
addresses, hex ids), so "port 1 down" and "port 2 down" count together. Counting is a Redis
sorted set of event ids per key, scored by time: a sliding window of
``unhandled_window_seconds``. When the count reaches ``unhandled_threshold`` one meta-alert
fires, and none other for that key until the window has passed. A batch's keys are counted in one
Lua call (atomic across workers), and adding an event id that is already counted changes
nothing, so a redelivered batch neither counts twice nor loses the meta-alert it raised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mutt_app.core import lua
from mutt_app.storage import redis_keys

_DIGIT = re.compile(r"\d")


def _has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


# (pattern, placeholder, a cheap test the text must pass for the pattern to possibly match). The
# tests only skip work: a regex pass costs 5-10 µs per message, a character count well under one.
_MASKS = (
    (re.compile(r"\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b", re.I), "<mac>",
     lambda text: text.count(":") + text.count("-") >= 5),
    (re.compile(r"\b(?:[0-9a-f]{4}\.){2}[0-9a-f]{4}\b", re.I), "<mac>", lambda text: text.count(".") >= 2),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?\b"), "<ip>", lambda text: text.count(".") >= 3),
    (re.compile(r"\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\b", re.I), "<ip>", lambda text: text.count(":") >= 2),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>", lambda text: "0x" in text or "0X" in text),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.I), "<hex>", _has_digit),
    (re.compile(r"\d+"), "<n>", _has_digit),
)

RECENT_LIMIT = 1000  # unhandled events kept for the rule dry run (`POST /rules/test?last=N`)


def masked(message: str) -> str:
    """The message with its varying parts replaced by placeholders."""
    text = message
    for pattern, placeholder, could_match in _MASKS:
        if could_match(text):
            text = pattern.sub(placeholder, text)
    return " ".join(text.split()).lower()  # what re.sub(r"\s+", " ", text).strip() gives, faster


def fingerprint(message: str) -> str:
    return hashlib.sha1(masked(message).encode("utf-8", "replace")).hexdigest()[:16]


@dataclass(frozen=True)
class Trigger:
    """A (hostname, fingerprint) that reached the threshold with ``event``."""

    hostname: str
    fingerprint: str
    count: int
    event: dict


class Rollup:
    def __init__(self, redis_client, *, clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self.redis = redis_client
        self._count = clock.register(redis_client, "mutt_app.alerting:rollup_count")

    def count(self, events: Iterable[dict], *, threshold: int, window_seconds: int) -> list[Trigger]:
        """Count unhandled events (each needs ``_id``, ``hostname``, ``message``); the keys that
        reached the threshold, each with the event that took it there. One Redis call."""
        groups: dict[tuple[str, str], list[dict]] = {}
        for event in events:
            key = (str(event.get("hostname", "")).lower(), fingerprint(str(event.get("message", ""))))
            groups.setdefault(key, []).append(event)
        if not groups:
            return []
        window_keys: list[str] = []
        args: list = [window_seconds * 1000, threshold]
        for (hostname, print_), members in groups.items():
            window_keys += [redis_keys.unhandled_window(hostname, print_), redis_keys.unhandled_suppressed(hostname, print_)]
            args += [len(members), *(str(event["_id"]) for event in members)]
        answers = self._count(keys=window_keys, args=args)
        triggers = []
        for ((hostname, print_), members), count, trigger in zip(groups.items(), answers[::2], answers[1::2], strict=True):
            if trigger:
                event = next(event for event in members if str(event["_id"]) == trigger)
                triggers.append(Trigger(hostname, print_, int(count), event))
        return triggers

    def remember(self, events: list[dict]) -> None:
        """Keep the latest unhandled events (bounded) for the rule dry run. The alerter no longer
        calls it (unhandled events are audit rows since issue 20); the dry run still reads what
        an older version kept."""
        if not events:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(redis_keys.UNHANDLED_RECENT, *(json.dumps(event) for event in events))
        pipe.ltrim(redis_keys.UNHANDLED_RECENT, 0, RECENT_LIMIT - 1)
        pipe.execute()


def recent_unhandled(redis_client, last: int) -> list[dict]:
    """The ``last`` most recent unhandled events, newest first."""
    return [json.loads(item) for item in redis_client.lrange(redis_keys.UNHANDLED_RECENT, 0, last - 1)]
