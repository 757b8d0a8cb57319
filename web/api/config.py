"""/api/v2/config: runtime settings (read scope to look, admin to change; every change audited)."""

from __future__ import annotations

from flask import g, jsonify, request

from mutt_app import dynconfig
from mutt_app.storage.db import session_scope
from web.api import bp, serving_v25
from web.errors import api_error
from web.security import actor, api_auth


@bp.get("/config")
@api_auth("read")
def list_settings():
    settings = dynconfig.describe()
    if serving_v25():  # v2.5's shape: {"config": {key: value}}
        return jsonify({"config": {item["key"]: item["value"] for item in settings}})
    return jsonify({"settings": settings})


@bp.get("/config/<key>")
@api_auth("read")
def get_setting(key: str):
    try:
        return jsonify(dynconfig.describe(key)[0])
    except dynconfig.SettingError as error:
        return api_error(404, str(error))


def _change(key: str, raw, reason: str):
    with session_scope() as session:  # a refused value (SettingError) answers 422: web/errors.py
        old, _new = dynconfig.change(session, key, raw, actor=actor(), reason=reason,
                                    correlation_id=getattr(g, "correlation_id", ""))
    return jsonify({**dynconfig.describe(key)[0], "old": old})


def _reason(body: dict) -> str | None:
    reason = body.get("reason", request.args.get("reason", ""))
    return reason if isinstance(reason, str) else None


@bp.put("/config/<key>")
@api_auth("admin")
def put_setting(key: str):
    if key not in dynconfig.REGISTRY:
        return api_error(404, f"unknown setting {key!r}; GET /api/v2/config lists them")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "value" not in body:
        return api_error(400, 'send a JSON object {"value": ..., "reason": "..."}')
    if body["value"] is None:
        return api_error(422, "value must not be null; DELETE the setting to return it to its default")
    reason = _reason(body)
    if reason is None:
        return api_error(400, "reason must be a string")
    return _change(key, body["value"], reason)


@bp.delete("/config/<key>")
@api_auth("admin")
def delete_setting(key: str):
    if key not in dynconfig.REGISTRY:
        return api_error(404, f"unknown setting {key!r}; GET /api/v2/config lists them")
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    reason = _reason(body)
    if reason is None:
        return api_error(400, "reason must be a string")
    return _change(key, None, reason)
