"""mutt.forward_alerts / mutt.forward_alert: alerts to Moogsoft (the work is in mutt_app.forwarding.forwarder).

``forward_alerts(ids)`` takes one alerter batch: it sends as many as the breaker and the shared
rate limit allow, several at once over reused connections, and re-enqueues the rest with a
countdown to the next free slot. An alert that fails in a retryable way goes to
``forward_alert``, whose retries, backoff and limits are Celery task options; so, with no retry
spent, does each alert of a request of several that Moogsoft refused outright. Putting an alert
off (rate limit, breaker open) never spends its retries; a countdown replaces every wait, so no
worker ever sleeps.
"""

from __future__ import annotations

import celeryconfig
from celeryconfig import MOOG_QUEUE
from mutt_app.celery_app import app
from mutt_app.forwarding import moog
from mutt_app.forwarding.forwarder import Forwarder
from mutt_app.forwarding.retry import RetryPolicy
from mutt_app.forwarding.send_window import SendWindow
from mutt_app.storage import redis_client

POLICY = RetryPolicy(
    max_retries=celeryconfig.moog_max_retries,
    backoff=celeryconfig.moog_retry_backoff,
    backoff_max=celeryconfig.moog_retry_backoff_max,
    jitter=celeryconfig.moog_retry_jitter,
)
# A countdown is an ETA message held unacknowledged by a worker: it must stay far below the
# visibility timeout, or the broker hands the message out a second time.
MAX_COUNTDOWN = celeryconfig.broker_transport_options["visibility_timeout"] / 4

# One send takes at most twice MOOG_TIMEOUT (connecting, then waiting for the answer). A task
# stops starting sends when its budget runs out, so it finishes inside its claim's lease.
ONE_SOFT_LIMIT = int(2 * celeryconfig.moog_timeout) + 5
ONE_HARD_LIMIT = ONE_SOFT_LIMIT + 10
BATCH_SOFT_LIMIT = celeryconfig.task_soft_time_limit
BATCH_HARD_LIMIT = celeryconfig.task_time_limit
LEASE = celeryconfig.claim_lease_seconds
BUDGET = LEASE - 5


class RetryableDelivery(Exception):
    """Moogsoft failed a send in a way worth trying again (5xx, 408/425/429, timeout, no connection)."""


# This process's send window: how many sends it dares at once, after how Moogsoft has been answering.
_WINDOW = SendWindow()


def _forwarder() -> Forwarder:
    return Forwarder(redis_client.get(), moog.client(), window=_WINDOW, max_countdown=MAX_COUNTDOWN)


@app.task(name="mutt.forward_alerts", bind=True, soft_time_limit=BATCH_SOFT_LIMIT, time_limit=BATCH_HARD_LIMIT)
def forward_alerts(self, alert_ids: list[str]) -> None:
    report = _forwarder().forward(
        alert_ids, policy=POLICY, lease_seconds=LEASE, budget_seconds=BUDGET
    )
    for deferral in report.deferred:
        forward_alerts.apply_async((list(deferral.alert_ids),), countdown=deferral.countdown, queue=MOOG_QUEUE)
    for retry in report.retries:
        forward_alert.apply_async((retry.alert_id,), countdown=retry.countdown, retries=1, queue=MOOG_QUEUE)
    for alert_id in report.alone:  # refused in a request of several: each alone finds the one at fault
        forward_alert.apply_async((alert_id,), queue=MOOG_QUEUE)


@app.task(
    name="mutt.forward_alert",
    bind=True,
    autoretry_for=(RetryableDelivery,),
    retry_backoff=celeryconfig.moog_retry_backoff,
    retry_backoff_max=celeryconfig.moog_retry_backoff_max,
    retry_jitter=celeryconfig.moog_retry_jitter,
    max_retries=celeryconfig.moog_max_retries,
    soft_time_limit=ONE_SOFT_LIMIT,
    time_limit=ONE_HARD_LIMIT,
)
def forward_alert(self, alert_id: str) -> None:
    # Exhausted retries are decided in forward(): the alert becomes a dead letter instead of a retry.
    report = _forwarder().forward(
        [alert_id], policy=POLICY, retries=self.request.retries, lease_seconds=LEASE,
        budget_seconds=min(BUDGET, ONE_SOFT_LIMIT),
    )
    for deferral in report.deferred:
        # A copy with the same retry count: waiting for a slot is not a failure.
        self.signature_from_request(retries=self.request.retries, countdown=deferral.countdown).apply_async()
    for retry in report.retries:  # one alert: at most one
        error = RetryableDelivery(retry.error)
        if retry.retry_after is not None:
            raise self.retry(exc=error, countdown=retry.countdown)
        raise error

