"""Every Redis key MUTT uses, in one place. Nothing else builds a key name by hand."""

from __future__ import annotations

PREFIX = "mutt:"

# Ingest: events waiting to be cut into a batch, and the batches waiting for the alerter.
INGEST_BUFFER = PREFIX + "ingest:buffer"            # list of event JSON
INGEST_BACKLOG = PREFIX + "ingest:backlog"          # int: events accepted and not yet processed
INGEST_BUFFER_SINCE = PREFIX + "ingest:buffer:since"  # ms (Redis clock): when the oldest buffered event came, about
INGEST_REJECTED = PREFIX + "ingest:rejected"        # list of JSON {id, payload, error}: rejected items waiting to be stored as dead letters
BATCHES_PENDING = PREFIX + "batches:pending"        # zset batch_id -> lease deadline (epoch s)
BATCH_ATTEMPTS = PREFIX + "batches:attempts"        # hash batch_id -> times claimed


def batch(batch_id: str) -> str:
    """List of the event JSON documents in one batch."""
    return f"{PREFIX}batch:{batch_id}"


# Counters of what happened to events, for the count-everything tests and the dashboard.
STATS = PREFIX + "stats"                            # hash: accepted, audited, unhandled, dead_lettered, ...
LISTENER_STATS = PREFIX + "listeners:stats"         # hash "<listener>:<received|dropped|denied>" -> count (mutt listen)


def ingest_rate(bucket: str, stamp: str) -> str:
    """Events accepted in one UTC minute/hour/day: bucket is 1m, 1h or 24h (v2.5's names)."""
    return f"{PREFIX}metrics:{bucket}:{stamp}"


# API keys
APIKEY_LAST_USED = PREFIX + "apikeys:last_used"     # hash key_id -> epoch seconds


def ingest_rate_limit(key_id: str) -> str:
    return f"{PREFIX}rate_limit:ingest:{key_id}"


# Versions: bumped after a committed change so every process reloads within a second.
BEAT_PREFIX = PREFIX + "beat"                      # RedBeat's keys: the schedule, each entry's last run, the lock (":lock")

RULES_VERSION = PREFIX + "version:rules"            # rules, development hosts, device teams
APIKEYS_VERSION = PREFIX + "version:apikeys"
SILENCES_VERSION = PREFIX + "version:silences"      # silences (workers look at most every 0.5 s)

# Runtime settings (see mutt_app.dynconfig)
CONFIG = PREFIX + "config"                          # hash key -> JSON value
CONFIG_VERSION = PREFIX + "config:version"
CONFIG_CHANNEL = PREFIX + "config:updates"          # pub/sub: the changed key's name

# Unhandled roll-up
def unhandled_window(hostname: str, fingerprint: str) -> str:
    """Zset of event ids seen for (host, fingerprint) in the sliding window."""
    return f"{PREFIX}unhandled:{{{hostname}:{fingerprint}}}"


UNHANDLED_RECENT = PREFIX + "unhandled:recent"      # list: latest unhandled events (JSON) of versions before issue 20 (read by the dry run)


def unhandled_suppressed(hostname: str, fingerprint: str) -> str:
    """Present while a meta-alert for (host, fingerprint) has fired and its window is running."""
    return f"{PREFIX}unhandled:{{{hostname}:{fingerprint}}}:triggered"


# Moogsoft delivery
MOOG_RATE_LIMIT = PREFIX + "rate_limit:moog"        # zset: sliding log of sends (forwarding.SendSlots), + ":seq"
BREAKER = PREFIX + "circuit_breaker:moogsoft"       # hash: state, failures, opened_at, probe_until, changed_at (ms)
BREAKER_TRANSITIONS = PREFIX + "circuit_breaker:moogsoft:transitions"  # hash "from>to" -> count

# Login throttling
def login_failures(kind: str, value: str) -> str:
    return f"{PREFIX}login_failures:{kind}:{value}"


# Beat-driven jobs take this lock so two overlapping runs never work on the same rows.
def job_lock(name: str) -> str:
    return f"{PREFIX}lock:{name}"


# Beat jobs: when each last ran (epoch seconds), for scheduling and /health.
def job_last_run(name: str) -> str:
    return f"{PREFIX}job:{name}:last_run"


def alert_losses(alert_id: str) -> str:
    """Times the janitor found this alert held by a worker that died (expires after a day)."""
    return f"{PREFIX}janitor:alert_losses:{alert_id}"


# Heartbeats (mutt_app.operations.heartbeats). A member is "<kind>:<name>" (hostname:core-rtr-01, source:relay-a).
HEARTBEATS_WATCHED = PREFIX + "heartbeats:watched"      # hash member -> interval (ms): the sources the alerter records
HEARTBEATS_LAST_SEEN = PREFIX + "heartbeats:last_seen"  # zset member -> when its newest event was processed (ms, Redis clock)
HEARTBEATS_DUE = PREFIX + "heartbeats:due"              # zset member -> when it is quiet unless heard from (ms)
HEARTBEATS_CHECKED_AT = PREFIX + "heartbeats:checked_at"  # ms (Redis clock): the checker's last run
HEARTBEATS_SYNCED = PREFIX + "heartbeats:synced"        # present (with a TTL) while the watch list is fresh from the database


def new_api_key(nonce: str) -> str:
    """A just-created API key's secret, held for the one page view that shows it (the login
    session holds only the random nonce; the secret never goes into a cookie or a URL)."""
    return f"{PREFIX}ui:new_api_key:{nonce}"

SLO_SNAPSHOTS = PREFIX + "slo:snapshots"           # zset JSON {"at": epoch s, "counters": {...}} -> epoch s (24 h + kept)
SLO_SNAPSHOT_DUE = PREFIX + "slo:snapshot_due"     # NX lock: one process writes a snapshot per interval
DASHBOARD_SAMPLES = PREFIX + "dashboard:samples"   # list of JSON samples (operations/timeline.py), capped at an hour's
DASHBOARD_SAMPLE_DUE = PREFIX + "dashboard:sample_due"  # NX gate: one process takes a sample per interval
