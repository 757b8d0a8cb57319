"""/api/v2/rules: the alert rules (read scope to look, operator to change; every change audited),
and POST /rules/test, the dry run. v2.5's shapes: {"rules": [...]}, POST answers 201."""

from __future__ import annotations

from flask import g, jsonify, request

from mutt_app.alerting import dry_run
from mutt_app.core import params
from mutt_app.rules import rule_store
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope
from web.api import bp
from web.errors import api_error
from web.security import actor, api_auth


def json_object(allow_empty: bool = False) -> dict | None:
    """The request's JSON object body, or None when it is not one."""
    if allow_empty and not request.data:
        return {}
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def change(action, *args, status: int = 200, body: dict | None = None, answer=None):
    """Run a rulebook change with the caller as actor. A refused rule (RuleError) answers 422 and
    one already there (AlreadyExists) 409 through web/errors.py; a missing one 404 here."""
    body = body or {}
    reason = body.pop("reason", "") if isinstance(body.get("reason", ""), str) else None
    if reason is None:
        return api_error(400, "reason must be a string")
    try:
        with session_scope() as session:
            result = action(session, *args, actor=actor(), reason=reason,
                            correlation_id=getattr(g, "correlation_id", ""))
            payload = answer(session, result)
    except LookupError as error:
        return api_error(404, str(error).strip("'\""))
    return jsonify(payload), status


@bp.get("/rules")
@api_auth("read")
def list_rules():
    include_deleted = request.args.get("include_deleted", "").lower() in ("1", "true", "yes")
    with session_scope() as session:
        rules = [rule_store.rule_to_dict(rule) for rule in rule_store.list_rules(session, include_deleted)]
    return jsonify({"rules": rules})


@bp.get("/rules/<int:rule_id>")
@api_auth("read")
def get_rule(rule_id: int):
    try:
        with session_scope() as session:
            return jsonify(rule_store.rule_to_dict(rule_store.get_rule(session, rule_id)))
    except LookupError as error:
        return api_error(404, str(error).strip("'\""))


@bp.post("/rules")
@api_auth("operator")
def create_rule():
    body = json_object()
    if body is None:
        return api_error(400, "send the rule as a JSON object")
    return change(rule_store.create_rule, body, body=body,
                  status=201, answer=lambda _s, rule: {"id": rule.id, "message": f"rule {rule.id} created",
                                                       "rule": rule_store.rule_to_dict(rule)})


@bp.put("/rules/<int:rule_id>")
@api_auth("operator")
def update_rule(rule_id: int):
    body = json_object()
    if body is None:
        return api_error(400, "send the fields to change as a JSON object")
    return change(rule_store.update_rule, rule_id, body, body=body,
                  answer=lambda _s, rule: {"message": f"rule {rule.id} updated", "rule": rule_store.rule_to_dict(rule)})


@bp.delete("/rules/<int:rule_id>")
@api_auth("operator")
def delete_rule(rule_id: int):
    body = json_object(allow_empty=True)
    if body is None:
        return api_error(400, 'send no body or a JSON object {"reason": "..."}')
    return change(rule_store.delete_rule, rule_id, body=body,
                  answer=lambda _s, rule: {"message": f"rule {rule.id} deleted", "id": rule.id})


@bp.post("/rules/test")
@api_auth("read")
def test_rule():
    """Dry run: {"event": {...}, "rule": {...}?} -> what MUTT would do, without doing it.
    With ?last=N: over the N most recent audited and unhandled events instead of "event"."""
    body = json_object()
    if body is None:
        return api_error(400, 'send a JSON object {"event": {...}, "rule": {... optional}}')
    rule_fields = body.get("rule")
    if rule_fields is not None and not isinstance(rule_fields, dict):
        return api_error(400, "rule must be a JSON object")
    last = request.args.get("last")
    try:
        with session_scope() as session:
            if last is not None:
                count = params.whole_number(last, "last", minimum=1, maximum=params.MAX_INT32)
                results, available = dry_run.for_recent_events(session, count, rule_fields, redis_client.get())
                answer = {"results": results, "count": len(results)}
                if len(results) < available:
                    answer["stopped"] = (f"stopped after {dry_run.TIME_LIMIT_SECONDS:g} s: {len(results)} of the "
                                         f"{available} most recent events tried; ask for fewer or simplify the rule")
                return jsonify(answer)
            if "event" not in body:
                return api_error(400, 'send the event to test as {"event": {...}} (or use ?last=N)')
            return jsonify(dry_run.for_event(session, body["event"], rule_fields))
    except LookupError as error:
        return api_error(404, str(error).strip("'\""))
