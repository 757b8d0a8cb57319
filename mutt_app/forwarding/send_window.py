"""How many sends one process keeps in flight."""

from __future__ import annotations


class SendWindow:
    """How many sends one process keeps in flight: a slow start, as TCP's.

    One after a failure (and in a new process), twice as many after each wave that went through,
    at most the ``limit`` given (moog_concurrency). Kept across tasks, so while Moogsoft is
    healthy a batch goes out in full waves from its first alert.
    """

    def __init__(self) -> None:
        self._size = 1

    def size(self, limit: int) -> int:
        return max(1, min(self._size, limit))

    def went_through(self, limit: int) -> None:
        self._size = max(1, min(2 * self._size, limit))

    def failed(self) -> None:
        self._size = 1
