"""Lua scripts that run in Redis, kept as ``.lua`` files next to the module that runs them.

A script is named ``<package>:<name>``: the file ``<package>/lua/<name>.lua`` (``setup.cfg`` ships
them as package data). A line ``-- include <package>:<name>`` in a script is replaced by that
file's text, so a shared piece (``mutt_app.core:now_ms``, ``mutt_app.core:gcra``) lives in one
file and is spliced into every script that needs it. Each file is read once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError

_INCLUDE = re.compile(r"^-- include ([\w.]+:\w+)$", re.MULTILINE)


@cache
def source(name: str) -> str:
    """The text of the script ``name`` (``package:name``), with its includes spliced in."""
    package, _, script_name = name.partition(":")
    text = resources.files(package).joinpath("lua", f"{script_name}.lua").read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda include: source(include[1]), text)


def script(redis_client: Redis, name: str) -> Callable[..., Any]:
    """The script ``name`` (``package:name``) registered with ``redis_client``: redis-py runs it by
    its SHA and loads it into the server when the server does not know it."""
    return _FollowsThePrimary(redis_client.register_script(source(name)), redis_client)


class _FollowsThePrimary:
    """A script that, run on a connection that is now to a replica (a failover demoted the server
    it was made to), drops the client's connections so that the next call connects to the current
    primary, and raises ``ReadOnlyError``, as a plain command would. redis-py does this itself for a
    plain command's READONLY error, but a script's comes wrapped ("Error running script ...
    -READONLY ..."), so a connection kept open (``redis_client.for_this_thread``) would stay on the
    replica and every call fail."""

    def __init__(self, inner: Script, redis_client: Redis) -> None:
        self._inner, self._redis = inner, redis_client
        self.sha = inner.sha

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Redis | None = None) -> Any:
        try:
            return self._inner(keys=keys, args=args, client=client)
        except ResponseError as error:
            if isinstance(error, ReadOnlyError) or _READ_ONLY not in str(error):
                raise
            (client or self._redis).connection_pool.disconnect()
            raise ReadOnlyError(str(error)) from error


_READ_ONLY = "-READONLY "


@dataclass(frozen=True)
class Call:
    """One run of a script (as :func:`script` returns it), for :func:`run_together`."""

    script: Callable[..., Any]
    keys: Sequence[Any]
    args: Sequence[Any]

    def run(self, client: Redis | None = None) -> Any:
        return self.script(keys=self.keys, args=self.args, client=client)


def run_together(redis_client: Redis, calls: Sequence[Call]) -> list[Any]:
    """Run the scripts of ``calls`` one after the other in one round trip (a pipeline, not a
    transaction: each script is atomic on its own); their answers, in order. On this machine a
    round trip costs a client about 50 µs of CPU, more than a short script's own work. A script the
    server does not know (it restarted) is loaded and run again, in order with the others that were
    refused for the same reason."""
    if len(calls) == 1:
        return [calls[0].run()]
    pipe = redis_client.pipeline(transaction=False)
    for call in calls:
        if isinstance(call.script, _FollowsThePrimary):
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)  # no SCRIPT EXISTS first
        else:
            call.run(pipe)  # e.g. a test's clock, which sends the script's text
    answers = pipe.execute(raise_on_error=False)
    for place, (call, answer) in enumerate(zip(calls, answers, strict=True)):
        if isinstance(answer, NoScriptError):
            answers[place] = call.run()  # runs it by its SHA, loading it first when it must
        elif isinstance(answer, ResponseError):
            if isinstance(answer, ReadOnlyError) or _READ_ONLY in str(answer):
                redis_client.connection_pool.disconnect()
                raise ReadOnlyError(str(answer)) from answer
            raise answer
    return list(answers)


NOW_MS = "mutt_app.core:now_ms"  # the piece a script includes to read the Redis server's clock


class RedisClock:
    """The Redis server's clock (``TIME``), read by the scripts that include :data:`NOW_MS` when
    they run. Scripts that read it are registered through a clock, so that a test can give them
    one it moves itself (tests/support/clock.py) instead of waiting for Redis's to pass."""

    def register(self, redis_client: Redis, name: str) -> Callable[..., Any]:
        """The script ``name`` registered on ``redis_client``, reading this clock."""
        return script(redis_client, name)


REDIS_CLOCK = RedisClock()
