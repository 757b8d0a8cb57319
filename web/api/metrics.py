"""GET /api/v2/metrics: ingest rates now, over 15 min and 1 h, and a 24 h chart (v2.5's shape)."""

from flask import jsonify

from mutt_app.operations import dashboard
from mutt_app.storage import redis_client
from web.api import bp
from web.security import api_auth


@bp.get("/metrics")
@api_auth("read")
def metrics():
    return jsonify(dashboard.ingest_rates(redis_client.get()))
