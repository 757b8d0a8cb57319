"""The operators' pages. Views parse the form, call one domain function, render the outcome.

Roles: every logged-in user reads; operators change rules, dev hosts, teams and dead letters;
admins manage runtime settings, API keys and users. CSRFProtect guards every POST.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from celeryconfig import QUEUES
from mutt_app import apikeys, audit_query, dynconfig, redis_client, slo, status, users
from mutt_app import dashboard as dash
from mutt_app.db import session_scope
from mutt_app.models import MATCH_TYPES, ROLES, SCOPES, ApiKey
from web.auth import role_required
from web.security import actor

bp = Blueprint("ui", __name__)


def _audit_kwargs() -> dict:
    return {"actor": actor(), "reason": request.form.get("reason", "").strip(), "correlation_id": g.correlation_id}


@bp.get("/")
@role_required("viewer")
def dashboard():
    from mutt_app.celery_app import app as celery_app

    redis = redis_client.get()
    rates = dash.ingest_rates(redis)
    slos = slo.report(redis)
    return render_template(
        "ui/dashboard.html", rates=rates, bars=dash.chart_svg_points(rates["chart_24h"]["data"]),
        status=status.gather(celery_app, redis, QUEUES, worker_timeout=0.5), slos=slos, slo_status=slo.overall(slos),
    )


# --- audit ------------------------------------------------------------------------------

def _search(search, template: str):
    with session_scope() as session:
        try:
            rows, page = search(session, request.args)
        except audit_query.QueryError as error:
            flash(str(error), "error")
            rows, page = [], audit_query.Page(1, 50, 0)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(template, rows=rows, page=page, args=args)


@bp.get("/events")
@role_required("viewer")
def events():
    return _search(audit_query.search_events, "ui/events.html")


@bp.get("/config-audit")
@role_required("viewer")
def config_audit():
    return _search(audit_query.search_changes, "ui/config_audit.html")


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
    return redirect(url_for("ui.settings"))


# --- API keys ---------------------------------------------------------------------------

def _keys_page(secret: str | None = None, status: int = 200):
    with session_scope() as session:
        rows = list(session.query(ApiKey).order_by(ApiKey.revoked_at.isnot(None), ApiKey.id.desc()))
    return render_template("ui/api_keys.html", rows=rows, scopes=SCOPES, secret=secret), status


@bp.get("/api-keys")
@role_required("admin")
def api_keys():
    return _keys_page()


@bp.post("/api-keys")
@role_required("admin")
def create_api_key():
    try:
        with session_scope() as session:
            row, secret = apikeys.create(session, request.form.get("name", ""), request.form.getlist("scopes"), **_audit_kwargs())
    except apikeys.ApiKeyError as error:
        flash(str(error), "error")
        return _keys_page(status=400)
    # Rendered into this response only: never put the secret in the (cookie) session or a URL.
    return _keys_page(secret=secret)


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required("admin")
def revoke_api_key(key_id: int):
    try:
        with session_scope() as session:
            row = apikeys.revoke(session, key_id, **_audit_kwargs())
            flash(f"Key {row.name} ({row.prefix}) revoked.")
    except apikeys.ApiKeyError as error:
        abort(404, str(error))
    return redirect(url_for("ui.api_keys"))


# --- users ------------------------------------------------------------------------------

@bp.get("/users", endpoint="users")
@role_required("admin")
def users_page():
    with session_scope() as session:
        rows = [users.to_dict(user) for user in users.list_all(session)]
    return render_template("ui/users.html", rows=rows, roles=ROLES)


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
    return redirect(url_for("ui.users"))


# --- pages built on the other areas' domain functions ----------------------------------

@bp.get("/rules")
@role_required("viewer")
def rules():
    return render_template("ui/pending.html", title="Rules")


@bp.get("/dev-hosts")
@role_required("viewer")
def dev_hosts():
    return render_template("ui/pending.html", title="Development hosts")


@bp.get("/teams")
@role_required("viewer")
def teams():
    return render_template("ui/pending.html", title="Device teams")


@bp.get("/dead-letters")
@role_required("viewer")
def dead_letters():
    return render_template("ui/pending.html", title="Dead letters")


def pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


bp.add_app_template_filter(pretty, "pretty")
bp.add_app_template_global(MATCH_TYPES, "MATCH_TYPES")
