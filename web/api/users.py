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
    try:
        with session_scope() as session:
            user = users.create(session, str(data.get("username") or ""), str(data.get("password") or ""),
                                str(data.get("role") or "viewer"), **audit_kwargs(data))
            session.flush()
            result = users.to_dict(user)
    except users.UserError as error:
        status = 409 if "already exists" in str(error) else 422
        return api_error(status, str(error))
    return jsonify(result), 201


@bp.put("/users/<int:user_id>")
@api_auth("admin")
def update_user(user_id: int):
    data = body()
    if data is None or not ({"role", "is_active"} & data.keys()):
        return api_error(400, "send a JSON object with role and/or is_active")
    if "is_active" in data and not isinstance(data["is_active"], bool):
        return api_error(422, "is_active must be true or false")
    try:
        with session_scope() as session:
            user = session.get(users.User, user_id)
            if user is None:
                return api_error(404, f"no user with id {user_id}")
            users.update(session, user, role=data.get("role"), is_active=data.get("is_active"), **audit_kwargs(data))
            result = users.to_dict(user)
    except users.UserError as error:
        return api_error(409 if isinstance(error, users.LastAdmin) else 422, str(error))
    return jsonify(result)
