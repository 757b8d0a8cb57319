"""Prometheus metrics, one definition each. v2.5's names are kept where they existed.

Multi-process servers (the web server's workers, prefork workers) must have
PROMETHEUS_MULTIPROC_DIR set before this module is imported; `mutt web` and `mutt worker` see to it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# ingest
INGEST_REQUESTS = Counter("mutt_ingest_requests", "Ingest requests by outcome.", ["status", "reason"])
INGEST_EVENTS = Counter("mutt_ingest_events", "Events posted, by outcome (accepted or rejected).", ["outcome"])
INGEST_LATENCY = Histogram(
    "mutt_ingest_latency_seconds", "Time to answer an ingest request.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
INGEST_RATE_LIMIT_HITS = Counter("mutt_ingest_rate_limit_hits", "Ingest requests refused by a key's rate limit.")

# web server front layer (web/front.py)
WEB_REFUSED = Counter(
    "mutt_web_refused", "Requests the web server answered without the app, by reason: per_client (429), "
    "too_large (413), body_timeout (408), incomplete (400).", ["reason"],
)

# alerter
ALERTER_EVENTS = Counter(
    "mutt_alerter_events_processed", "Events processed, by outcome: handled (a rule matched), unhandled, poison (dead letter).",
    ["status"],
)
ALERTER_ALERTS = Counter("mutt_alerter_alerts_forwarded", "Alerts raised for Moogsoft, by kind (rule or meta).", ["kind"])
ALERTER_LIFECYCLE = Counter("mutt_alerter_lifecycle_events",
                            "Forwarded events (and meta-alerts) by what they did to their alert: open, refresh, clear, flapping "
                            "(sent); duplicate, clear_without_alert, flapping, out_of_order (not sent).", ["outcome"])
ALERTER_META_ALERTS = Counter("mutt_alerter_unhandled_meta_alerts", "Meta-alerts raised by the unhandled roll-up.")
ALERTER_BATCH_LATENCY = Histogram("mutt_alerter_processing_latency_seconds", "Time to process one batch of events.")
ALERTER_RULES_RELOADS = Counter("mutt_alerter_cache_reloads", "Rule-set reloads after a change.")
ALERTER_SILENCED = Counter("mutt_alerter_silenced_events", "Events a silence muted (audited, not forwarded), by silence id.",
                          ["silence_id"])
ALERTER_SHED = Counter("mutt_alerter_shed_events", "Events shed above alerter_queue_shed_threshold, by mode.", ["mode"])

# forwarder
MOOG_REQUESTS = Counter("mutt_moog_requests", "Sends to Moogsoft by outcome.", ["status", "reason"])
MOOG_LATENCY = Histogram(
    "mutt_moog_request_latency_seconds", "Time Moogsoft took to answer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MOOG_RATE_LIMIT_HITS = Counter("mutt_moog_rate_limit_hits", "Sends deferred by the shared Moogsoft rate limit.")
MOOG_ALERTS = Counter("mutt_moog_alerts_processed",
                      "Alerts finished by the forwarder (success, dlq) and failed sends handed to a retry (retry).",
                      ["status"])
BREAKER_TRANSITIONS = Counter(
    "mutt_circuit_breaker_state_changes", "Circuit breaker transitions.", ["name", "from_state", "to_state"]
)

# remediation and janitor
REMEDIATION_REPLAYS = Counter("mutt_remediation_replays", "Dead letters replayed, by result.", ["result"])
REMEDIATION_POISON = Counter("mutt_remediation_poison_messages", "Dead letters parked as poison after max replays.")
JANITOR_RECOVERED = Counter("mutt_janitor_recovered", "Stuck work re-enqueued by the janitor, by kind.", ["kind"])

# sampled from Redis and the database when /metrics is scraped
QUEUE_DEPTH = Gauge("mutt_queue_depth", "Messages waiting in a Celery queue.", ["queue"], multiprocess_mode="mostrecent")
INGEST_BACKLOG = Gauge("mutt_ingest_queue_depth", "Events accepted and not yet processed.", multiprocess_mode="mostrecent")
LISTENER_MESSAGES = Gauge(
    "mutt_listener_messages", "Messages the native listeners (mutt listen) received, dropped (UDP, backlog full) and "
    "denied (sender in no source), since the counters began.", ["listener", "outcome"], multiprocess_mode="mostrecent")
DEAD_LETTERS = Gauge("mutt_dead_letters", "Dead letters by state.", ["state"], multiprocess_mode="mostrecent")
BREAKER_STATE = Gauge(
    "mutt_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open.", ["name"],
    multiprocess_mode="mostrecent",
)
