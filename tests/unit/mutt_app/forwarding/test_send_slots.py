from mutt_app.forwarding.send_slots import SendSlots


def test_send_slots_count_in_flight_requests_and_date_them_by_the_answer(redis, clock):
    slots = SendSlots(redis, "test:slots", clock=clock)
    [first], _ = slots.take(limit=2, period=0.5, lease=5)
    [second], _ = slots.take(limit=2, period=0.5, lease=5)
    assert first != second
    clock.advance(0.6)
    refused, wait = slots.take(limit=2, period=0.5, lease=5)
    assert refused == [] and 0 < wait <= 0.5  # both still in flight: they count however long they take
    slots.done([first])
    slots.cancel([second])
    assert slots.take(limit=2, period=0.5, lease=5)[0]  # the cancelled slot is free
    refused, wait = slots.take(limit=2, period=0.5, lease=5)
    assert refused == [] and 0.4 < wait <= 0.5  # the answered one counts from its answer
    clock.advance(wait + 0.01)
    assert slots.take(limit=2, period=0.5, lease=5)[0]


def test_send_slots_grant_several_at_once_but_never_past_the_limit(redis):
    slots = SendSlots(redis, "test:slots")
    granted, _ = slots.take(limit=5, period=10, lease=5, count=3)
    assert len(set(granted)) == 3
    more, _ = slots.take(limit=5, period=10, lease=5, count=3)
    assert len(more) == 2 and not set(more) & set(granted)
    assert slots.take(limit=5, period=10, lease=5, count=3)[0] == []
    slots.cancel(granted)
    assert len(slots.take(limit=5, period=10, lease=5, count=8)[0]) == 3


def test_a_slot_whose_worker_died_is_freed_after_its_lease(redis, clock):
    slots = SendSlots(redis, "test:slots", clock=clock)
    assert slots.take(limit=1, period=0.2, lease=0.3)[0]
    assert slots.take(limit=1, period=0.2, lease=0.3)[0] == []
    clock.advance(0.55)
    assert slots.take(limit=1, period=0.2, lease=0.3)[0]
