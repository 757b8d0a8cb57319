import celeryconfig
from tasks import forwarder


def test_retries_backoff_and_limits_are_celery_task_options_from_celeryconfig():
    task = forwarder.forward_alert
    assert task.autoretry_for == (forwarder.RetryableDelivery,)
    assert task.max_retries == celeryconfig.moog_max_retries
    assert task.retry_backoff == celeryconfig.moog_retry_backoff
    assert task.retry_backoff_max == celeryconfig.moog_retry_backoff_max
    assert task.retry_jitter == celeryconfig.moog_retry_jitter
    assert task.soft_time_limit < task.time_limit
    assert forwarder.forward_alerts.soft_time_limit < forwarder.forward_alerts.time_limit


def test_every_countdown_stays_far_below_the_visibility_timeout():
    visibility = celeryconfig.broker_transport_options["visibility_timeout"]
    assert forwarder.MAX_COUNTDOWN * 4 <= visibility
    assert forwarder.POLICY.bound(100) <= forwarder.MAX_COUNTDOWN
    assert forwarder.forward_alerts.time_limit * 4 < visibility
