"""mutt.process_events: one batch of events through rules, audit and roll-up (issue: alerter)."""

from celeryconfig import ALERTS_QUEUE
from mutt_app.celery_app import app


@app.task(name="mutt.process_events", bind=True)
def process_events(self, batch_id: str) -> None:
    raise NotImplementedError("the alerter issue implements this")


def enqueue_batch(batch_id: str) -> None:
    process_events.apply_async((batch_id,), queue=ALERTS_QUEUE)
