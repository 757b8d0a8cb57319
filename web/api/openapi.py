"""GET /api/v2/openapi.json: the machine API described in OpenAPI 3.1 (a test checks that
every machine route of the app is in it and that real answers validate against it)."""

from __future__ import annotations

from flask import jsonify

from mutt_app import __version__
from mutt_app.storage.models import HANDLINGS, MATCH_TYPES, ROLES, SCOPES
from mutt_app.suppression.silences import FIELDS as SILENCE_FIELDS
from mutt_app.suppression.silences import OPS as SILENCE_OPS
from mutt_app.suppression.silences import STATES as SILENCE_STATES
from web.api import API_VERSION, bp


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), **properties) -> dict:
    return {"type": "object", "required": list(required), "properties": properties}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
HANDLING = {"type": "string", "description": f"one of {', '.join(HANDLINGS)} (any case when sent; "
            "a rule stored before MUTT 3.0 may hold another value, reported in problem)"}
TIME = {"type": "string", "format": "date-time"}
ANY_OBJECT = {"type": "object"}


def page_of(name: str, item: str) -> dict:
    return obj((name, "pagination"), **{name: {"type": "array", "items": ref(item)}, "pagination": ref("Pagination")})


SCHEMAS = {
    "Error": obj(("error", "correlation_id"), error=STR, correlation_id=STR),
    "IngestError": obj(("status", "message", "correlation_id"), status={"const": "error"}, message=STR,
                       correlation_id=STR, retry_after=INT),
    "Pagination": obj(("page", "limit", "total", "pages"), page=INT, limit=INT, total=INT, pages=INT,
                      # the audit searches: a page also stops before its rows pass max_bytes of JSON
                      offset=INT, returned=INT, truncated=BOOL, max_bytes=INT, next_offset=nullable(INT)),
    "Metrics": obj(
        ("summary", "chart_24h"),
        summary=obj(("current_rate_1m", "avg_rate_15m", "avg_rate_1h"), current_rate_1m=NUM, avg_rate_15m=NUM, avg_rate_1h=NUM),
        chart_24h=obj(("labels", "data"), labels={"type": "array", "items": STR, "minItems": 24, "maxItems": 24},
                      data={"type": "array", "items": NUM, "minItems": 24, "maxItems": 24}),
    ),
    "Slo": obj(("slo_name", "description", "actual_value", "burn_rate", "error_budget_remaining", "status", "message"),
               slo_name=STR, description=STR, target=NUM, target_seconds=NUM, actual_value=nullable(NUM),
               burn_rate=nullable(NUM), error_budget_remaining=nullable(NUM), message=STR,
               status={"enum": ["ok", "breaching", "warning", "critical", "unknown"]}),
    "SloReport": obj(("timestamp", "status", "slos"), timestamp=STR, status=STR, slos={"type": "array", "items": ref("Slo")}),
    "EventAudit": obj(("event_id", "received_at", "hostname", "rule_id", "decision", "correlation_id"),
                      event_id=STR, received_at=STR, event_time=nullable(STR), hostname=STR, rule_id=nullable(INT),
                      rule_name=STR, environment=STR, decision=STR, forwarded=BOOL, team=STR, correlation_id=STR,
                      silence_id=nullable(INT), alert_id=nullable(INT),
                      message=STR, event=ANY_OBJECT, outcome=ref("EventOutcome"),
                      dead_letter_id={"type": "integer", "description": "decision dead_lettered: the dead letter"},
                      reason={"type": "string", "description": "decision dead_lettered: why it is one"}),
    "EventOutcome": {**obj(
        ("status", "summary"),
        status={"enum": ["delivered", "pending", "retrying", "sending", "dead_letter", "silenced", "duplicate", "held",
                         "not_forwarded", "no_record"]},
        summary=STR, alert_id=nullable(INT), delivery_id=nullable(STR), attempts=nullable(INT),
        http_status=nullable(INT), delivered_at=nullable(STR), last_error=nullable(STR),
        dead_letter_id=nullable(INT), dead_letter_reason=nullable(STR), dead_letter_state=nullable(STR),
        silence_id=nullable(INT)),
        "description": "What became of the event (docs/web-ui.md, \"Event outcomes\"): its request to Moogsoft "
                       "(delivered, pending, retrying, sending), a dead letter, a silence, the alert it was a duplicate "
                       "of or was held back by (flapping, out of order, a clear with no alert), or not forwarded."},
    "Heartbeat": obj(("id", "kind", "name", "interval_seconds", "severity", "comment", "last_seen", "quiet"),
                     id=INT, kind={"enum": ["hostname", "source"]}, name=STR, hostname=STR, source=STR,
                     interval_seconds=INT, severity=INT, comment=STR, created_at=STR, created_by=STR, updated_at=STR,
                     updated_by=STR, last_seen=nullable(STR), quiet=BOOL, quiet_since=nullable(STR),
                     alerted_at=nullable(STR)),
    "HeartbeatFields": obj((), hostname=STR, source=STR,
                           interval_seconds={"type": "integer", "minimum": 10, "maximum": 604800},
                           severity={"type": "integer", "minimum": 1, "maximum": 5, "default": 4},
                           comment=STR, reason=STR),
    "ConfigChange": obj(("id", "changed_at", "changed_by", "operation", "table_name", "record_id"),
                        id=INT, changed_at=STR, changed_by=STR, operation={"enum": ["CREATE", "UPDATE", "DELETE"]},
                        table_name=STR, record_id=STR, old_values=nullable(ANY_OBJECT), new_values=nullable(ANY_OBJECT),
                        reason=STR, correlation_id=STR),
    "User": obj(("id", "username", "role", "is_active"), id=INT, username=STR, role={"enum": list(ROLES)},
                is_active=BOOL, created_at=nullable(STR), last_login_at=nullable(STR)),
    "NewUser": obj(("username", "password"), username=STR, password={"type": "string", "minLength": 12},
                   role={"enum": list(ROLES)}, reason=STR),
    "ApiKey": obj(("id", "name", "prefix", "scopes"), id=INT, name=STR, prefix=STR,
                  scopes={"type": "array", "items": {"enum": list(SCOPES)}}, created_at=nullable(STR),
                  created_by=STR, expires_at=nullable(STR), revoked_at=nullable(STR), last_used_at=nullable(STR)),
    "Rule": obj(("id", "match_type", "priority", "prod_handling", "dev_handling", "team_assignment"),
                id=INT, name=STR, description=STR, match_string=nullable(STR), trap_oid=nullable(STR),
                clear_match_string={**nullable(STR), "description": "the clear pattern (same match_type; docs/rules.md)"},
                clear_trap_oid={**nullable(STR), "description": "an oid_prefix rule's clear: traps under it clear"},
                syslog_severity=nullable(INT), match_type={"enum": list(MATCH_TYPES)}, priority=INT,
                prod_handling=HANDLING, dev_handling=HANDLING, team_assignment=STR, moog_severity=INT, is_active=BOOL,
                problem={**nullable(STR), "description": "why a stored rule is invalid (docs/rules.md), else null"}),
    "RuleFields": {"type": "object", "description": "Any of the rule's fields (create: prod_handling, dev_handling, "
                   "team_assignment and one of match_string/trap_oid are required), and an optional reason."},
    "Setting": obj(("key", "value"), key=STR, value={}, default={}, description=STR),
    "DeadLetter": obj(("id", "kind", "ref_id", "reason", "state"), id=INT, kind={"enum": ["event", "alert"]},
                      ref_id=STR, reason=STR, error=STR, attempts=INT, state={"enum": ["waiting", "replayed", "poison"]},
                      host=nullable(STR), message=nullable(STR), rule_id=nullable(INT), rule_name=nullable(STR),
                      payload={}),
    "Alert": obj(("id", "signature", "state", "flapping", "hostname", "occurrences", "first_seen", "last_seen"),
                  id=INT, signature=STR, kind=STR, state={"enum": ["open", "cleared"]}, flapping=BOOL,
                  flapping_since=nullable(TIME), rule_id=nullable(INT), rule_name=STR, hostname=STR, key=STR, team=STR,
                  severity=INT, environment=STR, description=STR, occurrences=INT, first_seen=TIME, last_seen=TIME,
                  changed_at=TIME, last_sent_at=nullable(TIME), last_sent_state=STR),
    "AlertPage": obj(("alerts", "pagination"), alerts={"type": "array", "items": ref("Alert")},
                     pagination=obj(("limit", "total", "next_cursor"), limit=INT, total=INT, next_cursor=nullable(STR))),
    "Delivery": obj(("id", "state", "attempts"), id=STR, state={"enum": ["pending", "sending", "delivered", "dead"]},
                    severity={**INT, "description": "0: Moogsoft's clear"}, attempts=INT, last_status=nullable(INT),
                    last_error=STR, decision=STR, created_at=TIME, delivered_at=nullable(TIME)),
    "AlertDetail": {"allOf": [ref("Alert"), obj(
        ("events", "events_total", "deliveries", "deliveries_total"),
        events={"type": "array", "items": ref("EventAudit"), "description": "the newest 50, without the stored event"},
        events_total=INT, deliveries={"type": "array", "items": ref("Delivery"), "description": "the newest 20"},
        deliveries_total=INT)]},
    "Matcher": obj(("field", "op", "value"), field={"enum": list(SILENCE_FIELDS)}, op={"enum": list(SILENCE_OPS)},
                   value=STR),
    "Silence": obj(("id", "matchers", "starts_at", "comment", "created_by", "state"),
                   id=INT, matchers={"type": "array", "items": ref("Matcher")}, starts_at=TIME, ends_at=nullable(TIME),
                   schedule=nullable(obj(("rrule", "duration_seconds", "time_zone"), rrule=STR, duration_seconds=INT,
                                         time_zone=STR)),
                   comment=STR, created_by=STR, created_at=nullable(TIME), updated_at=nullable(TIME),
                   expired_at=nullable(TIME), state={"enum": list(SILENCE_STATES)},
                   window=nullable(obj(("starts_at", "ends_at"), starts_at=TIME, ends_at=TIME))),
    "SilenceFields": {"type": "object", "description": "matchers (all must hold), comment, and either starts_at "
                      "(default now) + ends_at, or schedule {rrule, duration_seconds, time_zone}; docs/suppression.md. "
                      "PUT: the fields to change (e.g. a later ends_at to extend)."},
    "SilenceAnswer": obj(("id", "message", "silence"), id=INT, message=STR, silence=ref("Silence")),
    "Selection": {"type": "object", "description": '{"ids": [..]} or {"filter": {"kind", "reason", "state", "since"}}, '
                  'plus optional "reason" (and "force" for replay).'},
}


MEANING = {200: "OK", 201: "created", 400: "malformed request or filter", 401: "no, unknown or revoked API key",
           403: "the key's scope or the user's role is not enough", 404: "no such thing",
           409: "already exists, or conflicts with the current state",
           413: "body too large", 415: "not JSON", 422: "a value is invalid", 429: "rate limited (Retry-After)",
           503: "backlog full or dependency down (Retry-After)"}


def op(summary: str, scope: str | None, ok: tuple[int, dict] | None = None, *, params=(), body: dict | None = None,
       errors=(400, 401, 403), error_schema: dict | None = None) -> dict:
    status, schema = ok or (200, ANY_OBJECT)
    responses = {str(status): {"description": MEANING[status], "content": {"application/json": {"schema": schema}}}}
    for code in (errors if scope else ()):
        responses[str(code)] = {"description": MEANING[code],
                                "content": {"application/json": {"schema": error_schema or ref("Error")}}}
    operation = {"summary": summary, "responses": responses,
                 "parameters": [{"name": n, "in": where, "required": where == "path", "schema": s} for n, where, s in params]}
    if scope:
        operation["security"] = [{"ApiKey": []}, {"Bearer": []}, {"Session": []}]
        operation["summary"] = f"{summary} Needs the `{scope}` scope (API key) or role (logged-in user)."
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def path(name: str, schema=STR) -> tuple:
    return (name, "path", schema)


def query(*names: str) -> list[tuple]:
    return [(n, "query", INT if n in ("page", "limit", "rule_id") else STR) for n in names]


W = (400, 401, 403, 404, 409, 422)  # errors a change may answer
INGEST = ("Accept one event, a JSON array of events, or NDJSON. 200 means every accepted event will be processed "
          "or dead-lettered; see docs/ingest.md. Answered ahead of the Flask app, in v2.5's body shape.")
INGEST_ERRORS = (400, 401, 403, 413, 415, 429, 503)

PATHS = {
    "/health": {"get": op("Redis and database reachability (no authentication).", None,
                          (200, obj(("status",), status=STR, redis=STR, database=STR)))},
    "/metrics": {"get": op("Prometheus metrics, text format (no authentication).", None,
                           (200, {"type": "string"}))},
    "/api/v2/ingest": {"post": op(INGEST, "ingest", body=ANY_OBJECT, errors=INGEST_ERRORS, error_schema=ref("IngestError"))},
    "/ingest": {"post": op("v2.5's ingest path; the same as POST /api/v2/ingest.", "ingest",
                           body=ANY_OBJECT, errors=INGEST_ERRORS, error_schema=ref("IngestError"))},
    "/api/v2/webhooks/alertmanager": {"post": op("A Prometheus Alertmanager webhook: each alert becomes an event.", "ingest",
                                                 body=ANY_OBJECT, errors=INGEST_ERRORS, error_schema=ref("IngestError"))},
    "/api/v2/metrics": {"get": op("Ingest rates (events/min): now, 15 min, 1 h averages, 24 h chart.", "read", (200, ref("Metrics")))},
    "/api/v2/slo": {"get": op("Service-level objectives from MUTT's own counters.", "read", (200, ref("SloReport")))},
    "/api/v2/audit-logs": {"get": op("Event audit search, newest first: every event the alerter decided on (matched, "
                                     "silenced, duplicate, unhandled ...). `host`: part of the hostname, any case "
                                     "(`host_match=prefix`, or 1-2 characters: its start); `hostname`: the exact name; "
                                     "`q`: words of the message, all of them (PostgreSQL full text: `\"a phrase\"`, `or`, "
                                     "`-word`); `decision`: any case, `dead_lettered` lists the events that are dead "
                                     "letters (with `dead_letter_id` and `reason`); `since`: 15m, 1h, 24h or 7d; "
                                     "`start`/`end`: ISO 8601, on the received time. A bad filter is a 400 naming it; a "
                                     "search longer than 10 s on PostgreSQL is a 400 asking to narrow it. A page holds at "
                                     "most `limit` rows (200) and stops before "
                                     "their JSON passes `pagination.max_bytes` (1 MiB): then `truncated` is true and "
                                     "`?offset=<next_offset>` continues. Each row carries its `outcome`: what became of the "
                                     "event (delivered, retrying, dead letter, silenced, duplicate, ...).", "read",
                                     (200, page_of("logs", "EventAudit")),
                                     params=query("host", "host_match", "hostname", "q", "rule_id", "decision", "since",
                                                  "correlation_id", "start", "end", "start_date", "end_date", "page",
                                                  "limit", "offset"))},
    "/api/v2/config-audit": {"get": op("Config audit search, newest first. `since`: 15m, 1h, 24h or 7d.", "read",
                                       (200, page_of("changes", "ConfigChange")),
                                       params=query("changed_by", "table_name", "record_id", "operation", "since", "start_date",
                                                     "end_date", "page", "limit", "offset"))},
    "/api/v2/audit": {"get": op("The config audit under v2.5's name and shape (rows in `logs`).", "read",
                                (200, page_of("logs", "ConfigChange")),
                                params=query("changed_by", "table_name", "record_id", "operation", "since", "start_date",
                                             "end_date", "page", "limit", "offset"))},
    "/api/v2/config/history": {"get": op("The runtime settings' changes, newest first (v2.5's path; rows in `history`).", "read",
                                         (200, page_of("history", "ConfigChange")), params=query("page", "limit", "offset"))},
    "/api/v2/version": {"get": op("The API's version; /api/v1/version answers v2.5's (no key needed).", None,
                                  (200, obj(("current_version",), current_version=STR, default_version=STR,
                                            supported_versions={"type": "array", "items": STR},
                                            version_history={"type": "object"})))},
    "/api/v2/users": {
        "get": op("List users.", "admin", (200, obj(("users",), users={"type": "array", "items": ref("User")}))),
        "post": op("Create a user.", "admin", (201, ref("User")), body=ref("NewUser"), errors=W),
    },
    "/api/v2/users/{user_id}": {"put": op("Change a user's role or enable/disable them.", "admin", (200, ref("User")),
                                          params=[path("user_id", INT)], errors=W,
                                          body=obj((), role={"enum": list(ROLES)}, is_active=BOOL, reason=STR))},
    "/api/v2/api-keys": {
        "get": op("List API keys (never the secrets).", "admin",
                  (200, obj(("api_keys",), api_keys={"type": "array", "items": ref("ApiKey")}))),
        "post": op("Create an API key; the answer's `key` is the only time the secret is shown.", "admin",
                   (201, {"allOf": [ref("ApiKey"), obj(("key",), key=STR)]}), errors=W,
                   body=obj(("name", "scopes"), name=STR, scopes={"type": "array", "items": {"enum": list(SCOPES)}}, reason=STR)),
    },
    "/api/v2/api-keys/{key_id}": {"delete": op("Revoke an API key.", "admin", (200, ref("ApiKey")),
                                               params=[path("key_id", INT)], errors=W)},
    "/api/v2/rules": {
        "get": op("List rules (priority, id).", "read", (200, obj(("rules",), rules={"type": "array", "items": ref("Rule")}))),
        "post": op("Create a rule.", "operator", (201, ANY_OBJECT), body=ref("RuleFields"), errors=W),
    },
    "/api/v2/rules/{rule_id}": {
        "get": op("One rule.", "read", (200, ref("Rule")), params=[path("rule_id", INT)], errors=(401, 403, 404)),
        "put": op("Change a rule's fields.", "operator", params=[path("rule_id", INT)], body=ref("RuleFields"), errors=W),
        "delete": op("Delete a rule (soft: history stays readable).", "operator", params=[path("rule_id", INT)], errors=W),
    },
    "/api/v2/rules/test": {"post": op("Dry run: which rule an event would match, and the decision, without saving "
                                      "(with `rule`: as if that rule were saved; with ?last=N: over the N most recent events).",
                                      "read", params=[("last", "query", INT)],
                                      body=obj((), event=ANY_OBJECT, rule=ref("RuleFields")), errors=W)},
    "/api/v2/dev-hosts": {
        "get": op("Development hosts.", "read", (200, obj(("hosts",), hosts={"type": "array", "items": obj(("hostname",), hostname=STR)}))),
        "post": op("Add a development host.", "operator", (201, ANY_OBJECT), body=obj(("hostname",), hostname=STR, reason=STR), errors=W),
    },
    "/api/v2/dev-hosts/{hostname}": {"delete": op("Remove a development host.", "operator", params=[path("hostname")], errors=W)},
    "/api/v2/teams": {
        "get": op("Device teams: a host's team is paged for its alerts instead of the rule's team.", "read",
                  (200, obj(("teams",), teams={"type": "array",
                                               "items": obj(("hostname", "team_assignment"), hostname=STR, team_assignment=STR)}))),
        "post": op("Assign a host to a team.", "operator", (201, ANY_OBJECT),
                   body=obj(("hostname", "team_assignment"), hostname=STR, team_assignment=STR, reason=STR), errors=W),
    },
    "/api/v2/teams/{hostname}": {
        "put": op("Change a host's team.", "operator", params=[path("hostname")],
                  body=obj(("team_assignment",), team_assignment=STR, reason=STR), errors=W),
        "delete": op("Remove a host's team assignment.", "operator", params=[path("hostname")], errors=W),
    },
    "/api/v2/alerts": {"get": op("Alerts, open first, then the most recently seen. `state`: open, cleared or flapping "
                                 "(the flag, in any state); `host`: a name, or its start followed by `*`, any case; "
                                 "`since`: last seen in the last 15m, 1h, 24h or 7d; `limit` at most 200; "
                                 "`?cursor=<pagination.next_cursor>` continues (null after the "
                                 "last page).", "read", (200, ref("AlertPage")),
                                 params=query("state", "host", "rule_id", "since", "limit", "cursor"))},
    "/api/v2/alerts/{alert_id}": {"get": op("One alert with its newest events (audit rows) and its deliveries to "
                                            "Moogsoft (outbox rows with its signature).", "read", (200, ref("AlertDetail")),
                                            params=[path("alert_id", INT)], errors=(401, 403, 404))},
    "/api/v2/silences": {
        "get": op("Silences (maintenance windows), newest first; ?state=active|pending|expired.", "read",
                  (200, obj(("silences", "count"), silences={"type": "array", "items": ref("Silence")}, count=INT)),
                  params=query("state")),
        "post": op("Create a silence: matching events are audited `silenced` and not forwarded (within 1 s on "
                   "every worker). created_by is the caller.", "operator", (201, ref("SilenceAnswer")),
                   body=ref("SilenceFields"), errors=W),
    },
    "/api/v2/silences/{silence_id}": {
        "get": op("One silence.", "read", (200, ref("Silence")), params=[path("silence_id", INT)], errors=(401, 403, 404)),
        "put": op("Change a silence (e.g. extend it).", "operator", (200, ref("SilenceAnswer")),
                  params=[path("silence_id", INT)], body=ref("SilenceFields"), errors=W),
        "delete": op("Expire a silence now (it is kept; nothing is replayed).", "operator", (200, ref("SilenceAnswer")),
                     params=[path("silence_id", INT)], errors=W),
    },
    "/api/v2/heartbeats": {
        "get": op("Heartbeats: sources that must be heard from every interval_seconds, each with when it was last "
                  "heard from and whether it is quiet (an alert open).", "read",
                  (200, obj(("heartbeats",), heartbeats={"type": "array", "items": ref("Heartbeat")}))),
        "post": op("Watch a source: exactly one of hostname (a device) or source (an API key's or listener source's "
                   "name), interval_seconds (10 s to a week), severity (1-5, default 4), comment (required).",
                   "operator", (201, obj(("heartbeat",), heartbeat=ref("Heartbeat"))), body=ref("HeartbeatFields"),
                   errors=W),
    },
    "/api/v2/heartbeats/{heartbeat_id}": {
        "get": op("One heartbeat.", "read", (200, obj(("heartbeat",), heartbeat=ref("Heartbeat"))),
                  params=[path("heartbeat_id", INT)], errors=(401, 403, 404)),
        "put": op("Change a heartbeat's interval_seconds, severity or comment.", "operator",
                  (200, obj(("heartbeat",), heartbeat=ref("Heartbeat"))), params=[path("heartbeat_id", INT)],
                  body=ref("HeartbeatFields"), errors=W),
        "delete": op("Stop watching a source (an alert it raised stays open in Moogsoft).", "operator",
                     params=[path("heartbeat_id", INT)], errors=W),
    },
    "/api/v2/dead-letters": {"get": op("Dead letters (without payloads; host, message and rule taken from them), the "
                                       "most recent failure first. `since`: failed in the last 15m, 1h, 24h or 7d.", "read",
                                       (200, page_of("dead_letters", "DeadLetter")),
                                       params=query("kind", "reason", "state", "since", "page", "limit"))},
    "/api/v2/dead-letters/{letter_id}": {"get": op("One dead letter with its payload.", "read", (200, ref("DeadLetter")),
                                                   params=[path("letter_id", INT)], errors=(401, 403, 404))},
    "/api/v2/dead-letters/replay": {"post": op("Replay dead letters by ids or filter.", "operator", body=ref("Selection"), errors=W)},
    "/api/v2/dead-letters/purge": {"post": op("Delete dead letters by ids or filter (audited).", "operator",
                                              body=ref("Selection"), errors=W)},
    "/api/v2/config": {"get": op("Every runtime setting with its value, default and meaning.", "read",
                                 (200, obj(("settings",), settings={"type": "array", "items": ref("Setting")})))},
    "/api/v2/config/{key}": {
        "get": op("One runtime setting.", "read", (200, ref("Setting")), params=[path("key")], errors=(401, 403, 404)),
        "put": op("Change a runtime setting (applies everywhere within a second).", "admin", (200, ref("Setting")),
                  params=[path("key")], body=obj(("value",), value={}, reason=STR), errors=W),
        "delete": op("Reset a runtime setting to its default.", "admin", (200, ref("Setting")), params=[path("key")], errors=W),
    },
    "/api/v2/openapi.json": {"get": op("This document (no authentication).", None)},
}


def _tagged(paths: dict) -> dict:
    """Each operation tagged with its resource (the path's first segment after /api/v2)."""
    out = {}
    for name, operations in paths.items():
        parts = name.removeprefix("/api/v2/").strip("/").split("/")
        tag = parts[0] if name.startswith("/api/v2/") else "health"
        out[name] = {method: {**operation, "tags": [tag]} for method, operation in operations.items()}
    return out


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MUTT REST API", "version": API_VERSION,
            "description": f"MUTT {__version__}. Every path under /api/v2 is also served under /api/v1 "
                           "(deprecated: answers carry X-API-Deprecated: true); there /version, /config, /config/history, /audit "
                           "and /audit-logs answer in v2.5's shapes (docs/web-ui.md, \"v2.5 compatibility\"). "
                           "Every answer under /api carries "
                           "X-API-Version. Errors are {\"error\", \"correlation_id\"}; API keys only in a header. "
                           "Numbers are strict: whole numbers are ASCII digits (no '²', '٣', '1e3' or '1_000') within "
                           "their bounds, path ids at most what their column holds (2^31-1, dead letters and alerts 2^63-1; a "
                           "larger one is a 404); JSON bodies may not hold NaN, "
                           "Infinity, numbers that overflow a float (1e400) or NUL characters, nor may the path, query "
                           "or form fields: each is a 400 naming the value, never a 500.",
        },
        "paths": _tagged(PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "Bearer": {"type": "http", "scheme": "bearer"},
                "Session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "A logged-in user's session; writes need the X-CSRFToken header."},
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
