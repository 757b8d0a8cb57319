"""Login, logout, password change (issue: web UI)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
