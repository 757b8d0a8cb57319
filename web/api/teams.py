"""/api/v2/teams: the device teams. A host's team is paged for its alerts instead of the matching
rule's team, and gets its meta-alerts."""

from __future__ import annotations

from functools import partial

from flask import jsonify

from mutt_app.rules import host_store
from mutt_app.storage.db import session_scope
from web.api import bp
from web.api.rules import change, json_object
from web.errors import api_error
from web.security import api_auth


def _teams(session, _result=None) -> dict:
    return {"teams": host_store.list_teams(session)}


@bp.get("/teams")
@api_auth("read")
def list_teams():
    with session_scope() as session:
        return jsonify(_teams(session))


@bp.post("/teams")
@api_auth("operator")
def add_team():
    body = json_object()
    if body is None or "hostname" not in body or "team_assignment" not in body:
        return api_error(400, 'send {"hostname": "...", "team_assignment": "...", "reason": "..."}')
    return change(partial(host_store.set_team, must_exist=False), body.pop("hostname"), body.pop("team_assignment"),
                  body=body, status=201, answer=_teams)


@bp.put("/teams/<path:hostname>")
@api_auth("operator")
def update_team(hostname: str):
    body = json_object()
    if body is None or "team_assignment" not in body:
        return api_error(400, 'send {"team_assignment": "...", "reason": "..."}')
    return change(partial(host_store.set_team, must_exist=True), hostname, body.pop("team_assignment"),
                  body=body, answer=_teams)


@bp.delete("/teams/<path:hostname>")
@api_auth("operator")
def remove_team(hostname: str):
    body = json_object(allow_empty=True)
    if body is None:
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    return change(host_store.remove_team, hostname, body=body, answer=_teams)
