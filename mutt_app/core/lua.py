"""Lua scripts that run in Redis, kept as ``.lua`` files next to the module that runs them.

A script is named ``<package>:<name>``: the file ``<package>/lua/<name>.lua`` (``setup.cfg`` ships
them as package data). A line ``-- include <package>:<name>`` in a script is replaced by that
file's text, so a shared piece (``mutt_app.core:now_ms``, ``mutt_app.core:gcra``) lives in one
file and is spliced into every script that needs it. Each file is read once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import ReadOnlyError, ResponseError

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

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Redis | None = None) -> Any:
        try:
            return self._inner(keys=keys, args=args, client=client)
        except ResponseError as error:
            if isinstance(error, ReadOnlyError) or _READ_ONLY not in str(error):
                raise
            (client or self._redis).connection_pool.disconnect()
            raise ReadOnlyError(str(error)) from error


_READ_ONLY = "-READONLY "


NOW_MS = "mutt_app.core:now_ms"  # the piece a script includes to read the Redis server's clock


class RedisClock:
    """The Redis server's clock (``TIME``), read by the scripts that include :data:`NOW_MS` when
    they run. Scripts that read it are registered through a clock, so that a test can give them
    one it moves itself (tests/support/clock.py) instead of waiting for Redis's to pass."""

    def register(self, redis_client: Redis, name: str) -> Callable[..., Any]:
        """The script ``name`` registered on ``redis_client``, reading this clock."""
        return script(redis_client, name)


REDIS_CLOCK = RedisClock()
