"""/api/v2/heartbeats: sources that must be heard from every interval_seconds (read scope to look,
operator to change; every change audited). Domain: mutt_app/operations/heartbeats.py."""

from __future__ import annotations

from flask import jsonify

from mutt_app.operations import heartbeats
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope
from web.api import bp
from web.api.rules import change, json_object
from web.errors import api_error
from web.security import api_auth


def _shown(rows: list) -> list[dict]:
    return [heartbeats.to_dict(row, seen) for row, seen in zip(rows, heartbeats.last_seen(redis_client.get(), rows), strict=True)]


def _answer(_session, row) -> dict:
    return {"heartbeat": _shown([row])[0]}


@bp.get("/heartbeats")
@api_auth("read")
def list_heartbeats():
    with session_scope() as session:
        return jsonify({"heartbeats": _shown(heartbeats.list_all(session))})


@bp.get("/heartbeats/<int:heartbeat_id>")
@api_auth("read")
def get_heartbeat(heartbeat_id: int):
    with session_scope() as session:
        return jsonify(_answer(session, heartbeats.get(session, heartbeat_id)))


@bp.post("/heartbeats")
@api_auth("operator")
def create_heartbeat():
    body = json_object()
    if body is None:
        return api_error(400, 'send {"hostname" or "source": "...", "interval_seconds": 300, "severity": 4, '
                              '"comment": "..."} as a JSON object')
    return change(heartbeats.create, body, body=body, status=201, answer=_answer)


@bp.put("/heartbeats/<int:heartbeat_id>")
@api_auth("operator")
def update_heartbeat(heartbeat_id: int):
    body = json_object()
    if body is None:
        return api_error(400, "send the fields to change (interval_seconds, severity, comment) as a JSON object")
    return change(heartbeats.update, heartbeat_id, body, body=body, answer=_answer)


@bp.delete("/heartbeats/<int:heartbeat_id>")
@api_auth("operator")
def remove_heartbeat(heartbeat_id: int):
    body = json_object(allow_empty=True)
    if body is None:
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    return change(heartbeats.remove, heartbeat_id, body=body,
                  answer=lambda _session, _none: {"message": f"heartbeat {heartbeat_id} removed"})
