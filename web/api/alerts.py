"""/api/v2/alerts: the alerts, open first, and one alert with its events and deliveries (domain:
mutt_app/alerting/alert_queries.py). A bad filter answers 400 and an unknown id 404, through
web/errors.py."""

from __future__ import annotations

from flask import jsonify, request

from mutt_app.alerting import alert_queries
from mutt_app.storage.db import session_scope
from web.api import bp
from web.security import api_auth


@bp.get("/alerts")
@api_auth("read")
def list_alerts():
    with session_scope() as session:
        page = alert_queries.search(session, request.args)
    return jsonify(page.to_dict())


@bp.get("/alerts/<bigint:alert_id>")
@api_auth("read")
def show_alert(alert_id: int):
    with session_scope() as session:
        return jsonify(alert_queries.detail(session, alert_id))
