"""POST /api/v2/ingest and its aliases (issue: ingestion)."""

from flask import Blueprint

bp = Blueprint("ingest", __name__)
