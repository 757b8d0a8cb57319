"""/api/v2/dead-letters: list, inspect, replay and purge dead letters (domain: mutt_app/dead_letters/dlq.py,
mutt_app/remediation/replay.py).

A refused filter or selection (``dlq.DeadLetterError``) answers 400 through web/errors.py."""

from __future__ import annotations

from flask import g, jsonify, request

from mutt_app import handoff
from mutt_app.core import params
from mutt_app.dead_letters import dlq
from mutt_app.remediation import replay
from mutt_app.storage.db import session_scope
from web.api import bp
from web.errors import api_error
from web.security import actor, api_auth

MAX_IDS = dlq.MAX_SELECTED  # letters one replay or purge request may touch


def _int_arg(name: str, default: int) -> int:
    return params.whole_number(request.args.get(name), name, default=default, minimum=1, maximum=params.MAX_INT32)


@bp.get("/dead-letters")
@api_auth("read")
def list_dead_letters():
    with session_scope() as session:
        page = dlq.list_dead_letters(
            session, kind=request.args.get("kind") or None, reason=request.args.get("reason") or None,
            state=request.args.get("state") or None, page=_int_arg("page", 1), limit=_int_arg("limit", 50),
            since=request.args.get("since") or None,
        )
        items = [dlq.as_dict(letter, with_payload=False) for letter in page.items]
    return jsonify({"dead_letters": items,
                    "pagination": {"page": page.page, "limit": page.limit, "total": page.total, "pages": page.pages}})


@bp.get("/dead-letters/<bigint:letter_id>")
@api_auth("read")
def show_dead_letter(letter_id: int):
    with session_scope() as session:
        letter = dlq.get(session, letter_id)
        if letter is None:
            return api_error(404, f"no dead letter with id {letter_id}")
        return jsonify(dlq.as_dict(letter))


def _selection(session, body: dict) -> list[int]:
    """The ids a replay/purge request names: ``ids``, or a ``filter`` of kind/reason/state/since
    (``dlq.selected_ids``, as the UI and the CLI select)."""
    if "ids" in body:
        ids = body["ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise dlq.DeadLetterError("ids must be a non-empty list of dead-letter ids (integers)")
        if len(ids) > MAX_IDS:
            raise dlq.DeadLetterError(f"at most {MAX_IDS} dead letters at once; narrow the filter")
        return dlq.selected_ids(session, [params.record_id(i, "ids[]") for i in ids], limit=MAX_IDS)
    if isinstance(body.get("filter"), dict):
        unknown = set(body["filter"]) - set(dlq.FILTER_FIELDS)
        if unknown:
            raise dlq.DeadLetterError(f"unknown filter field(s) {', '.join(sorted(unknown))}; use {', '.join(dlq.FILTER_FIELDS)}")
        return dlq.selected_ids(session, where=dlq.Filter(**body["filter"]), limit=MAX_IDS)
    raise dlq.DeadLetterError('name the dead letters: {"ids": [...]} or {"filter": {"reason": ...}}')


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise dlq.DeadLetterError("send a JSON object")
    if not isinstance(body.get("reason", ""), str):
        raise dlq.DeadLetterError("reason must be a string")
    return body


@bp.post("/dead-letters/replay")
@api_auth("operator")
def replay_dead_letters():
    body = _body()
    with session_scope() as session:
        outcome = replay.replay(session, _selection(session, body), actor=actor(), reason=body.get("reason", ""),
                                force=body.get("force") is True, pipeline=handoff.replay_pipeline(), correlation_id=g.correlation_id)
    return jsonify({"replayed": outcome.replayed,
                    "skipped": [{"id": letter_id, "why": why} for letter_id, why in outcome.skipped.items()]})


@bp.post("/dead-letters/purge")
@api_auth("operator")
def purge_dead_letters():
    body = _body()
    with session_scope() as session:
        purged = dlq.purge(session, _selection(session, body), actor=actor(), reason=body.get("reason", ""),
                           correlation_id=g.correlation_id)
    return jsonify({"purged": purged})
