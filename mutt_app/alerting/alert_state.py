"""An alert's state machine: what one event does to the alert of its signature, and what Moogsoft
is told. Pure (no database, no Redis); ``mutt_app.alerting.store`` reads and writes the states.

Times are event times (the event's own timestamp, else when MUTT received it), so the outcome
depends on what happened, not on when a worker got to it. docs/alerts.md has the model, ADR 0014
the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

OPEN, CLEARED = "open", "cleared"

# What an event (or the janitor's settle) sends to Moogsoft
SEND_OPEN = "open"              # a new alert
SEND_REFRESH = "refresh"        # the open alert again, after the dedup window, with its count
SEND_CLEAR = "clear"            # severity 0, same signature
SEND_FLAPPING = "flapping"      # custom_info.flapping = true: further changes are held back

# What became of an event that sends nothing (its audit row's decision)
DUPLICATE = "duplicate"                      # the alert is open and was sent within the dedup window
CLEAR_WITHOUT_ALERT = "clear_without_alert"  # a clear with no open alert of its signature
FLAPPING = "flapping"                        # the alert is flapping: audited, not sent
OUT_OF_ORDER = "out_of_order"                # older than the last event applied: changes nothing
NOT_SENT = frozenset({DUPLICATE, CLEAR_WITHOUT_ALERT, FLAPPING, OUT_OF_ORDER})


@dataclass(frozen=True)
class Settings:
    dedup_window_seconds: float = 300
    flap_threshold: int = 4
    flap_window_seconds: float = 600

    @classmethod
    def of(cls, config: Any) -> Settings:
        """From the runtime settings (``dynconfig.RuntimeConfig`` or a mapping)."""
        return cls(float(config.get("dedup_window_seconds")), int(config.get("flap_threshold")),
                   float(config.get("flap_window_seconds")))


DEFAULTS = Settings()


@dataclass(frozen=True)
class Event:
    event_id: str
    clears: bool
    event_time: datetime        # its own timestamp, else when it was received


@dataclass(frozen=True)
class State:
    """The part of an ``AlertState`` row the machine reads and writes."""

    state: str
    first_seen: datetime
    last_seen: datetime
    last_event_time: datetime
    changed_at: datetime
    occurrences: int = 1
    flapping: bool = False
    flapping_since: datetime | None = None
    transitions: tuple[datetime, ...] = ()      # the last open/cleared changes within the flap window (at most flap_threshold)
    last_sent_at: datetime | None = None        # event time of the last request sent
    last_sent_state: str = ""
    last_event_id: str = ""


@dataclass(frozen=True)
class Step:
    state: State | None     # after the event (None: there is still no alert)
    send: str | None        # what to send to Moogsoft, None: nothing
    outcome: str            # the send, or why nothing was sent (NOT_SENT)


def apply(current: State | None, event: Event, settings: Settings) -> Step:
    """What ``event`` does to the alert whose state is ``current`` (None: it has none yet)."""
    at = event.event_time
    if current is None:
        if event.clears:
            return Step(None, None, CLEAR_WITHOUT_ALERT)
        opened = State(OPEN, first_seen=at, last_seen=at, last_event_time=at, changed_at=at, transitions=(at,),
                       last_sent_at=at, last_sent_state=OPEN, last_event_id=event.event_id)
        return Step(opened, SEND_OPEN, SEND_OPEN)
    if at < current.last_event_time:
        return Step(current, None, OUT_OF_ORDER)

    window = settings.flap_window_seconds
    recent = tuple(moment for moment in current.transitions if (at - moment).total_seconds() < window)
    seen = replace(current, last_seen=at, last_event_time=at, last_event_id=event.event_id)
    target = CLEARED if event.clears else OPEN
    if target == current.state:
        after = seen if event.clears else replace(seen, occurrences=current.occurrences + 1)
        changed = False
    else:
        after = replace(seen, state=target, changed_at=at, transitions=(*recent, at)[-settings.flap_threshold:],
                        occurrences=current.occurrences if event.clears else 1)
        changed = True

    if current.flapping:
        if current.transitions and (at - current.transitions[-1]).total_seconds() < window:
            return Step(after, None, FLAPPING)
        # stable for the window: leave flapping and tell Moogsoft where the alert stands now
        settled = replace(after, flapping=False, flapping_since=None, transitions=after.transitions[-1:] if changed else ())
        send = SEND_CLEAR if settled.state == CLEARED else (SEND_OPEN if changed else SEND_REFRESH)
        return _sent(settled, send, at)
    if changed:
        if len(after.transitions) >= settings.flap_threshold:
            return _sent(replace(after, flapping=True, flapping_since=at), SEND_FLAPPING, at, sent_state=OPEN)
        return _sent(after, SEND_CLEAR if event.clears else SEND_OPEN, at)
    if event.clears:
        return Step(after, None, CLEAR_WITHOUT_ALERT)
    if current.last_sent_at is None or (at - current.last_sent_at).total_seconds() >= settings.dedup_window_seconds:
        return _sent(after, SEND_REFRESH, at)
    return Step(after, None, DUPLICATE)


def settle(current: State, now: datetime, settings: Settings) -> Step:
    """The janitor's part: a flapping alert stable for the flap window (no change since) leaves
    flapping and its current state is sent; anything else is left as it is (send None)."""
    last_change = current.transitions[-1] if current.transitions else current.changed_at
    if not current.flapping or (now - last_change).total_seconds() < settings.flap_window_seconds:
        return Step(current, None, "")
    settled = replace(current, flapping=False, flapping_since=None, transitions=())
    return _sent(settled, SEND_CLEAR if current.state == CLEARED else SEND_REFRESH, now)


def _sent(state: State, send: str, at: datetime, *, sent_state: str | None = None) -> Step:
    return Step(replace(state, last_sent_at=at, last_sent_state=sent_state or state.state), send, send)
