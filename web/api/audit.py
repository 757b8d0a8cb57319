"""GET /api/v2/audit-logs (event audit) and GET /api/v2/config-audit (who changed what).
Under /api/v1, v2.5's shapes: its row fields, its table names, its date filter on event time."""

from functools import partial

from flask import jsonify, request

from mutt_app.alerting import event_outcomes
from mutt_app.audit import queries, v25
from mutt_app.storage.db import session_scope
from web.api import API_VERSION, bp, serving_v25
from web.security import api_auth


def _search(search, name: str, args=None, shape=None, *, outcomes: bool = False):
    with session_scope() as session:
        rows, page = search(session, request.args if args is None else args)  # a bad filter (QueryError) answers 400
        if outcomes:
            event_outcomes.attach(session, rows)  # what became of each event: delivered, dead letter, ...
    return jsonify({name: [shape(row) for row in rows] if shape else rows, "pagination": page.to_dict()})


@bp.get("/audit-logs")
@api_auth("read")
def audit_logs():
    if serving_v25():
        return _search(partial(queries.search_events, by_event_time=True, v25=True), "logs", shape=v25.event_row)
    return _search(queries.search_events, "logs", outcomes=True)


@bp.get("/config-audit")
@api_auth("read")
def config_audit():
    return _search(queries.search_changes, "changes")


@bp.get("/audit")
@api_auth("read")
def config_audit_v25():
    """v2.5's name for the config audit (its answer called the rows "logs")."""
    if serving_v25():
        return _search(queries.search_changes, "logs", v25.change_filters(request.args), v25.change_row)
    return _search(queries.search_changes, "logs")


@bp.get("/config/history")
@api_auth("read")
def config_history():
    """The runtime settings' changes, newest first (v2.5's path; under /api/v1 in its shape)."""
    args = {**request.args, "table_name": "runtime_settings"}
    return _search(queries.search_changes, "history", args, v25.change_row if serving_v25() else None)


@bp.get("/version")
def version():
    """The API's version, no key needed (as v2.5's /api/v1/version, whose answer /api/v1 gives)."""
    if serving_v25():
        return jsonify(v25.VERSION)
    return jsonify({"current_version": API_VERSION, "default_version": API_VERSION,
                    "supported_versions": [API_VERSION, "2.5"],
                    "version_history": {API_VERSION: "MUTT 3's API (/api/v2)", "2.5": "v2.5's shapes under /api/v1 (deprecated)"}})
