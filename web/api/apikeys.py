"""/api/v2/api-keys (admin): list, create (the secret is in that one answer only), revoke."""

from flask import jsonify
from sqlalchemy import select

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ApiKey
from web.api import bp
from web.api.users import audit_kwargs, body
from web.errors import api_error
from web.security import api_auth


def key_to_dict(row: ApiKey) -> dict:
    def stamp(value):
        return value.isoformat() if value else None

    return {"id": row.id, "name": row.name, "prefix": row.prefix, "scopes": row.scopes.split(","),
            "created_at": stamp(row.created_at), "created_by": row.created_by, "expires_at": stamp(row.expires_at),
            "revoked_at": stamp(row.revoked_at), "last_used_at": stamp(row.last_used_at)}


@bp.get("/api-keys")
@api_auth("admin")
def list_api_keys():
    with session_scope() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        return jsonify({"api_keys": [key_to_dict(row) for row in rows]})


@bp.post("/api-keys")
@api_auth("admin")
def create_api_key():
    data = body()
    if data is None:
        return api_error(400, "send a JSON object: {name, scopes}")
    try:
        with session_scope() as session:  # a refused key (ApiKeyError) answers 422: web/errors.py
            row, secret = api_keys.create(session, str(data.get("name") or ""), data.get("scopes") or [], **audit_kwargs(data))
            result = key_to_dict(row)
    except (TypeError, AttributeError):
        return api_error(422, "scopes must be a list of names")
    return jsonify({**result, "key": secret}), 201


@bp.delete("/api-keys/<int:key_id>")
@api_auth("admin")
def revoke_api_key(key_id: int):
    data = body() or {}
    with session_scope() as session:  # no such key (NoSuchKey) answers 404: web/errors.py
        row = api_keys.revoke(session, key_id, **audit_kwargs(data))
        result = key_to_dict(row)
    return jsonify(result)
