"""An alert's state machine: what each event does to its alert and what Moogsoft is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mutt_app.alerting import alert_state
from mutt_app.alerting.alert_state import CLEARED, OPEN, Event, Settings, apply, settle

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
SETTINGS = Settings(dedup_window_seconds=300, flap_threshold=4, flap_window_seconds=600)
DOWN, UP = False, True


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(events, state=None, settings=SETTINGS):
    """Apply (seconds, clears) events in the order given; returns the final state and every step."""
    steps = []
    for n, (seconds, clears) in enumerate(events):
        step = apply(state, Event(f"e{n}", clears, at(seconds)), settings)
        steps.append(step)
        state = step.state
    return state, steps


def sent(steps):
    return [step.send for step in steps if step.send]


def test_the_first_problem_opens_an_alert_and_sends_it():
    state, [step] = run([(0, DOWN)])
    assert (step.send, state.state, state.occurrences, state.first_seen, state.last_sent_state) == ("open", OPEN, 1, T0, OPEN)


def test_five_duplicates_within_the_window_make_one_request_and_count():
    state, steps = run([(0, DOWN), (10, DOWN), (60, DOWN), (120, DOWN), (299, DOWN)])
    assert sent(steps) == ["open"]
    assert [step.outcome for step in steps[1:]] == [alert_state.DUPLICATE] * 4
    assert (state.occurrences, state.last_seen) == (5, at(299))


def test_after_the_dedup_window_one_refresh_carries_the_count_and_restarts_the_window():
    state, steps = run([(0, DOWN), (100, DOWN), (300, DOWN), (400, DOWN), (600, DOWN)])
    assert [step.outcome for step in steps] == ["open", "duplicate", "refresh", "duplicate", "refresh"]
    assert steps[2].state.occurrences == 3 and state.occurrences == 5


def test_a_dedup_window_of_zero_sends_every_event():
    _, steps = run([(0, DOWN), (0, DOWN), (1, DOWN)], settings=Settings(0, 4, 600))
    assert sent(steps) == ["open", "refresh", "refresh"]


def test_a_clear_of_an_open_alert_is_sent_and_clears_it():
    state, steps = run([(0, DOWN), (5, DOWN), (30, UP)])
    assert sent(steps) == ["open", "clear"]
    assert (state.state, state.changed_at, state.occurrences, state.last_sent_state) == (CLEARED, at(30), 2, CLEARED)


def test_a_clear_without_an_open_alert_sends_nothing():
    state, [step] = run([(0, UP)])
    assert (state, step.send, step.outcome) == (None, None, alert_state.CLEAR_WITHOUT_ALERT)
    state, steps = run([(0, DOWN), (10, UP), (20, UP)])
    assert steps[2].outcome == alert_state.CLEAR_WITHOUT_ALERT and state.state == CLEARED


def test_a_problem_after_a_clear_reopens_the_alert_with_a_fresh_count():
    state, steps = run([(0, DOWN), (1, DOWN), (10, UP), (20, DOWN)])
    assert sent(steps) == ["open", "clear", "open"]
    assert (state.state, state.occurrences, state.first_seen, state.changed_at) == (OPEN, 1, T0, at(20))


def test_eight_down_up_in_seconds_make_at_most_four_requests_the_last_saying_flapping():
    state, steps = run([(second, second % 2 == 1) for second in range(8)])
    assert sent(steps) == ["open", "clear", "open", "flapping"]
    assert [step.outcome for step in steps[4:]] == [alert_state.FLAPPING] * 4
    assert state.flapping and state.flapping_since == at(3) and state.state == CLEARED


def test_changes_spread_wider_than_the_flap_window_are_not_flapping():
    _, steps = run([(0, DOWN), (400, UP), (800, DOWN), (1200, UP), (1600, DOWN)])
    assert sent(steps) == ["open", "clear", "open", "clear", "open"]


def test_a_flapping_alert_stable_for_the_window_sends_its_state_with_the_next_event():
    flapping, _ = run([(0, DOWN), (1, UP), (2, DOWN), (3, UP)])    # flapping, cleared
    assert flapping.flapping
    held, [step] = run([(500, UP)], flapping)
    assert step.outcome == alert_state.FLAPPING and held.flapping  # within the window: held back
    state, [step] = run([(1000, DOWN)], held)
    assert (step.send, state.flapping, state.state) == ("open", False, OPEN)
    state, [step] = run([(700, UP)], flapping)                    # stable since 3 s: the clear goes out
    assert (step.send, state.flapping, state.state, state.last_sent_state) == ("clear", False, CLEARED, CLEARED)


def test_the_janitor_settles_a_flapping_alert_that_has_been_stable_for_the_window():
    flapping, _ = run([(0, DOWN), (1, UP), (2, DOWN), (3, UP)])
    assert settle(flapping, at(500), SETTINGS).send is None
    step = settle(flapping, at(603), SETTINGS)
    assert (step.send, step.state.flapping, step.state.last_sent_state) == ("clear", False, CLEARED)
    not_flapping, _ = run([(0, DOWN)])
    assert settle(not_flapping, at(10_000), SETTINGS).send is None


def test_an_event_older_than_the_last_applied_changes_nothing():
    state, steps = run([(0, DOWN), (20, UP), (10, DOWN)])
    assert steps[2].outcome == alert_state.OUT_OF_ORDER and steps[2].send is None
    assert steps[2].state == steps[1].state and state.state == CLEARED


def test_out_of_order_arrival_ends_where_event_time_order_ends():
    timeline = [(0, DOWN), (5, DOWN), (20, UP), (400, DOWN), (401, DOWN), (900, UP)]
    in_order, _ = run(timeline)
    shuffled, _ = run([timeline[i] for i in (0, 2, 1, 3, 5, 4)])
    assert (shuffled.state, shuffled.last_event_time, shuffled.changed_at) == (in_order.state, in_order.last_event_time,
                                                                                in_order.changed_at)


def test_settings_come_from_the_runtime_settings():
    config = {"dedup_window_seconds": 60, "flap_threshold": 6, "flap_window_seconds": 120}
    assert Settings.of(config) == Settings(60.0, 6, 120.0)


def test_an_alert_remembers_no_more_changes_than_the_threshold_needs():
    state, _ = run([(second, second % 2 == 1) for second in range(100)])
    assert len(state.transitions) == SETTINGS.flap_threshold and state.transitions[-1] == at(99)
