"""How long an alert that failed waits before it is sent again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Celery's exponential backoff with full jitter, for the alert handed from a batch to the retry path."""

    max_retries: int
    backoff: float
    backoff_max: float
    jitter: bool = True

    def bound(self, retries: int) -> float:
        """The longest wait before retry number ``retries + 1`` (what Celery's autoretry uses)."""
        return float(min(self.backoff_max, max(1, int(self.backoff)) * 2 ** retries))

    def countdown(self, retries: int) -> float:
        bound = self.bound(retries)
        return float(random.randint(0, int(bound))) if self.jitter else bound
