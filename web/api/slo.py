"""GET /api/v2/slo: each SLO with target, actual, burn rate, error budget left and status."""

from datetime import UTC, datetime

from flask import jsonify

from mutt_app.operations import slo
from mutt_app.storage import redis_client
from web.api import bp
from web.security import api_auth


@bp.get("/slo")
@api_auth("read")
def slos():
    items = slo.report(redis_client.get())
    return jsonify({"timestamp": datetime.now(UTC).isoformat(), "status": slo.overall(items), "slos": items})
