"""/api/v2/users (admin): list, create, change role or enable/disable."""

from flask import g, jsonify, request

from mutt_app.access import users
from mutt_app.storage.db import session_scope
from web.api import bp
from web.errors import api_error
from web.security import actor, api_auth


def body() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def audit_kwargs(data: dict) -> dict:
    return {"actor": actor(), "reason": str(data.get("reason") or ""), "correlation_id": g.correlation_id}


@bp.get("/users")
@api_auth("admin")
def list_users():
    with session_scope() as session:
        return jsonify({"users": [users.to_dict(user) for user in users.list_all(session)]})


@bp.post("/users")
@api_auth("admin")
def create_user():
    data = body()
    if data is None:
        return api_error(400, "send a JSON object: {username, password, role}")
    with session_scope() as session:  # a refused user answers 422, one that exists 409: web/errors.py
        user = users.create(session, str(data.get("username") or ""), str(data.get("password") or ""),
                            str(data.get("role") or "viewer"), **audit_kwargs(data))
        session.flush()
        result = users.to_dict(user)
    return jsonify(result), 201


@bp.put("/users/<int:user_id>")
@api_auth("admin")
def update_user(user_id: int):
    data = body()
    if data is None or not ({"role", "is_active"} & data.keys()):
        return api_error(400, "send a JSON object with role and/or is_active")
    if "is_active" in data and not isinstance(data["is_active"], bool):
        return api_error(422, "is_active must be true or false")
    with session_scope() as session:  # no such user 404, the last admin 409, a refused role 422: web/errors.py
        user = users.get(session, user_id)
        users.update(session, user, role=data.get("role"), is_active=data.get("is_active"), **audit_kwargs(data))
        result = users.to_dict(user)
    return jsonify(result)
