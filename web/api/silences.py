"""/api/v2/silences: maintenance windows (read scope to look, operator to change; every change
in the config audit, the comment as why). DELETE expires a silence now; it is kept.
docs/suppression.md."""

from __future__ import annotations

from flask import g, jsonify, request

from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store
from web.api import bp
from web.api.rules import json_object
from web.errors import api_error
from web.security import actor, api_auth


def _correlation_id() -> str:
    return getattr(g, "correlation_id", "")


@bp.get("/silences")
@api_auth("read")
def list_silences():
    state = request.args.get("state") or None
    with session_scope() as session:
        rows = silence_store.list_silences(session, state)
        return jsonify({"silences": [silence_store.to_dict(row) for row in rows], "count": len(rows)})


@bp.get("/silences/<int:silence_id>")
@api_auth("read")
def get_silence(silence_id: int):
    with session_scope() as session:
        return jsonify(silence_store.to_dict(silence_store.get(session, silence_id)))


@bp.post("/silences")
@api_auth("operator")
def create_silence():
    body = json_object()
    if body is None:
        return api_error(400, "send the silence as a JSON object {matchers, starts_at, ends_at | schedule, comment}")
    with session_scope() as session:
        row = silence_store.create(session, body, actor=actor(), correlation_id=_correlation_id())
        answer = {"id": row.id, "message": f"silence {row.id} created", "silence": silence_store.to_dict(row)}
    return jsonify(answer), 201


@bp.put("/silences/<int:silence_id>")
@api_auth("operator")
def update_silence(silence_id: int):
    body = json_object()
    if body is None:
        return api_error(400, "send the fields to change as a JSON object (e.g. {\"ends_at\": ...} to extend)")
    with session_scope() as session:
        row = silence_store.update(session, silence_id, body, actor=actor(), correlation_id=_correlation_id())
        answer = {"id": row.id, "message": f"silence {row.id} updated", "silence": silence_store.to_dict(row)}
    return jsonify(answer)


@bp.delete("/silences/<int:silence_id>")
@api_auth("operator")
def expire_silence(silence_id: int):
    body = json_object(allow_empty=True)
    if body is None or not isinstance(body.get("reason", ""), str):
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    with session_scope() as session:
        row = silence_store.expire(session, silence_id, actor=actor(), reason=body.get("reason", ""),
                                   correlation_id=_correlation_id())
        answer = {"id": row.id, "message": f"silence {row.id} expired", "silence": silence_store.to_dict(row)}
    return jsonify(answer)
