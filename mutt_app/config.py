"""Static settings, read once from the environment.

Every environment variable MUTT reads is declared here, in ``ENV_VARS``, with its default and
meaning; ``docs/configuration.md`` is generated from this table. Settings that operators change
while MUTT runs are not here: they live in :mod:`mutt_app.dynconfig`.

Every problem with a setting raises :class:`ConfigurationError`, whose message names the variable
and what it must be. Importing this module reads nothing; :func:`load` reads the environment (and
may write ``MUTT_HOME/secret_key``), and :func:`get` gives the settings of this process's
services (:mod:`mutt_app.services`).
"""

from __future__ import annotations

import math
import os
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload
from urllib.parse import SplitResult, unquote, urlsplit

from mutt_app import services
from mutt_app.errors import ConfigurationError as ConfigurationError  # re-exported: callers name it config.ConfigurationError
from mutt_app.errors import without_password


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str | None
    help: str


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("MUTT_HOME", "./var",
           "Directory for the embedded run's data: SQLite file, Redis socket and append-only file, secret key, logs."),
    EnvVar("MUTT_ENV", "production",
           "`production`, `development` or `test`. Production refuses to start without SECRET_KEY when REDIS_URL/DATABASE_URL are set."),
    EnvVar("DATABASE_URL", None, "SQLAlchemy URL. Default: SQLite in MUTT_HOME. Production: postgresql+psycopg://user@host/db."),
    EnvVar("REDIS_URL", None,
           "Redis for MUTT's own state (limits, breaker, counters, runtime settings). Default: the embedded Redis on a unix socket in "
           "MUTT_HOME. `redis://`, `rediss://`, `unix://`, or Sentinel in Celery's form "
           "`sentinel://[:password@]host:port[/db][;sentinel://host:port...]` with REDIS_SENTINEL_MASTER (ADR 0017)."),
    EnvVar("REDIS_SENTINEL_MASTER", "",
           "With a `sentinel://` REDIS_URL (or CELERY_BROKER_URL): the name the Sentinels monitor the primary under; required "
           "there, refused with any other URL."),
    EnvVar("REDIS_SENTINEL_PASSWORD", "",
           "Password of the Sentinels themselves (`requirepass` in sentinel.conf), when they have one; the password in REDIS_URL "
           "is the primary's."),
    EnvVar("REDIS_TLS", "false",
           "With a `sentinel://` REDIS_URL (or CELERY_BROKER_URL): reach the Sentinels and the primary they name over TLS, "
           "verified against REDIS_TLS_CA_CERT (ADR 0017). A single Redis takes TLS from a `rediss://` URL instead."),
    EnvVar("REDIS_TLS_CA_CERT", "",
           "PEM file of the CA the Sentinels' and Redis servers' certificates are verified against; required with REDIS_TLS "
           "(there is no unverified TLS). The certificates must name the addresses the Sentinels announce."),
    EnvVar("REDIS_TLS_CERT", "",
           "PEM client certificate MUTT presents to the Sentinels and Redis servers (`tls-auth-clients`), with REDIS_TLS_KEY; "
           "both or neither."),
    EnvVar("REDIS_TLS_KEY", "", "PEM private key of REDIS_TLS_CERT, not encrypted."),
    EnvVar("REDIS_TIMEOUT", "2",
           "Seconds MUTT waits for Redis to connect or answer one command (not the Celery broker's). Past it a web request answers 503 "
           "with Retry-After and a task retries; /health and /metrics use a quarter of it."),
    EnvVar("REDIS_MIN_REPLICAS_ACK", "0",
           "Replicas that must confirm an ingest write (Redis WAIT) before ingest answers 200; when fewer confirm within "
           "REDIS_REPLICA_ACK_TIMEOUT_MS it answers 503 with Retry-After (the events stay queued: a retry may queue them twice). "
           "0: no wait. With a replica, set 1 (ADR 0017)."),
    EnvVar("REDIS_REPLICA_ACK_TIMEOUT_MS", "200",
           "Milliseconds ingest waits for REDIS_MIN_REPLICAS_ACK replicas to confirm a write, 1..5000."),
    EnvVar("DATABASE_TIMEOUT", "5",
           "Seconds MUTT waits to connect to the database or for a pooled connection, and (SQLite) for a lock. Past it a web request "
           "answers 503 with Retry-After and a task retries."),
    EnvVar("DATABASE_STATEMENT_TIMEOUT", "60",
           "PostgreSQL statement_timeout in seconds: a query (or a wait for a lock) running longer is cancelled. 0: no limit."),
    EnvVar("CELERY_BROKER_URL", None,
           "Celery broker. Default: the same Redis as REDIS_URL. amqp://guest:guest@localhost:5672// for RabbitMQ."),
    EnvVar("SECRET_KEY", None, "Flask session signing key. Default (embedded only): generated once into MUTT_HOME/secret_key."),
    EnvVar("MOOG_WEBHOOK_URL", "", "Moogsoft REST LAM endpoint alerts are POSTed to. Empty: alerts wait (not lost) until it is set."),
    EnvVar("MOOG_API_KEY", "", "Bearer token for Moogsoft. Never stored in queued messages, dead letters or logs."),
    EnvVar("MOOG_TIMEOUT", "10", "Seconds to wait for Moogsoft to answer one alert."),
    EnvVar("MOOG_VERIFY_TLS", "true", "Verify Moogsoft's TLS certificate."),
    EnvVar("MAX_CONTENT_LENGTH", str(5 * 1024 * 1024), "Largest ingest request body in bytes (413 above it)."),
    EnvVar("LOG_LEVEL", "INFO", "Initial log level; the runtime setting `log_level` overrides it while running."),
    EnvVar("LOG_FORMAT", "json", "`json` (one JSON object per line) or `text`."),
    EnvVar("PROMETHEUS_MULTIPROC_DIR", None,
           "Directory for multi-process Prometheus metrics (set for the web server and prefork workers)."),
    EnvVar("MUTT_API_KEY", "", "API key `mutt send` posts test events with (rather than --key, which `ps` would show)."),
    EnvVar("FLOWER_URL", "", "Where the UI links to Flower."),
    EnvVar("FLOWER_BASIC_AUTH", "",
           "user:password for `mutt flower` (required, neither part empty; every Flower view, /metrics and /healthcheck too, needs it)."),
    EnvVar("MUTT_ADMIN_PASSWORD", None, "Password for the first admin user created by `mutt up`; generated and printed once when unset."),
    EnvVar("SESSION_COOKIE_SECURE", "true", "Send the login cookie over HTTPS only. `mutt up` sets false for http://localhost."),
    EnvVar("WEB_CONCURRENCY", "2", "Web server (granian) processes for `mutt web`."),
    EnvVar("WEB_THREADS", "4",
           "Threads per web server process running the app (ingest, API, UI); docs/performance.md has the measurements."),
    EnvVar("WEB_BODY_TIMEOUT", "10",
           "Seconds a request body has to arrive in full after its headers; a stalled or dripped body gets 408 and its connection is "
           "closed, and holds no app thread meanwhile (ADR 0011)."),
    EnvVar("WEB_MAX_REQUESTS_PER_CLIENT", "64",
           "Requests one client address may have in progress in one web server process (bodies still arriving included); more get 429 "
           "with Retry-After. 0: no cap (behind a proxy that hides client addresses, raise it or use 0 and let the proxy cap)."),
    EnvVar("WORKER_CONCURRENCY", "2", "Celery worker pool size for `mutt worker`."),
    EnvVar("WORKER_METRICS_PORT", "", "Port on which a worker serves its Prometheus metrics (`mutt worker --metrics-port`); empty: none."),
    EnvVar("WORKER_METRICS_ADDRESS", "127.0.0.1", "Address for WORKER_METRICS_PORT (0.0.0.0 in containers)."),
    EnvVar("LISTEN_ADDRESS", "127.0.0.1",
           "Address `mutt listen` (and `mutt up`) receives syslog and SNMP traps on (0.0.0.0 for all)."),
    EnvVar("SYSLOG_PORT", "5514",
           "UDP and TCP port of the syslog listener (`mutt listen --syslog-port`); 0: none. 514 needs root or "
           "CAP_NET_BIND_SERVICE, or a port mapping (docs/operations.md)."),
    EnvVar("SYSLOG_TLS_PORT", "6514",
           "TCP port of the syslog-over-TLS listener (RFC 5425), served only when SYSLOG_TLS_CERT and "
           "SYSLOG_TLS_KEY are set; 0: none."),
    EnvVar("SYSLOG_TLS_CERT", "",
           "PEM certificate (chain) the syslog TLS listener presents; with SYSLOG_TLS_KEY it turns the listener on."),
    EnvVar("SYSLOG_TLS_KEY", "", "PEM private key of SYSLOG_TLS_CERT."),
    EnvVar("TRAP_PORT", "1162",
           "UDP port of the SNMP trap listener (`mutt listen --trap-port`; v1, v2c traps and INFORMs); 0: none. "
           "162 needs root or CAP_NET_BIND_SERVICE, or a port mapping (docs/operations.md)."),
    EnvVar("TRAP_COMMUNITIES", "public",
           "SNMP communities the trap listener accepts, comma-separated; a trap with another is dropped and "
           "counted (`denied`). The community is never stored or forwarded."),
    EnvVar("LISTEN_SOURCES", "local=127.0.0.0/8,::1/128",
           "Who may send to the listeners: named sources, `name=CIDR,CIDR;name=CIDR`. A sender in none is "
           "dropped and counted (`denied`); the name is the events' `_key` and the unit of the ingest rate limit."),
    EnvVar("LISTEN_BUFFER", "20000",
           "Messages a listener process holds between reading and queueing; while it is full, TCP connections "
           "are not read and UDP datagrams are dropped (counted)."),
    EnvVar("LISTEN_DRAIN_SECONDS", "10",
           "On SIGTERM, how long a listener may take to queue what it has read before it stops anyway (what is "
           "left is logged as lost)."),
    # Celery knobs (read by celeryconfig.py)
    EnvVar("CELERY_VISIBILITY_TIMEOUT", "7200",
           "Seconds before the Redis broker redelivers an unacknowledged task; far above every countdown and time limit."),
    EnvVar("CLAIM_LEASE_SECONDS", "30",
           "How long a worker's claim on a batch or an alert holds; past it (a SIGKILLed worker) the janitor gives the work to another "
           "worker. Must exceed 2 x MOOG_TIMEOUT + 10."),
    EnvVar("CELERY_TASK_TIME_LIMIT", "300", "Hard time limit of one task, in seconds."),
    EnvVar("CELERY_TASK_EVENTS", "false", "Send task events (Flower's task views). Costs about 30% of task throughput."),
    EnvVar("MOOG_MAX_RETRIES", "12", "Retries of one alert after retryable failures (5xx, 429, timeouts) before it becomes a dead letter."),
    EnvVar("MOOG_RETRY_BACKOFF", "2", "Backoff factor in seconds: retry n waits up to factor * 2^n (full jitter)."),
    EnvVar("MOOG_RETRY_BACKOFF_MAX", "300", "Longest wait between two retries of one alert, in seconds."),
    EnvVar("MOOG_RETRY_JITTER", "true", "Randomise retry delays (full jitter) so retries of many alerts spread out."),
    EnvVar("JANITOR_INTERVAL", "10", "Seconds between janitor runs (beat)."),
    EnvVar("BEAT_LOCK_SECONDS", "30",
           "Seconds the lock of the beat that sends lasts unrenewed: a second beat takes over within this (plus 5 s) after the "
           "first one died (ADR 0017)."),
)

_DEFAULTS = {v.name: v.default for v in ENV_VARS}


def env(name: str) -> str:
    """The value of a declared environment variable, or its declared default (for a variable
    declared without one, :func:`optional_env`)."""
    value = optional_env(name)
    if value is None:
        raise KeyError(f"{name} has no default in mutt_app.config.ENV_VARS: read it with optional_env()")
    return value


def optional_env(name: str) -> str | None:
    """The value of a declared environment variable, or its default, which may be None."""
    if name not in _DEFAULTS:
        raise KeyError(f"{name} is not declared in mutt_app.config.ENV_VARS")
    value = os.environ.get(name)
    return value if value not in (None, "") else _DEFAULTS[name]


@overload
def number(name: str) -> int: ...


@overload
def number(name: str, kind: type[float]) -> float: ...


def number(name: str, kind: type[int] | type[float] = int) -> int | float:
    """A declared environment variable read as an ``int`` (or as ``kind``); a
    :class:`ConfigurationError` naming it when it is not one."""
    value = env(name)
    try:
        parsed = kind(value)
    except ValueError:
        parsed = None
    if parsed is None or not math.isfinite(parsed):  # float("inf") parses, and would wait forever
        raise ConfigurationError(f"{name}={value!r} is not {'an integer' if kind is int else 'a number'}")
    return parsed


def bounded(name: str, low: int, high: int) -> int:
    """A declared environment variable read as an integer from ``low`` to ``high``."""
    value = number(name)
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={value} must be from {low} to {high}")
    return value


MAX_REPLICA_ACK_TIMEOUT_MS = 5000  # above it a request waits longer than REDIS_TIMEOUT's default on a replica


def declared_default(name: str) -> str | None:
    """The default ``ENV_VARS`` declares for ``name``."""
    if name not in _DEFAULTS:
        raise KeyError(f"{name} is not declared in mutt_app.config.ENV_VARS")
    return _DEFAULTS[name]


TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def flag(name: str) -> bool:
    """A declared environment variable read as true or false; a :class:`ConfigurationError` naming
    it when it is neither."""
    value = env(name)
    spelled = str(value).strip().lower()
    if spelled not in TRUE | FALSE:
        raise ConfigurationError(f"{name}={value!r} is neither true nor false (true, false, yes, no, on, off, 1, 0)")
    return spelled in TRUE


def choice(name: str, allowed: tuple[str, ...]) -> str:
    """A declared environment variable that must be one of ``allowed`` (case as given)."""
    value = env(name)
    if value not in allowed:
        raise ConfigurationError(f"{name}={value!r} must be one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    environment: str
    database_url: str
    redis_url: str
    redis_sentinel: RedisSentinel | None
    redis_timeout: float
    redis_min_replicas_ack: int
    redis_replica_ack_timeout_ms: int
    broker_url: str
    embedded_redis: bool
    secret_key: str
    moog_webhook_url: str
    moog_api_key: str = field(repr=False)
    moog_timeout: float
    moog_verify_tls: bool
    max_content_length: int
    log_level: str
    log_format: str
    flower_url: str
    session_cookie_secure: bool

    @property
    def redis_socket(self) -> Path:
        return self.home / "redis.sock"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


SENTINEL_SCHEME = "sentinel://"


@dataclass(frozen=True)
class RedisSentinel:
    """Where a Sentinel-monitored Redis is: the Sentinels, the name of the primary they watch, its
    password and database (ADR 0017)."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    tls: RedisTls | None = None


@dataclass(frozen=True)
class RedisTls:
    """TLS to the Sentinels and the primary they name (REDIS_TLS): the CA their certificates are
    verified against, and the certificate MUTT presents, if any."""

    ca_cert: str
    cert: str | None = None
    key: str | None = None

    def ssl_options(self) -> dict[str, object]:
        """redis-py's ``ssl_*`` connection arguments; Celery's ``broker_use_ssl`` takes them as they are."""
        options: dict[str, object] = {"ssl_cert_reqs": "required", "ssl_ca_certs": self.ca_cert}
        if self.cert:
            options.update(ssl_certfile=self.cert, ssl_keyfile=self.key)
        return options

    def client_options(self) -> dict[str, object]:
        """The arguments that make a redis-py client (a Sentinel's or the primary's) connect over TLS."""
        return {"ssl": True, **self.ssl_options()}


TLS_FILES = ("REDIS_TLS_CA_CERT", "REDIS_TLS_CERT", "REDIS_TLS_KEY")


def redis_tls() -> RedisTls | None:
    """REDIS_TLS and its files, each checked readable as what it must be; None when TLS is off."""
    files = {name: env(name).strip() for name in TLS_FILES}
    if not flag("REDIS_TLS"):
        for name, path in files.items():
            if path:  # a half-made TLS setting must not leave Redis in plain text unnoticed
                raise ConfigurationError(f"{name} is set but REDIS_TLS is false: set REDIS_TLS=true for TLS, or unset {name}")
        return None
    ca_cert, cert, key = files.values()
    if not ca_cert:
        raise ConfigurationError("REDIS_TLS_CA_CERT must name the PEM file of the CA that signed the Redis and Sentinel "
                                 "certificates (REDIS_TLS is true)")
    if bool(cert) != bool(key):
        raise ConfigurationError("REDIS_TLS_CERT and REDIS_TLS_KEY: set both, or neither")
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_cert)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"REDIS_TLS_CA_CERT: cannot load {ca_cert!r} as PEM certificates ({_reason(error)})") from None
    if cert:
        try:  # the password callback stops OpenSSL from prompting on the terminal for an encrypted key
            context.load_cert_chain(cert, key, password=lambda: b"")
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"REDIS_TLS_CERT/REDIS_TLS_KEY: cannot load {cert!r} and {key!r} as a PEM certificate "
                                     f"and its unencrypted key ({_reason(error)})") from None
    return RedisTls(ca_cert=ca_cert, cert=cert or None, key=key or None)


def _reason(error: OSError) -> str:
    """Why a TLS file could not be loaded, in words (OpenSSL's reason, or the system's)."""
    if isinstance(error, ssl.SSLError):
        return error.reason or str(error)
    return error.strerror or str(error)


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def redis_sentinel(url: str, variable: str = "REDIS_URL") -> RedisSentinel | None:
    """The Sentinels ``url`` names (Celery's form, one ``sentinel://`` per Sentinel, ``;`` between
    them), or None for a plain Redis URL. The first address's password and database are the
    primary's; REDIS_SENTINEL_MASTER names it."""
    if not is_sentinel(url):
        return None
    master = env("REDIS_SENTINEL_MASTER").strip()
    if not master:
        raise ConfigurationError(f"REDIS_SENTINEL_MASTER must name the primary the Sentinels watch ({variable} is sentinel://)")
    sentinels, password, db = [], None, 0
    for position, part in enumerate(url.split(";")):
        address = _sentinel_address(part.strip(), variable)
        sentinels.append((address.hostname or "", address.port or 26379))
        if position == 0:
            password = unquote(address.password) if address.password else None
            db = _sentinel_db(address.path, variable)
    return RedisSentinel(sentinels=tuple(sentinels), master=master, db=db, password=password,
                         sentinel_password=env("REDIS_SENTINEL_PASSWORD") or None, tls=redis_tls())


def _sentinel_address(part: str, variable: str) -> SplitResult:
    problem = f"{variable}: {without_password(part)!r} must be sentinel://[:password@]host:port[/db]"
    if not is_sentinel(part):
        raise ConfigurationError(problem)
    address = urlsplit(part)
    try:
        port = address.port
    except ValueError:
        raise ConfigurationError(problem) from None
    if not address.hostname or port == 0 or address.query or address.fragment:
        raise ConfigurationError(problem)
    return address


def _sentinel_db(path: str, variable: str) -> int:
    number = path.strip("/") or "0"
    if not number.isdigit() or int(number) > 15:
        raise ConfigurationError(f"{variable}: the database after the first Sentinel's address must be 0..15, not {number!r}")
    return int(number)


BROKER_SOCKET_TIMEOUTS = {"socket_timeout": 10, "socket_connect_timeout": 5}  # seconds: the broker's Redis and Sentinels


def broker_sentinel_options() -> dict[str, object]:
    """The broker's transport options that a ``sentinel://`` broker URL needs (none for another):
    the primary's name, the Sentinels' password and TLS to them; from the environment alone, like
    :func:`broker_url`. (TLS to the primary is :func:`broker_use_ssl`.)"""
    if not is_sentinel(broker_url()):
        return {}
    master = env("REDIS_SENTINEL_MASTER").strip()
    if not master:
        raise ConfigurationError("REDIS_SENTINEL_MASTER must name the primary the Sentinels watch (the broker is sentinel://)")
    options: dict[str, object] = {"master_name": master}
    tls = redis_tls()
    sentinel_kwargs = {
        **({"password": env("REDIS_SENTINEL_PASSWORD")} if env("REDIS_SENTINEL_PASSWORD") else {}),
        **(tls.client_options() if tls else {}),
    }
    if sentinel_kwargs:  # given, they replace the socket timeouts redis-py would copy: a hung Sentinel must not hang the broker
        options["sentinel_kwargs"] = {**BROKER_SOCKET_TIMEOUTS, **sentinel_kwargs}
    return options


def broker_use_ssl() -> dict[str, object] | bool:
    """Celery's ``broker_use_ssl`` for a ``sentinel://`` broker with REDIS_TLS: kombu connects to
    the primary the Sentinels name over TLS with these; False for any other broker (a ``rediss://``
    or ``amqps://`` URL carries its own)."""
    tls = redis_tls() if is_sentinel(broker_url()) else None
    return tls.ssl_options() if tls else False


def broker_url_for(redis_url: str) -> str:
    """kombu spells a unix-socket Redis differently from redis-py."""
    if redis_url.startswith("unix://"):
        path, _, query = redis_url[len("unix://"):].partition("?")
        db = "0"
        for part in query.split("&"):
            if part.startswith("db="):
                db = part[3:]
        return f"redis+socket://{path}?virtual_host={db}"
    return redis_url


def _secret_key(home: Path, environment: str, embedded: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if environment == "test":
        return "test-only-" + secrets.token_hex(16)
    if not embedded and environment == "production":
        raise ConfigurationError(
            "SECRET_KEY must be set when MUTT runs against external Redis/PostgreSQL in production"
        )
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


def write_private(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text``, readable by its owner only: mode 0600 from the start (no
    chmod afterwards, so no moment when others could read it), written aside and linked into
    place whole. Returns False, leaving it as it is, when ``path`` exists already."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    try:
        os.link(partial, path)
        return True
    except FileExistsError:
        return False
    finally:
        partial.unlink()


ENVIRONMENTS = ("production", "development", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")


def _redis_location() -> tuple[Path, str, bool]:
    """MUTT_HOME, the Redis URL, and whether that Redis is the embedded one in MUTT_HOME."""
    home = Path(env("MUTT_HOME")).resolve()
    embedded_url = f"unix://{home / 'redis.sock'}?db=0"
    redis_url = optional_env("REDIS_URL") or embedded_url
    return home, redis_url, redis_url == embedded_url  # `mutt up` hands its children this same URL


def broker_url() -> str:
    """The Celery broker's URL, from the environment alone: no secret key is made or needed."""
    return optional_env("CELERY_BROKER_URL") or broker_url_for(_redis_location()[1])


def load() -> Settings:
    """Build the settings from the environment (call again after changing os.environ); a
    :class:`ConfigurationError` names the first variable MUTT cannot run with."""
    home, redis_url, embedded = _redis_location()
    environment = choice("MUTT_ENV", ENVIRONMENTS)
    log_level = env("LOG_LEVEL").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigurationError(f"LOG_LEVEL={env('LOG_LEVEL')!r} must be one of {', '.join(LOG_LEVELS)}")
    database_url = optional_env("DATABASE_URL") or f"sqlite:///{home / 'mutt.db'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    sentinel = redis_sentinel(redis_url)
    if optional_env("CELERY_BROKER_URL"):
        redis_sentinel(broker_url(), "CELERY_BROKER_URL")  # a sentinel:// broker needs REDIS_SENTINEL_MASTER too
    if env("REDIS_SENTINEL_MASTER").strip() and not (sentinel or is_sentinel(broker_url())):
        raise ConfigurationError("REDIS_SENTINEL_MASTER is set but neither REDIS_URL nor CELERY_BROKER_URL is a sentinel:// URL")
    if not (sentinel or is_sentinel(broker_url())) and redis_tls():  # a sentinel URL checked REDIS_TLS already
        raise ConfigurationError("REDIS_TLS is for sentinel:// URLs and neither REDIS_URL nor CELERY_BROKER_URL is one: "
                                 "a single Redis takes TLS from a rediss:// URL")
    return Settings(
        home=home,
        environment=environment,
        database_url=database_url,
        redis_url=redis_url,
        redis_sentinel=sentinel,
        redis_timeout=number("REDIS_TIMEOUT", float),
        redis_min_replicas_ack=bounded("REDIS_MIN_REPLICAS_ACK", 0, 16),
        redis_replica_ack_timeout_ms=bounded("REDIS_REPLICA_ACK_TIMEOUT_MS", 1, MAX_REPLICA_ACK_TIMEOUT_MS),
        broker_url=broker_url(),
        embedded_redis=embedded,
        moog_webhook_url=env("MOOG_WEBHOOK_URL"),
        moog_api_key=env("MOOG_API_KEY"),
        moog_timeout=number("MOOG_TIMEOUT", float),
        moog_verify_tls=flag("MOOG_VERIFY_TLS"),
        max_content_length=number("MAX_CONTENT_LENGTH"),
        log_level=log_level,
        log_format=choice("LOG_FORMAT", LOG_FORMATS),
        flower_url=env("FLOWER_URL"),
        session_cookie_secure=flag("SESSION_COOKIE_SECURE"),
        secret_key=_secret_key(home, environment, embedded),  # last: written only for settings that hold
    )


SETTINGS = "settings"  # their name in a process's services


def get() -> Settings:
    """This process's settings, read from the environment on first use (:mod:`mutt_app.services`;
    a forked child keeps its parent's)."""
    return of(services.current())


def of(process: services.Services) -> Settings:
    """The settings of ``process``'s services."""
    return process.own(SETTINGS, load, inherit=True)


def use(settings: Settings) -> Settings:
    """Make ``settings`` this process's (new services over them, unless they are already)."""
    if get() is not settings:
        services.reset().own(SETTINGS, lambda: settings, inherit=True)
    return settings


def reset() -> None:
    """The environment changed (tests): new services for this process, settings first."""
    services.reset()
