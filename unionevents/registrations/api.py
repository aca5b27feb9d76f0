"""Registrations API: sign up, list my registrations, cancel."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_registrations", __name__, url_prefix="/api/v1", description="Registrations")
