"""mutt.store_rejected: the items ingest rejected, from Redis into dead letters (domain:
mutt_app/ingest.py, ``store_rejected``).

Ingest asks for it when rejected items start to wait; beat sends it every JANITOR_INTERVAL too, so
items wait at most that long if the ask was lost. While the database is unreachable the task
retries with backoff; the items stay in Redis until their dead letters committed.
"""

from __future__ import annotations

import logging

from celery.exceptions import MaxRetriesExceededError

from celeryconfig import JANITOR_QUEUE
from mutt_app import ingest, outages, redis_client
from mutt_app.celery_app import app

log = logging.getLogger(__name__)

DB_RETRIES = 6  # backoff 1, 2, 4 ... 32 s; beat sends the task again meanwhile anyway


@app.task(name="mutt.store_rejected", bind=True, ignore_result=True, max_retries=DB_RETRIES)
def store_rejected(self) -> int:
    try:
        return ingest.store_rejected(redis_client.get())
    except Exception as error:
        if outages.unavailable(error) != outages.DATABASE:
            raise
        log.warning("database unreachable (%s); %d rejected item(s) wait in Redis", type(error).__name__,
                    ingest.rejected_waiting(redis_client.get()))
        try:
            raise self.retry(countdown=min(2 ** self.request.retries, 60))
        except MaxRetriesExceededError:
            return 0


def ask_to_store_rejected() -> None:
    store_rejected.apply_async(queue=JANITOR_QUEUE)
