"""GET /api/v2/audit-logs (event audit) and GET /api/v2/config-audit (who changed what)."""

from flask import jsonify, request

from mutt_app.audit import queries
from mutt_app.storage.db import session_scope
from web.api import bp
from web.security import api_auth


def _search(search, name: str):
    with session_scope() as session:
        rows, page = search(session, request.args)  # a bad filter (QueryError) answers 400: web/errors.py
    return jsonify({name: rows, "pagination": page.to_dict()})


@bp.get("/audit-logs")
@api_auth("read")
def audit_logs():
    return _search(queries.search_events, "logs")


@bp.get("/config-audit")
@api_auth("read")
def config_audit():
    return _search(queries.search_changes, "changes")


@bp.get("/audit")
@api_auth("read")
def config_audit_v25():
    """v2.5's name for the config audit (its answer called the rows "logs")."""
    return _search(queries.search_changes, "logs")
