from mutt_app.forwarding.retry import RetryPolicy


def test_the_backoff_doubles_per_retry_up_to_its_maximum():
    policy = RetryPolicy(max_retries=5, backoff=2, backoff_max=10, jitter=False)
    assert [policy.bound(retries) for retries in range(4)] == [2.0, 4.0, 8.0, 10.0]
    assert policy.countdown(1) == 4.0


def test_with_jitter_the_countdown_is_a_whole_number_of_seconds_up_to_the_bound():
    policy = RetryPolicy(max_retries=5, backoff=2, backoff_max=10)
    countdowns = {policy.countdown(2) for _ in range(200)}
    assert countdowns <= {float(n) for n in range(9)} and len(countdowns) > 1
