"""/api/v2/dev-hosts: the development hosts (events from them use a rule's dev_handling)."""

from __future__ import annotations

from flask import jsonify

from mutt_app.rules import host_store
from mutt_app.storage.db import session_scope
from web.api import bp
from web.api.rules import change, json_object
from web.errors import api_error
from web.security import api_auth


def _hosts(session, _result=None) -> dict:
    return {"hosts": host_store.list_dev_hosts(session)}


@bp.get("/dev-hosts")
@api_auth("read")
def list_dev_hosts():
    with session_scope() as session:
        return jsonify(_hosts(session))


@bp.post("/dev-hosts")
@api_auth("operator")
def add_dev_host():
    body = json_object()
    if body is None or "hostname" not in body:
        return api_error(400, 'send {"hostname": "...", "reason": "..."}')
    return change(host_store.add_dev_host, body.pop("hostname"), body=body, status=201, answer=_hosts)


@bp.delete("/dev-hosts/<path:hostname>")
@api_auth("operator")
def remove_dev_host(hostname: str):
    body = json_object(allow_empty=True)
    if body is None:
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    return change(host_store.remove_dev_host, hostname, body=body, answer=_hosts)
