"""Login, logout and password change for people; ``role_required`` for the UI's pages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from mutt_app import services
from mutt_app.access import users
from mutt_app.access.login_throttle import LoginThrottle
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope
from web.extensions import LoginUser

bp = Blueprint("auth", __name__)

def throttle() -> LoginThrottle:
    """This process's login throttle."""
    return services.current().own("login throttle", lambda: LoginThrottle(redis_client.get()))


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=users.MIN_PASSWORD_LENGTH, max=1024)])
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("new", "the two new passwords differ")])


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no scheme, no host, no //host trick), else None."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def role_required(role: str):
    """The page needs a logged-in user with at least ``role`` (403 otherwise)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if users.RANK[current_user.role] < users.RANK[role]:
                abort(403, f"This page needs the {role} role; you are {current_user.role}.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def locked_out(template: str, form, message: str, wait: int):
    """The throttle's answer: the form again with ``message``, 429 and Retry-After."""
    return render_template(template, form=form, error=message), 429, {"Retry-After": str(wait)}


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST":
        address = request.remote_addr or ""
        username = (form.username.data or "").strip()
        wait = throttle().retry_after(address, username)
        if wait:
            return locked_out("login.html", form, f"Too many failed logins. Try again in {wait} s.", wait)
        if form.validate_on_submit():
            with session_scope() as session:
                user = users.authenticate(session, username, form.password.data)
                if user is not None:
                    user.last_login_at = datetime.now(UTC)
                    session.flush()
                    login_user(LoginUser(user))
            if user is not None:
                throttle().succeeded(username)
                return redirect(safe_next(request.args.get("next")) or url_for("ui.dashboard"))
            throttle().failed(address, username)
            return render_template("login.html", form=form, error="Wrong user name or password."), 401
        return render_template("login.html", form=form, error="Fill in both fields (and reload the page if it is old)."), 400
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    with session_scope() as session:
        users.log_out(session, current_user.id)  # a copy of the cookie must not outlive the logout
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    address, username = request.remote_addr or "", current_user.username
    # Guessing the current password (from a session left open) is throttled like login, on the
    # same counters: failures here lock login for the user and the address too, and vice versa.
    wait = throttle().retry_after(address, username) if request.method == "POST" else 0
    if wait:
        return locked_out("password.html", form, f"Too many wrong passwords. Try again in {wait} s.", wait)
    if form.validate_on_submit():
        with session_scope() as session:
            user = users.get(session, current_user.id)
            if not users.check_password(user, form.current.data):
                throttle().failed(address, username)
                form.current.errors.append("that is not your current password")
                return render_template("password.html", form=form), 400
            users.set_password(session, user, form.new.data, actor=f"user:{user.username}",
                               correlation_id=g.correlation_id)
            session.flush()
            fresh = LoginUser(user)
        # The token changed: every other session is over; this one continues under the new token.
        login_user(fresh)
        throttle().succeeded(username)
        flash("Password changed. Your other sessions have been logged out.")
        return redirect(url_for("ui.dashboard"))
    status = 400 if request.method == "POST" else 200
    return render_template("password.html", form=form), status
