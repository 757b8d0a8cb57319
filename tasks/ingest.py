"""mutt.store_rejected: the items ingest rejected, from Redis into dead letters (domain:
mutt_app/ingest/accept.py, ``store_rejected``).

Ingest asks for it when rejected items start to wait; beat sends it every JANITOR_INTERVAL too, so
items wait at most that long if the ask was lost. While the database is unreachable the task
retries with backoff; the items stay in Redis until their dead letters committed.
"""

from __future__ import annotations

import logging

from celery.exceptions import MaxRetriesExceededError

from mutt_app.celery_app import app
from mutt_app.core import outages
from mutt_app.ingest import accept
from mutt_app.storage import redis_client

log = logging.getLogger(__name__)

DB_RETRIES = 6  # backoff 1, 2, 4 ... 32 s; beat sends the task again meanwhile anyway


@app.task(name="mutt.store_rejected", bind=True, ignore_result=True, max_retries=DB_RETRIES)
def store_rejected(self) -> int:
    try:
        return accept.store_rejected(redis_client.get())
    except Exception as error:
        if outages.unavailable(error) != outages.DATABASE:
            raise
        log.warning("database unreachable (%s); %d rejected item(s) wait in Redis", type(error).__name__,
                    accept.rejected_waiting(redis_client.get()))
        try:
            raise self.retry(countdown=min(2 ** self.request.retries, 60))
        except MaxRetriesExceededError:
            return 0

