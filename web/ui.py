"""The operators' pages. Views parse the form, call one domain function, render the outcome.

Roles: every logged-in user reads; operators change rules, dev hosts, teams and dead letters;
admins manage runtime settings, API keys and users. CSRFProtect guards every POST.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from flask import session as login_session
from flask.blueprints import BlueprintSetupState

from celeryconfig import QUEUES
from mutt_app import dynconfig, handoff
from mutt_app.access import api_keys as api_key_store
from mutt_app.access import users
from mutt_app.alerting import alert_queries, decide, dry_run, event_outcomes
from mutt_app.audit import queries
from mutt_app.core import params
from mutt_app.dead_letters import dlq
from mutt_app.errors import InvalidInput
from mutt_app.operations import dashboard as dash
from mutt_app.operations import heartbeats as heartbeat_store
from mutt_app.operations import status
from mutt_app.remediation import replay
from mutt_app.rules import host_store, rule_store, validation
from mutt_app.storage import redis_client, redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import HANDLINGS, MATCH_TYPES, ROLES, SCOPES, ApiKey
from mutt_app.suppression import silence_store
from mutt_app.suppression import silences as silence_rules
from web.auth import role_required, safe_next
from web.security import actor

bp = Blueprint("ui", __name__)


def not_found(error: LookupError):
    abort(404, str(error).strip("'\""))  # KeyError-style quotes off the message


def back(endpoint: str, anchor: str | None = None):
    """Post-redirect-get to where the operator was: the page the form was on (its filters and
    page number kept, when the form says so with ``next``), scrolled to the row acted on."""
    target = safe_next(request.form.get("next")) or url_for(endpoint)
    return redirect(target + (f"#{anchor}" if anchor else ""))


def _audit_kwargs() -> dict:
    return {"actor": actor(), "reason": request.form.get("reason", "").strip(), "correlation_id": g.correlation_id}


@bp.get("/")
@role_required("viewer")
def dashboard():
    return render_template("ui/dashboard.html", **_dashboard(ask_workers=True))


@bp.get("/dashboard/live")
@role_required("viewer")
def dashboard_live():
    """The dashboard's live part alone (tiles, problems, charts, queues), as HTML: mutt.js
    puts it in place of the page's every few seconds."""
    response = make_response(render_template("ui/_dashboard_live.html", **_dashboard(ask_workers=False)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _dashboard(ask_workers: bool) -> dict:
    from mutt_app.celery_app import app as celery_app

    picture = dash.picture(celery_app, redis_client.get(), QUEUES, ask_workers=ask_workers)
    with session_scope() as session:
        active_silences = silence_store.count_active(session)
    return {**picture, "active_silences": active_silences, "alerts": status.guarded(_alert_counts),
            "live_every": LIVE_EVERY}


LIVE_EVERY = 5  # seconds between the dashboard's live updates (mutt.js)


def _alert_counts() -> dict:
    with session_scope() as session:
        return alert_queries.counts(session)


# --- audit ------------------------------------------------------------------------------

def _search(search, template: str, *, outcomes: bool = False, **context):
    with session_scope() as session:
        try:
            rows, page = search(session, request.args)
        except queries.QueryError as error:
            flash(str(error), "error")
            rows, page = [], queries.Page(1, 50, 0)
        if outcomes:
            event_outcomes.attach(session, rows)
    args = {k: v for k, v in request.args.items() if k not in ("page", "offset") and v}
    return render_template(template, rows=rows, page=page, args=args, **context)


@bp.get("/events")
@role_required("viewer")
def events():
    return _search(queries.search_events, "ui/events.html", outcomes=True, decisions=(*decide.DECISIONS, queries.DEAD_LETTERED),
                   retention_days=dynconfig.get("retention_event_audit_days"))


@bp.get("/config-audit")
@role_required("viewer")
def config_audit():
    return _search(queries.search_changes, "ui/config_audit.html")


# --- alerts -----------------------------------------------------------------------------

@bp.get("/alerts")
@role_required("viewer")
def alerts():
    args = {k: v for k, v in request.args.items() if v}
    try:
        with session_scope() as session:
            page = alert_queries.search(session, args)
    except InvalidInput as error:
        flash(str(error), "error")
        page = alert_queries.AlertPage([], alert_queries.DEFAULT_LIMIT, 0, None)
    return render_template("ui/alerts.html", page=page, args=args, states=alert_queries.STATES,
                           filters={k: v for k, v in args.items() if k != "cursor"})


@bp.get("/alerts/<bigint:alert_id>")
@role_required("viewer")
def alert(alert_id: int):
    with session_scope() as session:
        row = alert_queries.detail(session, alert_id)  # an unknown id: NotFound, a 404 page (web/errors.py)
    return render_template("ui/alert.html", row=row)


# --- runtime settings -------------------------------------------------------------------

@bp.get("/settings")
@role_required("viewer")
def settings():
    runtime = dynconfig.runtime()
    overrides = runtime.overrides()
    rows = [(s, runtime.get(s.key), s.key in overrides) for s in dynconfig.REGISTRY.values()]
    return render_template("ui/settings.html", rows=rows)


@bp.post("/settings/<key>")
@role_required("admin")
def change_setting(key: str):
    raw = None if request.form.get("action") == "reset" else request.form.get("value", "")
    try:
        with session_scope() as session:
            old, new = dynconfig.change(session, key, raw, **_audit_kwargs())
        flash(f"{key}: {old!r} → {new!r}")
    except dynconfig.SettingError as error:
        flash(str(error), "error")
    return back("ui.settings", f"setting-{key}")


# --- API keys ---------------------------------------------------------------------------

NEW_KEY_SHOWN_FOR = 300  # seconds: a created key not displayed by then is gone (revoke it, make another)


def _take_new_key_secret() -> str | None:
    """The secret of the key this session just created, once: the first view after the redirect
    shows it, a reload does not (and does not create a second key)."""
    nonce = login_session.pop("new_api_key", None)
    if not isinstance(nonce, str):
        return None
    pipe = redis_client.get().pipeline()
    pipe.get(redis_keys.new_api_key(nonce))
    pipe.delete(redis_keys.new_api_key(nonce))
    secret, _ = pipe.execute()
    return secret


@bp.get("/api-keys")
@role_required("admin")
def api_keys():
    secret = _take_new_key_secret()
    with session_scope() as session:
        rows = list(session.query(ApiKey).order_by(ApiKey.revoked_at.isnot(None), ApiKey.id.desc()))
    return render_template("ui/api_keys.html", rows=rows, scopes=SCOPES, secret=secret)


@bp.post("/api-keys")
@role_required("admin")
def create_api_key():
    try:
        with session_scope() as session:
            _, secret = api_key_store.create(session, request.form.get("name", ""), request.form.getlist("scopes"), **_audit_kwargs())
    except api_key_store.ApiKeyError as error:
        flash(str(error), "error")
        return redirect(url_for("ui.api_keys"))
    nonce = secrets.token_urlsafe(18)
    redis_client.get().set(redis_keys.new_api_key(nonce), secret, ex=NEW_KEY_SHOWN_FOR)
    login_session["new_api_key"] = nonce
    return redirect(url_for("ui.api_keys") + "#new-key")


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required("admin")
def revoke_api_key(key_id: int):
    try:
        with session_scope() as session:
            row = api_key_store.revoke(session, key_id, **_audit_kwargs())
            flash(f"Key {row.name} ({row.prefix}) revoked.")
    except api_key_store.ApiKeyError as error:
        abort(404, str(error))
    return back("ui.api_keys", f"key-{key_id}")


# --- users ------------------------------------------------------------------------------

@bp.get("/users", endpoint="users")
@role_required("admin")
def users_page():
    with session_scope() as session:
        rows = [users.to_dict(user) for user in users.list_all(session)]
    return render_template("ui/users.html", rows=rows, roles=ROLES, min_password=users.MIN_PASSWORD_LENGTH)


@bp.post("/users")
@role_required("admin")
def create_user():
    form = request.form
    try:
        with session_scope() as session:
            user = users.create(session, form.get("username", ""), form.get("password", ""), form.get("role", "viewer"), **_audit_kwargs())
            flash(f"User {user.username} created.")
    except users.UserError as error:
        flash(str(error), "error")
    return redirect(url_for("ui.users"))


@bp.post("/users/<int:user_id>")
@role_required("admin")
def update_user(user_id: int):
    active = request.form.get("is_active")
    try:
        with session_scope() as session:
            user = users.get(session, user_id)
            users.update(session, user, role=request.form.get("role") or None,
                         is_active=None if active is None else active == "true", **_audit_kwargs())
            flash(f"User {user.username} updated.")
    except users.UserError as error:
        flash(str(error), "error")
    return back("ui.users", f"user-{user_id}")


# --- rules ------------------------------------------------------------------------------

SAMPLE_EVENT = {"hostname": "router1.example.net", "message": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
                "syslog_severity": 3}


def rule_fields(form) -> dict:
    """The rule editor's form as rule fields (the domain validates them)."""
    fields: dict = {name: form.get(name, "") for name in validation.EDITABLE if name not in ("is_active",)}
    for name in ("priority", "moog_severity", "syslog_severity"):
        value = fields[name].strip()
        try:
            fields[name] = params.whole_number(value, name, default=None)
        except params.ParamError:
            fields[name] = value  # a name ("Critical") or something the domain refuses with its reason
    if fields["priority"] is None:
        del fields["priority"]
    if fields["moog_severity"] is None:
        del fields["moog_severity"]
    fields["is_active"] = form.get("is_active") == "on"
    return fields


def _editor(rule: dict, *, rule_id: int | None = None, sample: str | None = None, result=None, error=None, status=200):
    return render_template("ui/rule_edit.html", rule=rule, rule_id=rule_id, result=result, error=error,
                           sample=sample or json.dumps(SAMPLE_EVENT, indent=2)), status


@bp.get("/rules")
@role_required("viewer")
def rules():
    with session_scope() as session:
        rows = [rule_store.rule_to_dict(rule) for rule in rule_store.list_rules(session)]
    return render_template("ui/rules.html", rows=rows)


@bp.get("/rules/new")
@role_required("operator")
def new_rule():
    return _editor({"match_type": "contains", "priority": 100, "moog_severity": 3, "is_active": True})


@bp.get("/rules/<int:rule_id>")
@role_required("operator")
def edit_rule(rule_id: int):
    with session_scope() as session:
        try:
            rule = rule_store.rule_to_dict(rule_store.get_rule(session, rule_id))
        except LookupError:
            abort(404, f"No rule {rule_id}.")
    return _editor(rule, rule_id=rule_id)


@bp.post("/rules/new", endpoint="save_new_rule")
@bp.post("/rules/<int:rule_id>")
@role_required("operator")
def save_rule(rule_id: int | None = None):
    """One form, two buttons: "dry run" shows what the edited rule set would do with the sample
    event; "save" stores the rule."""
    fields = rule_fields(request.form)
    sample = request.form.get("sample", "")
    shown = {**fields, "id": rule_id}
    try:
        with session_scope() as session:
            if request.form.get("action") == "dry-run":
                try:
                    event = json.loads(sample)
                except ValueError:
                    return _editor(shown, rule_id=rule_id, sample=sample, error="The sample event is not valid JSON.", status=400)
                candidate = {**fields, "id": rule_id} if rule_id else fields
                result = dry_run.for_event(session, event, candidate)
                return _editor(shown, rule_id=rule_id, sample=sample, result=result)
            if rule_id is None:
                rule = rule_store.create_rule(session, fields, **_audit_kwargs())
            else:
                rule = rule_store.update_rule(session, rule_id, fields, **_audit_kwargs())
            session.flush()
            flash(f"Rule {rule.id} ({rule.name}) saved.")
            return redirect(url_for("ui.rules") + f"#rule-{rule.id}")
    except validation.RuleError as error:
        return _editor(shown, rule_id=rule_id, sample=sample, error=str(error), status=422)
    except LookupError as error:
        not_found(error)


@bp.post("/rules/<int:rule_id>/toggle")
@role_required("operator")
def toggle_rule(rule_id: int):
    try:
        with session_scope() as session:
            rule = rule_store.get_rule(session, rule_id)
            rule_store.update_rule(session, rule_id, {"is_active": not rule.is_active}, **_audit_kwargs())
            flash(f"Rule {rule_id} {'enabled' if rule.is_active else 'disabled'}.")
    except LookupError as error:
        not_found(error)
    return back("ui.rules", f"rule-{rule_id}")


@bp.post("/rules/<int:rule_id>/delete")
@role_required("operator")
def delete_rule(rule_id: int):
    try:
        with session_scope() as session:
            rule_store.delete_rule(session, rule_id, **_audit_kwargs())
            flash(f"Rule {rule_id} deleted (its history stays in the audit).")
    except LookupError as error:
        not_found(error)
    return back("ui.rules")


# --- development hosts and device teams -------------------------------------------------

def _host_change(change, *args, endpoint: str):
    try:
        with session_scope() as session:
            change(session, *args, **_audit_kwargs())
        flash("Saved.")
    except (validation.RuleError, LookupError) as error:
        flash(str(error).strip("'\""), "error")
    return back(endpoint)


@bp.get("/dev-hosts")
@role_required("viewer")
def dev_hosts():
    with session_scope() as session:
        rows = host_store.list_dev_hosts(session)
    return render_template("ui/dev_hosts.html", rows=rows)


@bp.post("/dev-hosts")
@role_required("operator")
def add_dev_host():
    return _host_change(host_store.add_dev_host, request.form.get("hostname", ""), endpoint="ui.dev_hosts")


@bp.post("/dev-hosts/<path:hostname>/delete")
@role_required("operator")
def remove_dev_host(hostname: str):
    return _host_change(host_store.remove_dev_host, hostname, endpoint="ui.dev_hosts")


@bp.get("/teams")
@role_required("viewer")
def teams():
    with session_scope() as session:
        rows = host_store.list_teams(session)
    return render_template("ui/teams.html", rows=rows)


@bp.post("/teams")
@role_required("operator")
def set_team():
    return _host_change(host_store.set_team, request.form.get("hostname", ""), request.form.get("team_assignment", ""),
                        endpoint="ui.teams")


@bp.post("/teams/<path:hostname>/delete")
@role_required("operator")
def remove_team(hostname: str):
    return _host_change(host_store.remove_team, hostname, endpoint="ui.teams")


# --- silences ---------------------------------------------------------------------------

@bp.get("/silences")
@role_required("viewer")
def silences():
    state = request.args.get("state", silence_rules.ACTIVE)
    if state not in (*silence_rules.STATES, "all"):
        abort(400, f"state must be one of {', '.join(silence_rules.STATES)} or all")
    with session_scope() as session:
        rows = [silence_store.to_dict(row)
                for row in silence_store.list_silences(session, None if state == "all" else state)]
    return render_template("ui/silences.html", rows=rows, state=state, tabs=(*silence_rules.STATES, "all"),
                           fields=silence_rules.FIELDS, ops=silence_rules.OPS, host=request.args.get("host", ""))


def silence_fields(form) -> dict:
    """The create form: a host and/or one more matcher, for how long (or until), and why."""
    matchers = []
    if form.get("hostname", "").strip():
        matchers.append({"field": "hostname", "op": "=", "value": form["hostname"].strip()})
    if form.get("value", "").strip():
        matchers.append({"field": form.get("field", ""), "op": form.get("op", ""), "value": form["value"].strip()})
    now = datetime.now(UTC).replace(microsecond=0)
    fields = {"matchers": matchers, "comment": form.get("comment", ""), "starts_at": now.isoformat()}
    if form.get("ends_at", "").strip():
        fields["ends_at"] = form["ends_at"].strip()
    else:
        seconds = silence_rules.parse_duration(form.get("duration", ""), "duration")
        fields["ends_at"] = (now + timedelta(seconds=seconds)).isoformat()
    return fields


def _silence_change(change, *args) -> None:
    try:
        with session_scope() as session:
            row = change(session, *args, actor=actor(), correlation_id=g.correlation_id)
            flash(f"Silence {row.id}: {silence_store.to_dict(row)['state']}.")
    except silence_rules.SilenceError as error:
        flash(str(error), "error")
    except LookupError as error:
        not_found(error)


@bp.post("/silences")
@role_required("operator")
def create_silence():
    try:
        fields = silence_fields(request.form)
    except silence_rules.SilenceError as error:
        flash(str(error), "error")
    else:
        _silence_change(silence_store.create, fields)
    return redirect(url_for("ui.silences"))


@bp.post("/silences/<int:silence_id>/extend")
@role_required("operator")
def extend_silence(silence_id: int):
    try:
        seconds = silence_rules.parse_duration(request.form.get("duration", ""), "duration")
        with session_scope() as session:
            current = silence_store.get(session, silence_id).ends_at
        if current is None:
            raise silence_rules.SilenceError("a recurring silence without an end: change its schedule instead")
        ends = max(current, datetime.now(UTC)) + timedelta(seconds=seconds)
    except silence_rules.SilenceError as error:
        flash(str(error), "error")
    except LookupError as error:
        not_found(error)
    else:
        _silence_change(silence_store.update, silence_id, {"ends_at": ends.isoformat()})
    return redirect(url_for("ui.silences"))


@bp.post("/silences/<int:silence_id>/expire")
@role_required("operator")
def expire_silence(silence_id: int):
    reason = request.form.get("reason", "").strip()
    _silence_change(lambda session, *args, **kwargs: silence_store.expire(session, *args, reason=reason, **kwargs),
                    silence_id)
    return redirect(url_for("ui.silences"))
# --- heartbeats ---------------------------------------------------------------------------

@bp.get("/heartbeats")
@role_required("viewer")
def heartbeats():
    with session_scope() as session:
        found = heartbeat_store.list_all(session)
        seen = heartbeat_store.last_seen(redis_client.get(), found)
        rows = [heartbeat_store.to_dict(row, when) for row, when in zip(found, seen, strict=True)]
    return render_template("ui/heartbeats.html", rows=rows, minimum=heartbeat_store.MIN_INTERVAL,
                           maximum=heartbeat_store.MAX_INTERVAL, severity=heartbeat_store.DEFAULT_SEVERITY)


@bp.post("/heartbeats")
@role_required("operator")
def add_heartbeat():
    form = request.form
    fields = {form.get("kind", "hostname"): form.get("name", ""), "interval_seconds": form.get("interval_seconds"),
              "severity": form.get("severity") or heartbeat_store.DEFAULT_SEVERITY, "comment": form.get("comment", "")}
    if set(fields) - set(heartbeat_store.FIELDS):
        flash("kind must be hostname or source", "error")
        return redirect(url_for("ui.heartbeats"))
    return _heartbeat_change(heartbeat_store.create, fields)


@bp.post("/heartbeats/<int:heartbeat_id>/delete")
@role_required("operator")
def remove_heartbeat(heartbeat_id: int):
    return _heartbeat_change(heartbeat_store.remove, heartbeat_id)


def _heartbeat_change(change, *args):
    try:
        with session_scope() as session:
            change(session, *args, **_audit_kwargs())
        flash("Saved.")
    except (heartbeat_store.HeartbeatError, heartbeat_store.HeartbeatExists, LookupError) as error:
        flash(str(error).strip("'\""), "error")
    return redirect(url_for("ui.heartbeats"))


# --- dead letters -----------------------------------------------------------------------

@dataclass
class BulkForm:
    """What the operator put in the bulk form, shown again when a request is refused."""

    reason: str = ""
    ids: frozenset[int] = frozenset()
    scope: str = "selected"   # the rows ticked, or every letter "matching" the filter
    force: bool = False


BULK_SCOPES = ("selected", "matching")
SKIPS_SHOWN = 5  # skipped letters named in the message after a bulk replay


def _dead_letters_page(args: dict, *, form: BulkForm | None = None, status: int = 200):
    """The list: filtered by kind, reason, state, since; host, message and rule from each payload; the
    bulk form (``form``: what the operator typed, kept when a request was refused)."""
    try:
        page_number = params.whole_number(args.get("page"), "page", default=1, minimum=1, maximum=params.MAX_INT32)
        with session_scope() as session:
            page = dlq.list_dead_letters(session, kind=args.get("kind"), reason=args.get("reason"),
                                         state=args.get("state"), page=page_number, limit=50, since=args.get("since"))
            rows = [dlq.as_dict(letter, with_payload=False) for letter in page.items]
    except (params.ParamError, dlq.DeadLetterError) as error:
        flash(str(error), "error")
        rows, page = [], dlq.Page([], 1, 50, 0)
    args = {k: v for k, v in args.items() if k != "page"}
    filtered = any(args.get(name) for name in dlq.FILTER_FIELDS)
    return render_template("ui/dead_letters.html", rows=rows, page=queries.Page(page.page, page.limit, page.total),
                           args=args, reasons=dlq.REASONS, form=form or BulkForm(), filtered=filtered,
                           page_number=page.page), status


@bp.get("/dead-letters")
@role_required("viewer")
def dead_letters():
    return _dead_letters_page({k: v for k, v in request.args.items() if v})


@bp.post("/dead-letters/bulk")
@role_required("operator")
def bulk_dead_letters():
    """Replay or purge the dead letters ticked, or every one the list's filter matches
    (``dlq.selected_ids``, as the API and ``mutt dlq`` select). Refused (no reason, nothing
    chosen, too many): the list again, 422, with what the operator typed and ticked."""
    action = request.form.get("action")
    if action not in ("replay", "purge"):
        abort(400, "action must be replay or purge")
    listed = {"kind": request.form.get("kind", ""), "reason": request.form.get("cause", ""),
              "state": request.form.get("state", ""), "since": request.form.get("since", ""), "page": request.form.get("page", "")}
    listed = {k: v for k, v in listed.items() if v}
    try:
        ids = [params.record_id(raw, "ids") for raw in request.form.getlist("ids")]
    except params.ParamError as error:
        abort(400, str(error))
    scope = request.form.get("scope") if request.form.get("scope") in BULK_SCOPES else "selected"
    form = BulkForm(reason=request.form.get("reason", "").strip()[:1000], ids=frozenset(ids), scope=scope,
                    force=request.form.get("force") == "on")

    def refused(message: str):
        flash(message, "error")
        return _dead_letters_page(listed, form=form, status=422)

    if not form.reason:
        return refused("Give a reason: it is kept in the config audit with each dead letter.")
    if scope == "selected" and not ids:
        return refused("Nothing selected: tick dead letters in the list, or choose all matching the filter.")
    refusal = None
    with session_scope() as session:
        try:
            where = dlq.Filter(**{name: listed.get(name) for name in dlq.FILTER_FIELDS}) if scope == "matching" else None
            chosen = dlq.selected_ids(session, ids if scope == "selected" else None, where)
        except dlq.DeadLetterError as error:
            chosen, refusal = [], f"Not done: {error}."
        audit = {"actor": actor(), "reason": form.reason, "correlation_id": g.correlation_id}
        if refusal is None and action == "purge":
            purged = dlq.purge(session, chosen, **audit)
            flash(f"Purged {purged} dead letter{'s' if purged != 1 else ''}.")
        elif refusal is None:
            outcome = replay.replay(session, chosen, force=form.force, pipeline=handoff.replay_pipeline(), **audit)
            skipped = "; ".join(f"{letter_id}: {why}" for letter_id, why in list(outcome.skipped.items())[:SKIPS_SHOWN])
            more = len(outcome.skipped) - SKIPS_SHOWN
            skipped += f"; and {more} more" if more > 0 else ""
            if not outcome.replayed:
                refusal = f"Nothing replayed. Skipped {len(outcome.skipped)}: {skipped}."
            else:
                flash(f"Replayed {len(outcome.replayed)} dead letter{'s' if len(outcome.replayed) != 1 else ''}"
                      + (f"; skipped {len(outcome.skipped)}: {skipped}." if outcome.skipped else "."))
    if refusal is not None:
        return refused(refusal)
    return back("ui.dead_letters")


@bp.get("/dead-letters/<bigint:letter_id>")
@role_required("viewer")
def dead_letter(letter_id: int):
    with session_scope() as session:
        letter = dlq.get(session, letter_id)
        if letter is None:
            abort(404, f"No dead letter {letter_id}.")
        row = dlq.as_dict(letter)
    return render_template("ui/dead_letter.html", row=row)


@bp.post("/dead-letters/<bigint:letter_id>/replay")
@role_required("operator")
def replay_dead_letter(letter_id: int):
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], force=request.form.get("force") == "on", pipeline=handoff.replay_pipeline(),
                                **_audit_kwargs())
    if outcome.replayed:
        flash(f"Dead letter {letter_id} replayed.")
    else:
        flash(f"Dead letter {letter_id} not replayed: {outcome.skipped.get(letter_id, 'unknown')}", "error")
    return redirect(url_for("ui.dead_letter", letter_id=letter_id) if not outcome.replayed else url_for("ui.dead_letters"))


@bp.post("/dead-letters/<bigint:letter_id>/purge")
@role_required("operator")
def purge_dead_letter(letter_id: int):
    with session_scope() as session:
        purged = dlq.purge(session, [letter_id], **_audit_kwargs())
    flash(f"Dead letter {letter_id} purged." if purged else f"No dead letter {letter_id}.", "" if purged else "error")
    return redirect(url_for("ui.dead_letters"))


def page_url(endpoint: str, args: dict, **position: int | str) -> str:
    """The pager's link: the filters and ``page=``, ``offset=`` or ``cursor=`` as a query string. (Passed to
    url_for as keywords, a parameter named ``_scheme``, ``_external`` or ``endpoint`` would be read
    as url_for's own.)"""
    return url_for(endpoint) + "?" + urlencode({**args, **position})


def utc_time(iso: str | None) -> str:
    """An ISO time as the pages show it: 2026-12-01 12:00:05 (UTC, to the second)."""
    return (iso or "")[:19].replace("T", " ")
def percent(value: float) -> str:
    """0.99912 → "99.91 %": an SLO's ratio as people read it (up to 2 decimals, no trailing zeros)."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + " %"


def duration(seconds: float) -> str:
    """134 → "2 min 14 s", 7260 → "2 h 1 min": how long something waited, as people say it."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def without(args: dict, *names: str) -> dict:
    """The query without some of its parameters (the time-range picker's links: no page, no range)."""
    return {k: v for k, v in args.items() if k not in names}


def pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


bp.add_app_template_filter(pretty, "pretty")
bp.add_app_template_filter(utc_time, "utc_time")
bp.add_app_template_filter(percent, "percent")
bp.add_app_template_filter(duration, "duration")
bp.add_app_template_global(page_url, "page_url")
bp.add_app_template_filter(without, "without")


@bp.record_once
def _template_constants(state: BlueprintSetupState) -> None:
    moog_choices = [(number, f"{number} · {name}") for number, name in sorted(validation.MOOG_SEVERITY_NAMES.items(), reverse=True)]
    state.app.jinja_env.globals.update(MATCH_TYPES=MATCH_TYPES, HANDLINGS=HANDLINGS, MOOG_SEVERITY_CHOICES=moog_choices,
                                       MOOG_SEVERITY_NAMES=validation.MOOG_SEVERITY_NAMES, TIME_RANGES=params.TIME_RANGE_NAMES)
