"""This process's services: its settings, Redis clients, database engines and the caches over them.

Every piece of state a MUTT process keeps for its lifetime lives in one :class:`Services` object,
under a name: the settings (``config.get()``), one Redis client per URL and timeout
(``redis_client.get()``), one engine and session factory per database URL (``db.engine()``,
``db.session_scope()``), the runtime-settings view of each Redis database (``dynconfig.runtime()``),
the API key cache and the login throttle (web), the alerter's compiled rules and backlog count
(tasks), the Moogsoft client ... Each of those accessors is a thin function over :func:`current`,
in the module that knows how to build the thing; this module imports nothing of MUTT's, so every
layer can use it (the bottom layer of pyproject.toml's import contract).

Who builds it: the web app factory (``web.create_app``), each Celery pool process
(``worker_process_init`` in :mod:`mutt_app.celery_app`) and the CLI's commands
(:func:`mutt_app.cli.common.start`) read the settings through it at start-up, so that a
configuration problem stops them there; anything else builds it on first use. Nothing is read or
written when a module is imported.

Fork safety is here and nowhere else. A Services object remembers the pid it was built in, and
:func:`current` called in another process (a Celery pool process, a granian worker, a test's
``os.fork()``) builds new services for it: a pid check rather than ``os.register_at_fork``, because
it also holds for a child forked without Python's hooks, and it costs one ``getpid()`` per call,
as the checks in each module that it replaces did. The child keeps what was owned with
``inherit=True`` (the settings: it has the parent's environment), calls ``after_fork`` on what the
parent owned (a database engine leaves the parent's connections to the parent), and builds the
rest anew; threads do not survive a fork, so those the parent kept running
(:meth:`Services.keep_running`) start again.

Tests get fresh services for each test (the ``fresh_services`` fixture in tests/conftest.py calls
:func:`reset`) instead of resetting module globals one by one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass
class _Owned:
    value: Any
    close: Callable[[Any], None] | None  # when the services are replaced in this process
    after_fork: Callable[[Any], None] | None  # in a forked child, on the parent's value
    inherit: bool  # a forked child keeps the value


class Services:
    """One process's settings, connections and caches, each under a name (see the module's docstring)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.RLock()
        self._owned: dict[Hashable, _Owned] = {}
        self._running: dict[str, tuple[Callable[[threading.Event], None], threading.Event]] = {}

    def own(self, name: Hashable, build: Callable[[], T], *, close: Callable[[T], None] | None = None,
            after_fork: Callable[[T], None] | None = None, inherit: bool = False) -> T:
        """This process's one ``name``, built by ``build()`` on first use. ``close(value)`` runs
        when these services are replaced in this process, ``after_fork(value)`` in a forked child
        (which builds its own unless ``inherit``)."""
        owned = self._owned.get(name)
        if owned is None:
            with self._lock:
                owned = self._owned.get(name)
                if owned is None:
                    owned = self._owned[name] = _Owned(build(), close, after_fork, inherit)
        return cast(T, owned.value)  # what build() returned for this name

    def every(self, name: Hashable, seconds: float, compute: Callable[[], T]) -> T:
        """This process's value of ``compute()``, computed again once the last is ``seconds`` old."""
        owned = self._owned.get(name)
        if owned is None or time.monotonic() - owned.value[0] >= seconds:
            owned = self._owned[name] = _Owned((time.monotonic(), compute()), None, None, False)
        return cast(T, owned.value[1])

    def forget(self, name: Hashable) -> None:
        """Drop this process's ``name``: the next :meth:`own` builds it again (:meth:`every`
        computes it again)."""
        with self._lock:
            self._owned.pop(name, None)

    def keep_running(self, name: str, target: Callable[[threading.Event], None]) -> None:
        """Run ``target(stop)`` in a daemon thread named ``name``, once per process: a process
        forked from this one starts it again with its services; :meth:`stop` sets ``stop``."""
        with self._lock:
            if name in self._running:
                return
            stop = threading.Event()
            self._running[name] = (target, stop)
        threading.Thread(target=target, args=(stop,), name=name, daemon=True).start()

    def stop(self, name: str) -> None:
        """Ask the thread :meth:`keep_running` started as ``name`` to end."""
        with self._lock:
            entry = self._running.pop(name, None)
        if entry is not None:
            entry[1].set()

    def close(self) -> None:
        """Replaced in this process (tests, :func:`reset`): stop its threads, give back what it
        holds (idle connections). A caller still holding one of its clients or engines can go on
        using it."""
        for name in list(self._running):
            self.stop(name)
        for owned in list(self._owned.values()):
            if owned.close is not None:
                owned.close(owned.value)

    def for_child(self) -> Services:
        """The services of a process forked from this one's (see the module's docstring)."""
        child = Services()
        for name, owned in list(self._owned.items()):
            if owned.inherit:
                child._owned[name] = owned
            elif owned.after_fork is not None:
                owned.after_fork(owned.value)
        for name, (target, _) in list(self._running.items()):
            child.keep_running(name, target)
        return child


_current: Services | None = None
_swap = threading.Lock()


def current() -> Services:
    """This process's services, built on first use, and built again in a forked child."""
    found = _current
    if found is not None and found.pid == os.getpid():
        return found
    return _replace(lambda old: old if old is not None and old.pid == os.getpid()
                    else old.for_child() if old is not None else Services())


def reset() -> Services:
    """Replace this process's services with new ones, built from the environment on first use."""
    return _replace(lambda _old: Services())


def _replace(choose: Callable[[Services | None], Services]) -> Services:
    global _current
    with _swap:
        old = _current
        new = choose(old)
        if new is not old:
            _current = new
            if old is not None and old.pid == os.getpid():
                old.close()
        return new


def _unlock_in_child() -> None:
    # A thread of the parent may have held the lock when another forked: the child has no such thread.
    global _swap
    _swap = threading.Lock()


os.register_at_fork(after_in_child=_unlock_in_child)
