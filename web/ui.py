"""The operators' pages (issue: web UI)."""

from flask import Blueprint

bp = Blueprint("ui", __name__)
