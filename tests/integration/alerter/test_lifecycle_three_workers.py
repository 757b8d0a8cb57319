"""Alert lifecycle across three worker processes, one of them SIGKILLed mid-stream.

Thirty interfaces go down, repeat, come up, come up again, flap and settle; the events go in
through the real ingest endpoint in batches of five, so each interface's events are processed by
whichever worker gets them. What Moogsoft receives, and the alerts' final states, must be what
applying each interface's events one by one in event-time order gives (``alert_state.apply``),
with nothing lost to the kill.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.access import api_keys
from mutt_app.alerting import alert_state
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import seed
from mutt_app.storage import db
from mutt_app.storage.models import Alert, AlertState, DeadLetter
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

HOSTS = [f"access-sw-{n:02d}.dc1.example.com" for n in range(30)]
T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
# each interface's story, one step per round: (seconds after T0, state)
TIMELINE = [(0, "down"), (10, "down"), (20, "down"),   # open, then two duplicates
            (400, "down"),                             # after the dedup window: a refresh with the count
            (410, "up"), (420, "up"),                  # clear, then a clear without an open alert
            (430, "down"), (440, "up"), (450, "down"),  # the fourth change within 600 s: flapping, then held
            (1100, "down")]                            # stable for the window: its state goes out again
KILL_AFTER_ROUND = 4


def seed_and_key(redis) -> dict:
    runtime = dynconfig.runtime(redis)
    runtime.store("ingest_batch_size", 5)
    with db.session_scope() as session:
        seed.load_if_empty(session)   # "Cisco interface down / up": %LINK-3-UPDOWN, keyed by interface
        _, key = api_keys.create(session, "lifecycle test", ["ingest"], actor="test")
    return {"key": key}


pytestmark = [pytest.mark.integration,
              stack_of("three workers and beat", workers=3, queues="alerts,moog,janitor", beat=True,
                       env={"MOOG_API_KEY": "k"}, prepare=seed_and_key)]


def cisco(host: str, seconds: int, state: str) -> dict:
    return {"hostname": host, "timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
            "message": f"%LINK-3-UPDOWN: Interface Gi0/7, changed state to {state}"}


def expected_story() -> tuple[list[tuple], alert_state.State]:
    """What one interface's timeline sends and where it ends, applied one by one in event-time order."""
    state, sends = None, []
    for n, (seconds, up_down) in enumerate(TIMELINE):
        step = alert_state.apply(state, alert_state.Event(f"e{n}", up_down == "up", T0 + timedelta(seconds=seconds)),
                                 alert_state.DEFAULTS)
        if step.send:
            sends.append((step.send, 0 if step.send == "clear" else 4, step.state.occurrences, step.state.flapping))
        state = step.state
    return sends, state


def test_outcome_equals_event_time_order_across_three_workers_and_a_sigkill(stack, redis):
    url, headers, standin = stack.url, {"X-API-KEY": stack.prepared["key"]}, stack.standin
    buffer = EventBuffer(redis)
    sent = 0
    for round_number, (seconds, up_down) in enumerate(TIMELINE):
        events = [cisco(host, seconds, up_down) for host in HOSTS]
        for start in range(0, len(events), 10):
            answer = requests.post(url + "/api/v2/ingest", json=events[start:start + 10], headers=headers, timeout=30)
            assert answer.json()["accepted"] == 10
        sent += len(events)
        if round_number == KILL_AFTER_ROUND:
            time.sleep(0.2)
            stack.workers[0].kill()   # SIGKILL, worker and pool: its batches and sends are recovered by the janitor
        wait_until(lambda expected=sent: buffer.stats().get("audited", 0) == expected, timeout=150, interval=0.5,
                   message=f"round {round_number} processed")
        wait_until(lambda: _all_delivered(), timeout=150, interval=0.5, message=f"round {round_number} delivered")

    sends, final = expected_story()
    assert [send for send, *_ in sends] == ["open", "refresh", "clear", "open", "flapping", "refresh"]
    received: dict[str, list[tuple]] = {}
    seen_ids: set[str] = set()
    for body in standin.delivered():   # at least once: a send the kill interrupted may come twice
        if body["external_id"] in seen_ids:
            continue
        seen_ids.add(body["external_id"])
        info = body["custom_info"]
        received.setdefault(body["signature"], []).append((info["send"], body["severity"], info["occurrences"],
                                                           info["flapping"]))
    assert len(received) == len(HOSTS)
    assert all(story == sends for story in received.values()), received

    with db.session_scope() as session:
        states = session.scalars(select(AlertState)).all()
        assert {(s.state, s.occurrences, s.flapping) for s in states} == {(final.state, final.occurrences, final.flapping)}
        assert len(states) == len(HOSTS) and not session.scalars(select(DeadLetter)).all()


def _all_delivered() -> bool:
    with db.session_scope() as session:
        return set(session.scalars(select(Alert.state))) <= {"delivered"}
