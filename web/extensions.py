"""Flask extensions, created once and bound to the app in create_app."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from mutt_app.storage.db import session_scope
from mutt_app.storage.models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
csrf = CSRFProtect()


class LoginUser:
    """What Flask-Login keeps for a logged-in person: a detached snapshot of the user row."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.session_token = user.session_token
        self.is_active = user.is_active

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        # The session token, not the row id: rotating it (password change) ends every session.
        return self.session_token


@login_manager.user_loader
def _load_user(token: str):
    with session_scope() as session:
        user = session.scalar(select(User).where(User.session_token == token, User.is_active.is_(True)))
        return LoginUser(user) if user else None


def init_app(app) -> None:
    login_manager.init_app(app)
    csrf.init_app(app)
